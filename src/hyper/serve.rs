//! `serve`: a tower service on a listener, over HTTP/1 and HTTP/2, until a shutdown signal.
//!
//! The connection code is hyper-util's: `server::conn::auto` reads the first bytes of each
//! connection to tell HTTP/2's preface from an HTTP/1 request, `TowerToHyperService` turns the
//! tower service into a hyper one, and `server::graceful::GracefulShutdown` tells every open
//! connection to finish once the signal fires. What heist adds is the accept loop, the task per
//! connection, and the executor, timer and I/O adapters of this module.

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::hyper::body::{Body, Incoming};
use ::hyper::{Request, Response};
use futures_lite::future;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower_service::Service;

use super::{HeistExecutor, HeistTimer};
use crate::time::{Duration, Sleep, sleep};

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long the accept loop waits after an accept error that is not about one connection (the
/// descriptor table full, say) before it tries again; the connections wait in the kernel's
/// queue meanwhile.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What [`serve`] accepts connections from: [`TcpListener`](crate::net::TcpListener), and
/// [`UnixListener`](crate::net::UnixListener) on Unix. Implement it to serve from anything
/// else (a listener that sets socket options on each connection, say).
pub trait Listener: Send + 'static {
    /// A connection, in hyper's I/O traits: a heist [`TcpStream`](crate::net::TcpStream) as it
    /// is (it reads straight into hyper's buffer), any other `futures-io` stream in a
    /// [`HeistIo`](super::HeistIo).
    type Io: ::hyper::rt::Read + ::hyper::rt::Write + Unpin + Send + 'static;
    /// The peer's address.
    type Addr: Send;

    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, Self::Addr)>> + Send;

    /// The address this listener is bound to.
    fn local_addr(&self) -> io::Result<Self::Addr>;
}

/// Sets `TCP_NODELAY` on each connection: a response written in more than one piece (a
/// streamed body) would otherwise wait for the client's delayed acknowledgment.
impl Listener for crate::net::TcpListener {
    type Io = crate::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, Self::Addr)> {
        let (stream, addr) = crate::net::TcpListener::accept(self).await?;
        // Fails only on a socket already dead, which its first read or write reports.
        let _ = stream.set_nodelay(true);
        Ok((stream, addr))
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        crate::net::TcpListener::local_addr(self)
    }
}

#[cfg(unix)]
impl Listener for crate::net::UnixListener {
    type Io = super::HeistIo<crate::net::UnixStream>;
    type Addr = std::os::unix::net::SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, Self::Addr)> {
        let (stream, addr) = crate::net::UnixListener::accept(self).await?;
        Ok((super::HeistIo::new(stream), addr))
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        crate::net::UnixListener::local_addr(self)
    }
}

/// Serves `service` on every connection `listener` accepts, HTTP/1.1 and HTTP/2 (with prior
/// knowledge, as `curl --http2-prior-knowledge` or gRPC clients speak it) on the same port,
/// each connection in its own task. heist's answer to `axum::serve`.
///
/// `service` is a [tower `Service`](tower_service::Service) (an axum `Router`, a
/// `tower::service_fn`...), cloned for each connection. Await the returned [`Serve`] to run
/// forever, or call [`with_graceful_shutdown`](Serve::with_graceful_shutdown) first to stop on
/// a signal.
///
/// Connections: HTTP/1 keep-alive, upgrades (WebSockets) allowed, a 30 s limit on reading a
/// request head (hyper's default, on heist's timer), HTTP/2 streams each in their own task.
/// A connection that fails (the client hung up mid-request, sent garbage) is closed; its error
/// is not reported. The accept loop keeps going after an error about one connection, and waits
/// 100 ms after any other (the descriptor table full, say) before it tries again.
///
/// The future completes with an error only when the listener cannot accept at all (it is not
/// listening: `InvalidInput`), after the open connections have been shut down gracefully.
///
/// ```
/// use std::convert::Infallible;
///
/// use heist::net::TcpListener;
/// use hyper::{Request, Response};
///
/// async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
///     Ok(Response::new("hello from heist".to_string()))
/// }
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let (stop, stopped) = heist::sync::oneshot::channel::<()>();
///     let server = heist::spawn(
///         heist::hyper::serve(listener, tower::service_fn(hello))
///             .with_graceful_shutdown(async move { drop(stopped.await) })
///             .into_future(), // `heist::spawn` takes a `Future`; `Serve` is `IntoFuture`
///     );
///     // ... requests ...
///     drop(stop); // the shutdown signal
///     server.await.unwrap()
/// })
/// .unwrap();
/// ```
pub fn serve<L, S, B>(listener: L, service: S) -> Serve<L, S>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    Serve {
        listener,
        service,
        header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
    }
}

/// hyper's default for HTTP/1, which `serve` also applies to a new connection's first bytes.
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A server that runs until its process ends: await it. Made by [`serve`].
#[must_use = "a server does nothing until awaited (or spawned)"]
pub struct Serve<L, S> {
    listener: L,
    service: S,
    header_read_timeout: Duration,
}

impl<L, S> fmt::Debug for Serve<L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve").finish_non_exhaustive()
    }
}

impl<L: Listener, S> Serve<L, S> {
    /// How long a client may take to send a request head (default 30 s): from when its
    /// connection is accepted until its first bytes arrive, and, on HTTP/1, for each request
    /// head after that (hyper's `header_read_timeout`). Past it the connection is closed, so
    /// clients that connect and say nothing do not hold a task and a descriptor forever.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Serve<L, S> {
        self.header_read_timeout = timeout;
        self
    }

    /// The address the listener is bound to (the port chosen for port 0, say).
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }

    /// Stops accepting once `signal` completes, tells every open connection to finish (a
    /// request in flight is answered, then the connection closes; an idle one closes at once;
    /// HTTP/2 connections send GOAWAY), and completes when they have all closed.
    ///
    /// To stop on Ctrl-C: `.with_graceful_shutdown(async { heist::signal::ctrl_c().await.ok(); })`.
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<L, S, F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            listener: self.listener,
            service: self.service,
            header_read_timeout: self.header_read_timeout,
            signal,
        }
    }
}

impl<L, S, B> IntoFuture for Serve<L, S>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(
            self.listener,
            self.service,
            self.header_read_timeout,
            future::pending(),
        ))
    }
}

/// A server that stops on a signal: await it. Made by [`Serve::with_graceful_shutdown`].
#[must_use = "a server does nothing until awaited (or spawned)"]
pub struct WithGracefulShutdown<L, S, F> {
    listener: L,
    service: S,
    header_read_timeout: Duration,
    signal: F,
}

impl<L, S, F> fmt::Debug for WithGracefulShutdown<L, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithGracefulShutdown").finish_non_exhaustive()
    }
}

impl<L: Listener, S, F> WithGracefulShutdown<L, S, F> {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }
}

impl<L, S, B, F> IntoFuture for WithGracefulShutdown<L, S, F>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()> + Send + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(
            self.listener,
            self.service,
            self.header_read_timeout,
            self.signal,
        ))
    }
}

enum Event<T> {
    Signal,
    Accepted(io::Result<T>),
}

async fn run<L, S, B, F>(
    mut listener: L,
    service: S,
    header_read_timeout: Duration,
    signal: F,
) -> io::Result<()>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()> + Send,
{
    let mut builder = auto::Builder::new(HeistExecutor::new());
    builder
        .http1()
        .timer(HeistTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(HeistTimer::new());
    let graceful = GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);

    let outcome = loop {
        // The signal first: a stream of connections must not keep it waiting.
        let event = future::or(
            async {
                signal.as_mut().await;
                Event::Signal
            },
            async { Event::Accepted(listener.accept().await) },
        )
        .await;
        let io = match event {
            Event::Signal => break Ok(()),
            Event::Accepted(Ok((io, _))) => io,
            Event::Accepted(Err(error)) => match error.kind() {
                // About one connection, which is gone: the next one is waiting.
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::Interrupted
                | io::ErrorKind::WouldBlock => continue,
                // Not listening: no accept will ever succeed.
                io::ErrorKind::InvalidInput => break Err(error),
                // Out of descriptors or memory, say: the connections wait in the kernel's
                // queue until some close.
                _ => {
                    let backoff = future::or(
                        async {
                            signal.as_mut().await;
                            true
                        },
                        async {
                            sleep(ACCEPT_BACKOFF).await;
                            false
                        },
                    );
                    if backoff.await {
                        break Ok(());
                    }
                    continue;
                }
            },
        };
        // Watched before the task starts, so a shutdown that begins now waits for it.
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let service = TowerToHyperService::new(service.clone());
        drop(crate::spawn(async move {
            let io = FirstBytesDeadline::new(io, header_read_timeout);
            let connection = builder.serve_connection_with_upgrades(io, service);
            // The connection's error (a client gone mid-request) concerns that client only.
            let _ = watcher.watch(connection).await;
        }));
    };

    drop(listener);
    graceful.shutdown().await;
    outcome
}

/// A connection that fails its reads with `TimedOut` if no byte has arrived `timeout` after
/// its first read began: hyper-util reads a new connection's first bytes (to tell HTTP/2 from
/// HTTP/1) without a timeout, and hyper's `header_read_timeout` starts only after them.
struct FirstBytesDeadline<T> {
    io: T,
    /// `None` once the first bytes have arrived.
    timeout: Option<Duration>,
    deadline: Option<Sleep>,
}

impl<T> FirstBytesDeadline<T> {
    fn new(io: T, timeout: Duration) -> FirstBytesDeadline<T> {
        FirstBytesDeadline {
            io,
            timeout: Some(timeout),
            deadline: None,
        }
    }
}

impl<T: ::hyper::rt::Read + Unpin> ::hyper::rt::Read for FirstBytesDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ::hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The inner read goes through a `ReadBuf` of our own over the same memory, to learn
        // how many bytes it brought.
        // SAFETY: the inner reader only writes initialized bytes into the slice, through
        // `ReadBuf`, and never de-initializes any.
        let mut inner = ::hyper::rt::ReadBuf::uninit(unsafe { buf.as_mut() });
        match Pin::new(&mut this.io).poll_read(cx, inner.unfilled()) {
            Poll::Ready(read) => {
                let brought = inner.filled().len();
                // SAFETY: the first `brought` bytes are filled, so initialized.
                unsafe { buf.advance(brought) };
                // Bytes came, or an error: the deadline is over.
                if this.timeout.is_some() && (read.is_err() || brought > 0) {
                    this.timeout = None;
                    this.deadline = None;
                }
                Poll::Ready(read)
            }
            Poll::Pending => {
                let Some(timeout) = this.timeout else {
                    return Poll::Pending;
                };
                let deadline = this.deadline.get_or_insert_with(|| sleep(timeout));
                ready!(Pin::new(deadline).poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client sent nothing within {timeout:?} (Serve::header_read_timeout)"),
                )))
            }
        }
    }
}

impl<T: ::hyper::rt::Write + Unpin> ::hyper::rt::Write for FirstBytesDeadline<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
