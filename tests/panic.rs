//! Panicking tasks surface as `JoinError`s and do not take the runtime down.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex, Once};

use common::{panic_message, run_with_timeout, runtime};
use heist::task::JoinHandle;

const MARKER: &str = "panicked on purpose";

/// Where the last panic on a probe thread happened (see `panic_location`).
static PROBE_LOCATION: Mutex<Option<(String, u32)>> = Mutex::new(None);

/// The one panic hook of this test binary, installed once: the tests run in parallel, and two
/// of them swapping hooks at once (take, then set) could lose one. It records the location of
/// a probe thread's panic, keeps the 1_000 intentional panics from flooding stderr, and sends
/// every other panic to the default hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(PROBE_THREAD) {
                let location = info.location().expect("a panic location");
                *PROBE_LOCATION.lock().unwrap() = Some((location.file().to_string(), location.line()));
            } else if !panic_message(info.payload()).contains(MARKER) {
                default(info);
            }
        }));
    });
}

/// Keeps the 1_000 intentional panics from flooding stderr; every other
/// panic still goes to the default hook.
fn quiet_intentional_panics() {
    install_panic_hook();
}

fn boom(i: u32) -> u32 {
    panic!("task {i} {MARKER}")
}

#[test]
fn thousand_panicking_tasks_then_runtime_still_serves() {
    quiet_intentional_panics();
    run_with_timeout("thousand_panicking_tasks", || {
        let rt = runtime(2);

        let handles: Vec<JoinHandle<u32>> = (0..1_000u32)
            .map(|i| {
                rt.spawn(async move {
                    // Half panic on their first poll, half after a reschedule.
                    if i % 2 == 1 {
                        heist::task::yield_now().await;
                    }
                    boom(i)
                })
            })
            .collect();
        rt.block_on(async {
            for (i, h) in handles.into_iter().enumerate() {
                let err = h.await.expect_err("a panicking task returned a value");
                assert!(err.is_panic(), "task {i}: expected a panic, got {err:?}");
                assert!(!err.is_cancelled(), "task {i}: expected a panic, got {err:?}");
                let msg = panic_message(&*err.into_panic());
                assert_eq!(msg, format!("task {i} {MARKER}"), "wrong panic payload");
            }
        });

        // Tasks spawned from inside a task may panic too.
        let inner_panics = rt.block_on(rt.spawn(async {
            let handles: Vec<JoinHandle<u32>> = (0..100u32)
                .map(|i| heist::spawn(async move { boom(i) }))
                .collect();
            let mut panics = 0;
            for h in handles {
                if h.await.is_err_and(|e| e.is_panic()) {
                    panics += 1;
                }
            }
            panics
        }));
        assert_eq!(inner_panics.expect("the awaiting task itself failed"), 100);

        // The runtime still serves: block_on, spawn, spawn_blocking...
        let sum = rt.block_on(async {
            let handles: Vec<JoinHandle<u64>> =
                (0..1_000u64).map(|i| heist::spawn(async move { i })).collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("a healthy task failed after the panics");
            }
            sum
        });
        assert_eq!(sum, (0..1_000u64).sum::<u64>());
        assert_eq!(
            rt.block_on(rt.spawn_blocking(|| 5))
                .expect("blocking task failed"),
            5
        );

        // ...and both workers are still alive: two tasks that each block a
        // worker thread until the other arrives only finish if both
        // workers run at the same time.
        let barrier = Arc::new(Barrier::new(2));
        let b1 = barrier.clone();
        let b2 = barrier.clone();
        let t1 = rt.spawn(async move {
            b1.wait();
        });
        let t2 = rt.spawn(async move {
            b2.wait();
        });
        rt.block_on(async {
            t1.await.expect("t1 failed");
            t2.await.expect("t2 failed");
        });
    });
}

#[test]
fn panic_payload_types_are_preserved() {
    quiet_intentional_panics();
    run_with_timeout("panic_payloads", || {
        let rt = runtime(2);
        let static_str = rt.spawn(async {
            if true {
                panic!("static str {MARKER}");
            }
        });
        let custom = rt.spawn(async {
            if true {
                std::panic::panic_any(MARKER.len() as u64);
            }
        });
        let (a, b) = rt.block_on(async { (static_str.await, custom.await) });
        let a = a.expect_err("expected a panic");
        assert!(a.is_panic());
        assert!(panic_message(&*a.into_panic()).contains("static str"));
        let b = b.expect_err("expected a panic");
        assert!(b.is_panic());
        let payload = b.into_panic();
        assert_eq!(
            payload.downcast_ref::<u64>(),
            Some(&(MARKER.len() as u64)),
            "a non-string panic payload was not preserved"
        );
    });
}

/// Threads of this name have the location of their panic recorded (and not printed).
const PROBE_THREAD: &str = "panic-location-probe";

/// Runs `f` on a thread of its own and returns where it panicked, as the panic hook sees it:
/// the location `#[track_caller]` passes up, which a panic payload does not carry.
fn panic_location(f: impl FnOnce() + Send + 'static) -> (String, u32) {
    install_panic_hook();
    // One probe at a time: they share the slot.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *PROBE_LOCATION.lock().unwrap() = None;
    let joined = std::thread::Builder::new()
        .name(PROBE_THREAD.into())
        .spawn(f)
        .unwrap()
        .join();
    assert!(joined.is_err(), "the probe did not panic");
    PROBE_LOCATION
        .lock()
        .unwrap()
        .take()
        .expect("the panic hook saw no panic")
}

/// The line a panic is expected on, set by each case of the test below.
static EXPECTED_LINE: AtomicU32 = AtomicU32::new(0);

#[test]
fn panics_outside_a_runtime_are_located_at_the_caller() {
    let cases: [(&str, fn()); 5] = [
        ("heist::spawn", || {
            EXPECTED_LINE.store(line!() + 1, Ordering::SeqCst);
            drop(heist::spawn(async {}));
        }),
        ("heist::spawn_blocking", || {
            EXPECTED_LINE.store(line!() + 1, Ordering::SeqCst);
            drop(heist::spawn_blocking(|| {}));
        }),
        ("Handle::current", || {
            EXPECTED_LINE.store(line!() + 1, Ordering::SeqCst);
            drop(heist::runtime::Handle::current());
        }),
        ("JoinSet::spawn", || {
            let mut set = heist::task::JoinSet::new();
            EXPECTED_LINE.store(line!() + 1, Ordering::SeqCst);
            set.spawn(async {});
        }),
        ("mpsc::channel(0)", || {
            EXPECTED_LINE.store(line!() + 1, Ordering::SeqCst);
            drop(heist::sync::mpsc::channel::<()>(0));
        }),
    ];
    for (what, call) in cases {
        let (file, line) = panic_location(call);
        assert_eq!(
            (file.as_str(), line),
            (file!(), EXPECTED_LINE.load(Ordering::SeqCst)),
            "{what} outside a runtime panicked at {file}:{line}, not at its caller"
        );
    }
}
