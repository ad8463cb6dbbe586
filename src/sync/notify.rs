//! [`Notify`]: our own, a small mutex-protected waiter queue.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Wakes tasks waiting for an event, with tokio's semantics:
///
/// - [`notify_one`](Self::notify_one) wakes the task that has waited longest; if none waits,
///   it stores a *permit* instead, which the next [`notified`](Self::notified) future takes
///   and completes at once. There is at most one permit: notifying twice with nobody waiting
///   lets one wait through, not two.
/// - [`notify_waiters`](Self::notify_waiters) wakes every task waiting now, and stores no
///   permit. "Waiting" starts when the [`Notified`] future is made, not when it is first
///   polled, so `let n = notify.notified();` then checking a condition then `n.await` misses
///   no wakeup.
/// - A [`Notified`] woken by `notify_one` but dropped before it completed passes the
///   notification on to the next waiter (or stores it as the permit): no notification is
///   lost to a cancelled waiter.
///
/// heist's own implementation (no crate backs it): a `std::sync::Mutex` around a FIFO queue
/// of waiters and the permit flag.
///
/// ```
/// use std::sync::Arc;
/// use heist::sync::Notify;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let notify = Arc::new(Notify::new());
///
///     // A permit is stored when nobody waits: this `notified()` completes at once.
///     notify.notify_one();
///     notify.notified().await;
///
///     let waiter = notify.clone();
///     let task = heist::spawn(async move {
///         waiter.notified().await;
///         "woken"
///     });
///     notify.notify_one(); // wakes the task, or leaves it a permit if it is not waiting yet
///     assert_eq!(task.await.unwrap(), "woken");
/// });
/// ```
pub struct Notify {
    state: Mutex<State>,
    /// How many times `notify_waiters` ran. Changed only under the lock; a [`Notified`] reads
    /// it when made, so it knows whether a later `notify_waiters` released it.
    waiters_calls: AtomicUsize,
}

struct State {
    /// The permit stored by a `notify_one` that found nobody waiting.
    permit: bool,
    /// Ids handed to waiters, in order: the lowest waiting id has waited longest.
    next_id: u64,
    /// The waiters not notified yet, by id, with the waker to wake (`None` if registered by
    /// `enable` and not polled since).
    waiting: BTreeMap<u64, Option<Waker>>,
    /// The waiters that `notify_one` took out of `waiting` and that have not yet seen it.
    notified: BTreeSet<u64>,
}

impl State {
    /// `notify_one` under the lock: moves the longest waiter to `notified` and returns its
    /// waker to wake once the lock is released, or stores the permit.
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiting.pop_first() {
            Some((id, waker)) => {
                self.notified.insert(id);
                waker
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Notify {
    /// A `Notify` with no permit and nobody waiting. `const`, so it can make a `static`.
    pub const fn new() -> Self {
        Notify {
            state: Mutex::new(State {
                permit: false,
                next_id: 0,
                waiting: BTreeMap::new(),
                notified: BTreeSet::new(),
            }),
            waiters_calls: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under the lock leaves the state half-changed if it panics.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A future that completes when this `Notify` is notified. It counts as waiting for
    /// [`notify_waiters`](Self::notify_waiters) from now on; for
    /// [`notify_one`](Self::notify_one), from its first poll (or
    /// [`Notified::enable`]).
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            wait: Wait::new(self),
        }
    }

    /// [`notified`](Self::notified), as a future that holds the `Notify` alive (`'static`).
    /// It counts as waiting from now on, the same way.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use heist::sync::Notify;
    ///
    /// heist::Runtime::new().unwrap().block_on(async {
    ///     let notify = Arc::new(Notify::new());
    ///     let notified = notify.clone().notified_owned(); // waits for notify_waiters from here
    ///     let task = heist::spawn(notified);
    ///     notify.notify_waiters();
    ///     task.await.unwrap();
    /// });
    /// ```
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        OwnedNotified {
            wait: Wait::new(&self),
            notify: self,
        }
    }

    /// Wakes the task that has waited longest, or, if none waits, stores a permit (at most
    /// one) for the next [`notified`](Self::notified) to take.
    pub fn notify_one(&self) {
        let waker = self.lock().notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every task waiting now (every [`Notified`] made before this call that has not
    /// completed). Stores no permit.
    pub fn notify_waiters(&self) {
        let waiting = {
            let mut state = self.lock();
            self.waiters_calls.fetch_add(1, Ordering::SeqCst);
            mem::take(&mut state.waiting)
        };
        for waker in waiting.into_values().flatten() {
            waker.wake();
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiting", &state.waiting.len())
            .finish()
    }
}

/// The future returned by [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    wait: Wait,
}

/// The future returned by [`Notify::notified_owned`]: [`Notified`] holding the `Notify`
/// alive, so `'static` (to move into a task, or store beside the `Arc<Notify>`).
#[must_use = "futures do nothing unless polled"]
pub struct OwnedNotified {
    notify: Arc<Notify>,
    wait: Wait,
}

/// What a waiter knows, shared by [`Notified`] and [`OwnedNotified`].
struct Wait {
    /// `notify.waiters_calls` when the future was made.
    waiters_calls: usize,
    state: NotifiedState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotifiedState {
    /// Not yet polled or enabled.
    Init,
    /// In the waiter queue under this id.
    Waiting(u64),
    /// Completed.
    Done,
}

impl Wait {
    fn new(notify: &Notify) -> Self {
        Wait {
            waiters_calls: notify.waiters_calls.load(Ordering::SeqCst),
            state: NotifiedState::Init,
        }
    }

    /// One step: completes if notified, else joins the queue or refreshes the waker there.
    /// Returns whether the future is done.
    fn register(&mut self, notify: &Notify, waker: Option<&Waker>) -> bool {
        if self.state == NotifiedState::Done {
            return true;
        }
        let mut state = notify.lock();
        // Read under the lock, which `notify_waiters` holds while it bumps the count.
        let released = notify.waiters_calls.load(Ordering::SeqCst) != self.waiters_calls;
        match self.state {
            NotifiedState::Init => {
                if released {
                    self.state = NotifiedState::Done;
                } else if state.permit {
                    state.permit = false;
                    self.state = NotifiedState::Done;
                } else {
                    let id = state.next_id;
                    state.next_id += 1;
                    state.waiting.insert(id, waker.cloned());
                    self.state = NotifiedState::Waiting(id);
                }
            }
            NotifiedState::Waiting(id) => {
                if state.notified.remove(&id) {
                    self.state = NotifiedState::Done;
                } else if released {
                    state.waiting.remove(&id);
                    self.state = NotifiedState::Done;
                } else if let Some(waker) = waker {
                    // Still queued: `notify_one` moves an id out of `waiting` into `notified`,
                    // `notify_waiters` empties `waiting` and bumps the count, and both were
                    // ruled out above.
                    let slot = state.waiting.get_mut(&id).expect("a waiting Notified is queued");
                    match slot {
                        Some(old) if old.will_wake(waker) => {}
                        _ => *slot = Some(waker.clone()),
                    }
                }
            }
            NotifiedState::Done => unreachable!(),
        }
        self.state == NotifiedState::Done
    }

    /// The future is dropped: leaves the queue, passing on a `notify_one` it did not see.
    fn cancel(&mut self, notify: &Notify) {
        let NotifiedState::Waiting(id) = self.state else {
            return;
        };
        let waker = {
            let mut state = notify.lock();
            state.waiting.remove(&id);
            if state.notified.remove(&id) {
                // Woken by `notify_one` but never completed: pass the notification on.
                state.notify_one()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Notified<'_> {
    /// Joins the waiter queue without polling, so that a [`Notify::notify_one`] from now on
    /// counts for this future (it would anyway at its first poll). Returns whether it has
    /// already been notified, in which case awaiting it completes at once.
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let this = self.get_mut();
        this.wait.register(this.notify, None)
    }

    /// A poll that spends no budget, for the primitives built on `Notify` that spend the unit
    /// for their whole operation themselves.
    pub(crate) fn poll_unbudgeted(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.wait.register(this.notify, Some(cx.waker())) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        super::cooperative(cx, |cx| self.poll_unbudgeted(cx))
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        self.wait.cancel(self.notify);
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("state", &self.wait.state)
            .finish_non_exhaustive()
    }
}

impl OwnedNotified {
    /// As [`Notified::enable`].
    pub fn enable(self: Pin<&mut Self>) -> bool {
        let this = self.get_mut();
        this.wait.register(&this.notify, None)
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        super::cooperative(cx, |cx| {
            if this.wait.register(&this.notify, Some(cx.waker())) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

impl Drop for OwnedNotified {
    fn drop(&mut self) {
        self.wait.cancel(&self.notify);
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedNotified")
            .field("state", &self.wait.state)
            .finish_non_exhaustive()
    }
}
