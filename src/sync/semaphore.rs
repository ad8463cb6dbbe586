//! [`Semaphore`]: heist's own, a `parking_lot` mutex around the free permits and a FIFO of
//! waiters.
//!
//! It replaced async-lock's, which cannot be closed, cannot take several permits at once,
//! and whose `notify(1)` release needed a workaround (a waiter already notified but not yet
//! run was counted again, and a second permit sat free beside sleeping waiters: a hang our
//! ASan CI run found). Here a release hands permits straight to the waiters at the head of
//! the queue under the lock, so no permit is free while a waiter that it would satisfy sleeps.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// A counting semaphore, in tokio's shape: at most `n` permits are out at a time, and
/// [`acquire`](Self::acquire) waits for one while none is free. A permit goes back when
/// dropped. Waiters are served first come, first served: one that waits for several permits
/// holds back those that come after it, and `try_acquire` takes nothing while anyone waits.
///
/// [`close`](Self::close) makes every acquire, waiting or later, fail with [`AcquireError`]
/// (the permits already out stay valid).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use heist::sync::Semaphore;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     // At most 2 of the 10 tasks run their critical section at a time.
///     let semaphore = Arc::new(Semaphore::new(2));
///     let inside = Arc::new(AtomicUsize::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let (semaphore, inside) = (semaphore.clone(), inside.clone());
///             heist::spawn(async move {
///                 let _permit = semaphore.acquire_owned().await.unwrap();
///                 assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///                 heist::task::yield_now().await;
///                 inside.fetch_sub(1, Ordering::SeqCst);
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///
///     let mut permit = semaphore.try_acquire().unwrap();
///     permit.merge(semaphore.acquire().await.unwrap());
///     assert_eq!((permit.num_permits(), semaphore.available_permits()), (2, 0));
///     let half = permit.split(1).unwrap();
///     drop(permit);
///     assert_eq!(semaphore.available_permits(), 1);
///     half.forget(); // gone for good
///     semaphore.add_permits(3);
///     assert_eq!(semaphore.available_permits(), 4);
///
///     semaphore.close();
///     assert!(semaphore.acquire().await.is_err());
/// });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

// Unwind safety (tokio's semaphore is unwind safe, and async-lock's, which this replaced, was):
// nothing under the lock can panic with the state half-changed (a waker is cloned before the
// queue changes; growing the queue aborts on allocation failure), and wakers run after it.
impl std::panic::RefUnwindSafe for Semaphore {}

struct State {
    free: usize,
    closed: bool,
    /// Longest waiting first, with their wakers.
    waiting: VecDeque<(Arc<Waiter>, Waker)>,
}

/// An acquire waiting for `wanted` permits. `status` is read and written only under the
/// semaphore's lock (an atomic only to be shared without `unsafe`; the lock orders every
/// access), so there is no lock-free protocol here.
struct Waiter {
    wanted: usize,
    status: AtomicU8,
}

const WAITING: u8 = 0;
const GRANTED: u8 = 1;
const CLOSED: u8 = 2;

impl State {
    /// Adds `n` free permits and grants the head waiters all they can; returns their wakers,
    /// to wake after the lock.
    fn release(&mut self, n: usize) -> Vec<Waker> {
        self.free += n;
        let mut wake = Vec::new();
        while let Some((head, _)) = self.waiting.front() {
            if head.wanted > self.free {
                break;
            }
            self.free -= head.wanted;
            head.status.store(GRANTED, Ordering::Relaxed);
            let (_, waker) = self.waiting.pop_front().expect("the head was just seen");
            wake.push(waker);
        }
        wake
    }
}

fn wake_all(wakers: Vec<Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

impl Semaphore {
    /// The most permits a semaphore can hold (tokio's bound too).
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits. `const`, so it can make a `static`.
    ///
    /// # Panics
    /// If `permits` is above [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "Semaphore::new: at most Semaphore::MAX_PERMITS permits"
        );
        Semaphore {
            state: Mutex::new(State {
                free: permits,
                closed: false,
                waiting: VecDeque::new(),
            }),
        }
    }

    /// [`new`](Self::new), under tokio's name for the `const` constructor.
    pub const fn const_new(permits: usize) -> Self {
        Self::new(permits)
    }

    /// Takes a permit, waiting for one while none is free.
    ///
    /// Cancel safe: dropping the future before it completes takes no permit and keeps the
    /// other waiters' places.
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed, or closes while this waits.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Takes `n` permits at once, waiting until they are free (holding back later waiters
    /// meanwhile). `n` = 0 completes at once.
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed, or closes while this waits.
    ///
    /// # Panics
    /// If `n` is above [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.wait_for(n as usize).await?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// Takes a permit if one is free now (and nobody waits), without waiting.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free now (and nobody waits), without waiting.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n as usize)?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// [`acquire`](Self::acquire), with a permit that holds the semaphore alive (`'static`,
    /// to move into a task).
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed, or closes while this waits.
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// [`acquire_many`](Self::acquire_many), with an owned permit.
    ///
    /// # Errors
    /// [`AcquireError`] if the semaphore is closed, or closes while this waits.
    pub async fn acquire_many_owned(self: Arc<Self>, n: u32) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.wait_for(n as usize).await?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// [`try_acquire`](Self::try_acquire), with an owned permit.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Self::try_acquire_many), with an owned permit.
    pub fn try_acquire_many_owned(self: Arc<Self>, n: u32) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n as usize)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// Adds `n` permits, waking the waiters they satisfy.
    ///
    /// # Panics
    /// If the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        let mut state = self.state.lock();
        assert!(
            state
                .free
                .checked_add(n)
                .is_some_and(|total| total <= Self::MAX_PERMITS),
            "Semaphore::add_permits: more than Semaphore::MAX_PERMITS permits"
        );
        let wake = state.release(n);
        drop(state);
        wake_all(wake);
    }

    /// Removes up to `n` free permits for good; returns how many it removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        let mut state = self.state.lock();
        let removed = state.free.min(n);
        state.free -= removed;
        removed
    }

    /// The number of free permits now.
    pub fn available_permits(&self) -> usize {
        self.state.lock().free
    }

    /// Closes the semaphore: waiting acquires fail, and so does every acquire from now on.
    /// Permits already out stay valid (and dropping them still returns them).
    pub fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        let waiting = std::mem::take(&mut state.waiting);
        let mut wake = Vec::with_capacity(waiting.len());
        for (waiter, waker) in waiting {
            waiter.status.store(CLOSED, Ordering::Relaxed);
            wake.push(waker);
        }
        drop(state);
        wake_all(wake);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        assert!(
            n <= Self::MAX_PERMITS,
            "Semaphore: at most Semaphore::MAX_PERMITS permits at once"
        );
        let mut state = self.state.lock();
        if state.closed {
            Err(TryAcquireError::Closed)
        } else if state.free >= n && state.waiting.is_empty() {
            state.free -= n;
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Takes `n` permits, waiting in the queue if need be; each poll spends the cooperative
    /// budget.
    async fn wait_for(&self, n: usize) -> Result<(), AcquireError> {
        assert!(
            n <= Self::MAX_PERMITS,
            "Semaphore: at most Semaphore::MAX_PERMITS permits at once"
        );
        let mut wait = Acquire {
            semaphore: self,
            wanted: n,
            waiter: None,
        };
        poll_fn(|cx| super::cooperative(cx, |cx| wait.poll(cx))).await
    }
}

/// An acquire in progress. Dropped while queued, it leaves the queue, or gives back the
/// permits granted to it meanwhile.
struct Acquire<'a> {
    semaphore: &'a Semaphore,
    wanted: usize,
    waiter: Option<Arc<Waiter>>,
}

impl Acquire<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        let Some(waiter) = &self.waiter else {
            let mut state = self.semaphore.state.lock();
            if state.closed {
                return Poll::Ready(Err(AcquireError(())));
            }
            if state.free >= self.wanted && state.waiting.is_empty() {
                state.free -= self.wanted;
                return Poll::Ready(Ok(()));
            }
            let waiter = Arc::new(Waiter {
                wanted: self.wanted,
                status: AtomicU8::new(WAITING),
            });
            state.waiting.push_back((waiter.clone(), cx.waker().clone()));
            self.waiter = Some(waiter);
            return Poll::Pending;
        };
        let mut state = self.semaphore.state.lock();
        let outcome = match waiter.status.load(Ordering::Relaxed) {
            GRANTED => Ok(()),
            CLOSED => Err(AcquireError(())),
            _ => {
                // Still queued (granting and closing take it out): refresh its waker.
                if let Some((_, waker)) = state.waiting.iter_mut().find(|(w, _)| Arc::ptr_eq(w, waiter)) {
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                }
                return Poll::Pending;
            }
        };
        drop(state);
        self.waiter = None;
        Poll::Ready(outcome)
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(waiter) = self.waiter.take() else { return };
        let mut state = self.semaphore.state.lock();
        let wake = match waiter.status.load(Ordering::Relaxed) {
            WAITING => {
                if let Some(at) = state.waiting.iter().position(|(w, _)| Arc::ptr_eq(w, &waiter)) {
                    state.waiting.remove(at);
                }
                // It may have held back smaller waiters behind it.
                state.release(0)
            }
            GRANTED => state.release(waiter.wanted),
            _ => Vec::new(),
        };
        drop(state);
        wake_all(wake);
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits.
    fn default() -> Self {
        Semaphore::new(0)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Semaphore")
            .field("permits", &state.free)
            .field("waiting", &state.waiting.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// Permits from [`Semaphore::acquire`] and its kin: given back when dropped.
#[must_use = "the permits are given back at once if not held"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    /// Drops the permits without giving them back: the semaphore has that many fewer for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// The number of permits held.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Takes over `other`'s permits.
    ///
    /// # Panics
    /// If `other` is from another semaphore.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            std::ptr::eq(self.semaphore, other.semaphore),
            "SemaphorePermit::merge: the permits are from different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Moves `n` of these permits into a new permit; `None` (and nothing moves) if fewer
    /// than `n` are held.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.permits = self.permits.checked_sub(n)?;
        Some(SemaphorePermit {
            semaphore: self.semaphore,
            permits: n,
        })
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// Permits from [`Semaphore::acquire_owned`] and its kin: hold the semaphore alive, and are
/// given back when dropped.
#[must_use = "the permits are given back at once if not held"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Drops the permits without giving them back: the semaphore has that many fewer for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// The number of permits held.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Takes over `other`'s permits.
    ///
    /// # Panics
    /// If `other` is from another semaphore.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.semaphore, &other.semaphore),
            "OwnedSemaphorePermit::merge: the permits are from different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Moves `n` of these permits into a new permit; `None` (and nothing moves) if fewer
    /// than `n` are held.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.permits = self.permits.checked_sub(n)?;
        Some(OwnedSemaphorePermit {
            semaphore: self.semaphore.clone(),
            permits: n,
        })
    }

    /// The semaphore these permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("semaphore", &self.semaphore)
            .field("permits", &self.permits)
            .finish()
    }
}

/// The semaphore was closed: no permit was taken.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] returned no permit.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// The semaphore is closed.
    Closed,
    /// Too few permits are free (or others wait for them first).
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::Closed => "semaphore closed",
            TryAcquireError::NoPermits => "no permits available",
        })
    }
}

impl Error for TryAcquireError {}
