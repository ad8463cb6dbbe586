//! tokio's `AsyncRead`/`AsyncWrite` for heist's streams (feature `tokio-io`), so crates written
//! against tokio's I/O traits (tokio-rustls, tokio-tungstenite, h2, database drivers) run on
//! heist's sockets without a wrapper.
//!
//! Writes, flushes and shutdowns go through the same code as the `futures-io` impls. Reads are
//! where the two families differ: tokio hands out a `ReadBuf` whose unfilled part may be
//! uninitialized memory. A wrapper over `futures-io` (tokio-util's `compat`) must zero it before
//! each read; the streams here read into it directly (`recv` initializes what it returns, on
//! Unix and Windows alike), which is what makes a direct implementation worth having
//! (`benches/tokio_io.rs` measures both). For `Async<T>` over any `T: Read` the unfilled part is
//! zeroed first, as `compat` does.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::ReadBuf;

use crate::Async;
use crate::sys::AsSource;

/// One read from a byte-stream socket into `buf`'s unfilled part, without zeroing it first
/// (the same read as hyper's, [`poll_read_uninit`](super::poll_read_uninit)).
pub(super) fn poll_read_buf<T: AsSource>(
    stream: &Async<T>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: only `recv` writes to the unfilled part (it never de-initializes any of it), and
    // only the `n` bytes it reports having written are marked initialized below.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(super::poll_read_uninit(stream, cx, unfilled))?;
    // SAFETY: `recv` initialized the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// tokio's traits for a stream type `$ty` with an `inner: Async<_>` field and `futures-io`
/// impls on `&$ty` (writes go through those).
macro_rules! impl_tokio_io {
    ($ty:ty) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                super::tokio_io::poll_read_buf(&self.inner, cx, buf)
            }
        }

        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(Pin::new(&mut &*self), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(Pin::new(&mut &*self), cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(Pin::new(&mut &*self), cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_close(Pin::new(&mut &*self), cx)
            }
        }
    };
}
pub(super) use impl_tokio_io;

impl<T: AsSource + Read> tokio::io::AsyncRead for Async<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // Any `T: Read` may read what it is given: it must be initialized.
        let n = ready!(futures_io::AsyncRead::poll_read(
            self,
            cx,
            buf.initialize_unfilled()
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsSource + io::Write> tokio::io::AsyncWrite for Async<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(self, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(self, cx)
    }
}
