//! `heist::select!`, `heist::join!` and `heist::try_join!` in tokio's shapes: branch order
//! (`biased;` and random), preconditions, patterns that fall through, `else`, handlers that
//! run after the futures are dropped and outside the macro's code.

use std::cell::Cell;
use std::future::{Future, pending, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use heist::sync::{mpsc, oneshot};

fn block_on<F: Future>(future: F) -> F::Output {
    heist::Runtime::new().unwrap().block_on(future)
}

/// A future that panics if polled: for branches that must not be.
struct MustNotPoll;

impl Future for MustNotPoll {
    type Output = u8;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u8> {
        panic!("a disabled branch was polled");
    }
}

/// Pending forever; sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Future for DropFlag {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn biased_polls_in_order() {
    for _ in 0..20 {
        let picked = block_on(async {
            heist::select! {
                biased;
                v = ready(1) => v,
                v = ready(2) => v,
            }
        });
        assert_eq!(picked, 1);
    }
}

#[test]
fn unbiased_starts_at_a_random_branch() {
    // 2^-200 odds of a false failure: each run picks either ready branch.
    let mut seen = [false; 2];
    block_on(async {
        for _ in 0..200 {
            let picked: usize = heist::select! {
                v = ready(0) => v,
                v = ready(1) => v,
            };
            seen[picked] = true;
        }
    });
    assert_eq!(seen, [true, true]);
}

#[test]
fn a_false_precondition_evaluates_the_future_but_never_polls_it() {
    let made = Cell::new(0);
    let make = || {
        made.set(made.get() + 1);
        MustNotPoll
    };
    let enabled = false;
    let value = block_on(async {
        heist::select! {
            v = make(), if enabled => v,
            v = async { 7 } => v,
        }
    });
    assert_eq!((value, made.get()), (7, 1));
}

#[test]
fn an_output_that_does_not_match_disables_the_branch_and_the_others_go_on() {
    block_on(async {
        let (tx, rx) = oneshot::channel::<u8>();
        let (empty_tx, mut empty) = mpsc::channel::<u8>(1);
        drop(empty_tx);
        let value = heist::select! {
            biased;
            Some(v) = empty.recv() => v, // `None`: falls through
            Ok(v) = rx => v,
            _ = async { tx.send(5).unwrap() ; pending::<()>().await } => unreachable!(),
        };
        assert_eq!(value, 5);
    });
}

#[test]
fn else_runs_when_every_branch_is_disabled() {
    let value = block_on(async {
        let no = false;
        heist::select! {
            _ = MustNotPoll, if no => 1,
            Some(v) = ready(None::<u8>) => v,
            else => 99,
        }
    });
    assert_eq!(value, 99);
}

#[test]
#[should_panic(expected = "there is no `else` branch")]
fn every_branch_disabled_without_else_panics_with_a_message() {
    block_on(async {
        heist::select! {
            Some(v) = ready(None::<u8>) => v,
        }
    });
}

#[test]
fn handlers_run_after_the_futures_are_dropped_and_can_use_what_they_borrowed() {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut counter = 0;
    block_on(async {
        let counter_ref = &mut counter;
        heist::select! {
            _ = DropFlag(dropped.clone()) => unreachable!(),
            mut v = async { *counter_ref += 1; 10 } => {
                assert!(dropped.load(Ordering::SeqCst), "the losing future is dropped first");
                v += 1;
                // The borrow the future held is over: the handler may use it.
                *counter_ref += v;
            }
        }
    });
    assert_eq!(counter, 12);
}

#[test]
fn break_continue_and_question_mark_in_handlers_act_on_the_callers_code() {
    async fn first_error() -> Result<u32, String> {
        let mut rounds = 0;
        loop {
            rounds += 1;
            heist::select! {
                v = ready(rounds) => {
                    if v < 3 {
                        continue;
                    }
                    if v == 3 {
                        break;
                    }
                }
            }
        }
        let parsed: u32 = heist::select! {
            r = ready("x".parse::<u32>()) => r.map_err(|e| e.to_string())?,
        };
        Ok(parsed + rounds)
    }
    let result = block_on(first_error());
    assert!(result.is_err(), "`?` returned from the function: {result:?}");
}

#[test]
fn select_works_with_ref_patterns_and_non_send_futures() {
    let shared = Rc::new(3);
    let value = block_on(async {
        heist::select! {
            ref v = async { *shared } => *v,
        }
    });
    assert_eq!(value, 3);
}

#[test]
fn join_runs_futures_concurrently_and_returns_outputs_in_order() {
    block_on(async {
        let (to_b, from_a) = oneshot::channel();
        let (to_a, from_b) = oneshot::channel();
        // Each needs the other to make progress: only concurrent polling finishes.
        let (a, b, c) = heist::join!(
            async move {
                to_b.send(1).unwrap();
                from_b.await.unwrap()
            },
            async move {
                let x: u32 = from_a.await.unwrap();
                to_a.send(x + 1).unwrap();
                "b"
            },
            ready('c'),
        );
        assert_eq!((a, b, c), (2, "b", 'c'));
        let (one,) = heist::join!(ready(1));
        assert_eq!(one, 1);
    });
}

#[test]
fn try_join_returns_the_first_error_at_once_and_drops_the_rest() {
    let dropped = Arc::new(AtomicBool::new(false));
    let result: Result<((), u8), &str> = block_on(async {
        let flag = dropped.clone();
        heist::try_join!(
            async move {
                DropFlag(flag).await;
                Ok(())
            },
            async { Err("failed") },
        )
    });
    assert_eq!(result, Err("failed"));
    assert!(dropped.load(Ordering::SeqCst));

    let ok: Result<(u8, char), ()> = block_on(async { heist::try_join!(async { Ok(1) }, ready(Ok('x'))) });
    assert_eq!(ok, Ok((1, 'x')));
}
