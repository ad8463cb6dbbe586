//! A TCP stream's read and write halves, borrowed or owned.
//!
//! Both halves wait on the same registered source, one in each direction, so a reader and a
//! writer in two tasks never take each other's wakes.

use super::tcp::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The read half of a [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The write half of a [`TcpStream::split`]. `poll_close` sends FIN.
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

/// The read half of a [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    stream: TcpStream,
}

/// The write half of a [`TcpStream::into_split`]. Dropping it sends FIN, as closing it does.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    stream: TcpStream,
    shutdown_on_drop: bool,
}

/// [`OwnedReadHalf::reunite`] was given halves of two different streams; it hands them back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl std::fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tried to reunite halves that are not from the same TcpStream")
    }
}

impl std::error::Error for ReuniteError {}

pub(super) fn borrowed(stream: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

pub(super) fn owned(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let write = TcpStream {
        inner: stream.inner.clone(),
    };
    (
        OwnedReadHalf { stream },
        OwnedWriteHalf {
            stream: write,
            shutdown_on_drop: true,
        },
    )
}

impl OwnedReadHalf {
    /// Puts the stream back together.
    pub fn reunite(self, write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.stream.inner, &write.stream.inner) {
            return Err(ReuniteError(self, write));
        }
        let mut write = write;
        write.shutdown_on_drop = false;
        drop(write);
        Ok(self.stream)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Puts the stream back together.
    pub fn reunite(self, read: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        read.reunite(self)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.shutdown(Shutdown::Write);
        }
    }
}

fn poll_read(stream: &TcpStream, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    stream.poll_read_priv(cx, buf)
}

macro_rules! halves {
    ($read:ty, $write:ty, $field:tt) => {
        impl AsyncRead for $read {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                poll_read(&self.$field, cx, buf)
            }
        }

        impl AsyncWrite for $write {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                self.$field.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.$field.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.$field.shutdown_write()
            }
        }
    };
}

/// The readiness API of the stream, each half with its own direction.
macro_rules! half_readiness {
    ($read:ty, $write:ty, $field:tt) => {
        impl $read {
            /// Waits until the stream is ready for any of `interest` (see
            /// [`TcpStream::ready`]).
            pub async fn ready(&self, interest: crate::Interest) -> io::Result<crate::Ready> {
                self.$field.ready(interest).await
            }

            /// Waits until the stream is readable (see [`TcpStream::readable`]).
            pub async fn readable(&self) -> io::Result<()> {
                self.$field.readable().await
            }

            /// Reads without waiting (see [`TcpStream::try_read`]).
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.$field.try_read(buf)
            }

            /// Reads into several buffers without waiting (see
            /// [`TcpStream::try_read_vectored`]).
            pub fn try_read_vectored(&self, bufs: &mut [std::io::IoSliceMut<'_>]) -> io::Result<usize> {
                self.$field.try_read_vectored(bufs)
            }

            /// Peeks without waiting (see [`TcpStream::try_peek`]).
            pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.$field.try_peek(buf)
            }
        }

        impl $write {
            /// Waits until the stream is ready for any of `interest` (see
            /// [`TcpStream::ready`]).
            pub async fn ready(&self, interest: crate::Interest) -> io::Result<crate::Ready> {
                self.$field.ready(interest).await
            }

            /// Waits until the stream is writable (see [`TcpStream::writable`]).
            pub async fn writable(&self) -> io::Result<()> {
                self.$field.writable().await
            }

            /// Writes without waiting (see [`TcpStream::try_write`]).
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                self.$field.try_write(buf)
            }

            /// Writes from several buffers without waiting (see
            /// [`TcpStream::try_write_vectored`]).
            pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                self.$field.try_write_vectored(bufs)
            }
        }
    };
}

half_readiness!(ReadHalf<'_>, WriteHalf<'_>, 0);
half_readiness!(OwnedReadHalf, OwnedWriteHalf, stream);
halves!(ReadHalf<'_>, WriteHalf<'_>, 0);
halves!(OwnedReadHalf, OwnedWriteHalf, stream);
