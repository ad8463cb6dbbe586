//! [`Semaphore`], on `async-lock`'s.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// A counting semaphore: at most `n` permits are out at a time, and
/// [`acquire`](Self::acquire) waits for one while none is free. The permit goes back when
/// dropped. Backed by [`async_lock::Semaphore`](https://docs.rs/async-lock), whose waiters are
/// served first come, first served.
///
/// Unlike tokio's, this semaphore cannot be closed, so acquiring cannot fail:
/// [`acquire`](Self::acquire) and [`acquire_owned`](Self::acquire_owned) return the permit
/// itself rather than a `Result`. A permit is always one permit (no `acquire_many`).
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
///                 let _permit = semaphore.acquire_owned().await;
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
///     let permit = semaphore.try_acquire().unwrap();
///     assert_eq!(semaphore.available_permits(), 1);
///     drop(permit);
///     semaphore.add_permits(3);
///     assert_eq!(semaphore.available_permits(), 5);
/// });
/// ```
pub struct Semaphore {
    inner: async_lock::Semaphore,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits. `const`, so it can make a `static`.
    pub const fn new(permits: usize) -> Self {
        Semaphore {
            inner: async_lock::Semaphore::new(permits),
        }
    }

    /// Takes a permit, waiting for one while none is free.
    ///
    /// Cancel safe: dropping the future before it completes takes no permit and keeps the
    /// other waiters' places.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        let guard = super::cooperatively(self.inner.acquire()).await;
        self.pass_on_leftover_permits();
        SemaphorePermit { guard }
    }

    /// async-lock releases a permit with `notify(1)`, which counts a waiter already notified
    /// but not yet run: two releases before that waiter runs wake it alone, and the second
    /// permit then sits free while other waiters sleep (a hang our ASan CI run found, with
    /// holders waiting at a barrier for a third). So every waiter that gets a permit and sees
    /// more free passes one notification on, by taking a free permit and giving it back
    /// (the release notifies one waiter that has not been notified yet).
    fn pass_on_leftover_permits(&self) {
        if self.inner.available_permits() > 0 {
            drop(self.inner.try_acquire());
        }
    }

    /// Takes a permit if one is free now, without waiting.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self.inner.try_acquire() {
            Some(guard) => Ok(SemaphorePermit { guard }),
            None => Err(TryAcquireError::NoPermits),
        }
    }

    /// Takes a permit that holds the semaphore alive (`'static`, to move into a task), waiting
    /// for one while none is free.
    pub async fn acquire_owned(self: Arc<Self>) -> OwnedSemaphorePermit {
        super::cooperatively(self.inner.acquire()).await.forget();
        self.pass_on_leftover_permits();
        OwnedSemaphorePermit {
            semaphore: self,
            permits: 1,
        }
    }

    /// Takes an owned permit if one is free now, without waiting.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let guard = self.inner.try_acquire().ok_or(TryAcquireError::NoPermits)?;
        guard.forget();
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: 1,
        })
    }

    /// Adds `n` permits, waking up to `n` waiters.
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n);
    }

    /// The number of free permits now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }
}

/// A permit from [`Semaphore::acquire`]: given back when dropped.
#[must_use = "the permit is given back at once if not held"]
pub struct SemaphorePermit<'a> {
    guard: async_lock::SemaphoreGuard<'a>,
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

impl SemaphorePermit<'_> {
    /// Drops the permit without giving it back: the semaphore has one permit fewer for good.
    pub fn forget(self) {
        self.guard.forget();
    }

    /// The number of permits held: always 1.
    pub fn num_permits(&self) -> usize {
        1
    }
}

/// A permit from [`Semaphore::acquire_owned`]: holds the semaphore alive, and gives the permit
/// back when dropped.
#[must_use = "the permit is given back at once if not held"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    /// 1, or 0 once forgotten.
    permits: usize,
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("semaphore", &self.semaphore)
            .field("permits", &self.permits)
            .finish()
    }
}

impl OwnedSemaphorePermit {
    /// Drops the permit without giving it back: the semaphore has one permit fewer for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// The number of permits held: always 1.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore this permit came from.
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

/// Why [`Semaphore::try_acquire`] returned no permit.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Every permit is taken.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no permits available")
    }
}

impl Error for TryAcquireError {}
