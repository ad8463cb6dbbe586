//! [`RwLock`], on `async-lock`'s.

use std::fmt;
use std::sync::Arc;

pub use async_lock::{
    RwLockReadGuard, RwLockReadGuardArc as OwnedRwLockReadGuard, RwLockWriteGuard,
    RwLockWriteGuardArc as OwnedRwLockWriteGuard,
};

use super::TryLockError;

/// An asynchronous reader-writer lock: any number of readers at a time, or one writer.
/// Backed by [`async_lock::RwLock`](https://docs.rs/async-lock), which lets a waiting writer
/// in before new readers, so readers cannot starve it.
///
/// The guards are async-lock's: [`RwLockReadGuard`] and [`RwLockWriteGuard`], and the owned
/// [`OwnedRwLockReadGuard`] and [`OwnedRwLockWriteGuard`] (async-lock's `RwLockReadGuardArc`
/// and `RwLockWriteGuardArc`) from [`read_owned`](Self::read_owned) and
/// [`write_owned`](Self::write_owned), which hold the lock alive and so can move into a spawned
/// task. A write guard can be turned into a read guard with `RwLockWriteGuard::downgrade`.
///
/// ```
/// use std::sync::Arc;
/// use heist::sync::RwLock;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let lock = Arc::new(RwLock::new(vec![1, 2]));
///     {
///         let a = lock.read().await;
///         let b = lock.read().await; // readers share the lock
///         assert_eq!(a.len() + b.len(), 4);
///         assert!(lock.try_write().is_err()); // but keep writers out
///     }
///     lock.write().await.push(3);
///
///     let writer = lock.clone();
///     heist::spawn(async move {
///         let mut v = writer.write_owned().await;
///         v.push(4);
///     })
///     .await
///     .unwrap();
///     assert_eq!(*lock.read().await, [1, 2, 3, 4]);
/// });
/// ```
#[repr(transparent)]
pub struct RwLock<T: ?Sized> {
    inner: async_lock::RwLock<T>,
}

/// `Arc<RwLock<T>>` as `Arc<async_lock::RwLock<T>>`, for async-lock's owned guards.
fn inner_arc<T: ?Sized>(this: Arc<RwLock<T>>) -> Arc<async_lock::RwLock<T>> {
    let ptr = Arc::into_raw(this) as *const async_lock::RwLock<T>;
    // SAFETY: `RwLock<T>` is a `repr(transparent)` wrapper of `async_lock::RwLock<T>` (and has
    // no `Drop` of its own): both have the same size, alignment and pointer metadata, so `ptr`
    // points into an `ArcInner` laid out exactly as an `Arc<async_lock::RwLock<T>>`'s would be,
    // and the reference count moves over unchanged.
    unsafe { Arc::from_raw(ptr) }
}

impl<T> RwLock<T> {
    /// A lock holding `value`, unlocked. `const`, so it can make a `static`.
    pub const fn new(value: T) -> Self {
        RwLock {
            inner: async_lock::RwLock::new(value),
        }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }

    /// Locks for reading, and returns a guard that holds the lock alive (`'static` if `T`
    /// is).
    pub async fn read_owned(self: Arc<Self>) -> OwnedRwLockReadGuard<T> {
        super::cooperatively(inner_arc(self).read_arc()).await
    }

    /// [`read_owned`](Self::read_owned) if no writer holds or waits for the lock now, without
    /// waiting.
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        inner_arc(self).try_read_arc().ok_or(TryLockError(()))
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds the lock or waits for it.
    ///
    /// Cancel safe: dropping the future before it completes leaves the lock as it was.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        super::cooperatively(self.inner.read()).await
    }

    /// Locks for writing, waiting while anyone else holds the lock.
    ///
    /// Cancel safe: dropping the future before it completes leaves the lock as it was.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        super::cooperatively(self.inner.write()).await
    }

    /// [`read`](Self::read) if no writer holds or waits for the lock now, without waiting.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.inner.try_read().ok_or(TryLockError(()))
    }

    /// [`write`](Self::write) if nobody holds the lock now, without waiting.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.inner.try_write().ok_or(TryLockError(()))
    }

    /// [`read`](Self::read) from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        heist_executor::assert_may_block("RwLock::blocking_read", "read().await");
        self.inner.read_blocking()
    }

    /// [`write`](Self::write) from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// On a heist worker thread (in a task) or inside `block_on`, where it could block forever:
    /// `.await` the async form there instead.
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        heist_executor::assert_may_block("RwLock::blocking_write", "write().await");
        self.inner.write_blocking()
    }

    /// Locks for writing, and returns a guard that holds the lock alive (`'static` if `T`
    /// is).
    pub async fn write_owned(self: Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        super::cooperatively(inner_arc(self).write_arc()).await
    }

    /// [`write_owned`](Self::write_owned) if nobody holds the lock now, without waiting.
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        inner_arc(self).try_write_arc().ok_or(TryLockError(()))
    }

    /// The value, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}
