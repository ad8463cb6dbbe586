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
//! (I/O) and `heist-timer` (the timer wheel). This crate re-exports them under tokio's names.

pub use heist_executor::{Runtime, spawn, spawn_blocking};

/// Building, entering and watching a runtime.
pub mod runtime {
    pub use heist_executor::{
        Builder, EnterGuard, Handle, Runtime, RuntimeMetrics, TryCurrentError, WORKER_THREADS_ENV,
    };
}

/// Tasks: spawning, joining, yielding.
pub mod task {
    pub use heist_executor::{Id, JoinError, JoinHandle, consume_budget, spawn, spawn_blocking, yield_now};
}
