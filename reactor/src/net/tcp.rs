use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::tcp_socket::{DEFAULT_BACKLOG, TcpSocket};
use super::{ToSocketAddrs, each_addr};
use crate::Async;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::SockRef;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TCP socket listening for connections.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let listener = heist_reactor::net::TcpListener::bind("127.0.0.1:7000").await?;
/// loop {
///     let (stream, peer) = listener.accept().await?;
///     // hand `stream` to a task of its own (`heist::spawn`)
/// #   drop((stream, peer));
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    inner: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to the first address that works. Port 0 picks a free port ([`local_addr`]
    /// tells which).
    ///
    /// [`local_addr`]: Self::local_addr
    ///
    /// Like tokio's, the socket has `SO_REUSEADDR` on Unix (a restarted server can bind at
    /// once; on Windows the option would let others take the port, so it is not set) and a
    /// backlog of 1024 (std's 128 drops connections in a burst of connects: their clients
    /// then wait a whole SYN or data retransmission timeout, a second or more).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |addr| async move {
            let socket = TcpSocket::for_addr(&addr)?;
            #[cfg(unix)]
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(DEFAULT_BACKLOG)
        })
        .await
    }

    /// Takes over a listener known to be in non-blocking mode.
    pub(crate) fn from_nonblocking(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new_nonblocking(listener)?,
        })
    }

    /// Takes over a listener from `std` (made non-blocking here).
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// Gives the listener back to `std`, in non-blocking mode.
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        self.inner.into_inner()
    }

    /// Waits for the next connection.
    ///
    /// Errors are the OS's: with the descriptor table full (`EMFILE`) the connection stays
    /// queued in the kernel and the listener goes on working once descriptors free up, so a
    /// server should log the error, wait a little and call `accept` again.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.read_with(|listener| listener.accept()).await?;
        Ok((TcpStream::from_std(stream)?, peer))
    }

    /// Polls for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.inner
            .poll_read_with(cx, |listener| listener.accept())
            .map(|result| {
                let (stream, peer) = result?;
                Ok((TcpStream::from_std(stream)?, peer))
            })
    }

    /// A stream of incoming connections (never ends; yields each `accept` error).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }
}

super::impl_source!(TcpListener);

/// The connections of a [`TcpListener`], as a `Stream`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|result| Some(result.map(|(stream, _)| stream)))
    }
}

/// A TCP connection. Implements `futures_io::AsyncRead` and `AsyncWrite` (so the extension
/// methods of `heist::io` apply), also on `&TcpStream`.
///
/// Writing to a connection the peer has closed returns an error (`BrokenPipe` or
/// `ConnectionReset`); it never raises `SIGPIPE`.
///
/// # Readiness
/// Besides `AsyncRead`/`AsyncWrite`, tokio's readiness API: wait with
/// [`ready`](Self::ready) (or [`readable`](Self::readable), [`writable`](Self::writable)),
/// then move data with [`try_read`](Self::try_read), [`try_write`](Self::try_write) and their
/// vectored forms, or any operation on the descriptor through [`try_io`](Self::try_io). A
/// `try_*` that returns `WouldBlock` clears the readiness, so the next wait sleeps until the
/// poller reports the socket again.
///
/// ```no_run
/// use heist_reactor::{Interest, net::TcpStream};
/// use std::io;
///
/// async fn echo_once(stream: &TcpStream) -> io::Result<()> {
///     let mut buf = [0; 1024];
///     loop {
///         let ready = stream.ready(Interest::READABLE).await?;
///         if ready.is_readable() {
///             match stream.try_read(&mut buf) {
///                 Ok(0) => return Ok(()), // the peer closed
///                 Ok(n) => {
///                     // A real server would wait for `writable` on `WouldBlock` here.
///                     stream.try_write(&buf[..n])?;
///                 }
///                 Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
///                 Err(e) => return Err(e),
///             }
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct TcpStream {
    pub(super) inner: Arc<Async<net::TcpStream>>,
}

impl TcpStream {
    /// Connects to the first address that accepts, without blocking the thread (a host name
    /// is looked up on the runtime's blocking pool, see [`lookup_host`](super::lookup_host)).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, connect_one).await
    }

    /// Takes over a connected stream from `std` (made non-blocking here).
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        // Accepted streams come through here too.
        super::socket::no_sigpipe(&stream)?;
        Ok(TcpStream {
            inner: Arc::new(Async::new(stream)?),
        })
    }

    /// Gives the stream back to `std`, in non-blocking mode. Fails if split halves still
    /// share it.
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        Arc::try_unwrap(self.inner)
            .map_err(|_| io::Error::other("the stream is still shared by its split halves"))?
            .into_inner()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.std().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.std().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    /// Sets `SO_LINGER` (see [`TcpSocket::set_linger`](super::TcpSocket::set_linger)):
    /// `Some(Duration::ZERO)` makes dropping the stream reset the connection.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.std()).set_linger(linger)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.std()).linger()
    }

    /// Sets `SO_KEEPALIVE` (see [`TcpSocket::set_keepalive`](super::TcpSocket::set_keepalive)).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        SockRef::from(self.std()).set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        SockRef::from(self.std()).keepalive()
    }

    /// Shuts down the read half, the write half or both (`Write` sends FIN: a half-close).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }

    /// Reads into `buf` without removing the data from the socket's queue.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|stream| stream.peek(buf)).await
    }

    /// Like [`peek`](Self::peek) without waiting: `WouldBlock` (clearing read readiness)
    /// when there is nothing to peek at.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .try_io(crate::Interest::READABLE, |stream| stream.peek(buf))
    }

    /// Borrowed halves for reading and writing at the same time within one task
    /// (`futures::join!`, `select`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::borrowed(self)
    }

    /// Owned halves, to read and write from two tasks at once; [`OwnedReadHalf::reunite`]
    /// puts them back together. Dropping the write half shuts the write direction down.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::owned(self)
    }

    fn std(&self) -> &net::TcpStream {
        self.inner.get_ref()
    }

    pub(super) fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        self.inner
            .poll_read_stream(cx, asked, |mut stream| stream.read(buf))
    }

    pub(super) fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner
            .poll_write_stream(cx, buf.len(), |mut stream| stream.write(buf))
    }

    fn poll_read_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let asked = bufs.iter().map(|buf| buf.len()).sum();
        self.inner
            .poll_read_stream(cx, asked, |mut stream| stream.read_vectored(bufs))
    }

    pub(super) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let offered = bufs.iter().map(|buf| buf.len()).sum();
        self.inner
            .poll_write_stream(cx, offered, |stream| write_vectored(stream, bufs))
    }

    /// `poll_close` of the write side: sends FIN.
    pub(super) fn shutdown_write(&self) -> Poll<io::Result<()>> {
        super::close_write(self.std().shutdown(Shutdown::Write))
    }
}

async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
    TcpSocket::for_addr(&addr)?.connect(addr).await
}

impl TcpStream {
    /// Registers a non-blocking socket whose connect has started, and waits for the outcome.
    pub(crate) async fn finish_connect(stream: net::TcpStream) -> io::Result<TcpStream> {
        let stream = Async::new_nonblocking(stream)?;
        // Writability alone proves nothing (a new source starts out ready): wait until the
        // connection is established or has failed.
        stream
            .write_with(|stream| super::connection_outcome(stream.take_error(), || stream.peer_addr()))
            .await?;
        Ok(TcpStream {
            inner: Arc::new(stream),
        })
    }
}

/// `writev` without `SIGPIPE`: std's `write_vectored` cannot pass `MSG_NOSIGNAL`, and a write
/// to a connection the peer has closed would raise the signal, which kills a process that has
/// not ignored it (any non-Rust `main`).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd"
))]
fn write_vectored(stream: &net::TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendFlags, sendmsg};
    Ok(sendmsg(
        stream,
        bufs,
        &mut SendAncillaryBuffer::default(),
        SendFlags::NOSIGNAL,
    )?)
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd"
)))]
fn write_vectored(mut stream: &net::TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    stream.write_vectored(bufs)
}

super::impl_source!(TcpStream);
super::impl_readiness!(TcpStream: poll_read_ready, poll_write_ready);
super::impl_try_stream!(TcpStream, write_vectored);

macro_rules! impl_async_io_for_stream {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_vectored_priv(cx, bufs)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                self.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Writes go straight to the kernel: nothing is buffered here.
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.shutdown_write()
            }
        }
    };
}

impl_async_io_for_stream!(TcpStream);
impl_async_io_for_stream!(&TcpStream);

#[cfg(feature = "tokio-io")]
super::tokio_io::impl_tokio_io!(TcpStream);
