//! Synchronization for tasks: channels, locks, a semaphore, a notifier and a barrier, in
//! tokio's shapes.
//!
//! None of it depends on heist's runtime: these types work from any executor's tasks (and
//! from plain threads through their `blocking_*` methods). The `blocking_*` methods panic on
//! a heist worker thread and inside `block_on`, where blocking could wait forever, and say to
//! `.await` instead; threads of the blocking pool may call them. Most are thin wrappers over
//! well-kept runtime-agnostic crates; each type's documentation says which one does the work.
//!
//! | what | backed by |
//! | --- | --- |
//! | [`mpsc`]: `channel(cap)` | heist's own (a `parking_lot` mutex around a queue and the waiting senders) |
//! | [`mpsc`]: `unbounded_channel()` | heist's own (`concurrent-queue` and `atomic-waker`) |
//! | [`broadcast`]: `channel(cap)` | heist's own (a `parking_lot` mutex around a ring of values) |
//! | [`watch`]: `channel(init)` | heist's own (a `parking_lot` read-write lock, a version, a [`Notify`]) |
//! | [`oneshot`]: `channel()` | `async-channel` (capacity 1) |
//! | [`Semaphore`], [`SemaphorePermit`], [`OwnedSemaphorePermit`] | `async-lock` |
//! | [`Mutex`], [`MutexGuard`], [`OwnedMutexGuard`] | `async-lock` |
//! | [`RwLock`], its guards and owned guards | `async-lock` |
//! | [`Barrier`], [`BarrierWaitResult`] | `async-lock` |
//! | [`Notify`] | heist's own (a mutex-protected waiter queue) |
//!
//! heist's own code is where the `sync_mpsc` bench showed the crate behind tokio's (both mpsc
//! channels), where the crate lacks tokio's shape (mpsc permits), or where a crate's semantics differ from tokio's ([`Notify`]'s stored
//! permit).
//!
//! Every operation that can complete at once (a receive, a send, a lock, an acquire, a
//! notification) spends a unit of the task's cooperative budget, as heist's sockets and timers
//! do; see [`consume_budget`](crate::task::consume_budget).
//!
//! Where these differ from tokio: the [`Semaphore`] cannot be closed, so acquiring returns
//! the permit rather than a `Result`, and a permit is always one permit; the lock guards are
//! async-lock's (no `map`).
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

mod barrier;
pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod rwlock;
mod semaphore;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError};

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
