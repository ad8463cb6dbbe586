//! [`TcpSocket`]: a TCP socket configured before it connects or listens, on `socket2`.

use super::tcp::{TcpListener, TcpStream};
use socket2::{SockAddr, Socket};
use std::io;
use std::net::{self, SocketAddr};
use std::time::Duration;

/// How many connections a listener lets wait in the kernel for `accept` when none is asked
/// for ([`TcpListener::bind`]); the kernel caps it (Linux: `net.core.somaxconn`).
pub(crate) const DEFAULT_BACKLOG: u32 = 1024;

/// A TCP socket that is neither connected nor listening yet, to set options that must come
/// first (`SO_REUSEADDR`, `SO_REUSEPORT`, buffer sizes, a local address to connect from),
/// then [`connect`](Self::connect) it into a [`TcpStream`] or [`listen`](Self::listen) on it
/// as a [`TcpListener`].
///
/// The socket is created non-blocking and close-on-exec (not inherited by child processes),
/// as every socket heist makes. It needs no runtime until `connect` or `listen`.
///
/// ```no_run
/// use heist_reactor::net::TcpSocket;
/// use std::time::Duration;
///
/// # async fn f() -> std::io::Result<()> {
/// // A listener with a chosen backlog; on Unix, one of several that share the port
/// // (several processes each running this code share the connections).
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// #[cfg(unix)]
/// socket.set_reuseport(true)?;
/// socket.bind("0.0.0.0:8080".parse().unwrap())?;
/// let listener = socket.listen(4096)?;
///
/// // A client with keepalive and a small send buffer.
/// let socket = TcpSocket::new_v4()?;
/// socket.set_keepalive(true)?;
/// socket.set_send_buffer_size(64 * 1024)?;
/// socket.set_linger(Some(Duration::from_secs(1)))?;
/// let stream = socket.connect(listener.local_addr()?).await?;
/// # drop(stream);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        Self::for_addr(&SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        Self::for_addr(&SocketAddr::from(([0u16; 8], 0)))
    }

    /// A new TCP socket of `addr`'s family.
    pub(crate) fn for_addr(addr: &SocketAddr) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            inner: super::socket::tcp_socket(addr)?,
        })
    }

    /// Takes over a `std` stream's socket, to change its options through this type. It is
    /// put in non-blocking mode.
    pub fn from_std_stream(stream: net::TcpStream) -> TcpSocket {
        TcpSocket::nonblocking(Socket::from(stream))
    }

    /// A socket taken over from elsewhere, switched to non-blocking mode. A descriptor that
    /// refuses (it is no socket) fails the first operation on it all the same, with a clearer
    /// error, so the refusal itself is not reported here.
    fn nonblocking(inner: Socket) -> TcpSocket {
        let _ = inner.set_nonblocking(true);
        TcpSocket { inner }
    }

    /// Sets `SO_REUSEADDR`: on Unix, a listener may bind a port that connections of a
    /// previous one still hold in `TIME_WAIT` (a restarted server binds at once;
    /// [`TcpListener::bind`] sets it there). On Windows it lets another socket bind the very
    /// same port: leave it off there.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT` (Unix): several sockets, of this process or others, may bind the
    /// same address and port if each sets it before binding (on Linux, also only if they run
    /// as the same user). On Linux the kernel then spreads incoming connections over all the
    /// listeners (by a hash of each connection's addresses): the README shows how to scale a
    /// server over several processes this way. Elsewhere (macOS, the BSDs) the sockets may
    /// share the port, but which one gets the connections is up to the OS.
    #[cfg(all(
        unix,
        not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
    ))]
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    #[cfg(all(
        unix,
        not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
    ))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_KEEPALIVE`: an idle connection is probed, and fails once its peer stops
    /// answering (after the OS's keepalive time, 2 hours by default on Linux).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_LINGER`: with `Some(time)`, closing the socket waits (up to `time`, blocking
    /// the thread that drops it) for unsent data to go out, and `Some(Duration::ZERO)` resets
    /// the connection on close instead of a FIN. `None`, the default, closes in the
    /// background.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(linger)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `SO_SNDBUF`, the send buffer's size in bytes (the OS may round it: Linux doubles
    /// it for its own bookkeeping, see [`send_buffer_size`](Self::send_buffer_size)).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// `SO_SNDBUF` as the OS reports it.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(saturate)
    }

    /// Sets `SO_RCVBUF`, the receive buffer's size in bytes (rounded as for
    /// [`set_send_buffer_size`](Self::set_send_buffer_size)).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// `SO_RCVBUF` as the OS reports it.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(saturate)
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes), inherited by the stream.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Binds to `addr` (port 0 picks a free port: [`local_addr`](Self::local_addr) tells which).
    /// Before `connect`, it chooses the local address the connection comes from.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.inner.local_addr()?)
    }

    /// Takes the pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Connects to `addr`, without blocking the thread, and returns the stream, registered
    /// with the current runtime's reactor (fails outside a runtime).
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        // Connected at once or not, the outcome is checked the same way (and loopback connects
        // complete at once).
        let _ = super::socket::start_connect(&self.inner, &addr.into())?;
        TcpStream::finish_connect(net::TcpStream::from(self.inner)).await
    }

    /// Listens, letting up to `backlog` connections wait for `accept` (the kernel caps it:
    /// on Linux at `net.core.somaxconn`; values past `i32::MAX` are taken as `i32::MAX`).
    /// The listener is registered with the current runtime's reactor (fails outside a
    /// runtime).
    ///
    /// Call [`bind`](Self::bind) first: without it, Linux listens on a free port of every
    /// interface, and Windows refuses.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        TcpListener::from_nonblocking(net::TcpListener::from(self.inner))
    }
}

fn saturate(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

fn socket_addr(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket address"))
}

#[cfg(unix)]
mod fd {
    use super::TcpSocket;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

    impl AsFd for TcpSocket {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.inner.as_fd()
        }
    }

    impl AsRawFd for TcpSocket {
        fn as_raw_fd(&self) -> RawFd {
            self.inner.as_raw_fd()
        }
    }

    impl IntoRawFd for TcpSocket {
        fn into_raw_fd(self) -> RawFd {
            self.inner.into_raw_fd()
        }
    }

    impl From<OwnedFd> for TcpSocket {
        /// Takes over a TCP socket's descriptor (put in non-blocking mode here).
        fn from(fd: OwnedFd) -> TcpSocket {
            TcpSocket::nonblocking(socket2::Socket::from(fd))
        }
    }

    impl FromRawFd for TcpSocket {
        /// # Safety
        /// `fd` must be an open TCP socket, owned by nothing else.
        unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
            // SAFETY: the caller's promise, passed on.
            TcpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    }
}

#[cfg(windows)]
mod socket {
    use super::TcpSocket;
    use std::os::windows::io::{
        AsRawSocket, AsSocket, BorrowedSocket, FromRawSocket, IntoRawSocket, OwnedSocket, RawSocket,
    };

    impl AsSocket for TcpSocket {
        fn as_socket(&self) -> BorrowedSocket<'_> {
            self.inner.as_socket()
        }
    }

    impl AsRawSocket for TcpSocket {
        fn as_raw_socket(&self) -> RawSocket {
            self.inner.as_raw_socket()
        }
    }

    impl IntoRawSocket for TcpSocket {
        fn into_raw_socket(self) -> RawSocket {
            self.inner.into_raw_socket()
        }
    }

    impl From<OwnedSocket> for TcpSocket {
        /// Takes over a TCP socket (put in non-blocking mode here).
        fn from(socket: OwnedSocket) -> TcpSocket {
            TcpSocket::nonblocking(socket2::Socket::from(socket))
        }
    }

    impl FromRawSocket for TcpSocket {
        /// # Safety
        /// `socket` must be an open TCP socket, owned by nothing else.
        unsafe fn from_raw_socket(socket: RawSocket) -> TcpSocket {
            // SAFETY: the caller's promise, passed on.
            TcpSocket::from(unsafe { OwnedSocket::from_raw_socket(socket) })
        }
    }
}
