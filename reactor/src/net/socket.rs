//! Creating sockets non-blocking, close-on-exec (not inherited) and without `SIGPIPE`, the same
//! way on every platform, through `socket2`:
//!
//! - `Socket::new` sets close-on-exec (in `socket` itself where `SOCK_CLOEXEC` exists, with
//!   `fcntl` right after on Apple), sets `SO_NOSIGPIPE` on Apple (which lacks `MSG_NOSIGNAL`:
//!   a write to a closed peer then fails with `EPIPE` rather than killing the process), and on
//!   Windows creates the socket non-inheritable (child processes do not keep it open) after
//!   starting Winsock.
//! - Non-blocking mode comes with the socket type where the OS takes `SOCK_NONBLOCK`, and
//!   from `FIONBIO` right after elsewhere (Apple, Windows).
//!
//! Stream sockets heist takes over (accepted ones, `from_std`) get `SO_NOSIGPIPE` on Apple
//! from [`no_sigpipe`].

use crate::sys::AsSource;
use socket2::{Domain, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// A new socket, non-blocking and close-on-exec (and `SO_NOSIGPIPE` where that exists).
pub(crate) fn nonblocking_socket(domain: Domain, kind: Type) -> io::Result<Socket> {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))]
    return Socket::new(domain, kind.nonblocking(), None);
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )))]
    {
        let socket = Socket::new(domain, kind, None)?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    }
}

/// A non-blocking TCP socket for `addr`'s family.
pub(crate) fn tcp_socket(addr: &SocketAddr) -> io::Result<Socket> {
    nonblocking_socket(Domain::for_address(*addr), Type::STREAM)
}

/// How a non-blocking connect started.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Connect {
    /// Connected at once.
    Done,
    /// Under way: wait for writability, then check the outcome.
    InProgress,
}

/// Starts a non-blocking connect of `socket` to `addr`.
pub(crate) fn start_connect(socket: &Socket, addr: &SockAddr) -> io::Result<Connect> {
    match socket.connect(addr) {
        Ok(()) => Ok(Connect::Done),
        // Unix's "in progress" is `EINPROGRESS` (std's `ErrorKind::InProgress` is newer than
        // our minimum Rust). `EAGAIN` is a real error for TCP (no free local port); for a
        // Unix-domain socket the caller handles it.
        #[cfg(unix)]
        Err(error) if rustix::io::Errno::from_io_error(&error) == Some(rustix::io::Errno::INPROGRESS) => {
            Ok(Connect::InProgress)
        }
        // Winsock's is `WSAEWOULDBLOCK`.
        #[cfg(windows)]
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(Connect::InProgress),
        Err(error) => Err(error),
    }
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
