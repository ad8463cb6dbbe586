//! `JoinHandle::abort` on pending, never-polled and running tasks.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

use common::{DropCounter, WAIT, run_with_timeout, runtime, yield_forever};
use tokio::sync::oneshot;

#[test]
fn abort_pending_task() {
    run_with_timeout("abort_pending_task", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let (started_tx, started_rx) = oneshot::channel::<()>();
        // `never_tx` is kept alive, so the task can only end by being aborted.
        let (never_tx, never_rx) = oneshot::channel::<()>();
        let resumed = Arc::new(AtomicBool::new(false));
        let r = resumed.clone();
        let handle = rt.spawn(async move {
            let _guard = guard;
            started_tx.send(()).unwrap();
            let _ = never_rx.await;
            r.store(true, Ordering::SeqCst);
        });
        rt.block_on(started_rx).expect("task never started");
        assert!(!handle.is_finished());

        handle.abort();
        let err = rt
            .block_on(handle)
            .expect_err("an aborted pending task must not complete");
        assert!(err.is_cancelled(), "expected cancelled, got {err:?}");
        assert!(!err.is_panic(), "expected cancelled, got {err:?}");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the aborted task's future must be dropped (once) by the time it is joined"
        );
        assert!(
            never_tx.is_closed(),
            "the aborted task's future still holds its receiver"
        );
        assert!(!resumed.load(Ordering::SeqCst), "the aborted task was resumed");
    });
}

#[test]
fn abort_task_that_was_never_polled() {
    run_with_timeout("abort_never_polled", || {
        // One worker, occupied by a task blocked on a std channel: a task
        // spawned now is queued and cannot be polled until it is released.
        let rt = runtime(1);
        let (blocked_tx, blocked_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let blocker = rt.spawn(async move {
            blocked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        blocked_rx.recv_timeout(WAIT).expect("blocker never started");

        let polled = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let p = polled.clone();
        let queued = rt.spawn(async move {
            let _guard = guard;
            p.store(true, Ordering::SeqCst);
            1u32
        });
        queued.abort();
        release_tx.send(()).unwrap();

        let err = rt
            .block_on(queued)
            .expect_err("a task aborted before its first poll must not complete");
        assert!(err.is_cancelled(), "expected cancelled, got {err:?}");
        assert!(!polled.load(Ordering::SeqCst), "the aborted task was polled");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        rt.block_on(blocker).expect("blocker failed");
    });
}

#[test]
fn abort_running_task() {
    for workers in [1, 2] {
        run_with_timeout("abort_running_task", move || {
            let rt = runtime(workers);
            let drops = Arc::new(AtomicUsize::new(0));
            let iterations = Arc::new(AtomicU64::new(0));
            let guard = DropCounter(drops.clone());
            let (started_tx, started_rx) = oneshot::channel::<()>();
            let it = iterations.clone();
            let handle = rt.spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                yield_forever(it).await;
            });
            rt.block_on(started_rx).expect("task never started");
            assert!(!handle.is_finished());

            handle.abort();
            let err = rt
                .block_on(handle)
                .expect_err("an aborted running task must not complete");
            assert!(err.is_cancelled(), "expected cancelled, got {err:?}");
            assert!(!err.is_panic(), "expected cancelled, got {err:?}");
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "the aborted task's future must be dropped (once) by the time it is joined \
                 ({workers} worker(s))"
            );
            assert!(iterations.load(Ordering::Relaxed) >= 1);

            // The runtime keeps working.
            assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
        });
    }
}

#[test]
fn abort_running_task_from_another_task() {
    run_with_timeout("abort_from_task", || {
        let rt = runtime(2);
        let iterations = Arc::new(AtomicU64::new(0));
        let it = iterations.clone();
        let result = rt.block_on(async move {
            let (started_tx, started_rx) = oneshot::channel::<()>();
            let victim = heist::spawn(async move {
                started_tx.send(()).unwrap();
                yield_forever(it).await;
            });
            started_rx.await.unwrap();
            heist::spawn(async move {
                victim.abort();
                victim.await
            })
            .await
            .expect("aborting task failed")
        });
        let err = result.expect_err("an aborted running task must not complete");
        assert!(err.is_cancelled(), "expected cancelled, got {err:?}");
    });
}

#[test]
fn abort_racing_completion_is_ok_or_cancelled() {
    // Aborts land while the tasks run: each outcome is either the value or
    // a cancellation, and every future and output is dropped exactly once.
    const TASKS: usize = 10_000;
    run_with_timeout("abort_racing_completion", || {
        let rt = runtime(2);
        let futures = Arc::new(AtomicUsize::new(0));
        let outputs = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let fut = DropCounter(futures.clone());
                let outputs = outputs.clone();
                rt.spawn(async move {
                    let _fut = fut;
                    if i % 2 == 0 {
                        heist::task::yield_now().await;
                    }
                    // The output counter exists only once the task completes.
                    (i, DropCounter(outputs))
                })
            })
            .collect();
        for h in &handles {
            h.abort();
        }
        let (ok, cancelled) = rt.block_on(async {
            let (mut ok, mut cancelled) = (0, 0);
            for (i, h) in handles.into_iter().enumerate() {
                match h.await {
                    Ok((j, out)) => {
                        assert_eq!(i, j);
                        drop(out);
                        ok += 1;
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "task {i}: got {e:?}");
                        cancelled += 1;
                    }
                }
            }
            (ok, cancelled)
        });
        assert_eq!(ok + cancelled, TASKS);
        assert_eq!(futures.load(Ordering::SeqCst), TASKS);
        assert_eq!(outputs.load(Ordering::SeqCst), ok);
        drop(rt);
        assert_eq!(futures.load(Ordering::SeqCst), TASKS);
        assert_eq!(outputs.load(Ordering::SeqCst), ok);
    });
}
