//! `JoinSet`: results in any order, panics and aborts as `JoinError`s, drop and shutdown,
//! bookkeeping, and 100 000 members.

mod common;

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};

use common::{DropCounter, WAIT, eventually, panic_message, run_with_timeout, runtime};
use futures_lite::future::poll_once;
use heist::task::{AbortHandle, JoinError, JoinSet};
use tokio::sync::oneshot;

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `n` members blocked until their sender fires (or is dropped); each holds a `DropCounter`
/// and reports on `started` once it has been polled.
fn spawn_blocked(
    set: &mut JoinSet<usize>,
    n: usize,
    drops: &Arc<AtomicUsize>,
    started: &mpsc::Sender<usize>,
) -> (Vec<oneshot::Sender<()>>, Vec<AbortHandle>) {
    let mut senders = Vec::new();
    let mut aborts = Vec::new();
    for i in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        let guard = DropCounter(drops.clone());
        let started = started.clone();
        aborts.push(set.spawn(async move {
            let _guard = guard;
            let _ = started.send(i);
            let _ = rx.await;
            i
        }));
        senders.push(tx);
    }
    (senders, aborts)
}

fn wait_started(started: &mpsc::Receiver<usize>, n: usize) {
    for _ in 0..n {
        started.recv_timeout(WAIT).expect("a member never started");
    }
}

#[test]
fn join_set_is_send_and_sync_and_abort_handle_too() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JoinSet<String>>();
    assert_send_sync::<AbortHandle>();
}

#[test]
fn joins_every_result_in_any_order() {
    run_with_timeout("joins_every_result_in_any_order", || {
        let rt = runtime(2);
        let mut results = rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..1000usize {
                set.spawn(async move {
                    for _ in 0..i % 4 {
                        heist::task::yield_now().await;
                    }
                    i
                });
            }
            assert_eq!(set.len(), 1000);
            let mut results = Vec::new();
            while let Some(result) = set.join_next().await {
                results.push(result.expect("no member fails"));
                assert_eq!(set.len(), 1000 - results.len());
            }
            assert!(set.join_next().await.is_none(), "an empty set stays empty");
            results
        });
        results.sort_unstable();
        assert_eq!(results, (0..1000).collect::<Vec<_>>(), "each member exactly once");
    });
}

#[test]
fn panics_are_reported_as_join_errors() {
    run_with_timeout("panics_are_reported_as_join_errors", || {
        let rt = runtime(2);
        let (mut ok, mut panicked) = (Vec::new(), Vec::new());
        rt.block_on(async {
            let mut set = JoinSet::new();
            let mut panicking_ids = Vec::new();
            for i in 0..20u32 {
                let abort = set.spawn(async move {
                    heist::task::yield_now().await;
                    if i % 4 == 0 {
                        panic!("member {i} fails");
                    }
                    i
                });
                if i % 4 == 0 {
                    panicking_ids.push(abort.id());
                }
            }
            while let Some(result) = set.join_next().await {
                match result {
                    Ok(i) => ok.push(i),
                    Err(err) => {
                        assert!(err.is_panic(), "expected a panic, got {err:?}");
                        assert!(
                            panicking_ids.contains(&err.id()),
                            "{err:?} is not a panicking member"
                        );
                        panicked.push(panic_message(&*err.into_panic()));
                    }
                }
            }
        });
        ok.sort_unstable();
        panicked.sort_unstable();
        assert_eq!(ok, (0..20).filter(|i| i % 4 != 0).collect::<Vec<_>>());
        let mut expected: Vec<_> = (0..20).step_by(4).map(|i| format!("member {i} fails")).collect();
        expected.sort_unstable();
        assert_eq!(panicked, expected);
    });
}

#[test]
fn abort_all_reports_every_member_cancelled() {
    run_with_timeout("abort_all_reports_every_member_cancelled", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        // Half of them polled and waiting, half possibly never polled.
        let (senders, _) = spawn_blocked(&mut set, 50, &drops, &started_tx);
        wait_started(&started_rx, 50);
        let (more, _) = spawn_blocked(&mut set, 50, &drops, &started_tx);
        set.abort_all();
        assert_eq!(set.len(), 100, "aborted members stay until joined");
        let errors: Vec<JoinError> = rt.block_on(async {
            let mut errors = Vec::new();
            while let Some(result) = set.join_next().await {
                errors.push(result.expect_err("an aborted member completed"));
            }
            errors
        });
        assert_eq!(errors.len(), 100);
        assert!(errors.iter().all(JoinError::is_cancelled), "{errors:?}");
        assert_eq!(drops.load(Ordering::SeqCst), 100, "each future dropped once");
        assert!(senders.iter().chain(&more).all(oneshot::Sender::is_closed));
    });
}

#[test]
fn abort_handle_aborts_one_member() {
    run_with_timeout("abort_handle_aborts_one_member", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (started_tx, _started_rx) = mpsc::channel();
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        let (senders, aborts) = spawn_blocked(&mut set, 3, &drops, &started_tx);
        let victim = aborts[1].clone();
        drop(aborts);
        assert!(!victim.is_finished());
        victim.abort();
        let first = rt.block_on(set.join_next()).expect("three members");
        let err = first.expect_err("only the aborted member can finish");
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(err.id(), victim.id());
        assert!(victim.is_finished());
        victim.abort(); // no longer a member: nothing happens

        for tx in senders {
            let _ = tx.send(());
        }
        let mut rest: Vec<usize> = rt.block_on(async {
            let mut rest = Vec::new();
            while let Some(result) = set.join_next().await {
                rest.push(result.expect("not aborted"));
            }
            rest
        });
        rest.sort_unstable();
        assert_eq!(rest, [0, 2]);
    });
}

#[test]
fn dropping_the_set_aborts_its_members() {
    run_with_timeout("dropping_the_set_aborts_its_members", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        let (senders, _) = spawn_blocked(&mut set, 20, &drops, &started_tx);
        wait_started(&started_rx, 20);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(set);
        eventually("every member's future is dropped", || {
            drops.load(Ordering::SeqCst) == 20
        });
        assert!(senders.iter().all(oneshot::Sender::is_closed));

        // From inside a task, with members never polled yet.
        // The senders outlive the set, so the members can only end by being aborted.
        let drops = Arc::new(AtomicUsize::new(0));
        let inner = drops.clone();
        let _senders = rt
            .block_on(rt.spawn(async move {
                let mut set = JoinSet::new();
                let (started_tx, _started_rx) = mpsc::channel();
                let (senders, _) = spawn_blocked(&mut set, 20, &inner, &started_tx);
                senders
            }))
            .unwrap();
        eventually("every unpolled member's future is dropped", || {
            drops.load(Ordering::SeqCst) == 20
        });
    });
}

#[test]
fn shutdown_aborts_and_waits_for_every_member() {
    run_with_timeout("shutdown_aborts_and_waits_for_every_member", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        let (_senders, _) = spawn_blocked(&mut set, 30, &drops, &started_tx);
        wait_started(&started_rx, 30);
        // A blocking member cannot be aborted once it runs: shutdown must wait for it.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (running_tx, running_rx) = mpsc::channel::<()>();
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        set.spawn_blocking(move || {
            running_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            f.store(true, Ordering::SeqCst);
            usize::MAX
        });
        running_rx
            .recv_timeout(WAIT)
            .expect("the blocking member never ran");

        rt.block_on(async {
            let mut shutdown = pin!(set.shutdown());
            assert!(
                poll_once(shutdown.as_mut()).await.is_none(),
                "shutdown returned while a blocking member was still running"
            );
            release_tx.send(()).unwrap();
            shutdown.await;
        });
        assert!(finished.load(Ordering::SeqCst));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            30,
            "shutdown returned before a future was dropped"
        );
        assert!(set.is_empty());
        assert!(rt.block_on(set.join_next()).is_none());
    });
}

#[test]
fn len_and_is_empty_follow_spawns_joins_and_detach() {
    run_with_timeout("len_and_is_empty_follow_spawns_joins_and_detach", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        assert!(set.is_empty());
        assert_eq!(set.len(), 0);
        assert!(set.try_join_next().is_none());

        let (mut senders, aborts) = spawn_blocked(&mut set, 10, &drops, &started_tx);
        wait_started(&started_rx, 10);
        assert_eq!(set.len(), 10);
        assert!(!set.is_empty());
        assert!(set.try_join_next().is_none(), "no member can have finished");
        assert_eq!(set.len(), 10);

        // Release member 3; once it has finished, try_join_next must return it.
        senders
            .remove(3)
            .send(())
            .unwrap_or_else(|_| panic!("member 3 is gone"));
        eventually("member 3 finishes", || aborts[3].is_finished());
        // Its finish reaches the set through its waker, just after the task is marked finished.
        let mut joined = None;
        eventually("try_join_next returns member 3", || {
            joined = set.try_join_next();
            joined.is_some()
        });
        assert_eq!(joined.map(|r| r.unwrap()), Some(3));
        assert_eq!(set.len(), 9);

        // A new member reuses the freed slot and is counted.
        let (extra, _) = spawn_blocked(&mut set, 1, &drops, &started_tx);
        assert_eq!(set.len(), 10);
        senders.extend(extra);

        // Detached members run on: release them and watch them finish.
        set.detach_all();
        assert_eq!(set.len(), 0);
        assert!(set.is_empty());
        assert!(rt.block_on(set.join_next()).is_none());
        assert!(
            aborts.iter().all(AbortHandle::is_finished),
            "detached members left the set"
        );
        for tx in senders.drain(..) {
            let _ = tx.send(());
        }
        eventually("detached members finish", || drops.load(Ordering::SeqCst) == 11);

        // The set is usable after detach_all.
        set.spawn(async { 7 });
        assert_eq!(set.len(), 1);
        assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), 7);
        assert!(set.is_empty());
    });
}

#[test]
fn a_hundred_thousand_members() {
    run_with_timeout("a_hundred_thousand_members", || {
        const N: u64 = 100_000;
        let rt = runtime(2);
        let sum = rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..N {
                set.spawn(async move { i });
            }
            assert_eq!(set.len(), N as usize);
            let mut sum = 0;
            let mut joined = 0;
            while let Some(result) = set.join_next().await {
                sum += result.unwrap();
                joined += 1;
            }
            assert_eq!(joined, N);
            sum
        });
        assert_eq!(sum, N * (N - 1) / 2);

        // The same with members that wait, joined by a task while they finish.
        let sum = rt
            .block_on(rt.spawn(async {
                let mut set = JoinSet::new();
                for i in 0..N {
                    set.spawn(async move {
                        heist::task::yield_now().await;
                        i
                    });
                }
                let mut sum = 0;
                while let Some(result) = set.join_next().await {
                    sum += result.unwrap();
                }
                sum
            }))
            .unwrap();
        assert_eq!(sum, N * (N - 1) / 2);
    });
}

#[test]
fn join_next_from_block_on_a_task_and_a_plain_thread() {
    run_with_timeout("join_next_from_block_on_a_task_and_a_plain_thread", || {
        let rt = runtime(2);

        // From block_on: members wait for the sender, so join_next really waits.
        let (tx, rx) = tokio::sync::watch::channel(false);
        let sum = rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..10u32 {
                let mut rx = rx.clone();
                set.spawn(async move {
                    rx.wait_for(|go| *go).await.unwrap();
                    i
                });
            }
            let mut sum = {
                let mut join = pin!(set.join_next());
                assert!(
                    poll_once(join.as_mut()).await.is_none(),
                    "nothing can have finished"
                );
                tx.send(true).unwrap();
                join.await.unwrap().unwrap()
            };
            while let Some(result) = set.join_next().await {
                sum += result.unwrap();
            }
            sum
        });
        assert_eq!(sum, 45);

        // From a task, members spawned from it.
        let sum = rt
            .block_on(rt.spawn(async {
                let mut set = JoinSet::new();
                for i in 0..10u32 {
                    set.spawn(async move { i });
                }
                set.spawn_blocking(|| 100);
                let mut sum = 0;
                while let Some(result) = set.join_next().await {
                    sum += result.unwrap();
                }
                sum
            }))
            .unwrap();
        assert_eq!(sum, 145);

        // From a thread outside the runtime, with spawn_on and a plain executor.
        let handle = rt.handle().clone();
        let sum = std::thread::spawn(move || {
            let mut set = JoinSet::new();
            for i in 0..10u32 {
                set.spawn_on(async move { i }, &handle);
            }
            set.spawn_blocking_on(|| 1000, &handle);
            futures_lite::future::block_on(async {
                let mut sum = 0;
                while let Some(result) = set.join_next().await {
                    sum += result.unwrap();
                }
                sum
            })
        })
        .join()
        .unwrap();
        assert_eq!(sum, 1045);
    });
}

#[test]
fn poll_join_next_wakes_the_last_waker_when_a_member_finishes() {
    run_with_timeout("poll_join_next_wakes_the_last_waker", || {
        let rt = runtime(2);
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        let (tx, rx) = oneshot::channel::<u32>();
        set.spawn(async move { rx.await.unwrap() });

        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(set.poll_join_next(&mut cx).is_pending());
        tx.send(5).unwrap();
        eventually("the member's finish wakes the set's waiter", || {
            flag.0.load(Ordering::SeqCst)
        });
        match set.poll_join_next(&mut cx) {
            Poll::Ready(Some(Ok(5))) => {}
            other => panic!("expected the member's result, got {other:?}"),
        }
        assert!(matches!(set.poll_join_next(&mut cx), Poll::Ready(None)));

        // poll_fn composes it into a future.
        set.spawn(async { 6 });
        let six = rt.block_on(poll_fn(|cx| set.poll_join_next(cx)));
        assert_eq!(six.unwrap().unwrap(), 6);
    });
}

#[test]
fn collect_and_extend_spawn_each_future() {
    run_with_timeout("collect_and_extend_spawn_each_future", || {
        let rt = runtime(2);
        let total = rt.block_on(async {
            let mut set: JoinSet<u32> = (1..=3).map(|i| async move { i }).collect();
            set.extend((4..=5).map(|i| async move { i }));
            assert_eq!(set.len(), 5);
            let mut total = 0;
            while let Some(result) = set.join_next().await {
                total += result.unwrap();
            }
            total
        });
        assert_eq!(total, 15);
    });
}

#[test]
fn join_next_is_cancel_safe() {
    run_with_timeout("join_next_is_cancel_safe", || {
        let rt = runtime(2);
        let _enter = rt.enter();
        let mut set = JoinSet::new();
        let (tx, rx) = oneshot::channel::<u32>();
        set.spawn(async move { rx.await.unwrap() });
        // Start a join, drop it unfinished, finish the member, join again.
        rt.block_on(async {
            let join = set.join_next();
            assert!(poll_once(join).await.is_none());
        });
        tx.send(9).unwrap();
        assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), 9);
        assert!(rt.block_on(set.join_next()).is_none());
    });
}

/// Dropping the result of a member that finished runs user code (its `Drop`) on the thread
/// that drops the set; a member's output is dropped exactly once whether joined, detached or
/// dropped with the set.
#[test]
fn outputs_are_dropped_once_whatever_happens_to_the_set() {
    run_with_timeout("outputs_are_dropped_once", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let _enter = rt.enter();
        for ending in 0..3 {
            let mut set = JoinSet::new();
            let mut aborts = Vec::new();
            for _ in 0..10 {
                let guard = DropCounter(drops.clone());
                aborts.push(set.spawn(async move { guard }));
            }
            let before = drops.load(Ordering::SeqCst);
            eventually("every member finishes", || {
                aborts.iter().all(AbortHandle::is_finished)
            });
            match ending {
                0 => rt.block_on(async {
                    while let Some(result) = set.join_next().await {
                        drop(result.unwrap());
                    }
                }),
                1 => set.detach_all(),
                _ => drop(set),
            }
            assert_eq!(drops.load(Ordering::SeqCst), before + 10, "ending {ending}");
        }
    });
}

/// `JoinSet::spawn` outside a runtime panics with the same advice as `heist::spawn`.
#[test]
fn spawn_outside_a_runtime_panics() {
    let err = std::thread::spawn(|| {
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
    })
    .join()
    .expect_err("spawn outside a runtime must panic");
    assert!(
        panic_message(&*err).contains("outside a heist runtime"),
        "{}",
        panic_message(&*err)
    );
}

#[allow(dead_code)]
fn assert_join_next_is_send(set: &mut JoinSet<u32>) -> impl Future + Send + '_ {
    set.join_next()
}

/// A waker whose last drop shuts a runtime down.
struct DropsRuntime(#[allow(dead_code)] heist::Runtime);

impl Wake for DropsRuntime {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn replacing_a_waker_that_owns_the_members_runtime_does_not_deadlock() {
    run_with_timeout(
        "replacing_a_waker_that_owns_the_members_runtime_does_not_deadlock",
        || {
            let runtime = runtime(1);
            let mut set = JoinSet::new();
            let member = set.spawn_on(std::future::pending::<()>(), runtime.handle());
            // The set's copy of this waker becomes the last one: replacing it drops the runtime,
            // whose shutdown cancels the member, whose cancellation notifies the set.
            let waker = Waker::from(Arc::new(DropsRuntime(runtime)));
            assert!(set.poll_join_next(&mut Context::from_waker(&waker)).is_pending());
            drop(waker);
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let flag_waker = Waker::from(flag.clone());
            let mut next = set.poll_join_next(&mut Context::from_waker(&flag_waker));
            if next.is_pending() {
                // The member was cancelled during that poll: its notification woke the new waker.
                assert!(
                    flag.0.load(Ordering::SeqCst),
                    "pending, and the new waker was not woken"
                );
                next = set.poll_join_next(&mut Context::from_waker(&flag_waker));
            }
            let Poll::Ready(Some(Err(err))) = next else {
                panic!("the member cancelled by the shutdown is not reported: {next:?}");
            };
            assert!(err.is_cancelled());
            assert_eq!(err.id(), member.id());
            assert!(set.is_empty());
        },
    );
}
