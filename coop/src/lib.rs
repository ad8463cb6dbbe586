//! heist's cooperative budget: a task may complete at most [`BUDGET`] operations per poll.
//! After that, every operation of heist's own (a socket read, a timer, a channel receive, a
//! lock, a `JoinHandle`) wakes the task and returns `Pending`, which sends the task to the
//! back of its worker's queue. Without this, a task whose awaits are always ready (a socket a
//! peer keeps full, a channel it feeds itself) would never give its worker back, and every
//! other task, timer and I/O event queued behind it would wait.
//!
//! This crate is the one thing the executor and its leaves (`heist-timer`, `heist-reactor`,
//! `heist::sync`) share: a thread-local counter. The executor gives each poll a fresh budget
//! with [`with_budget`]; a leaf asks for a unit with [`poll_proceed`] before an operation that
//! may complete at once, and keeps it with [`Spent::made_progress`] if the operation did
//! complete (a `Pending` gives the unit back). Outside a task, on a thread with no budget,
//! operations are never refused. The leaves thus know nothing of the executor, and the budget
//! costs them a thread-local access per operation.

#![warn(missing_docs)]

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

/// Operations per poll; tokio settled on the same figure.
pub const BUDGET: u8 = 128;

#[cfg(not(loom))]
std::thread_local!(static LEFT: Cell<Option<u8>> = const { Cell::new(None) });
#[cfg(loom)]
loom::thread_local!(static LEFT: Cell<Option<u8>> = Cell::new(None));

fn replace(budget: Option<u8>) -> Option<u8> {
    LEFT.try_with(|left| left.replace(budget)).unwrap_or(None)
}

fn update(f: impl FnOnce(Option<u8>) -> Option<u8>) -> Option<u8> {
    LEFT.try_with(|left| {
        let before = left.get();
        left.set(f(before));
        before
    })
    .unwrap_or(None)
}

/// Runs `f` (one poll of a task) with a fresh budget, restoring the thread's previous budget
/// afterwards, on unwinding too.
pub fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    with(Some(BUDGET), f)
}

/// Runs `f` with no budget: nothing inside is refused (blocking code, or a runtime's own
/// bookkeeping that must not be cut short).
pub fn without_budget<R>(f: impl FnOnce() -> R) -> R {
    with(None, f)
}

fn with<R>(budget: Option<u8>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            replace(self.0);
        }
    }
    let _restore = Restore(replace(budget));
    f()
}

/// True when the current task has spent its budget: whatever it wakes now should be left for
/// another worker to take, since this one is about to move on.
pub fn is_exhausted() -> bool {
    LEFT.try_with(|left| left.get() == Some(0)).unwrap_or(false)
}

/// One unit of budget, taken: given back when dropped, unless the operation made progress.
#[must_use = "dropping it gives the unit back: call made_progress when the operation completed"]
#[derive(Debug)]
pub struct Spent {
    refund: bool,
}

impl Spent {
    /// The operation completed: the unit stays spent.
    pub fn made_progress(mut self) {
        self.refund = false;
    }
}

impl Drop for Spent {
    fn drop(&mut self) {
        if self.refund {
            update(|budget| budget.map(|left| left.saturating_add(1)));
        }
    }
}

/// Takes a unit of the current task's budget, or, when it is spent, wakes the task and
/// returns `Pending` (the task goes to the back of the queue and gets a fresh budget then).
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<Spent> {
    let before = update(|budget| match budget {
        Some(0) | None => budget,
        Some(left) => Some(left - 1),
    });
    if before == Some(0) {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(Spent { refund: true })
    }
}

/// Spends one unit of the task's budget, yielding to the scheduler when it is used up.
///
/// Call it in a loop that makes progress on its own (parsing a buffer, draining an
/// always-ready source) so that the loop shares its worker with other tasks.
pub async fn consume_budget() {
    let mut spent = false;
    poll_fn(|cx| {
        if spent {
            return Poll::Ready(());
        }
        std::task::ready!(poll_proceed(cx)).made_progress();
        spent = true;
        Poll::Ready(())
    })
    .await
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::task::{Wake, Waker};

    struct CountWakes(AtomicUsize);
    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn a_task_is_refused_after_its_budget_and_woken() {
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        with_budget(|| {
            for _ in 0..BUDGET {
                let Poll::Ready(spent) = poll_proceed(&mut cx) else {
                    panic!("refused before the budget was spent");
                };
                spent.made_progress();
            }
            assert!(is_exhausted());
            assert!(poll_proceed(&mut cx).is_pending());
            assert_eq!(wakes.0.load(Relaxed), 1, "a refused task is woken to run again");
        });
        assert!(!is_exhausted(), "the budget ends with the poll");
    }

    #[test]
    fn an_operation_that_did_not_complete_gives_its_unit_back() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(|| {
            for _ in 0..10 * usize::from(BUDGET) {
                let Poll::Ready(spent) = poll_proceed(&mut cx) else {
                    panic!("refused though nothing made progress");
                };
                drop(spent);
            }
        });
    }

    #[test]
    fn outside_a_task_nothing_is_refused() {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1000 {
            let Poll::Ready(spent) = poll_proceed(&mut cx) else {
                panic!("refused outside a task");
            };
            spent.made_progress();
        }
        with_budget(|| {
            without_budget(|| assert!(poll_proceed(&mut cx).is_ready()));
        });
    }
}
