//! A task that yields forever must not keep other tasks from finishing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use common::{DropCounter, SelfWakeForever, run_with_timeout, runtime, spawn_and_sum, yield_forever};
use heist::task::JoinHandle;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug)]
enum Hog {
    /// Loops on `yield_now`, spawned from outside the runtime.
    YieldNowFromOutside,
    /// Loops on `yield_now`, spawned from inside a worker.
    YieldNowFromWorker,
    /// Returns Pending after `wake_by_ref`, spawned from outside.
    SelfWake,
}

/// On a single worker: start a hog, then spawn and await other tasks (from
/// block_on and from inside a task); they must finish. Then drop the
/// runtime, which must drop the hog.
fn others_finish_despite(hog: Hog) {
    run_with_timeout("yield_forever_fairness", move || {
        let rt = runtime(1);
        let hog_drops = Arc::new(AtomicUsize::new(0));
        let spins = Arc::new(AtomicU64::new(0));
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let guard = DropCounter(hog_drops.clone());
        let s = spins.clone();
        let hog_handle: JoinHandle<()> = match hog {
            Hog::YieldNowFromOutside => rt.spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                yield_forever(s).await;
            }),
            Hog::YieldNowFromWorker => {
                // The spawning task hands back the hog's handle: a task spawned on a worker.
                let (hog_tx, hog_rx) = std::sync::mpsc::channel();
                rt.block_on(rt.spawn(async move {
                    let hog = heist::spawn(async move {
                        let _guard = guard;
                        started_tx.send(()).unwrap();
                        yield_forever(s).await;
                    });
                    hog_tx.send(hog).unwrap();
                }))
                .expect("spawning task failed");
                hog_rx.recv().expect("the spawning task sent the hog's handle")
            }
            Hog::SelfWake => rt.spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                SelfWakeForever { polls: s }.await;
            }),
        };
        rt.block_on(started_rx).expect("the hog never started");

        // Tasks spawned from block_on (outside the worker).
        let sum = rt.block_on(spawn_and_sum(100, 3));
        assert_eq!(sum, (0..100u64).sum::<u64>(), "{hog:?}");

        // Tasks spawned from a task running on the same (only) worker.
        let sum = rt
            .block_on(rt.spawn(spawn_and_sum(100, 1)))
            .expect("spawning task failed");
        assert_eq!(sum, (0..100u64).sum::<u64>(), "{hog:?}");

        assert!(spins.load(Ordering::Relaxed) >= 1);
        assert!(!hog_handle.is_finished(), "{hog:?}: the hog cannot finish");
        drop(rt);
        assert_eq!(
            hog_drops.load(Ordering::SeqCst),
            1,
            "{hog:?}: dropping the runtime must drop the hog's future once"
        );
        let err = futures_lite::future::block_on(hog_handle).expect_err("the hog cannot complete");
        assert!(err.is_cancelled(), "{hog:?}: got {err:?}");
    });
}

#[test]
fn task_yielding_forever_does_not_starve_others() {
    others_finish_despite(Hog::YieldNowFromOutside);
}

#[test]
fn task_yielding_forever_from_a_worker_does_not_starve_others() {
    others_finish_despite(Hog::YieldNowFromWorker);
}

#[test]
fn self_waking_task_does_not_starve_others() {
    others_finish_despite(Hog::SelfWake);
}

#[test]
fn two_hogs_on_two_workers_do_not_starve_others() {
    run_with_timeout("two_hogs", || {
        let rt = runtime(2);
        let spins = Arc::new(AtomicU64::new(0));
        let hog_drops = Arc::new(AtomicUsize::new(0));
        let hogs: Vec<JoinHandle<()>> = (0..2)
            .map(|_| {
                let guard = DropCounter(hog_drops.clone());
                let spins = spins.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    yield_forever(spins).await;
                })
            })
            .collect();
        let sum = rt.block_on(spawn_and_sum(1_000, 0));
        assert_eq!(sum, (0..1_000u64).sum::<u64>());
        for hog in &hogs {
            assert!(!hog.is_finished());
        }
        drop(rt);
        assert_eq!(hog_drops.load(Ordering::SeqCst), 2, "each hog dropped once");
        for hog in hogs {
            let err = futures_lite::future::block_on(hog).expect_err("a hog cannot complete");
            assert!(err.is_cancelled(), "got {err:?}");
        }
    });
}
