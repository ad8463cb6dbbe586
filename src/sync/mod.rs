//! Synchronization for tasks: channels, locks, a semaphore, a notifier, once-set cells and a
//! barrier, in tokio's shapes.
//!
//! None of it depends on heist's runtime: these types work from any executor's tasks (and
//! from plain threads through their `blocking_*` methods). The `blocking_*` methods panic on
//! a heist worker thread and inside `block_on`, where blocking could wait forever, and say to
//! `.await` instead; threads of the blocking pool may call them. Some are thin wrappers over
//! well-kept runtime-agnostic crates, the rest heist's own; the table says which.
//!
//! | what | backed by |
//! | --- | --- |
//! | [`mpsc`]: `channel(cap)` | heist's own (a `parking_lot` mutex around a queue and the waiting senders) |
//! | [`mpsc`]: `unbounded_channel()` | heist's own (`concurrent-queue` and `atomic-waker`) |
//! | [`broadcast`]: `channel(cap)` | heist's own (a `parking_lot` mutex around a ring of values) |
//! | [`watch`]: `channel(init)` | heist's own (a `parking_lot` read-write lock, a version, a [`Notify`]) |
//! | [`oneshot`]: `channel()` | `async-channel` (capacity 1) |
//! | [`Semaphore`], [`SemaphorePermit`], [`OwnedSemaphorePermit`] | heist's own (a `parking_lot` mutex around the permits and a FIFO of waiters) |
//! | [`Mutex`], [`MutexGuard`], [`OwnedMutexGuard`] | `async-lock` |
//! | [`RwLock`], its guards and owned guards | `async-lock` |
//! | [`Barrier`], [`BarrierWaitResult`] | `async-lock` |
//! | [`Notify`], [`OwnedNotified`] | heist's own (a mutex-protected waiter queue) |
//! | [`OnceCell`], [`SetOnce`] | heist's own (`std`'s `OnceLock`, with a [`Semaphore`] or a [`Notify`]) |
//!
//! heist's own code is where the `sync_mpsc` bench showed the crate behind tokio's (both mpsc
//! channels), where the crates lack tokio's shape (mpsc permits, a semaphore that closes and
//! hands out several permits, `broadcast`'s lag, `watch`, a synchronous `OnceCell::set`), or
//! where their semantics differ from tokio's ([`Notify`]'s stored permit). Each type's
//! documentation says why.
//!
//! Every operation that can complete at once (a receive, a send, a lock, an acquire, a
//! notification) spends a unit of the task's cooperative budget, as heist's sockets and timers
//! do; see [`consume_budget`](crate::task::consume_budget).
//!
//! Where these differ from tokio: the lock guards are async-lock's (no `map`).
//!
//! [`mpsc`]: crate::sync::mpsc
//! [`oneshot`]: crate::sync::oneshot
//! [`broadcast`]: crate::sync::broadcast
//! [`watch`]: crate::sync::watch
//! [`Semaphore`]: crate::sync::Semaphore
//! [`SemaphorePermit`]: crate::sync::SemaphorePermit
//! [`OwnedSemaphorePermit`]: crate::sync::OwnedSemaphorePermit
//! [`Mutex`]: crate::sync::Mutex
//! [`MutexGuard`]: crate::sync::MutexGuard
//! [`OwnedMutexGuard`]: crate::sync::OwnedMutexGuard
//! [`RwLock`]: crate::sync::RwLock
//! [`Barrier`]: crate::sync::Barrier
//! [`BarrierWaitResult`]: crate::sync::BarrierWaitResult
//! [`Notify`]: crate::sync::Notify
//! [`OwnedNotified`]: crate::sync::OwnedNotified
//! [`OnceCell`]: crate::sync::OnceCell
//! [`SetOnce`]: crate::sync::SetOnce

mod barrier;
pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
mod once;
pub mod oneshot;
mod rwlock;
mod semaphore;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify, OwnedNotified};
pub use once::{OnceCell, SetError, SetOnce, SetOnceError};
pub use rwlock::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError};

use std::future::Future;
use std::task::{Context, Poll};

/// Polls one operation as a unit of the current task's cooperative budget (`heist-coop`):
/// once the budget is spent the operation is refused (the task is woken and gets `Pending`,
/// and runs again after the others), so a task whose channel or lock is always ready still
/// gives its worker back. The unit is kept only if the operation completed. Outside a heist
/// task there is no budget and nothing is refused.
pub(crate) fn cooperative<T>(
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let spent = std::task::ready!(heist_coop::poll_proceed(cx));
    let poll = poll(cx);
    if poll.is_ready() {
        spent.made_progress();
    }
    poll
}

/// Awaits `operation`, each poll of it spending the budget as [`cooperative`] does.
pub(crate) async fn cooperatively<F: Future>(operation: F) -> F::Output {
    let mut operation = std::pin::pin!(operation);
    std::future::poll_fn(|cx| cooperative(cx, |cx| operation.as_mut().poll(cx))).await
}

/// Spends a unit of budget for an operation that completed without polling anything (a value
/// already there): yields first if the budget is spent.
pub(crate) async fn spend_budget() {
    std::future::poll_fn(|cx| cooperative(cx, |_| Poll::Ready(()))).await
}
