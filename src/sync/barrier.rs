//! [`Barrier`], on `async-lock`'s.

use std::fmt;

pub use async_lock::BarrierWaitResult;

/// Makes `n` tasks wait for each other: each [`wait`](Self::wait) blocks its task until the
/// `n`-th call, which releases them all. Exactly one of the `n` calls returns a
/// [`BarrierWaitResult`] whose [`is_leader`](BarrierWaitResult::is_leader) is `true`. The
/// barrier is then ready for the next round of `n`. Backed by
/// [`async_lock::Barrier`](https://docs.rs/async-lock).
///
/// ```
/// use std::sync::Arc;
/// use heist::sync::Barrier;
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let barrier = Arc::new(Barrier::new(4));
///     let tasks: Vec<_> = (0..4)
///         .map(|_| {
///             let barrier = barrier.clone();
///             heist::spawn(async move { barrier.wait().await.is_leader() })
///         })
///         .collect();
///     let mut leaders = 0;
///     for task in tasks {
///         leaders += task.await.unwrap() as usize;
///     }
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    inner: async_lock::Barrier,
}

impl Barrier {
    /// A barrier for `n` tasks (`0` acts as `1`: every `wait` returns at once, as leader).
    /// `const`, so it can make a `static`.
    pub const fn new(n: usize) -> Self {
        Barrier {
            inner: async_lock::Barrier::new(n),
        }
    }

    /// Waits until `n` tasks are waiting, then releases them all; one of them is the leader.
    pub async fn wait(&self) -> BarrierWaitResult {
        super::cooperatively(self.inner.wait()).await
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
