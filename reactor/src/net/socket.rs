//! Creating sockets non-blocking, close-on-exec (not inherited) and without `SIGPIPE`, on each
//! platform.
//!
//! - Linux and the BSDs take `SOCK_NONBLOCK | SOCK_CLOEXEC` in `socket` itself.
//! - Apple's `socket` has no such flags: the two are set right after, with `fcntl` and
//!   `ioctl`. Apple also lacks `MSG_NOSIGNAL`, so every stream socket heist creates or takes
//!   over (accepted ones included) gets `SO_NOSIGPIPE` instead: a write to a closed peer then
//!   fails with `EPIPE` rather than killing the process.
//! - Windows has no `SIGPIPE`. Its sockets come from `socket2`, which creates them
//!   non-inheritable (`WSA_FLAG_NO_HANDLE_INHERIT`, so child processes do not keep them open)
//!   after starting Winsock, neither of which rustix does there.

use crate::sys::AsSource;
use std::io;
use std::net::{self, SocketAddr};

/// How many connections may wait in the kernel for `accept` (capped by `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 1024;

/// A new socket, non-blocking and close-on-exec (and `SO_NOSIGPIPE` where that exists).
#[cfg(unix)]
pub(crate) fn nonblocking_socket(
    family: rustix::net::AddressFamily,
    kind: rustix::net::SocketType,
) -> io::Result<std::os::fd::OwnedFd> {
    #[cfg(not(target_vendor = "apple"))]
    let socket = {
        use rustix::net::SocketFlags;
        rustix::net::socket_with(family, kind, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?
    };
    #[cfg(target_vendor = "apple")]
    let socket = {
        let socket = rustix::net::socket(family, kind, None)?;
        rustix::io::fcntl_setfd(&socket, rustix::io::FdFlags::CLOEXEC)?;
        rustix::io::ioctl_fionbio(&socket, true)?;
        socket
    };
    no_sigpipe(&socket)?;
    Ok(socket)
}

#[cfg(unix)]
fn inet_stream_socket(addr: SocketAddr) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketType};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    nonblocking_socket(family, SocketType::STREAM)
}

/// A non-blocking TCP listener on `addr`. Like tokio's, it has `SO_REUSEADDR` on Unix (a
/// restarted server can bind at once; on Windows that option would let another process
/// steal the port, so it is left off there) and a backlog of [`LISTEN_BACKLOG`].
#[cfg(unix)]
pub(crate) fn listen(addr: SocketAddr) -> io::Result<net::TcpListener> {
    let socket = inet_stream_socket(addr)?;
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, LISTEN_BACKLOG)?;
    Ok(net::TcpListener::from(socket))
}

#[cfg(windows)]
pub(crate) fn listen(addr: SocketAddr) -> io::Result<net::TcpListener> {
    let socket = windows_stream_socket(addr)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// A non-blocking TCP socket whose connect to `addr` has started (or already completed):
/// the caller waits for writability and then checks the outcome.
#[cfg(unix)]
pub(crate) fn start_connect(addr: SocketAddr) -> io::Result<net::TcpStream> {
    let socket = inet_stream_socket(addr)?;
    match rustix::net::connect(&socket, &addr) {
        Ok(()) | Err(rustix::io::Errno::INPROGRESS) => Ok(net::TcpStream::from(socket)),
        Err(error) => Err(error.into()),
    }
}

#[cfg(windows)]
pub(crate) fn start_connect(addr: SocketAddr) -> io::Result<net::TcpStream> {
    let socket = windows_stream_socket(addr)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        // Winsock's "in progress" is `WSAEWOULDBLOCK`.
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
        Err(error) => return Err(error),
    }
    Ok(socket.into())
}

#[cfg(windows)]
fn windows_stream_socket(addr: SocketAddr) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Sets `SO_NOSIGPIPE` on Apple targets, where `MSG_NOSIGNAL` does not exist; elsewhere
/// (`MSG_NOSIGNAL`, see `tcp::write_vectored`, or std's own writes, or no `SIGPIPE` at all)
/// there is nothing to do.
pub(crate) fn no_sigpipe(socket: impl AsSource) -> io::Result<()> {
    #[cfg(target_vendor = "apple")]
    rustix::net::sockopt::set_socket_nosigpipe(socket, true)?;
    #[cfg(not(target_vendor = "apple"))]
    let _ = socket;
    Ok(())
}
