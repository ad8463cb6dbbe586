//! `TaskPool`: the limit holds and is reached, spawning waits for a slot, close waits for the
//! tasks in flight, and panics give their slot back.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Wake, Waker};

use common::{DropCounter, WAIT, eventually, panic_message, run_with_timeout, runtime};
use futures_lite::future::poll_once;
use heist::task::TaskPool;
use tokio::sync::{oneshot, watch};

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// How many of the pool's tasks run now, and the most seen at once.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Concurrency {
    fn enter(&self) -> usize {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        now
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn the_limit_holds_over_a_hundred_thousand_spawns() {
    run_with_timeout("the_limit_holds_over_a_hundred_thousand_spawns", || {
        const TASKS: usize = 100_000;
        const LIMIT: usize = 8;
        let rt = runtime(2);
        let concurrency = Arc::new(Concurrency::default());
        let c = concurrency.clone();
        let results = rt.block_on(async move {
            let mut pool = TaskPool::new(LIMIT);
            for i in 0..TASKS {
                let c = c.clone();
                pool.spawn(async move {
                    c.enter();
                    for _ in 0..3 {
                        heist::task::yield_now().await;
                    }
                    c.leave();
                    i
                })
                .await;
                assert!(pool.running() <= LIMIT, "{} running", pool.running());
            }
            pool.close().await
        });
        let max = concurrency.max.load(Ordering::SeqCst);
        assert!(max <= LIMIT, "{max} tasks ran at once in a pool of {LIMIT}");
        assert_eq!(results.len(), TASKS);
        let sum: usize = results.into_iter().map(Result::unwrap).sum();
        assert_eq!(sum, TASKS * (TASKS - 1) / 2);
        assert_eq!(concurrency.now.load(Ordering::SeqCst), 0);
    });
}

/// The first `LIMIT` tasks wait until `LIMIT` of them run at once: a pool that let fewer run
/// would never open the gate (and the test would time out).
#[test]
fn the_limit_is_reached() {
    run_with_timeout("the_limit_is_reached", || {
        const LIMIT: usize = 8;
        let rt = runtime(2);
        let concurrency = Arc::new(Concurrency::default());
        let (gate_tx, gate_rx) = watch::channel(false);
        let gate_tx = Arc::new(gate_tx);
        let c = concurrency.clone();
        let results = rt.block_on(async move {
            let mut pool = TaskPool::new(LIMIT);
            for _ in 0..LIMIT * 50 {
                let (c, gate_tx, mut gate_rx) = (c.clone(), gate_tx.clone(), gate_rx.clone());
                pool.spawn(async move {
                    if c.enter() == LIMIT {
                        gate_tx.send_replace(true);
                    }
                    gate_rx.wait_for(|open| *open).await.unwrap();
                    heist::task::yield_now().await;
                    c.leave();
                })
                .await;
            }
            pool.close().await
        });
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(concurrency.max.load(Ordering::SeqCst), LIMIT);
    });
}

#[test]
fn spawn_waits_for_a_free_slot() {
    run_with_timeout("spawn_waits_for_a_free_slot", || {
        const LIMIT: usize = 3;
        let rt = runtime(2);
        let _enter = rt.enter();
        let mut pool = TaskPool::new(LIMIT);
        let (started_tx, started_rx) = mpsc::channel();
        let mut releases = Vec::new();
        for i in 0..LIMIT {
            let (tx, rx) = oneshot::channel::<()>();
            let started = started_tx.clone();
            // A pool with room spawns at once.
            let spawn = pin!(pool.spawn(async move {
                started.send(i).unwrap();
                rx.await.unwrap();
                i
            }));
            assert!(
                rt.block_on(poll_once(spawn)).is_some(),
                "a pool with room made a spawn wait"
            );
            releases.push(tx);
        }
        for _ in 0..LIMIT {
            started_rx.recv_timeout(WAIT).expect("a task never started");
        }
        assert_eq!(pool.running(), LIMIT);

        let fourth_started = Arc::new(AtomicBool::new(false));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let started = fourth_started.clone();
            let mut fourth = pin!(pool.spawn(async move {
                started.store(true, Ordering::SeqCst);
                LIMIT
            }));
            for _ in 0..3 {
                assert!(
                    fourth.as_mut().poll(&mut cx).is_pending(),
                    "spawned into a full pool"
                );
            }
            assert!(
                !flag.0.load(Ordering::SeqCst),
                "woken while every task still runs"
            );

            // One task finishes: the waiting spawn is woken and gets its slot.
            releases.remove(1).send(()).unwrap();
            eventually("a finishing task wakes the waiting spawner", || {
                flag.0.load(Ordering::SeqCst)
            });
            assert!(fourth.as_mut().poll(&mut cx).is_ready(), "a slot was freed");
        }
        assert_eq!(pool.running(), LIMIT);
        assert_eq!(
            pool.len(),
            LIMIT + 1,
            "the finished task's result waits to be joined"
        );
        eventually("the fourth task runs", || fourth_started.load(Ordering::SeqCst));

        for tx in releases {
            tx.send(()).unwrap();
        }
        let mut results: Vec<usize> = rt
            .block_on(pool.close())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        results.sort_unstable();
        assert_eq!(results, [0, 1, 2, 3]);
    });
}

#[test]
fn try_spawn_gives_the_future_back_when_full() {
    run_with_timeout("try_spawn_gives_the_future_back_when_full", || {
        let rt = runtime(2);
        let _enter = rt.enter();
        let mut pool = TaskPool::new(2);
        let (tx, rx) = oneshot::channel::<u32>();
        let first = pool
            .try_spawn(async move { rx.await.unwrap() })
            .expect("room for two");
        pool.try_spawn(std::future::pending()).expect("room for two");

        let err = pool.try_spawn(async { 3 }).expect_err("the pool is full");
        assert_eq!(
            err.to_string(),
            "the task pool is full: every slot holds a running task"
        );
        let returned = err.into_inner();

        tx.send(1).unwrap();
        eventually("the first task finishes", || first.is_finished());
        // Its finish reaches the pool an instant later; then the slot is free.
        let mut returned = Some(returned);
        eventually("try_spawn finds the freed slot", || {
            match pool.try_spawn(returned.take().unwrap()) {
                Ok(_) => true,
                Err(err) => {
                    returned = Some(err.into_inner());
                    false
                }
            }
        });
        assert_eq!(pool.len(), 3);
        assert_eq!(pool.running(), 2);
        pool.abort_all();
        let results = rt.block_on(pool.close());
        assert_eq!(results.len(), 3);
        let ok: Vec<u32> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        let cancelled = results
            .iter()
            .filter(|r| r.as_ref().is_err_and(|e| e.is_cancelled()))
            .count();
        // The pending task is cancelled; the third may have finished before the abort.
        assert!(
            ok == [1] && cancelled == 2 || ok.contains(&1) && ok.contains(&3) && cancelled == 1,
            "{results:?}"
        );
    });
}

#[test]
fn close_waits_for_the_tasks_in_flight() {
    run_with_timeout("close_waits_for_the_tasks_in_flight", || {
        const LIMIT: usize = 4;
        let rt = runtime(2);
        let finished = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = watch::channel(false);
        let results = rt.block_on(async {
            let mut pool = TaskPool::new(LIMIT);
            // Some quick tasks first, whose results wait in the pool.
            for i in 0..10 {
                pool.spawn(async move { i }).await;
            }
            for i in 0..LIMIT {
                let (finished, mut release_rx) = (finished.clone(), release_rx.clone());
                pool.spawn(async move {
                    release_rx.wait_for(|go| *go).await.unwrap();
                    finished.fetch_add(1, Ordering::SeqCst);
                    100 + i
                })
                .await;
            }
            let mut close = pin!(pool.close());
            assert!(poll_once(close.as_mut()).await.is_none(), "close did not wait");
            release_tx.send_replace(true);
            let results = close.await;
            assert_eq!(
                finished.load(Ordering::SeqCst),
                LIMIT,
                "close returned before its tasks"
            );
            results
        });
        let mut results: Vec<usize> = results.into_iter().map(Result::unwrap).collect();
        results.sort_unstable();
        let expected: Vec<usize> = (0..10).chain(100..100 + LIMIT).collect();
        assert_eq!(results, expected);
    });
}

#[test]
fn a_panicking_task_frees_its_slot() {
    run_with_timeout("a_panicking_task_frees_its_slot", || {
        let rt = runtime(2);
        let results = rt.block_on(async {
            let mut pool = TaskPool::new(1);
            for i in 0..10u32 {
                // With one slot, each spawn waits for the previous task, panicked or not.
                pool.spawn(async move {
                    if i % 2 == 0 {
                        panic!("task {i} panics");
                    }
                    i
                })
                .await;
                assert_eq!(pool.running(), 1);
            }
            pool.close().await
        });
        let (ok, panics): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let mut ok: Vec<u32> = ok.into_iter().map(Result::unwrap).collect();
        ok.sort_unstable();
        assert_eq!(ok, [1, 3, 5, 7, 9]);
        let mut messages: Vec<String> = panics
            .into_iter()
            .map(|r| panic_message(&*r.unwrap_err().into_panic()))
            .collect();
        messages.sort_unstable();
        assert_eq!(
            messages,
            [
                "task 0 panics",
                "task 2 panics",
                "task 4 panics",
                "task 6 panics",
                "task 8 panics"
            ]
        );
    });
}

#[test]
fn join_next_takes_results_as_they_come() {
    run_with_timeout("join_next_takes_results_as_they_come", || {
        let rt = runtime(2);
        let sum = rt
            .block_on(rt.spawn(async {
                let mut pool = TaskPool::new(3);
                let mut sum = 0;
                for i in 0..100u64 {
                    pool.spawn(async move { i }).await;
                    // Join as you go: results never pile up.
                    while let Some(result) = pool.try_join_next() {
                        sum += result.unwrap();
                    }
                    assert!(
                        pool.len() <= 3,
                        "{} unjoined with everything finished joined",
                        pool.len()
                    );
                }
                while let Some(result) = pool.join_next().await {
                    sum += result.unwrap();
                }
                assert!(pool.is_empty());
                sum
            }))
            .unwrap();
        assert_eq!(sum, 4950);
    });
}

#[test]
fn shutdown_and_drop_abort_the_tasks() {
    run_with_timeout("shutdown_and_drop_abort_the_tasks", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (_never_tx, never_rx) = watch::channel(());
        let d = drops.clone();
        rt.block_on(async move {
            let mut pool = TaskPool::new(5);
            for _ in 0..5 {
                let (guard, mut never_rx) = (DropCounter(d.clone()), never_rx.clone());
                pool.spawn(async move {
                    let _guard = guard;
                    let _ = never_rx.changed().await;
                })
                .await;
            }
            pool.shutdown().await;
            assert_eq!(
                d.load(Ordering::SeqCst),
                5,
                "shutdown returned before the tasks were gone"
            );
            assert!(pool.is_empty());

            for _ in 0..5 {
                let (guard, mut never_rx) = (DropCounter(d.clone()), never_rx.clone());
                pool.spawn(async move {
                    let _guard = guard;
                    let _ = never_rx.changed().await;
                })
                .await;
            }
            drop(pool);
        });
        eventually("dropping the pool aborts its tasks", || {
            drops.load(Ordering::SeqCst) == 10
        });
    });
}

#[test]
fn spawn_blocking_and_spawn_on_count_against_the_limit() {
    run_with_timeout("spawn_blocking_and_spawn_on_count_against_the_limit", || {
        const LIMIT: usize = 2;
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let concurrency = Arc::new(Concurrency::default());
        // From a thread outside the runtime, on a plain executor.
        let results = std::thread::spawn(move || {
            futures_lite::future::block_on(async {
                let mut pool = TaskPool::new(LIMIT);
                for i in 0..20usize {
                    let c = concurrency.clone();
                    pool.spawn_on(
                        async move {
                            c.enter();
                            heist::task::yield_now().await;
                            c.leave();
                            i
                        },
                        &handle,
                    )
                    .await;
                }
                let _enter = handle.enter();
                for i in 20..30usize {
                    let c = concurrency.clone();
                    pool.spawn_blocking(move || {
                        c.enter();
                        c.leave();
                        i
                    })
                    .await;
                }
                let results = pool.close().await;
                assert!(concurrency.max.load(Ordering::SeqCst) <= LIMIT);
                results
            })
        })
        .join()
        .unwrap();
        let mut results: Vec<usize> = results.into_iter().map(Result::unwrap).collect();
        results.sort_unstable();
        assert_eq!(results, (0..30).collect::<Vec<_>>());
    });
}

#[test]
#[should_panic(expected = "TaskPool::new(0): a pool needs a limit of at least 1 task")]
fn a_limit_of_zero_panics() {
    let _ = TaskPool::<()>::new(0);
}

#[test]
fn limit_and_debug() {
    let pool = TaskPool::<u8>::new(7);
    assert_eq!(pool.limit(), 7);
    assert_eq!(pool.len(), 0);
    assert_eq!(
        format!("{pool:?}"),
        "TaskPool { limit: 7, running: 0, finished: 0 }"
    );
}
