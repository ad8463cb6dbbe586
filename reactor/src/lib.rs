//! heist's I/O reactor: one OS poller per runtime, the readiness of every registered
//! descriptor, and the network types built on them.
//!
//! This crate knows nothing of the executor. It offers three things to whoever drives it:
//! [`Reactor::poll`] (wait for events, at most until a timeout, and wake the tasks they make
//! ready), [`Reactor::notify`] (interrupt that wait) and [`enter`] (make a reactor the one
//! that new I/O objects on this thread register with). The runtime calls `poll` from the one
//! parked worker that holds the right to wait on I/O; the rest is the executor's business.
//!
//! # Blocking work
//! Some calls cannot be made non-blocking: a host-name lookup (`getaddrinfo`) and, on Linux,
//! a Unix-domain connect to a listener whose backlog is full. They must not run on a worker,
//! where they would stall every task queued behind them, and this crate has no threads. So
//! [`enter`] also takes a [`BlockingSpawner`]: the executor lends its blocking pool, a
//! function that runs a boxed job there. Everything else (IP addresses, sockets, readiness)
//! stays on the calling thread.
//!
//! # From the poller to a task
//! 1. [`Async::new`] switches a descriptor to non-blocking mode and registers it, for both
//!    directions, under a key: its slot in the reactor's source table plus the slot's
//!    generation (see `reactor.rs`).
//! 2. An operation is tried at once. When it returns `WouldBlock`, the task clears the
//!    readiness it had observed and stores its waker in the source (see `source.rs`).
//! 3. `Reactor::poll` takes events from the OS, looks each key up (an event for a source
//!    deleted meanwhile finds a newer generation and is dropped), sets the readiness bits and
//!    bumps the source's tick, then wakes the tasks waiting in that direction.
//!
//! # Readiness and its tick
//! Each source has one atomic word: readable, writable, closed, and a tick counting events.
//! Clearing after `WouldBlock` is a compare-and-swap on the tick the task saw, so an event
//! that arrived between the task's look and its clear is never erased: with edge-triggered
//! polling an erased event would never be reported again.
//!
//! # Under loom
//! `RUSTFLAGS="--cfg loom"` swaps the OS poller for a stand-in whose events a model injects,
//! so the executor's models can check the poller hand-off and notify protocol.

#![warn(missing_docs)]

mod context;
mod interest;
mod poller;
mod reactor;
mod source;
mod sync;
mod sys;

#[cfg(not(loom))]
mod async_fd;
#[cfg(not(loom))]
mod blocking;
#[cfg(not(loom))]
pub mod net;
#[cfg(not(loom))]
pub mod process;
#[cfg(not(loom))]
pub mod signal;

#[cfg(not(loom))]
pub use async_fd::Async;
pub use context::{BlockingJob, BlockingSpawner, EnterGuard, enter};
pub use interest::{Interest, Ready};
pub use poller::POLLER_ENV;
pub use reactor::Reactor;

/// What the `io::Error`s heist returns because a runtime has shut down carry, so that
/// [`is_shutdown_error`] can tell them from the others.
#[derive(Debug)]
struct RuntimeShutdown(String);

impl std::fmt::Display for RuntimeShutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RuntimeShutdown {}

/// An error (kind `Other`) saying `message`, recognisable by [`is_shutdown_error`].
pub(crate) fn shutdown_error(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(RuntimeShutdown(message.into()))
}

/// True for the errors heist returns because the runtime they need has shut down: I/O on a
/// socket (or any `Async` object) whose runtime is gone, and a name lookup (or another job of
/// the reactor's) that the blocking pool dropped unrun at shutdown. Tokio's
/// `runtime::is_rt_shutdown_err`.
///
/// ```
/// let error = std::io::Error::other("something else");
/// assert!(!heist_reactor::is_shutdown_error(&error));
/// ```
pub fn is_shutdown_error(error: &std::io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<RuntimeShutdown>())
}

#[cfg(loom)]
pub mod model;

#[cfg(test)]
mod models;
