//! Runtime drop and `shutdown_timeout`; worker thread start/stop hooks.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::{DropCounter, WAIT, eventually, run_with_timeout, runtime};
use heist::task::JoinHandle;
use tokio::sync::oneshot;

const PENDING: usize = 10_000;

#[test]
fn dropping_runtime_with_10_000_pending_tasks_drops_each_future_once() {
    run_with_timeout("drop_runtime_pending_tasks", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let polled = Arc::new(AtomicUsize::new(0));
        let mut handles: Vec<JoinHandle<()>> = (0..PENDING)
            .map(|_| {
                let guard = DropCounter(drops.clone());
                let polled = polled.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    polled.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                })
            })
            .collect();

        // A task on a second runtime awaits one of the handles (so that
        // handle has a registered waker when the first runtime goes away).
        let rt2 = runtime(1);
        let watched = handles.pop().unwrap();
        let (watching_tx, watching_rx) = oneshot::channel::<()>();
        let watcher = rt2.spawn(async move {
            watching_tx.send(()).unwrap();
            watched.await
        });
        rt2.block_on(watching_rx).expect("watcher never started");

        // Every task is now parked on a future that never completes.
        eventually("all 10_000 tasks were polled once", || {
            polled.load(Ordering::SeqCst) == PENDING
        });
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "a pending task was dropped early"
        );

        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            PENDING,
            "dropping the runtime must drop every pending task's future exactly once"
        );

        // The watcher, awaiting from the other runtime, sees a cancellation.
        let watched_result = rt2.block_on(watcher).expect("the watcher task itself failed");
        let err = watched_result.expect_err("a task of a dropped runtime cannot complete");
        assert!(err.is_cancelled(), "expected cancelled, got {err:?}");

        // The rest, polled from a plain thread, are cancelled too.
        for (i, handle) in handles.into_iter().enumerate() {
            let err = futures_lite::future::block_on(handle)
                .expect_err("a task of a dropped runtime cannot complete");
            assert!(err.is_cancelled(), "handle {i}: expected cancelled, got {err:?}");
            assert!(!err.is_panic(), "handle {i}: expected cancelled, got {err:?}");
        }
        drop(rt2);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            PENDING,
            "a task future was dropped more than once"
        );
    });
}

#[test]
fn dropping_runtime_drops_queued_tasks_exactly_once() {
    run_with_timeout("drop_runtime_unpolled_tasks", || {
        // The only worker is blocked while the tasks are queued.
        let rt = runtime(1);
        let (blocked_tx, blocked_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let _blocker = rt.spawn(async move {
            blocked_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        blocked_rx.recv_timeout(WAIT).expect("blocker never started");

        let drops = Arc::new(AtomicUsize::new(0));
        let handles: Vec<JoinHandle<u32>> = (0..1_000)
            .map(|i| {
                let guard = DropCounter(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    i
                })
            })
            .collect();
        // Release the worker and drop the runtime straight away: each queued
        // task either runs to completion or is cancelled by the drop, and
        // its future is dropped exactly once either way.
        release_tx.send(()).unwrap();
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), 1_000);
        for (i, h) in handles.into_iter().enumerate() {
            match futures_lite::future::block_on(h) {
                Ok(v) => assert_eq!(v, i as u32),
                Err(e) => assert!(e.is_cancelled(), "handle {i}: got {e:?}"),
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1_000);
    });
}

#[test]
fn dropping_runtime_whose_task_drops_wake_other_tasks() {
    // Pairs of pending tasks linked by a oneshot: dropping one task's
    // future (the sender) during shutdown wakes the other, which is itself
    // being shut down. A third kind holds the JoinHandle of a pending task.
    const PAIRS: usize = 3_000;
    run_with_timeout("drop_runtime_cross_wakes", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let polled = Arc::new(AtomicUsize::new(0));
        let mut handles: Vec<JoinHandle<()>> = Vec::new();
        for _ in 0..PAIRS {
            let (tx, rx) = oneshot::channel::<()>();
            let (g1, g2, g3) = (
                DropCounter(drops.clone()),
                DropCounter(drops.clone()),
                DropCounter(drops.clone()),
            );
            let (p1, p2, p3) = (polled.clone(), polled.clone(), polled.clone());
            let holder = rt.spawn(async move {
                let _guard = g1;
                let _tx = tx;
                p1.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            });
            let receiver = rt.spawn(async move {
                let _guard = g2;
                p2.fetch_add(1, Ordering::SeqCst);
                let _ = rx.await;
                std::future::pending::<()>().await;
            });
            handles.push(holder);
            handles.push(rt.spawn(async move {
                let _guard = g3;
                p3.fetch_add(1, Ordering::SeqCst);
                let _ = receiver.await;
                std::future::pending::<()>().await;
            }));
        }
        eventually("every task was polled once", || {
            polled.load(Ordering::SeqCst) == 3 * PAIRS
        });
        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            3 * PAIRS,
            "dropping the runtime must drop every task's future exactly once, \
             including tasks woken by other tasks' drops"
        );
        for handle in handles {
            let err = futures_lite::future::block_on(handle)
                .expect_err("a task of a dropped runtime cannot complete");
            assert!(err.is_cancelled(), "expected cancelled, got {err:?}");
        }
    });
}

#[test]
fn dropping_runtime_right_after_a_worker_spawned_10_000_tasks() {
    // The tasks sit in the spawning worker's local queue (and LIFO slot)
    // or are being stolen when the runtime is dropped.
    run_with_timeout("drop_runtime_local_queues", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let handles = rt
            .block_on(rt.spawn(async move {
                (0..PENDING)
                    .map(|_| {
                        let guard = DropCounter(d.clone());
                        heist::spawn(async move {
                            let _guard = guard;
                            std::future::pending::<()>().await;
                        })
                    })
                    .collect::<Vec<_>>()
            }))
            .expect("spawning task failed");
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), PENDING);
        for handle in handles {
            let err = futures_lite::future::block_on(handle)
                .expect_err("a task of a dropped runtime cannot complete");
            assert!(err.is_cancelled(), "expected cancelled, got {err:?}");
        }
    });
}

#[test]
fn shutdown_timeout_returns_while_a_blocking_task_is_stuck() {
    run_with_timeout("shutdown_timeout_stuck_blocking", || {
        let rt = runtime(2);
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (finished_tx, finished_rx) = mpsc::channel::<()>();
        let _stuck = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            // Only released after shutdown_timeout has returned (or when
            // the test fails and `release_tx` is dropped).
            let _ = release_rx.recv();
            let _ = finished_tx.send(());
        });
        started_rx
            .recv_timeout(WAIT)
            .expect("the blocking task never started");

        // Some ordinary async work too.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);

        rt.shutdown_timeout(Duration::from_millis(100));

        // Reaching this line is the test: shutdown_timeout gave up waiting.
        release_tx.send(()).expect("the blocking task went away");
        finished_rx
            .recv_timeout(WAIT)
            .expect("the released blocking task never finished");
    });
}

/// The threads the start hook saw, with their names.
type SeenThreads = Arc<Mutex<Vec<(ThreadId, Option<String>)>>>;

#[test]
fn on_thread_start_and_stop_run_once_per_worker() {
    const WORKERS: usize = 3;
    const NAME: &str = "heist-test-worker";
    let (starts, stops, task_threads) = run_with_timeout("thread_hooks", || {
        let starts: SeenThreads = Arc::default();
        let stops: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
        let s1 = starts.clone();
        let s2 = stops.clone();
        let rt = heist::runtime::Builder::new()
            .worker_threads(WORKERS)
            .thread_name(NAME)
            .thread_stack_size(4 * 1024 * 1024)
            .on_thread_start(move || {
                let me = thread::current();
                s1.lock().unwrap().push((me.id(), me.name().map(str::to_owned)));
            })
            .on_thread_stop(move || {
                s2.lock().unwrap().push(thread::current().id());
            })
            .build()
            .expect("failed to build the runtime");

        let task_threads = rt.block_on(async {
            let handles: Vec<JoinHandle<ThreadId>> = (0..200)
                .map(|_| {
                    heist::spawn(async {
                        heist::task::yield_now().await;
                        thread::current().id()
                    })
                })
                .collect();
            let mut ids = HashSet::new();
            for h in handles {
                ids.insert(h.await.expect("task failed"));
            }
            ids
        });
        drop(rt);
        let starts = starts.lock().unwrap().clone();
        let stops = stops.lock().unwrap().clone();
        (starts, stops, task_threads)
    });

    assert_eq!(starts.len(), WORKERS, "on_thread_start calls: {starts:?}");
    assert_eq!(stops.len(), WORKERS, "on_thread_stop calls: {stops:?}");
    let start_ids: HashSet<ThreadId> = starts.iter().map(|(id, _)| *id).collect();
    let stop_ids: HashSet<ThreadId> = stops.iter().copied().collect();
    assert_eq!(start_ids.len(), WORKERS, "on_thread_start ran twice on a thread");
    assert_eq!(
        start_ids, stop_ids,
        "on_thread_start and on_thread_stop ran on different threads"
    );
    for (_, name) in &starts {
        let name = name.as_deref().unwrap_or("<unnamed>");
        assert!(
            name.starts_with(NAME),
            "worker thread named {name:?}, expected the builder's thread_name {NAME:?}"
        );
    }
    assert!(
        task_threads.is_subset(&start_ids),
        "tasks were polled on threads where on_thread_start never ran \
         (hooks not run on the workers themselves?)"
    );
}
