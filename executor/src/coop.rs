//! The cooperative budget: a task may complete at most [`BUDGET`] operations per poll before
//! the runtime's own futures (`JoinHandle` today; sockets, timers and channels as they arrive)
//! start returning `Pending` after waking it, which sends the task to the back of the queue.
//! Without this, a task whose awaits are always ready would never give its worker back.

use crate::context;
use std::future::poll_fn;
use std::task::{Context, Poll};

/// Operations per poll; tokio settled on the same figure.
pub(crate) const BUDGET: u8 = 128;

/// Runs one poll with a fresh budget, restoring the caller's afterwards.
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            context::set_budget(self.0);
        }
    }
    let _restore = Restore(context::set_budget(Some(BUDGET)));
    f()
}

/// Proof that one unit of budget was taken; it is refunded unless the operation made progress.
#[must_use]
pub(crate) struct BudgetGuard {
    refund: bool,
}

impl BudgetGuard {
    pub(crate) fn made_progress(mut self) {
        self.refund = false;
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        if self.refund {
            context::update_budget(|budget| budget.map(|n| n.saturating_add(1)));
        }
    }
}

/// Takes a unit of budget, or wakes the task and returns `Pending` when it is spent.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<BudgetGuard> {
    let mut exhausted = false;
    context::update_budget(|budget| match budget {
        Some(0) => {
            exhausted = true;
            budget
        }
        Some(n) => Some(n - 1),
        None => None,
    });
    if exhausted {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(BudgetGuard { refund: true })
    }
}

/// Spends one unit of the task's budget, yielding to the scheduler when it is used up.
///
/// Call it in a loop that makes progress on its own (parsing a buffer, draining an
/// always-ready source) so that the loop shares its worker with other tasks.
pub async fn consume_budget() {
    let mut taken = false;
    poll_fn(|cx| {
        if taken {
            return Poll::Ready(());
        }
        let guard = std::task::ready!(poll_proceed(cx));
        guard.made_progress();
        taken = true;
        Poll::Ready(())
    })
    .await
}
