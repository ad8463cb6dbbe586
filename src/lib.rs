//! heist: a work-stealing, multi-threaded async runtime.
//!
//! ```
//! let runtime = heist::Runtime::new().unwrap();
//! let answer = runtime.block_on(async {
//!     let task = heist::spawn(async { 6 * 7 });
//!     task.await.unwrap()
//! });
//! assert_eq!(answer, 42);
//! ```
//!
//! The pieces live in their own crates: `heist-executor` (the scheduler), `heist-reactor`
//! (I/O) and `heist-timer` (the timer wheel, `sleep`, `timeout`, `interval`). This crate
//! re-exports them under tokio's names.

#![warn(missing_docs)]

pub use heist_executor::{Runtime, spawn, spawn_blocking};

/// Building, entering and watching a runtime.
pub mod runtime {
    pub use heist_executor::{
        Builder, EnterGuard, Handle, Runtime, RuntimeMetrics, TryCurrentError, WORKER_THREADS_ENV,
    };
}

/// Time: `sleep`, `timeout`, `interval`, on the runtime's timer wheels.
///
/// Timers have microsecond resolution and never fire early. A `Sleep` touches no timer until
/// it is first polled, and it is `Unpin`.
///
/// ```
/// use heist::time::{Duration, Instant, interval, sleep, timeout};
///
/// let runtime = heist::Runtime::new().unwrap();
/// runtime.block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
///
///     let slow = sleep(Duration::from_secs(60));
///     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
///     assert_eq!(timeout(Duration::from_secs(60), async { 7 }).await, Ok(7));
///
///     let mut ticks = interval(Duration::from_millis(2));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// ```
pub mod time {
    pub use heist_timer::{
        Instant, Interval, MissedTickBehavior, Sleep, Timeout, error, interval, interval_at, sleep,
        sleep_until, timeout, timeout_at,
    };
    pub use std::time::Duration;
}

/// Tasks: spawning, joining, yielding.
pub mod task {
    pub use heist_executor::{Id, JoinError, JoinHandle, consume_budget, spawn, spawn_blocking, yield_now};
}
