//! Signals: [`ctrl_c`] everywhere, and on Unix `unix::signal` for any catchable signal.
//!
//! # Unix
//! A signal handler may do almost nothing (no locks, no allocation, so no waking of tasks),
//! so the work is split in two. The handler, installed once per signal through
//! `signal-hook-registry`, writes one byte to each listener's socket; the listener's task waits
//! for that socket to become readable like for any other I/O, and drains it. The table the
//! handler reads and the reasoning behind its safety are in `registry.rs`.

//!
//! # Windows
//! There are no signals; [`ctrl_c`] installs a console control handler (see `windows.rs`).

#[cfg(unix)]
pub(crate) mod registry;
#[cfg(unix)]
pub mod unix;
#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub use windows::ctrl_c;

#[cfg(unix)]
use std::io;

/// Waits for the next Ctrl-C (`SIGINT`) that arrives after this call.
///
/// The listener is set up when `ctrl_c()` is called, if that happens inside a runtime
/// (otherwise when the future is first polled), so a `SIGINT` that arrives between the call
/// and the `.await` is not missed. As with [`unix::signal`], the first listener replaces
/// `SIGINT`'s default action (terminating the process) for the rest of the process's life.
///
/// Fails outside a runtime, or with an error saying so when the runtime shuts down first.
#[cfg(unix)]
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let kind = unix::SignalKind::interrupt();
    let early = unix::signal(kind);
    async move {
        let mut listener = match early {
            Ok(listener) => listener,
            Err(_) => unix::signal(kind)?,
        };
        listener.recv().await.ok_or_else(crate::source::closed_error)
    }
}
