//! Unix pipes and FIFOs (named pipes), in tokio's shape: [`pipe()`] makes an anonymous pair,
//! [`OpenOptions`] opens a FIFO by path, and [`Sender::from_file`]/[`Receiver::from_file`]
//! take over one opened elsewhere. A [`Sender`] is `AsyncWrite`, a [`Receiver`] `AsyncRead`;
//! both have the readiness API (`ready`, `writable`/`readable`, `try_write`/`try_read`).
//!
//! ```no_run
//! use heist_reactor::net::unix::pipe;
//! use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn f() -> std::io::Result<()> {
//! // A FIFO made with `mkfifo /tmp/heist-fifo`: open the receiver first (opening a sender
//! // fails while no process has the FIFO open for reading).
//! let mut receiver = pipe::OpenOptions::new().open_receiver("/tmp/heist-fifo")?;
//! let mut sender = pipe::OpenOptions::new().open_sender("/tmp/heist-fifo")?;
//! sender.write_all(b"through the FIFO").await?;
//! drop(sender); // the receiver sees the end once the last writer is gone
//! let mut message = String::new();
//! receiver.read_to_string(&mut message).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Writing to a pipe whose readers are all gone fails with `BrokenPipe` in a Rust program
//! (the Rust runtime ignores `SIGPIPE`); a program whose `main` is not Rust's must ignore
//! `SIGPIPE` itself, or it is killed by it.

use crate::Async;
use crate::interest::{Interest, Ready};
use futures_io::{AsyncRead, AsyncWrite};
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An anonymous pipe: what is written to the [`Sender`] is read from the [`Receiver`]. Both
/// ends are non-blocking and close-on-exec, registered with the current runtime's reactor
/// (fails outside a runtime).
///
/// ```no_run
/// use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn f() -> std::io::Result<()> {
/// let (mut sender, mut receiver) = heist_reactor::net::unix::pipe::pipe()?;
/// sender.write_all(b"hello").await?;
/// drop(sender);
/// let mut all = Vec::new();
/// receiver.read_to_end(&mut all).await?;
/// assert_eq!(all, b"hello");
/// # Ok(())
/// # }
/// ```
pub fn pipe() -> io::Result<(Sender, Receiver)> {
    let (read, write) = nonblocking_pipe()?;
    Ok((
        Sender::from_nonblocking(File::from(write))?,
        Receiver::from_nonblocking(File::from(read))?,
    ))
}

/// A pipe created non-blocking and close-on-exec: in one call where `pipe2` exists, with
/// `fcntl`/`ioctl` right after on Apple, which lacks it.
fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(not(target_vendor = "apple"))]
    {
        use rustix::pipe::PipeFlags;
        Ok(rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?)
    }
    #[cfg(target_vendor = "apple")]
    {
        let (read, write) = rustix::pipe::pipe()?;
        for end in [&read, &write] {
            rustix::io::fcntl_setfd(end, rustix::io::FdFlags::CLOEXEC)?;
            rustix::io::ioctl_fionbio(end, true)?;
        }
        Ok((read, write))
    }
}

/// Options for opening a FIFO: [`open_receiver`](Self::open_receiver) and
/// [`open_sender`](Self::open_sender).
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    read_write: bool,
    unchecked: bool,
}

impl OpenOptions {
    /// The defaults: read-only for a receiver, write-only for a sender, and a check that the
    /// path is a FIFO.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Opens the FIFO for reading and writing (Linux only; POSIX leaves it undefined). A
    /// sender then opens even with no reader, and a receiver never sees the end of the
    /// stream, since it is a writer itself.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn read_write(&mut self, read_write: bool) -> &mut OpenOptions {
        self.read_write = read_write;
        self
    }

    /// Skips the check that the path is a FIFO (for a character device, say).
    pub fn unchecked(&mut self, unchecked: bool) -> &mut OpenOptions {
        self.unchecked = unchecked;
        self
    }

    /// Opens the FIFO at `path` for reading. This never waits for a writer: until one opens
    /// the FIFO, reads return the end of the stream (`Ok(0)`).
    pub fn open_receiver(&self, path: impl AsRef<Path>) -> io::Result<Receiver> {
        let file = self.open(path.as_ref(), Access::Read)?;
        Receiver::from_nonblocking(file)
    }

    /// Opens the FIFO at `path` for writing. Fails (`ENXIO`) while no process has it open for
    /// reading: open the receiver first, or use [`read_write`](Self::read_write) on Linux.
    pub fn open_sender(&self, path: impl AsRef<Path>) -> io::Result<Sender> {
        let file = self.open(path.as_ref(), Access::Write)?;
        Sender::from_nonblocking(file)
    }

    fn open(&self, path: &Path, access: Access) -> io::Result<File> {
        let mut options = std::fs::OpenOptions::new();
        options
            .read(access == Access::Read)
            .write(access == Access::Write);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.read_write {
            options.read(true).write(true);
        }
        // Non-blocking from the start: a blocking open of a FIFO waits for the other side.
        // (std adds O_CLOEXEC.)
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        let file = options.open(path).map_err(|error| {
            if access == Access::Write && error.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error())
            {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot open the FIFO {} for writing: no process has it open for reading \
                         (ENXIO); open the receiver first{}",
                        path.display(),
                        if cfg!(any(target_os = "linux", target_os = "android")) {
                            ", or open with OpenOptions::read_write(true)"
                        } else {
                            ""
                        }
                    ),
                )
            } else {
                error
            }
        })?;
        if !self.unchecked {
            check_fifo(&file)?;
        }
        Ok(file)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// `fd` must be a FIFO (or pipe).
fn check_fifo(fd: impl AsFd) -> io::Result<()> {
    let stat = rustix::fs::fstat(fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Fifo {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a pipe or FIFO: open a FIFO (mkfifo), or pass `unchecked(true)` / use \
             `from_file_unchecked` for another kind of file that can be polled",
        ));
    }
    Ok(())
}

/// `fd` must be open for `access` (or for both).
fn check_access(fd: impl AsFd, access: Access) -> io::Result<()> {
    use rustix::fs::OFlags;
    let mode = rustix::fs::fcntl_getfl(fd)? & OFlags::RWMODE;
    let allowed = match access {
        Access::Read => mode == OFlags::RDONLY || mode == OFlags::RDWR,
        Access::Write => mode == OFlags::WRONLY || mode == OFlags::RDWR,
    };
    if !allowed {
        let (end, need) = match access {
            Access::Read => ("a Receiver", "reading"),
            Access::Write => ("a Sender", "writing"),
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{end} needs a pipe opened for {need}, and this one is not"),
        ));
    }
    Ok(())
}

/// The writing end of a pipe or FIFO: `AsyncWrite`.
#[derive(Debug)]
pub struct Sender {
    inner: Async<File>,
}

impl Sender {
    fn from_nonblocking(file: File) -> io::Result<Sender> {
        Ok(Sender {
            inner: Async::new_nonblocking(file)?,
        })
    }

    /// Takes over an opened FIFO or pipe, after checking that it is one and is open for
    /// writing (an `InvalidInput` error says what is wrong otherwise). It is switched to
    /// non-blocking mode, which the other processes that share its open file description
    /// will see too.
    pub fn from_file(file: File) -> io::Result<Sender> {
        check_fifo(&file)?;
        check_access(&file, Access::Write)?;
        Self::from_file_unchecked(file)
    }

    /// [`from_file`](Self::from_file) for a descriptor.
    pub fn from_owned_fd(fd: OwnedFd) -> io::Result<Sender> {
        Self::from_file(File::from(fd))
    }

    /// Like [`from_file`](Self::from_file) without the checks.
    pub fn from_file_unchecked(file: File) -> io::Result<Sender> {
        Ok(Sender {
            inner: Async::new(file)?,
        })
    }

    /// [`from_file_unchecked`](Self::from_file_unchecked) for a descriptor.
    pub fn from_owned_fd_unchecked(fd: OwnedFd) -> io::Result<Sender> {
        Self::from_file_unchecked(File::from(fd))
    }

    /// Waits until the pipe is ready for `interest` (see `TcpStream::ready`).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.inner.ready(interest).await
    }

    /// Waits until the pipe has room (or its readers are gone: the write then fails).
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// Polls for write readiness.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_writable(cx)
    }

    /// Writes what fits without waiting: `WouldBlock` (clearing write readiness) when the
    /// pipe is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_io(Interest::WRITABLE, |mut file| file.write(buf))
    }

    /// [`try_write`](Self::try_write) from several buffers.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner
            .try_io(Interest::WRITABLE, |mut file| file.write_vectored(bufs))
    }

    /// Deregisters the pipe and gives back its descriptor, still non-blocking.
    pub fn into_nonblocking_fd(self) -> io::Result<OwnedFd> {
        Ok(OwnedFd::from(self.inner.into_inner()?))
    }

    /// Deregisters the pipe and gives back its descriptor, switched to blocking mode.
    pub fn into_blocking_fd(self) -> io::Result<OwnedFd> {
        let fd = self.into_nonblocking_fd()?;
        rustix::io::ioctl_fionbio(&fd, false)?;
        Ok(fd)
    }
}

/// The reading end of a pipe or FIFO: `AsyncRead`.
#[derive(Debug)]
pub struct Receiver {
    inner: Async<File>,
}

impl Receiver {
    fn from_nonblocking(file: File) -> io::Result<Receiver> {
        Ok(Receiver {
            inner: Async::new_nonblocking(file)?,
        })
    }

    /// Takes over an opened FIFO or pipe, after checking that it is one and is open for
    /// reading (an `InvalidInput` error says what is wrong otherwise). It is switched to
    /// non-blocking mode, which the other processes that share its open file description
    /// will see too.
    pub fn from_file(file: File) -> io::Result<Receiver> {
        check_fifo(&file)?;
        check_access(&file, Access::Read)?;
        Self::from_file_unchecked(file)
    }

    /// [`from_file`](Self::from_file) for a descriptor.
    pub fn from_owned_fd(fd: OwnedFd) -> io::Result<Receiver> {
        Self::from_file(File::from(fd))
    }

    /// Like [`from_file`](Self::from_file) without the checks.
    pub fn from_file_unchecked(file: File) -> io::Result<Receiver> {
        Ok(Receiver {
            inner: Async::new(file)?,
        })
    }

    /// [`from_file_unchecked`](Self::from_file_unchecked) for a descriptor.
    pub fn from_owned_fd_unchecked(fd: OwnedFd) -> io::Result<Receiver> {
        Self::from_file_unchecked(File::from(fd))
    }

    /// Waits until the pipe is ready for `interest` (see `TcpStream::ready`).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.inner.ready(interest).await
    }

    /// Waits until there is data to read (or the writers are gone).
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Polls for read readiness.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_readable(cx)
    }

    /// Reads what is there without waiting: `WouldBlock` (clearing read readiness) when the
    /// pipe is empty, `Ok(0)` once every writer is gone.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_io(Interest::READABLE, |mut file| file.read(buf))
    }

    /// [`try_read`](Self::try_read) into several buffers.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner
            .try_io(Interest::READABLE, |mut file| file.read_vectored(bufs))
    }

    /// Deregisters the pipe and gives back its descriptor, still non-blocking.
    pub fn into_nonblocking_fd(self) -> io::Result<OwnedFd> {
        Ok(OwnedFd::from(self.inner.into_inner()?))
    }

    /// Deregisters the pipe and gives back its descriptor, switched to blocking mode.
    pub fn into_blocking_fd(self) -> io::Result<OwnedFd> {
        let fd = self.into_nonblocking_fd()?;
        rustix::io::ioctl_fionbio(&fd, false)?;
        Ok(fd)
    }
}

macro_rules! impl_pipe_io {
    ($($ty:ty),*) => {$(
        impl AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                self.inner
                    .poll_write_stream(cx, buf.len(), |mut file| file.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let offered = bufs.iter().map(|buf| buf.len()).sum();
                self.inner
                    .poll_write_stream(cx, offered, |mut file| file.write_vectored(bufs))
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Writes go straight to the kernel.
                Poll::Ready(Ok(()))
            }

            /// Nothing to do: the readers see the end once every writer has dropped its end.
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    )*};
}

impl_pipe_io!(Sender, &Sender);

macro_rules! impl_pipe_read {
    ($($ty:ty),*) => {$(
        impl AsyncRead for $ty {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                // A short read of a pipe emptied it, as for a stream socket.
                let asked = buf.len();
                self.inner.poll_read_stream(cx, asked, |mut file| file.read(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let asked = bufs.iter().map(|buf| buf.len()).sum();
                self.inner
                    .poll_read_stream(cx, asked, |mut file| file.read_vectored(bufs))
            }
        }
    )*};
}

impl_pipe_read!(Receiver, &Receiver);

macro_rules! impl_pipe_fd {
    ($($ty:ty),*) => {$(
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
    )*};
}

impl_pipe_fd!(Sender, Receiver);
