//! [`split`]: the read and write halves of any `AsyncRead + AsyncWrite`, usable from two tasks.
//!
//! Why not futures-lite's `io::split`, which `heist::io` could simply re-export: it requires
//! `Unpin`, panics in the other half once a poll panicked (a poisoned `std` mutex, unwrapped),
//! and cannot put the halves back together, which tokio's `unsplit` (used by code moving over)
//! does. This one is the same idea (both halves lock one mutex around the stream, for one
//! poll at a time) with those three fixed.

use futures_lite::io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

/// Splits `stream` into a read half and a write half, which can move to different tasks.
///
/// Each poll of a half locks the stream for that poll only, so a reader waiting for data never
/// holds up the writer. For heist's own socket types prefer their `split`/`into_split`, which
/// need no lock.
///
/// ```
/// use heist::io::{AsyncReadExt, AsyncWriteExt, duplex, split};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let (ours, mut theirs) = duplex(1024);
///     let (mut read, mut write) = split(ours);
///     let writer = heist::spawn(async move {
///         write.write_all(b"from one task").await?;
///         std::io::Result::Ok(write)
///     });
///     let mut buf = [0; 13];
///     theirs.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"from one task");
///     theirs.write_all(b"to another").await?;
///     let mut reply = [0; 10];
///     read.read_exact(&mut reply).await?;
///     assert_eq!(&reply, b"to another");
///
///     let write = writer.await.unwrap()?;
///     assert!(read.is_pair_of(&write));
///     let _ours = read.unsplit(write); // the stream, whole again
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub fn split<T: AsyncRead + AsyncWrite>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
    let shared = Arc::new(Shared {
        stream: Mutex::new(stream),
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

struct Shared<T> {
    stream: Mutex<T>,
}

impl<T> Shared<T> {
    /// The stream, pinned, for one poll.
    fn poll_with<R>(&self, f: impl FnOnce(Pin<&mut T>) -> R) -> R {
        // A poll that panicked may have left the stream mid-operation, as it would without
        // a split: the next poll finds out, as it would there. No reason to panic here too.
        let mut stream: MutexGuard<'_, T> = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the stream lives in the `Arc`'d mutex, which never moves it: it stays where
        // it is until the last half drops it, or `unsplit` takes it out, which requires
        // `T: Unpin`.
        f(unsafe { Pin::new_unchecked(&mut *stream) })
    }
}

/// The read half of a [`split`]: `AsyncRead`.
pub struct ReadHalf<T> {
    shared: Arc<Shared<T>>,
}

/// The write half of a [`split`]: `AsyncWrite`.
pub struct WriteHalf<T> {
    shared: Arc<Shared<T>>,
}

impl<T> ReadHalf<T> {
    /// Whether `write` is the other half of the same stream.
    pub fn is_pair_of(&self, write: &WriteHalf<T>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// Puts the stream back together.
    ///
    /// # Panics
    /// If `write` is the half of another stream (check with [`is_pair_of`](Self::is_pair_of)).
    #[track_caller]
    pub fn unsplit(self, write: WriteHalf<T>) -> T
    where
        T: Unpin,
    {
        assert!(
            self.is_pair_of(&write),
            "ReadHalf::unsplit was given the WriteHalf of another stream: check with is_pair_of"
        );
        drop(write);
        let shared = Arc::into_inner(self.shared)
            .expect("unsplit holds both halves, so nothing else holds the stream");
        shared.stream.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> WriteHalf<T> {
    /// Whether `read` is the other half of the same stream.
    pub fn is_pair_of(&self, read: &ReadHalf<T>) -> bool {
        read.is_pair_of(self)
    }
}

impl<T> fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<T: AsyncRead> AsyncRead for ReadHalf<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.shared.poll_with(|stream| stream.poll_read(cx, buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.shared
            .poll_with(|stream| stream.poll_read_vectored(cx, bufs))
    }
}

impl<T: AsyncWrite> AsyncWrite for WriteHalf<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.shared.poll_with(|stream| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.shared
            .poll_with(|stream| stream.poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll_with(|stream| stream.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll_with(|stream| stream.poll_close(cx))
    }
}
