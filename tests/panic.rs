//! Panicking tasks surface as `JoinError`s and do not take the runtime down.

mod common;

use std::sync::{Arc, Barrier, Once};

use common::{panic_message, run_with_timeout, runtime};
use heist::task::JoinHandle;

const MARKER: &str = "panicked on purpose";

/// Keeps the 1_000 intentional panics from flooding stderr; every other
/// panic still goes to the default hook.
fn quiet_intentional_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = panic_message(info.payload());
            if !msg.contains(MARKER) {
                default(info);
            }
        }));
    });
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
