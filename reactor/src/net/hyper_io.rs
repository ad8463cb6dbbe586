//! hyper 1.x's I/O traits on [`TcpStream`] (feature `hyper`), so hyper reads straight into its
//! own buffer.
//!
//! hyper hands a read an uninitialized buffer. A `futures-io` reader needs initialized memory,
//! so an adapter over `AsyncRead` (`heist::hyper::HeistIo`) must zero what it offers first:
//! CPU on every read, and pages of every idle connection's read buffer made resident. The
//! kernel writes the bytes it reports, so these impls pass hyper's buffer to `recv` as it is.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper::rt::{Read, ReadBufCursor, Write};

use super::TcpStream;

impl Read for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `recv` only writes into the slice (never de-initializes it), and the cursor
        // is advanced by exactly the count of bytes the kernel reports having written.
        let unfilled: &mut [MaybeUninit<u8>] = unsafe { buf.as_mut() };
        let read = ready!(super::poll_read_uninit(&self.inner, cx, unfilled))?;
        // SAFETY: the first `read` bytes of the unfilled part were written by `recv` above.
        unsafe { buf.advance(read) };
        Poll::Ready(Ok(()))
    }
}

impl Write for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    /// One `writev` (`sendmsg`) for a response's head and body.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the kernel: nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write()
    }
}
