//! [`duplex`]: an in-memory, bounded, bidirectional byte pipe.

use futures_lite::io::{AsyncRead, AsyncWrite};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};

/// A connected pair of in-memory streams: what one writes, the other reads, with at most
/// `max_buf_size` bytes buffered in each direction (a writer that finds the buffer full waits
/// for the reader). For tests, and for joining two pieces of code that speak I/O traits
/// without a socket.
///
/// - `close()` on one end (tokio's `shutdown()`) ends the other end's reading, once it has
///   read what was written before: its reads return `Ok(0)`.
/// - Dropping an end does the same, and makes the other end's writes fail with
///   `BrokenPipe`.
/// - Reads and writes spend the task's cooperative budget, as socket I/O does.
///
/// # Panics
/// If `max_buf_size` is 0: no byte could ever pass.
///
/// ```
/// use heist::io::{AsyncReadExt, AsyncWriteExt, duplex};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let (mut client, mut server) = duplex(64);
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///
///     server.write_all(b"pong").await?;
///     drop(server);
///     let mut reply = Vec::new();
///     client.read_to_end(&mut reply).await?; // the data, then the end of the stream
///     assert_eq!(reply, b"pong");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub fn duplex(max_buf_size: usize) -> (DuplexStream, DuplexStream) {
    assert!(
        max_buf_size > 0,
        "heist::io::duplex(0): the buffer must hold at least one byte, or nothing could ever be \
         written; pass the most bytes each direction may hold (say 64 * 1024)"
    );
    let one_way = Arc::new(Mutex::new(Pipe::new(max_buf_size)));
    let other_way = Arc::new(Mutex::new(Pipe::new(max_buf_size)));
    (
        DuplexStream {
            read: one_way.clone(),
            write: other_way.clone(),
        },
        DuplexStream {
            read: other_way,
            write: one_way,
        },
    )
}

/// One end of a [`duplex`] pipe: `AsyncRead` + `AsyncWrite`.
#[derive(Debug)]
pub struct DuplexStream {
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
}

/// One direction: a bounded buffer, the waker of whoever waits on it, and whether each side
/// is still there.
#[derive(Debug)]
struct Pipe {
    buffer: VecDeque<u8>,
    max_buf_size: usize,
    /// The reader found the buffer empty.
    read_waker: Option<Waker>,
    /// The writer found the buffer full.
    write_waker: Option<Waker>,
    /// The writer closed or dropped its end: once the buffer is empty, reads return 0.
    write_closed: bool,
    /// The reader dropped its end: writes fail.
    reader_gone: bool,
}

impl Pipe {
    fn new(max_buf_size: usize) -> Pipe {
        Pipe {
            buffer: VecDeque::new(),
            max_buf_size,
            read_waker: None,
            write_waker: None,
            write_closed: false,
            reader_gone: false,
        }
    }

    /// Returns the waker to wake once the lock is released (a waker may run any code,
    /// this pipe's included).
    fn close_write(&mut self) -> Option<Waker> {
        self.write_closed = true;
        self.read_waker.take()
    }

    fn close_read(&mut self) -> Option<Waker> {
        self.reader_gone = true;
        self.buffer.clear();
        self.write_waker.take()
    }
}

/// Nothing in a `Pipe` is left half-changed by a panic (there is no code that can panic
/// between its updates), so a poisoned lock is used as is.
fn lock(pipe: &Mutex<Pipe>) -> MutexGuard<'_, Pipe> {
    pipe.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

fn store(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(stored) if stored.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

impl AsyncRead for DuplexStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let spent = ready!(heist_coop::poll_proceed(cx));
        let mut pipe = lock(&self.read);
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if pipe.buffer.is_empty() {
            if pipe.write_closed {
                return Poll::Ready(Ok(0));
            }
            store(&mut pipe.read_waker, cx.waker());
            return Poll::Pending;
        }
        let n = buf.len().min(pipe.buffer.len());
        for (slot, byte) in buf.iter_mut().zip(pipe.buffer.drain(..n)) {
            *slot = byte;
        }
        let writer = pipe.write_waker.take();
        drop(pipe);
        wake(writer);
        spent.made_progress();
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let spent = ready!(heist_coop::poll_proceed(cx));
        let mut pipe = lock(&self.write);
        if pipe.reader_gone {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other end of the duplex stream was dropped",
            )));
        }
        if pipe.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "this end of the duplex stream was closed for writing",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = pipe.max_buf_size - pipe.buffer.len();
        if room == 0 {
            store(&mut pipe.write_waker, cx.waker());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        pipe.buffer.extend(&buf[..n]);
        let reader = pipe.read_waker.take();
        drop(pipe);
        wake(reader);
        spent.made_progress();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let reader = lock(&self.write).close_write();
        wake(reader);
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        let reader = lock(&self.write).close_write();
        let writer = lock(&self.read).close_read();
        wake(reader);
        wake(writer);
    }
}
