//! TCP, UDP and Unix-domain sockets, in tokio's shapes, on top of [`Async`](crate::Async).
//!
//! Addresses are heist's own [`ToSocketAddrs`]: IP addresses are used at once, on the
//! calling thread; host names are looked up on the runtime's blocking pool ([`lookup_host`]),
//! so a slow DNS server never holds a worker.
//!
//! Unix-domain sockets (`UnixListener`, `UnixStream`, `UnixDatagram`) exist on Unix only.

mod addr;
pub(crate) mod socket;
mod split;
mod tcp;
#[cfg(feature = "tokio-io")]
mod tokio_io;
mod udp;
#[cfg(unix)]
mod unix;

#[doc(hidden)]
pub use addr::{Resolver, set_resolver, system_resolve};
pub use addr::{ToSocketAddrs, lookup_host};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpStream};
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
