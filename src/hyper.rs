//!
//! The executor, timer and I/O adapters that hyper's `rt` traits ask for, named as hyper-util
//! names tokio's (`TokioExecutor`, `TokioTimer`, `TokioIo`).
//!
//! - [`HeistExecutor`](crate::hyper::HeistExecutor) implements
//!   [`hyper::rt::Executor`](::hyper::rt::Executor): it spawns the background tasks hyper asks
//!   for (HTTP/2 streams, the client's connection tasks) with [`heist::spawn`](crate::spawn).
//! - [`HeistTimer`](crate::hyper::HeistTimer) implements [`hyper::rt::Timer`](::hyper::rt::Timer)
//!   on heist's timer wheels ([`heist::time::sleep`](crate::time::sleep)); hyper's timeouts and
//!   keep-alive pings (`header_read_timeout`, `keep_alive_interval`...) need one.
//! - [`heist::net::TcpStream`](crate::net::TcpStream) implements hyper's
//!   [`Read`](::hyper::rt::Read) + [`Write`](::hyper::rt::Write) itself: pass it to hyper as it
//!   is. Its reads go straight into hyper's uninitialized buffer.
//! - [`HeistIo`](crate::hyper::HeistIo) turns any other `futures-io` stream (`UnixStream` on
//!   Unix, TLS streams, any `AsyncRead + AsyncWrite`) into hyper's `Read` + `Write`, and the
//!   reverse: a hyper stream (an [`Upgraded`](::hyper::upgrade::Upgraded) connection, say)
//!   into a `futures-io` one.
//!
//! With them, `hyper::server::conn::{http1, http2}` and `hyper::client::conn::{http1, http2}`
//! run on heist unchanged. Enabled by the `hyper` feature.
//!
//! [`serve`](crate::hyper::serve) puts them together for servers, as `axum::serve` does on
//! tokio: a tower service (an axum `Router`) on a listener, HTTP/1 and HTTP/2 on one port,
//! with graceful shutdown, through hyper-util's connection code:
//!
//! ```no_run
//! # async fn f(router: axum::Router) -> std::io::Result<()> {
//! let listener = heist::net::TcpListener::bind("127.0.0.1:3000").await?;
//! heist::hyper::serve(listener, router)
//!     .with_graceful_shutdown(async { heist::signal::ctrl_c().await.ok(); })
//!     .await
//! # }
//! ```
//!
//! The adapters by hand:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use heist::hyper::{HeistExecutor, HeistTimer};
//! use heist::net::{TcpListener, TcpStream};
//! use hyper::body::Incoming;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello from heist".to_string()))
//! }
//!
//! heist::Runtime::new().unwrap().block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!
//!     // The server: one task per connection.
//!     drop(heist::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(HeistTimer::new())
//!             .serve_connection(stream, service_fn(hello))
//!             .await
//!             .unwrap();
//!     }));
//!
//!     // A client on the same runtime.
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, connection) = hyper::client::conn::http1::handshake(stream).await.unwrap();
//!     drop(heist::spawn(connection));
//!     let request = Request::get("/").body(String::new()).unwrap();
//!     let response = sender.send_request(request).await.unwrap();
//!     assert_eq!(response.status(), 200);
//!
//!     // HTTP/2 spawns a task per stream: its builders take the executor.
//!     let _ = hyper::server::conn::http2::Builder::new(HeistExecutor::new());
//!     std::io::Result::Ok(())
//! })
//! .unwrap();
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use ::hyper::rt::{self, ReadBuf, ReadBufCursor};
use futures_lite::io::{AsyncRead, AsyncWrite};

mod serve;
pub use serve::{Listener, Serve, WithGracefulShutdown, serve};

/// hyper's [`Executor`](::hyper::rt::Executor) on heist: [`execute`](::hyper::rt::Executor::execute)
/// spawns the future on the current runtime with [`heist::spawn`](crate::spawn) and detaches
/// it.
///
/// HTTP/2 (server and client) and the HTTP/1 client's connection tasks need one:
/// `hyper::server::conn::http2::Builder::new(HeistExecutor::new())`.
///
/// Like `heist::spawn`, it panics when called outside a heist runtime; hyper calls it from the
/// connection's own future, which runs on the runtime.
///
/// Task dumps ([`Handle::dump`](crate::runtime::Handle::dump)) list the tasks it spawns at the
/// place where the executor was made (`HeistExecutor::new()` or `default()`), in your code,
/// rather than somewhere inside hyper.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct HeistExecutor {
    made_at: &'static std::panic::Location<'static>,
}

impl HeistExecutor {
    /// An executor that spawns on the runtime it is called from.
    #[track_caller]
    pub fn new() -> HeistExecutor {
        HeistExecutor {
            made_at: std::panic::Location::caller(),
        }
    }
}

impl Default for HeistExecutor {
    #[track_caller]
    fn default() -> Self {
        HeistExecutor::new()
    }
}

impl<F> rt::Executor<F> for HeistExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // Dropping the handle detaches the task.
        drop(heist_executor::spawn_at(future, self.made_at));
    }
}

/// hyper's [`Timer`](::hyper::rt::Timer) on heist's timer wheels: its sleeps are
/// [`HeistSleep`]s, and [`reset`](::hyper::rt::Timer::reset) moves one in place instead of
/// allocating a new one.
///
/// Give it to the builders whose timeouts you use (`http1::Builder::timer`,
/// `http2::Builder::timer`): hyper has no timer of its own. Its sleeps must be polled on a
/// heist runtime.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct HeistTimer {}

impl HeistTimer {
    /// A timer on the runtime its sleeps are polled on.
    pub fn new() -> HeistTimer {
        HeistTimer {}
    }
}

impl rt::Timer for HeistTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(HeistSleep {
            inner: crate::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(HeistSleep {
            inner: crate::time::sleep_until(crate::time::Instant::from_std(deadline)),
        })
    }

    /// The runtime's clock, which a test may pause (`heist::time::pause`): hyper's own
    /// deadlines (header read timeouts, keep-alive) then follow it like every heist timer.
    fn now(&self) -> Instant {
        crate::time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeistSleep>() {
            Some(heist_sleep) => heist_sleep.reset(new_deadline),
            // Another timer's sleep: replace it.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The sleep [`HeistTimer`] hands to hyper: a [`heist::time::Sleep`](crate::time::Sleep)
/// (which is `Unpin`, `Send` and `Sync`, as hyper's [`Sleep`](::hyper::rt::Sleep) requires).
#[derive(Debug)]
#[must_use = "a sleep does nothing unless polled"]
pub struct HeistSleep {
    inner: crate::time::Sleep,
}

impl HeistSleep {
    /// When the sleep completes.
    pub fn deadline(&self) -> Instant {
        self.inner.deadline().into_std()
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.inner.is_elapsed()
    }

    /// Moves the deadline; see [`heist::time::Sleep::reset`](crate::time::Sleep::reset).
    pub fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        Pin::new(&mut self.inner).reset(crate::time::Instant::from_std(deadline));
    }
}

impl Future for HeistSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl rt::Sleep for HeistSleep {}

pin_project_lite::pin_project! {
    /// A stream seen through the other family of I/O traits: hyper's
    /// [`Read`](::hyper::rt::Read) and [`Write`](::hyper::rt::Write) over a `futures-io`
    /// [`AsyncRead`](crate::io::AsyncRead) + [`AsyncWrite`](crate::io::AsyncWrite) (heist's
    /// sockets), and `futures-io`'s traits over a hyper stream (an
    /// [`Upgraded`](::hyper::upgrade::Upgraded) connection).
    ///
    /// ```no_run
    /// # async fn f(stream: heist::net::TcpStream) {
    /// use heist::hyper::HeistIo;
    /// let io = HeistIo::new(stream); // ready for serve_connection or handshake (a bare
    ///                                // `stream` is too, and reads without zeroing)
    /// # drop(io);
    /// # }
    /// ```
    ///
    /// A heist [`TcpStream`](crate::net::TcpStream) needs no wrapper: it implements hyper's
    /// traits itself and reads without zeroing.
    ///
    /// Reads: `futures-io` reads into initialized memory, and hyper hands out an uninitialized
    /// buffer, so each read zeroes the part of it that it offers first. To keep that cheap, a
    /// read offers about twice what the previous one brought (at least 1 KiB), doubling while
    /// reads fill what they are offered: small requests zero 1 KiB rather than hyper's whole
    /// 8 KiB or more, and a large body still reads in large chunks after a few rounds.
    ///
    /// Writes: it tells hyper that its writes are vectored, so HTTP/1 sends a response's
    /// head and body with one `writev` ([`TcpStream`](crate::net::TcpStream) implements
    /// `poll_write_vectored` with one system call). For a stream that writes one buffer at a
    /// time (`futures-io`'s default `poll_write_vectored`, as `UnixStream`'s is for now), have
    /// hyper copy the body behind the head instead: `http1::Builder::writev(false)`.
    #[derive(Debug)]
    pub struct HeistIo<T> {
        #[pin]
        inner: T,
        // How many bytes the next hyper read offers (and zeroes) at most.
        read_size: usize,
    }
}

impl<T> HeistIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> HeistIo<T> {
        HeistIo {
            inner,
            read_size: MIN_READ_SIZE,
        }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The wrapped stream, pinned.
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Pin<&mut T> {
        self.project().inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// The least a read offers: a typical request head fits.
const MIN_READ_SIZE: usize = 1024;
/// The most a read offers (hyper's buffers stop at about 400 KiB).
const MAX_READ_SIZE: usize = 512 * 1024;

impl<T: AsyncRead> rt::Read for HeistIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let offered = buf.remaining().min(*this.read_size);
        let n = ready!(this.inner.poll_read(cx, buf.initialize_unfilled_to(offered)))?;
        assert!(
            n <= offered,
            "AsyncRead::poll_read reported {n} bytes read into a buffer of {offered}"
        );
        *this.read_size = if n == offered {
            // Filled (what was offered, or what hyper had room for): offer more next time.
            (*this.read_size).max(2 * offered).min(MAX_READ_SIZE)
        } else {
            (2 * n).clamp(MIN_READ_SIZE, MAX_READ_SIZE)
        };
        // SAFETY: `initialize_unfilled_to` initialized all `offered >= n` bytes.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> rt::Write for HeistIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
}

impl<T: rt::Read> AsyncRead for HeistIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(self.project().inner.poll_read(cx, read.unfilled()))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl<T: rt::Write> AsyncWrite for HeistIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
