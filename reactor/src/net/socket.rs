//! Creating sockets non-blocking and close-on-exec, and without `SIGPIPE`, on each platform.
//!
//! Linux and the BSDs take `SOCK_NONBLOCK | SOCK_CLOEXEC` in `socket` itself. Apple's
//! `socket` has no such flags: the two are set right after, with `fcntl` and `ioctl` (heist
//! starts child processes through std, whose `posix_spawn`/`fork` path closes nothing, so
//! the short window before `FD_CLOEXEC` is set matters only to a fork from another thread).
//! Apple also lacks `MSG_NOSIGNAL`, so every stream socket heist creates or takes over gets
//! `SO_NOSIGPIPE` instead: a write to a closed peer then fails with `EPIPE`.

use rustix::net::{AddressFamily, SocketType};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// A new socket, non-blocking and close-on-exec (and `SO_NOSIGPIPE` where that exists).
pub(crate) fn nonblocking_socket(family: AddressFamily, kind: SocketType) -> io::Result<OwnedFd> {
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

/// Sets `SO_NOSIGPIPE` on Apple targets, where `MSG_NOSIGNAL` does not exist; elsewhere
/// (`MSG_NOSIGNAL`, see `tcp::write_vectored`, or std's own writes) there is nothing to do.
pub(crate) fn no_sigpipe(socket: impl AsFd) -> io::Result<()> {
    #[cfg(target_vendor = "apple")]
    rustix::net::sockopt::set_socket_nosigpipe(socket, true)?;
    #[cfg(not(target_vendor = "apple"))]
    let _ = socket;
    Ok(())
}
