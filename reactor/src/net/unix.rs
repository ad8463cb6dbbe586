//! Unix-domain sockets (also at `net::` directly) and [`pipe`]: pipes and FIFOs.

pub mod pipe;

use crate::Async;
use crate::blocking::run_blocking;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A Unix-domain socket listening for connections.
#[derive(Debug)]
pub struct UnixListener {
    inner: Async<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path`, which must not exist yet (remove a stale socket file first).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Self::from_std(net::UnixListener::bind(path)?)
    }

    /// Takes over a listener from `std` (made non-blocking here).
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Async::new(listener)?,
        })
    }

    /// Waits for the next connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.read_with(|listener| listener.accept()).await?;
        Ok((UnixStream::from_std(stream)?, addr))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

/// A Unix-domain stream. Implements `futures_io::AsyncRead` and `AsyncWrite`, also on
/// `&UnixStream` (so two tasks sharing it in an `Arc` can read and write at once).
#[derive(Debug)]
pub struct UnixStream {
    inner: Async<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`, without blocking the thread.
    ///
    /// A Unix-domain connect completes or fails at once, except while the listener's backlog
    /// is full. Then Linux answers a non-blocking connect with `EAGAIN` and offers nothing to
    /// wait on (the unconnected socket polls writable at once), so the connect is retried,
    /// blocking, on the runtime's blocking pool, where it waits until the listener accepts.
    /// Dropping the future meanwhile leaves that pool thread waiting until then.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        use super::socket::Connect;
        use socket2::{Domain, SockAddr, Type};
        let path = path.as_ref();
        let addr = SockAddr::unix(path)?;
        let socket = super::socket::nonblocking_socket(Domain::UNIX, Type::STREAM)?;
        match super::socket::start_connect(&socket, &addr) {
            Ok(Connect::Done) => Ok(UnixStream {
                inner: Async::new_nonblocking(net::UnixStream::from(socket))?,
            }),
            Ok(Connect::InProgress) => {
                let stream = Async::new_nonblocking(net::UnixStream::from(socket))?;
                stream
                    .write_with(|stream| {
                        super::connection_outcome(stream.take_error(), || stream.peer_addr())
                    })
                    .await?;
                Ok(UnixStream { inner: stream })
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                drop(socket);
                let path = path.to_owned();
                let connect = move || net::UnixStream::connect(path);
                let stream = run_blocking("the Unix-domain connect", connect)?.await??;
                UnixStream::from_std(stream)
            }
            Err(error) => Err(error),
        }
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Takes over a stream from `std` (made non-blocking here).
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        super::socket::no_sigpipe(&stream)?;
        Ok(UnixStream {
            inner: Async::new(stream)?,
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

macro_rules! impl_async_io {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let asked = buf.len();
                self.inner
                    .poll_read_stream(cx, asked, |mut stream| stream.read(buf))
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                self.inner
                    .poll_write_stream(cx, buf.len(), |mut stream| stream.write(buf))
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                super::close_write(self.inner.get_ref().shutdown(Shutdown::Write))
            }
        }
    };
}

super::impl_readiness!(
    UnixStream: poll_read_ready, poll_write_ready;
    UnixDatagram: poll_recv_ready, poll_send_ready
);
super::impl_try_stream!(UnixStream, |mut stream: &net::UnixStream, bufs| stream
    .write_vectored(bufs));

impl_async_io!(UnixStream);
impl_async_io!(&UnixStream);

#[cfg(feature = "tokio-io")]
super::tokio_io::impl_tokio_io!(UnixStream);

/// A Unix-domain datagram socket.
#[derive(Debug)]
pub struct UnixDatagram {
    inner: Async<net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        Self::from_std(net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address (it can send, and receive once connected).
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::from_std(net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Takes over a socket from `std` (made non-blocking here).
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Async::new(socket)?,
        })
    }

    /// Sets the default peer.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.get_ref().connect(path)
    }

    /// Sends a datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|socket| socket.send(buf)).await
    }

    /// Receives a datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|socket| socket.recv(buf)).await
    }

    /// Sends a datagram to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write_with(|socket| socket.send_to(buf, path)).await
    }

    /// Receives a datagram and its sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|socket| socket.recv_from(buf)).await
    }

    /// Sends a datagram to the connected peer without waiting: `WouldBlock` (clearing write
    /// readiness) when the peer's queue is full. Pair it with [`writable`](Self::writable).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::WRITABLE, |socket| socket.send(buf))
    }

    /// Sends a datagram to the socket at `path` without waiting; see
    /// [`try_send`](Self::try_send).
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner
            .try_io(crate::Interest::WRITABLE, |socket| socket.send_to(buf, path))
    }

    /// Receives a datagram without waiting: `WouldBlock` (clearing read readiness) when none
    /// is queued. Pair it with [`readable`](Self::readable).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::READABLE, |socket| socket.recv(buf))
    }

    /// Receives a datagram and its sender's address without waiting; see
    /// [`try_recv`](Self::try_recv).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .try_io(crate::Interest::READABLE, |socket| socket.recv_from(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

macro_rules! impl_fd {
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

impl_fd!(UnixListener, UnixStream, UnixDatagram);
