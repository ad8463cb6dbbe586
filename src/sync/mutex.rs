//! [`Mutex`], on `async-lock`'s, and [`TryLockError`], shared with
//! [`RwLock`](super::RwLock).

use std::error::Error;
use std::fmt;
use std::sync::Arc;

pub use async_lock::{MutexGuard, MutexGuardArc as OwnedMutexGuard};

/// An asynchronous mutex: [`lock`](Self::lock) waits (without blocking the thread) while
/// another task holds the lock, so a guard may be held across an `.await`. Backed by
/// [`async_lock::Mutex`](https://docs.rs/async-lock), which is fair under contention: a waiter
/// that has waited long gets the lock before new arrivals.
///
/// The guards are async-lock's: [`MutexGuard`], and [`OwnedMutexGuard`] (async-lock's
/// `MutexGuardArc`) from [`lock_owned`](Self::lock_owned), which holds the mutex alive and so
/// can move into a spawned task.
///
/// ```
/// use std::sync::Arc;
/// use heist::sync::Mutex;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let counter = Arc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..8)
///         .map(|_| {
///             let counter = counter.clone();
///             heist::spawn(async move {
///                 for _ in 0..100 {
///                     let mut n = counter.lock().await;
///                     heist::task::yield_now().await; // held across an await
///                     *n += 1;
///                 }
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     assert_eq!(*counter.lock().await, 800);
///
///     let guard = counter.clone().lock_owned().await;
///     assert!(counter.try_lock().is_err());
///     drop(guard);
///     assert!(counter.try_lock().is_ok());
/// });
/// ```
#[repr(transparent)]
pub struct Mutex<T: ?Sized> {
    inner: async_lock::Mutex<T>,
}

/// `Arc<Mutex<T>>` as `Arc<async_lock::Mutex<T>>`, for async-lock's owned guards.
fn inner_arc<T: ?Sized>(this: Arc<Mutex<T>>) -> Arc<async_lock::Mutex<T>> {
    let ptr = Arc::into_raw(this) as *const async_lock::Mutex<T>;
    // SAFETY: `Mutex<T>` is a `repr(transparent)` wrapper of `async_lock::Mutex<T>` (and has no
    // `Drop` of its own): both have the same size, alignment and pointer metadata, so `ptr`
    // points into an `ArcInner` laid out exactly as an `Arc<async_lock::Mutex<T>>`'s would be,
    // and the reference count moves over unchanged.
    unsafe { Arc::from_raw(ptr) }
}

impl<T> Mutex<T> {
    /// A mutex holding `value`, unlocked. `const`, so it can make a `static`.
    pub const fn new(value: T) -> Self {
        Mutex {
            inner: async_lock::Mutex::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting while another task holds the lock.
    ///
    /// Cancel safe: dropping the future before it completes leaves the lock as it was.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        super::cooperatively(self.inner.lock()).await
    }

    /// Locks if nobody holds the lock now, without waiting.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.inner.try_lock().ok_or(TryLockError(()))
    }

    /// Locks from synchronous code, blocking the thread while another holder has the lock.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        heist_executor::assert_may_block("Mutex::blocking_lock", "lock().await");
        self.inner.lock_blocking()
    }

    /// Locks, and returns a guard that holds the mutex alive (`'static` if `T` is).
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        super::cooperatively(inner_arc(self).lock_arc()).await
    }

    /// [`lock_owned`](Self::lock_owned) if nobody holds the lock now, without waiting.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        inner_arc(self).try_lock_arc().ok_or(TryLockError(()))
    }

    /// The value, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

/// The lock is held: returned by [`Mutex::try_lock`] and [`RwLock`](super::RwLock)'s
/// `try_read`/`try_write`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct TryLockError(pub(super) ());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}

impl Error for TryLockError {}
