//! Learning that a child exited, and reaping it, without blocking a thread of the runtime.
//!
//! # Linux: a pidfd
//! `pidfd_open(2)` gives a descriptor that becomes readable when the process ends. It is
//! registered with the reactor like a socket (`Async<OwnedFd>`); waiting is
//! `read_with(|_| try_wait, WouldBlock if still running)`, so the readiness tick protects the
//! race between a `try_wait` that finds the child running and the exit event (see
//! `source.rs`). The pid is reaped only through the `std::process::Child`, which caches the
//! status, so the pid is never reused behind our back while we might still signal it.
//!
//! # Elsewhere (and where `pidfd_open` fails): SIGCHLD
//! One process-wide thread, `heist-sigchld`, blocks reading a socket that the SIGCHLD
//! handler writes to (a slot of the signal table, see `signal/registry.rs`). On each
//! delivery it wakes every task waiting for a child and retries the orphans. A waiter runs
//! `try_wait` and stores its waker under the same lock, after the handler is installed: a
//! child that exits before the `try_wait` is seen by it, one that exits after sends a SIGCHLD
//! that the thread handles after the waiter let go of the lock, so no exit is missed.
//! SIGCHLDs coalesce; that is harmless because every waiter retries on each one.
//!
//! # Orphans: a `Child` dropped before it was waited for
//! It must still be reaped, or it stays a zombie for the life of our process. With a pidfd,
//! the std child and the pidfd go into an `Orphan`, a waker whose `wake` retries
//! `try_wait` and, while the child runs, waits on the pidfd again with itself as the waker.
//! The source's waiter list holds that waker, and the waker holds the pidfd: the cycle is
//! what keeps the orphan alive until its exit event, and the event (which takes the waker
//! out of the list) breaks it. The reactor wakes after releasing its locks, so `wake` may
//! deregister the pidfd. When the reactor shuts down it wakes every waiter with an error;
//! orphans then move to the SIGCHLD thread, which outlives every runtime.

use crate::signal::registry::Slot;
use parking_lot::Mutex;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::process::ExitStatus;
use std::task::{Context, Poll, Waker};

/// How the end of a child reaches whoever waits for it.
#[derive(Debug)]
pub(crate) enum Exit {
    /// Readable once the child has ended.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Pidfd(crate::Async<std::os::fd::OwnedFd>),
    /// Through the process-wide SIGCHLD thread.
    Sigchld,
}

impl Exit {
    /// A pidfd where the system has them, the SIGCHLD thread otherwise (or if the pidfd
    /// cannot be had: a kernel older than 5.3, a seccomp filter, no descriptor left).
    pub(crate) fn for_child(child: &std::process::Child) -> Exit {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Ok(pidfd) = pidfd::open(child) {
            return Exit::Pidfd(pidfd);
        }
        let _ = child;
        Exit::Sigchld
    }
}

/// Waits for `child` to end and reaps it. Cancel-safe.
pub(crate) async fn wait(child: &mut std::process::Child, exit: &Exit) -> io::Result<ExitStatus> {
    match exit {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Exit::Pidfd(pidfd) => pidfd.read_with(|_| pidfd::try_reap(child)).await,
        Exit::Sigchld => std::future::poll_fn(|cx| sigchld::poll_wait(child, cx)).await,
    }
}

/// Makes sure `child` gets reaped once it ends, with nobody waiting for it.
pub(crate) fn orphan(mut child: std::process::Child, exit: Exit) {
    match exit {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Exit::Pidfd(pidfd) => pidfd::Orphan::start(child, pidfd),
        Exit::Sigchld => {
            if let Ok(None) = child.try_wait() {
                sigchld::adopt(child);
            }
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod pidfd {
    use super::sigchld;
    use crate::Async;
    use parking_lot::Mutex;
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    use std::io;
    use std::os::fd::OwnedFd;
    use std::process::ExitStatus;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    pub(super) fn open(child: &std::process::Child) -> io::Result<Async<OwnedFd>> {
        let pid =
            Pid::from_raw(child.id() as i32).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // The pid cannot have been reused: the child is not reaped until its `Child` says so.
        let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
        // Never read, only polled: blocking mode is fine.
        Async::new_nonblocking(pidfd)
    }

    /// `try_wait`, with "still running" as `WouldBlock` for `read_with`.
    pub(super) fn try_reap(child: &mut std::process::Child) -> io::Result<ExitStatus> {
        child
            .try_wait()?
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// A dropped child with its pidfd: polls itself until the child is reaped (see the module
    /// documentation for the reference cycle that keeps it alive meanwhile).
    pub(super) struct Orphan {
        inner: Mutex<Option<(std::process::Child, Async<OwnedFd>)>>,
    }

    impl Orphan {
        pub(super) fn start(child: std::process::Child, pidfd: Async<OwnedFd>) {
            let orphan = Arc::new(Orphan {
                inner: Mutex::new(Some((child, pidfd))),
            });
            orphan.poll();
        }

        fn poll(self: &Arc<Self>) {
            let waker = Waker::from(self.clone());
            let mut cx = Context::from_waker(&waker);
            let mut inner = self.inner.lock();
            let Some((child, pidfd)) = inner.as_mut() else {
                return;
            };
            // The pidfd's source keeps no other waker, so this poll never wakes anyone (and
            // never this orphan) synchronously, which would deadlock on `inner`.
            match pidfd.poll_read_with(&mut cx, |_| try_reap(child)) {
                // Our waker waits in the pidfd's source, holding the orphan alive.
                Poll::Pending => {}
                // Reaped: the pidfd deregisters and closes here, and the cycle is gone.
                Poll::Ready(Ok(_)) => *inner = None,
                // The reactor shut down (or waitpid failed, and the SIGCHLD thread's `try_wait`
                // will drop the child just the same): let the SIGCHLD thread finish the job.
                Poll::Ready(Err(_)) => {
                    let (child, pidfd) = inner.take().expect("checked above");
                    drop(pidfd);
                    drop(inner);
                    sigchld::adopt(child);
                }
            }
        }
    }

    impl Wake for Orphan {
        fn wake(self: Arc<Self>) {
            self.poll();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.poll();
        }
    }
}

/// The process-wide SIGCHLD thread: see the module documentation.
pub(crate) mod sigchld {
    use super::*;

    struct State {
        /// Tasks waiting for some child: all woken on every SIGCHLD.
        waiters: Vec<Waker>,
        /// Dropped children still running: all retried on every SIGCHLD.
        orphans: Vec<std::process::Child>,
    }

    static STATE: Mutex<State> = Mutex::new(State {
        waiters: Vec::new(),
        orphans: Vec::new(),
    });

    static STARTED: Mutex<bool> = Mutex::new(false);

    /// Installs the SIGCHLD handler and starts the thread, once. Both happen before any
    /// `try_wait` of a waiter or an orphan, which is what makes a missed exit impossible.
    fn start() -> io::Result<()> {
        let mut started = STARTED.lock();
        if *started {
            return Ok(());
        }
        let (mut read_end, write_end) = UnixStream::pair()?;
        write_end.set_nonblocking(true)?;
        crate::net::socket::no_sigpipe(&write_end)?;
        let slot = Slot::claim(rustix::process::Signal::CHILD.as_raw(), write_end.into())?;
        std::thread::Builder::new()
            .name("heist-sigchld".into())
            .spawn(move || {
                let _slot = slot;
                let mut buf = [0; 64];
                loop {
                    match read_end.read(&mut buf) {
                        Ok(0) => return,
                        Ok(_) => on_sigchld(),
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return,
                    }
                }
            })?;
        *started = true;
        Ok(())
    }

    fn on_sigchld() {
        let waiters = {
            let mut state = STATE.lock();
            // Reaped, or not ours to reap any more (an error): either way, done with it.
            state
                .orphans
                .retain_mut(|child| matches!(child.try_wait(), Ok(None)));
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn poll_wait(
        child: &mut std::process::Child,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ExitStatus>> {
        if let Err(error) = start() {
            return Poll::Ready(Err(error));
        }
        let mut state = STATE.lock();
        match child.try_wait() {
            Ok(Some(status)) => Poll::Ready(Ok(status)),
            Err(error) => Poll::Ready(Err(error)),
            Ok(None) => {
                if !state.waiters.iter().any(|waker| waker.will_wake(cx.waker())) {
                    state.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Reaps `child` when it ends.
    pub(crate) fn adopt(mut child: std::process::Child) {
        if start().is_err() {
            // No handler or no thread: a thread of its own that blocks in `waitpid`, as a
            // last resort; if even that fails there is nothing left to try.
            let _ = std::thread::Builder::new()
                .name("heist-reap".into())
                .spawn(move || child.wait());
            return;
        }
        let mut state = STATE.lock();
        if let Ok(None) = child.try_wait() {
            state.orphans.push(child);
        }
    }
}
