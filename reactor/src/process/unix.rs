//! Unix children: waited for through the reactor (see `reap.rs`), with `Async` pipes.

use super::reap;
use crate::Async;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::{ExitStatus, Output, Stdio};
use std::task::{Context, Poll};

/// A running (or ended, not yet reaped) child process, from
/// [`Command::spawn`](super::Command::spawn).
///
/// Dropping it does not kill the child (unless
/// [`Command::kill_on_drop`](super::Command::kill_on_drop)); either way it is reaped in the
/// background once it ends, so it does not linger as a zombie.
#[derive(Debug)]
pub struct Child {
    /// The write end of the child's stdin, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The read end of the child's stdout, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The read end of the child's stderr, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    /// `None` only while `drop` hands it over.
    inner: Option<Inner>,
    kill_on_drop: bool,
}

#[derive(Debug)]
struct Inner {
    child: std::process::Child,
    exit: reap::Exit,
    /// Set once reaped.
    status: Option<ExitStatus>,
}

impl Child {
    pub(super) fn from_std(mut child: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        let exit = reap::Exit::for_child(&child);
        let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut this = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            inner: Some(Inner {
                child,
                exit,
                status: None,
            }),
            // A child whose pipes could not be set up is of no use to anyone: killed below.
            kill_on_drop: true,
        };
        this.stdin = stdin.map(ChildStdin::from_std).transpose()?;
        this.stdout = stdout.map(ChildStdout::from_std).transpose()?;
        this.stderr = stderr.map(ChildStderr::from_std).transpose()?;
        this.kill_on_drop = kill_on_drop;
        Ok(this)
    }

    fn inner(&mut self) -> &mut Inner {
        self.inner.as_mut().expect("present until dropped")
    }

    /// The child's process id; `None` once it has been reaped (after which the id may belong
    /// to another process).
    pub fn id(&self) -> Option<u32> {
        let inner = self.inner.as_ref()?;
        inner.status.is_none().then(|| inner.child.id())
    }

    /// The exit status if the child has ended (reaping it), `None` if it still runs. Never
    /// blocks.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let inner = self.inner();
        if inner.status.is_none() {
            inner.status = inner.child.try_wait()?;
        }
        Ok(inner.status)
    }

    /// Waits for the child to end, reaps it and returns its exit status; at once if it has
    /// already been reaped. The thread is not blocked: the wait goes through the reactor.
    ///
    /// Closes the child's stdin first (drops [`stdin`](Self::stdin)), so a child reading its
    /// input to the end does not wait for us while we wait for it. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let inner = self.inner();
        if let Some(status) = inner.status {
            return Ok(status);
        }
        let status = reap::wait(&mut inner.child, &inner.exit).await?;
        inner.status = Some(status);
        Ok(status)
    }

    /// Sends `SIGKILL` to the child and returns without waiting for it to end. `Ok` if it has
    /// already ended.
    pub fn start_kill(&mut self) -> io::Result<()> {
        let inner = self.inner();
        match inner.status {
            Some(_) => Ok(()),
            // The pid cannot be stale: only this `Child` reaps it, and it has not yet.
            None => inner.child.kill(),
        }
    }

    /// Kills the child (`SIGKILL`) and waits for it to end (reaping it).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// Closes stdin, reads stdout and stderr to their ends (at the same time, so a child
    /// filling one pipe does not stall), then waits for the child.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        use futures_lite::AsyncReadExt;
        drop(self.stdin.take());
        async fn read_all(stream: Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                stream.read_to_end(&mut bytes).await?;
            }
            Ok(bytes)
        }
        let (stdout, stderr) =
            futures_lite::future::try_zip(read_all(self.stdout.take()), read_all(self.stderr.take())).await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    #[cfg(test)]
    fn with_sigchld(child: std::process::Child) -> Child {
        Child {
            stdin: None,
            stdout: None,
            stderr: None,
            inner: Some(Inner {
                child,
                exit: reap::Exit::Sigchld,
                status: None,
            }),
            kill_on_drop: false,
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        if inner.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = inner.child.kill();
        }
        reap::orphan(inner.child, inner.exit);
    }
}

/// Turns a pipe end from the child back into a plain descriptor, in blocking mode (what
/// another process expects of its standard streams).
fn into_blocking_fd<T: AsFd + Into<OwnedFd>>(io: Async<T>) -> io::Result<OwnedFd> {
    let fd: OwnedFd = io.into_inner()?.into();
    rustix::io::ioctl_fionbio(&fd, false)?;
    Ok(fd)
}

/// The write end of a child's stdin. Implements `futures_io::AsyncWrite`; `close()` (or
/// dropping it) closes the pipe, and the child reads end of input.
#[derive(Debug)]
pub struct ChildStdin {
    /// `None` once closed.
    inner: Option<Async<std::process::ChildStdin>>,
}

/// The read end of a child's stdout. Implements `futures_io::AsyncRead`.
#[derive(Debug)]
pub struct ChildStdout {
    inner: Async<std::process::ChildStdout>,
}

/// The read end of a child's stderr. Implements `futures_io::AsyncRead`.
#[derive(Debug)]
pub struct ChildStderr {
    inner: Async<std::process::ChildStderr>,
}

impl ChildStdin {
    /// Takes over a std pipe end (made non-blocking and registered with the current runtime).
    pub fn from_std(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            inner: Some(Async::new(stdin)?),
        })
    }

    /// The descriptor, in blocking mode again: for another child's `Stdio`, say. Fails if
    /// already closed.
    pub fn into_owned_fd(mut self) -> io::Result<OwnedFd> {
        into_blocking_fd(self.inner.take().ok_or_else(closed_stdin)?)
    }

    fn io(&mut self) -> io::Result<&mut Async<std::process::ChildStdin>> {
        self.inner.as_mut().ok_or_else(closed_stdin)
    }
}

fn closed_stdin() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "this ChildStdin was closed (by `close()`): the child has already seen the end of its input",
    )
}

impl AsyncWrite for ChildStdin {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.io() {
            Ok(io) => Pin::new(io).poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.io() {
            Ok(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Pipe writes are not buffered on our side.
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        drop(self.inner.take());
        Poll::Ready(Ok(()))
    }
}

macro_rules! reader {
    ($ty:ident, $std:ty) => {
        impl $ty {
            /// Takes over a std pipe end (made non-blocking and registered with the current
            /// runtime).
            pub fn from_std(io: $std) -> io::Result<$ty> {
                Ok($ty {
                    inner: Async::new(io)?,
                })
            }

            /// The descriptor, in blocking mode again: for another child's `Stdio`, say.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                into_blocking_fd(self.inner)
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.inner).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.inner).poll_read_vectored(cx, bufs)
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl TryFrom<$ty> for Stdio {
            type Error = io::Error;

            /// For piping one child into another: the descriptor, back in blocking mode.
            fn try_from(io: $ty) -> io::Result<Stdio> {
                Ok(Stdio::from(io.into_owned_fd()?))
            }
        }
    };
}

reader!(ChildStdout, std::process::ChildStdout);
reader!(ChildStderr, std::process::ChildStderr);

impl TryFrom<ChildStdin> for Stdio {
    type Error = io::Error;

    /// For piping another child into this one's stdin: the descriptor, back in blocking mode.
    fn try_from(io: ChildStdin) -> io::Result<Stdio> {
        Ok(Stdio::from(io.into_owned_fd()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn gone(pid: u32) -> bool {
        use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
        let pid = Pid::from_raw(pid as i32).unwrap();
        // NOWAIT: look without reaping. ECHILD: not our child any more, i.e. reaped.
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        matches!(waitid(WaitId::Pid(pid), options), Err(rustix::io::Errno::CHILD))
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn the_sigchld_fallback_waits_and_reaps_orphans() {
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let mut child = Child::with_sigchld(child);
        let status = futures_lite::future::block_on(child.wait()).unwrap();
        assert_eq!(status.code(), Some(7));
        assert_eq!(child.id(), None);

        // A child blocked on its stdin, dropped before it ends.
        let mut std_child = std::process::Command::new("sh")
            .args(["-c", "read line"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = std_child.stdin.take().unwrap();
        let pid = std_child.id();
        drop(Child::with_sigchld(std_child));
        assert!(!gone(pid), "still running (blocked on its stdin)");
        drop(stdin);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !gone(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "the orphan was never reaped"
            );
            std::thread::yield_now();
        }
    }
}
