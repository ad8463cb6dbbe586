//! What the platform registers with the poller: any file descriptor on Unix (epoll, kqueue,
//! event ports), a socket on Windows (`polling`'s IOCP backend polls sockets only, through
//! AFD). The rest of the crate names them through these aliases.

#[cfg(unix)]
pub(crate) use std::os::fd::{AsFd as AsSource, BorrowedFd as BorrowedSource};
#[cfg(windows)]
pub(crate) use std::os::windows::io::{AsSocket as AsSource, BorrowedSocket as BorrowedSource};

/// `as_fd` on Unix, `as_socket` on Windows.
// Only `Async` (not built under loom) calls it.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) trait Borrow {
    fn source(&self) -> BorrowedSource<'_>;
}

impl<T: AsSource + ?Sized> Borrow for T {
    fn source(&self) -> BorrowedSource<'_> {
        #[cfg(unix)]
        return self.as_fd();
        #[cfg(windows)]
        return self.as_socket();
    }
}

/// Puts the source in non-blocking mode (`FIONBIO`).
// Only `Async` (not built under loom) calls it.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn set_nonblocking(source: BorrowedSource<'_>) -> std::io::Result<()> {
    #[cfg(unix)]
    return Ok(rustix::io::ioctl_fionbio(source, true)?);
    #[cfg(windows)]
    return socket2::SockRef::from(&source).set_nonblocking(true);
}
