//! The server of `examples/http.rs` on tokio, for comparison: a hello-world HTTP/1.1 server,
//! hyper on tokio's multi-threaded runtime.
//!
//! ```text
//! cargo run --release --features hyper --example http_tokio              # 127.0.0.1:8080
//! TOKIO_WORKER_THREADS=2 cargo run --release --features hyper --example http_tokio -- 127.0.0.1:8081
//! ```
//!
//! What `http.rs` gets from `heist::hyper::serve` is written out here: keep-alive, the 30 s
//! header read timeout (on tokio's timer), `TCP_NODELAY`, the response, and the graceful
//! shutdown on Ctrl-C. It serves HTTP/1.1 only, where `serve` also detects HTTP/2 (a few bytes
//! read once per connection). hyper-util's `TokioIo` and `TokioTimer` are written out here (the
//! same code as hyper-util's, give or take), as they were before hyper-util was a dependency.
//! `TOKIO_WORKER_THREADS` sets the worker count (default: one per core).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::rt::ReadBufCursor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::{TcpListener, TcpStream};

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// How long the accept loop waits after an error before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let addr = match std::env::args().nth(1) {
        Some(arg) if arg == "-h" || arg == "--help" => {
            println!(
                "usage: http_tokio [ADDR]   (default {DEFAULT_ADDR}; TOKIO_WORKER_THREADS sets the workers)"
            );
            return ExitCode::SUCCESS;
        }
        Some(arg) => arg,
        None => DEFAULT_ADDR.to_string(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let workers = runtime.metrics().num_workers();
    runtime.block_on(serve(addr, workers))
}

async fn serve(addr: String, workers: usize) -> ExitCode {
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or(addr, |local| local.to_string());
    println!("tokio + hyper listening on http://{local} ({workers} workers); Ctrl-C stops it");

    let shutdown = Arc::new(Shutdown::default());
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    let code = loop {
        tokio::select! {
            biased;
            signal = ctrl_c.as_mut() => match signal {
                Ok(()) => break ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("cannot listen for Ctrl-C ({error}): shutting down");
                    break ExitCode::FAILURE;
                }
            },
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let open = shutdown.open();
                    drop(tokio::spawn(connection(stream, open)));
                }
                Err(error) => {
                    eprintln!("accept failed: {error}; trying again in {ACCEPT_BACKOFF:?}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    };

    drop(listener);
    let open = shutdown.begin();
    println!("Ctrl-C: no longer accepting; waiting for {open} open connection(s) to finish");
    shutdown.drained().await;
    println!("all connections closed");
    code
}

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("Hello, World!".to_string()))
}

async fn connection(stream: TcpStream, open: Open) {
    // `HTTP_NAGLE` (any value) leaves Nagle's algorithm on: `benches/http_pipelined.sh` uses it
    // to check that a response leaves in one write.
    if std::env::var_os("HTTP_NAGLE").is_none()
        && let Err(error) = stream.set_nodelay(true)
    {
        eprintln!("set_nodelay: {error}");
    }
    let conn = http1::Builder::new()
        .timer(TokioTimer)
        .serve_connection(TokioIo { inner: stream }, service_fn(hello));
    let mut conn = pin!(conn);
    let begun = open.begun();
    let finished = futures_lite::future::or(async { Some(conn.as_mut().await) }, async {
        begun.await;
        None
    })
    .await;
    let result = match finished {
        Some(result) => result,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        if !error.is_incomplete_message() {
            eprintln!("connection: {error}");
        }
    }
}

// -------------------------------------------------------------------------------------------
// hyper-util's TokioIo and TokioTimer, written out.
// -------------------------------------------------------------------------------------------

pin_project_lite::pin_project! {
    /// hyper's I/O traits over tokio's.
    struct TokioIo<T> {
        #[pin]
        inner: T,
    }
}

impl<T: tokio::io::AsyncRead> hyper::rt::Read for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // SAFETY: tokio's ReadBuf never de-initializes memory, and reports what it filled.
        let n = unsafe {
            let mut tokio_buf = tokio::io::ReadBuf::uninit(buf.as_mut());
            match self.project().inner.poll_read(cx, &mut tokio_buf) {
                Poll::Ready(Ok(())) => tokio_buf.filled().len(),
                other => return other,
            }
        };
        // SAFETY: the read initialized `n` bytes.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite> hyper::rt::Write for TokioIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
}

/// hyper's timer on tokio's.
#[derive(Clone, Copy)]
struct TokioTimer;

impl hyper::rt::Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep {
            inner: tokio::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep {
            inner: tokio::time::sleep_until(deadline.into()),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
            Some(sleep) => sleep.project().inner.reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

pin_project_lite::pin_project! {
    struct TokioSleep {
        #[pin]
        inner: tokio::time::Sleep,
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl hyper::rt::Sleep for TokioSleep {}

// -------------------------------------------------------------------------------------------
// Graceful shutdown: connections counted, told when the shutdown begins, waited for.
// -------------------------------------------------------------------------------------------

/// Tells the open connections that the server is shutting down, and counts them, so the
/// server can wait until the last one has closed.
#[derive(Default)]
struct Shutdown {
    begun: AtomicBool,
    open: AtomicUsize,
    next_key: AtomicU64,
    /// The wakers of the connections waiting for the shutdown to begin.
    waiting: Mutex<HashMap<u64, Waker>>,
    /// The waker of the server waiting for the last connection to close.
    drained: Mutex<Option<Waker>>,
}

impl Shutdown {
    /// Counts a connection until the returned guard is dropped.
    fn open(self: &Arc<Self>) -> Open {
        self.open.fetch_add(1, SeqCst);
        Open(self.clone())
    }

    /// Begins the shutdown: wakes every connection waiting on [`Open::begun`]. Returns the
    /// number of connections open.
    fn begin(&self) -> usize {
        self.begun.store(true, SeqCst);
        let waiting = std::mem::take(&mut *lock(&self.waiting));
        waiting.into_values().for_each(Waker::wake);
        self.open.load(SeqCst)
    }

    /// Waits until no connection is open.
    async fn drained(&self) {
        poll_fn(|cx| {
            *lock(&self.drained) = Some(cx.waker().clone());
            if self.open.load(SeqCst) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

/// An open connection, counted by its [`Shutdown`].
struct Open(Arc<Shutdown>);

impl Open {
    /// Completes once the shutdown has begun.
    fn begun(&self) -> Begun<'_> {
        Begun {
            shutdown: &self.0,
            registered: None,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, SeqCst) == 1 {
            if let Some(waker) = lock(&self.0.drained).take() {
                waker.wake();
            }
        }
    }
}

struct Begun<'a> {
    shutdown: &'a Shutdown,
    /// The key and waker this future has registered.
    registered: Option<(u64, Waker)>,
}

impl Future for Begun<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shutdown = self.shutdown;
        if shutdown.begun.load(SeqCst) {
            return Poll::Ready(());
        }
        if let Some((_, waker)) = &self.registered {
            if waker.will_wake(cx.waker()) {
                return Poll::Pending;
            }
        }
        let key = match &self.registered {
            Some((key, _)) => *key,
            None => shutdown.next_key.fetch_add(1, SeqCst),
        };
        lock(&shutdown.waiting).insert(key, cx.waker().clone());
        self.registered = Some((key, cx.waker().clone()));
        // `begin` may have taken the wakers just before the insert.
        if shutdown.begun.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Begun<'_> {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            lock(&self.shutdown.waiting).remove(&key);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
