//! [`copy_bidirectional`]: a proxy's inner loop.

use futures_lite::io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// How much each direction reads at a time.
const BUFFER_SIZE: usize = 8 * 1024;

/// Copies from `a` to `b` and from `b` to `a` at the same time, until both have reached the
/// end of their stream; returns the byte counts `(a to b, b to a)`.
///
/// When one side's reading ends, the other side's writing is closed (`poll_close`: for a TCP
/// stream, a FIN), so the peer learns of it, and the other direction goes on until it ends
/// too. The first error in either direction ends the copy and is returned; bytes already
/// copied are then not counted anywhere.
///
/// Cancel-safe in the sense that dropping the future leaves both streams usable, but data
/// read and not yet written is lost.
///
/// ```
/// use heist::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional, duplex};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     // client <-> (proxy_in ... proxy_out) <-> server
///     let (mut client, mut proxy_in) = duplex(1024);
///     let (mut proxy_out, mut server) = duplex(1024);
///     let proxy = heist::spawn(async move {
///         copy_bidirectional(&mut proxy_in, &mut proxy_out).await
///     });
///     client.write_all(b"request").await?;
///     client.close().await?;
///     let mut request = Vec::new();
///     server.read_to_end(&mut request).await?; // ends: the proxy passed the close on
///     assert_eq!(request, b"request");
///     server.write_all(b"response!").await?;
///     drop(server);
///     let mut response = Vec::new();
///     client.read_to_end(&mut response).await?;
///     assert_eq!(response, b"response!");
///     assert_eq!(proxy.await.unwrap()?, (7, 9));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = Direction::Copying(CopyBuffer::new());
    let mut b_to_a = Direction::Copying(CopyBuffer::new());
    poll_fn(|cx| {
        let a_to_b_done = a_to_b.poll(cx, &mut *a, &mut *b)?;
        let b_to_a_done = b_to_a.poll(cx, &mut *b, &mut *a)?;
        match (a_to_b_done, b_to_a_done) {
            (Poll::Ready(there), Poll::Ready(back)) => Poll::Ready(Ok((there, back))),
            _ => Poll::Pending,
        }
    })
    .await
}

/// One direction's progress.
enum Direction {
    Copying(CopyBuffer),
    /// The reader ended and everything was written: closing the writer.
    Closing(u64),
    Done(u64),
}

impl Direction {
    fn poll<R, W>(&mut self, cx: &mut Context<'_>, reader: &mut R, writer: &mut W) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            match self {
                Direction::Copying(buffer) => {
                    let copied =
                        ready!(buffer.poll_copy(cx, Pin::new(&mut *reader), Pin::new(&mut *writer)))?;
                    *self = Direction::Closing(copied);
                }
                Direction::Closing(copied) => {
                    ready!(Pin::new(&mut *writer).poll_close(cx))?;
                    *self = Direction::Done(*copied);
                }
                Direction::Done(copied) => return Poll::Ready(Ok(*copied)),
            }
        }
    }
}

/// A buffer between one reader and one writer.
struct CopyBuffer {
    buffer: Box<[u8]>,
    /// `buffer[start..end]` is read and not yet written.
    start: usize,
    end: usize,
    copied: u64,
    read_done: bool,
    /// Written since the last flush.
    needs_flush: bool,
}

impl CopyBuffer {
    fn new() -> CopyBuffer {
        CopyBuffer {
            buffer: vec![0; BUFFER_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            copied: 0,
            read_done: false,
            needs_flush: false,
        }
    }

    /// Copies until the reader's end, then flushes; returns the byte count.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.start == self.end && !self.read_done {
                match reader.as_mut().poll_read(cx, &mut self.buffer) {
                    Poll::Ready(Ok(0)) => self.read_done = true,
                    Poll::Ready(Ok(n)) => (self.start, self.end) = (0, n),
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => {
                        // Nothing more to read for now: push out what was written, so that
                        // a buffering writer does not sit on it while we wait.
                        if self.needs_flush {
                            ready!(writer.as_mut().poll_flush(cx))?;
                            self.needs_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.start < self.end {
                let written = ready!(writer.as_mut().poll_write(cx, &self.buffer[self.start..self.end]))?;
                if written == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "copy_bidirectional: the writer accepted no bytes (it is closed?)",
                    )));
                }
                self.start += written;
                self.copied += written as u64;
                self.needs_flush = true;
            }
            if self.read_done {
                ready!(writer.as_mut().poll_flush(cx))?;
                self.needs_flush = false;
                return Poll::Ready(Ok(self.copied));
            }
        }
    }
}
