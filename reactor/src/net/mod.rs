//! TCP, UDP and Unix-domain sockets, in tokio's shapes, on top of [`Async`](crate::Async).
//!
//! Addresses are resolved with `std::net::ToSocketAddrs`: instant for IP literals, a blocking
//! DNS lookup for host names (resolve those on `spawn_blocking` in latency-sensitive code).

mod split;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// `poll_close` of a stream: sends FIN. Closing twice, or after the peer has gone, is not an
/// error.
fn close_write(shutdown: io::Result<()>) -> std::task::Poll<io::Result<()>> {
    match shutdown {
        Err(error) if error.kind() == io::ErrorKind::NotConnected => std::task::Poll::Ready(Ok(())),
        result => std::task::Poll::Ready(result),
    }
}

/// Runs `op` on each address `addrs` resolves to, returning the first success or the last
/// error.
async fn each_addr<T, F: Future<Output = io::Result<T>>>(
    addrs: impl ToSocketAddrs,
    mut op: impl FnMut(SocketAddr) -> F,
) -> io::Result<T> {
    let mut last_error = None;
    for addr in addrs.to_socket_addrs()? {
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
