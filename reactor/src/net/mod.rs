//! TCP, UDP and Unix-domain sockets, in tokio's shapes, on top of [`Async`](crate::Async).
//!
//! Addresses are heist's own [`ToSocketAddrs`]: IP addresses are used at once, on the
//! calling thread; host names are looked up on the runtime's blocking pool ([`lookup_host`]),
//! so a slow DNS server never holds a worker.
//!
//! Unix-domain sockets (`UnixListener`, `UnixStream`, `UnixDatagram`) exist on Unix only.

mod addr;
#[cfg(feature = "hyper")]
mod hyper_io;
pub(crate) mod socket;
mod split;
mod tcp;
mod tcp_socket;
#[cfg(feature = "tokio-io")]
mod tokio_io;
mod udp;
#[cfg(unix)]
pub mod unix;

#[doc(hidden)]
pub use addr::{Resolver, set_resolver, system_resolve};
pub use addr::{ToSocketAddrs, lookup_host};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::io;
use std::net::SocketAddr;

/// `AsFd`/`AsRawFd` on Unix, `AsSocket`/`AsRawSocket` on Windows, through the inner `Async`.
macro_rules! impl_source {
    ($($ty:ty),*) => {$(
        #[cfg(unix)]
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.as_raw_fd()
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $ty {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                self.inner.as_socket()
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsRawSocket for $ty {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                self.inner.as_raw_socket()
            }
        }
    )*};
}
use impl_source;

/// The readiness API shared by every socket type: `ready`, `readable`, `writable`,
/// `poll_read_ready`/`poll_write_ready` (tokio's `poll_recv_ready`/`poll_send_ready` for
/// datagram sockets) and `try_io`, through the inner `Async` (see
/// [`Async::ready`](crate::Async::ready) and [`Async::try_io`](crate::Async::try_io)).
macro_rules! impl_readiness {
    ($($ty:ty: $poll_read_ready:ident, $poll_write_ready:ident);*) => {$(
        impl $ty {
            /// Waits until the socket is ready for any of `interest`, and says which
            /// ([`Ready`](crate::Ready)). Cancel-safe.
            ///
            /// The readiness stays until a `try_*` call (or [`try_io`](Self::try_io)) returns
            /// `WouldBlock`, which clears it: so after `ready`, try the operation, and come
            /// back here only on `WouldBlock`. Readiness can be stale (another task took the
            /// data first): `WouldBlock` is an expected answer, not an error.
            pub async fn ready(&self, interest: crate::Interest) -> io::Result<crate::Ready> {
                self.inner.ready(interest).await
            }

            /// Waits until the socket is readable; the same as `ready(Interest::READABLE)`
            /// without the answer.
            pub async fn readable(&self) -> io::Result<()> {
                self.inner.readable().await
            }

            /// Waits until the socket is writable; the same as `ready(Interest::WRITABLE)`
            /// without the answer.
            pub async fn writable(&self) -> io::Result<()> {
                self.inner.writable().await
            }

            /// Polls for read readiness, for a hand-written `poll` function: on `Pending`,
            /// `cx`'s waker is kept until the next read event (or the runtime's shutdown).
            pub fn $poll_read_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
                self.inner.poll_readable(cx)
            }

            /// Polls for write readiness, for a hand-written `poll` function: on `Pending`,
            /// `cx`'s waker is kept until the next write event (or the runtime's shutdown).
            pub fn $poll_write_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
                self.inner.poll_writable(cx)
            }

            /// Runs `f`, a non-blocking operation on this socket (through its descriptor:
            /// `AsFd`/`AsSocket`), if the reactor has seen `interest`'s readiness; returns
            /// `WouldBlock` without calling it otherwise. When `f` returns `WouldBlock`, that
            /// readiness is cleared, so the next [`ready`](Self::ready) waits for a new event.
            /// `f` must therefore be the operation `interest` stands for, and return
            /// `WouldBlock` only when the socket would block.
            pub fn try_io<R>(&self, interest: crate::Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
                self.inner.try_io(interest, |_| f())
            }
        }
    )*};
}
use impl_readiness;

/// `try_read`, `try_read_vectored`, `try_write` and `try_write_vectored` for a byte stream
/// whose inner `&T` is `Read + Write`.
macro_rules! impl_try_stream {
    ($ty:ty, $write_vectored:expr) => {
        impl $ty {
            /// Reads what is there without waiting: `WouldBlock` (clearing read readiness)
            /// when nothing is, `Ok(0)` at the end of the stream (or for an empty `buf`).
            /// Pair it with [`readable`](Self::readable) or [`ready`](Self::ready).
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                use std::io::Read;
                self.inner
                    .try_io(crate::Interest::READABLE, |mut stream| stream.read(buf))
            }

            /// [`try_read`](Self::try_read) into several buffers, filled in order.
            pub fn try_read_vectored(&self, bufs: &mut [std::io::IoSliceMut<'_>]) -> io::Result<usize> {
                use std::io::Read;
                self.inner.try_io(crate::Interest::READABLE, |mut stream| {
                    stream.read_vectored(bufs)
                })
            }

            /// Writes what fits in the send buffer without waiting: `WouldBlock` (clearing
            /// write readiness) when nothing does. Pair it with [`writable`](Self::writable)
            /// or [`ready`](Self::ready).
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                use std::io::Write;
                self.inner
                    .try_io(crate::Interest::WRITABLE, |mut stream| stream.write(buf))
            }

            /// [`try_write`](Self::try_write) from several buffers, taken in order.
            pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
                self.inner.try_io(crate::Interest::WRITABLE, |stream| {
                    ($write_vectored)(stream, bufs)
                })
            }
        }
    };
}
use impl_try_stream;

/// `poll_close` of a stream: sends FIN. Closing twice, or after the peer has gone, is not an
/// error.
/// `Ok` once a non-blocking connect has completed, its error if it failed (`SO_ERROR`, given
/// as `taken_error`), `WouldBlock` while it is still in progress (no peer yet).
fn connection_outcome<A>(
    taken_error: io::Result<Option<io::Error>>,
    peer: impl FnOnce() -> io::Result<A>,
) -> io::Result<()> {
    if let Some(error) = taken_error? {
        return Err(error);
    }
    match peer() {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(error) => Err(error),
    }
}

fn close_write(shutdown: io::Result<()>) -> std::task::Poll<io::Result<()>> {
    match shutdown {
        Err(error) if error.kind() == io::ErrorKind::NotConnected => std::task::Poll::Ready(Ok(())),
        result => std::task::Poll::Ready(result),
    }
}

/// Runs `op` on each address `addrs` resolves to (a name on the blocking pool), returning the
/// first success or the last error.
async fn each_addr<T, F: Future<Output = io::Result<T>>>(
    addrs: impl ToSocketAddrs,
    mut op: impl FnMut(SocketAddr) -> F,
) -> io::Result<T> {
    let mut last_error = None;
    for addr in addr::resolve(&addrs).await? {
        match op(addr).await {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

/// One read from a byte-stream socket (TCP, Unix stream) into memory that need not be
/// initialized: hyper's read buffer (`hyper_io`) and the unfilled part of tokio's `ReadBuf`
/// (`tokio_io`). The kernel writes the bytes it reports, so nothing is zeroed first (an
/// adapter over `futures-io` must zero it). Readiness, its clearing after a short read and the
/// budget are `Async::poll_read_stream`'s, as for every other stream read.
/// Returns how many bytes at the front of `buf` are now initialized.
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
fn poll_read_uninit<T: crate::sys::AsSource>(
    stream: &crate::Async<T>,
    cx: &mut std::task::Context<'_>,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> std::task::Poll<io::Result<usize>> {
    let asked = buf.len();
    stream.poll_read_stream(cx, asked, |socket| recv_uninit(socket, buf))
}

/// One `recv` into memory that need not be initialized.
#[cfg(all(any(feature = "hyper", feature = "tokio-io"), unix))]
fn recv_uninit(socket: &impl std::os::fd::AsFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    let (_, received) = rustix::net::recv(socket, buf, rustix::net::RecvFlags::empty())?;
    Ok(received)
}

/// One `recv` into memory that need not be initialized (socket2's, which passes it to
/// Winsock's `recv` as it is).
#[cfg(all(any(feature = "hyper", feature = "tokio-io"), windows))]
fn recv_uninit(
    socket: &impl std::os::windows::io::AsSocket,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> io::Result<usize> {
    socket2::SockRef::from(socket).recv(buf)
}
