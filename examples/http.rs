//! A hello-world HTTP/1.1 server: hyper on heist, through `heist::hyper`'s adapters.
//!
//! ```text
//! cargo run --release --features hyper --example http                   # 127.0.0.1:8080
//! cargo run --release --features hyper --example http -- 0.0.0.0:8081
//! curl -i http://127.0.0.1:8080/                                          # another terminal
//! ```
//!
//! Every connection gets a task serving HTTP/1.1 with keep-alive; hyper's header read timeout
//! (30 s, on heist's timer) closes connections that never finish a request head. On Ctrl-C
//! the server stops accepting, asks each open connection to shut down gracefully (a request in
//! flight is answered, then the connection closes; an idle one closes at once), waits until
//! they have all closed and exits with status 0.
//!
//! `examples/http_tokio.rs` is the same server on tokio; `benches/http_wrk.sh` compares them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_lite::future;
use heist::hyper::HeistTimer;
use heist::net::{TcpListener, TcpStream};
use heist::time::{Duration, sleep};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// How long the accept loop waits after an error (the descriptor table full, say) before it
/// tries again; the connection waits in the kernel's queue meanwhile.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let addr = match std::env::args().nth(1) {
        Some(arg) if arg == "-h" || arg == "--help" => {
            println!("usage: http [ADDR]   (default {DEFAULT_ADDR}; HEIST_WORKER_THREADS sets the workers)");
            return ExitCode::SUCCESS;
        }
        Some(arg) => arg,
        None => DEFAULT_ADDR.to_string(),
    };
    let runtime = match heist::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the heist runtime: {error}");
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
    println!("heist + hyper listening on http://{local} ({workers} workers); Ctrl-C stops it");

    let shutdown = Arc::new(Shutdown::default());
    let mut ctrl_c = pin!(heist::signal::ctrl_c());
    let code = loop {
        // Ctrl-C first: a stream of connections must not keep it waiting.
        let event = future::or(async { Event::CtrlC(ctrl_c.as_mut().await) }, async {
            Event::Accepted(listener.accept().await)
        })
        .await;
        match event {
            Event::Accepted(Ok((stream, _))) => {
                // Counted before the task starts, so a shutdown that begins now waits for it.
                let open = shutdown.open();
                drop(heist::spawn(connection(stream, open)));
            }
            Event::Accepted(Err(error)) => {
                eprintln!("accept failed: {error}; trying again in {ACCEPT_BACKOFF:?}");
                sleep(ACCEPT_BACKOFF).await;
            }
            Event::CtrlC(Ok(())) => break ExitCode::SUCCESS,
            Event::CtrlC(Err(error)) => {
                eprintln!("cannot listen for Ctrl-C ({error}): shutting down");
                break ExitCode::FAILURE;
            }
        }
    };

    drop(listener);
    let open = shutdown.begin();
    println!("Ctrl-C: no longer accepting; waiting for {open} open connection(s) to finish");
    shutdown.drained().await;
    println!("all connections closed");
    code
}

enum Event {
    Accepted(std::io::Result<(TcpStream, std::net::SocketAddr)>),
    CtrlC(std::io::Result<()>),
}

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("Hello, World!".to_string()))
}

/// Serves one connection until the client closes it, or until the shutdown begins and the
/// request in flight (if any) has been answered.
async fn connection(stream: TcpStream, open: Open) {
    // `HTTP_NAGLE` (any value) leaves Nagle's algorithm on: `benches/http_pipelined.sh` uses it
    // to check that a response leaves in one write.
    if std::env::var_os("HTTP_NAGLE").is_none()
        && let Err(error) = stream.set_nodelay(true)
    {
        eprintln!("set_nodelay: {error}");
    }
    let conn = http1::Builder::new()
        .timer(HeistTimer::new())
        .serve_connection(stream, service_fn(hello));
    let mut conn = pin!(conn);
    let begun = open.begun();
    let finished = future::or(async { Some(conn.as_mut().await) }, async {
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
        // A client that hangs up between requests is no error; one that hangs up in the
        // middle of a request (as a load generator does when it stops) is not worth a line.
        if !error.is_incomplete_message() {
            eprintln!("connection: {error}");
        }
    }
}

// -------------------------------------------------------------------------------------------
// Graceful shutdown: the same code as in `http_tokio.rs`, so that the comparison measures the
// runtimes. Each connection polls `Begun` whenever its task wakes: after the first poll that
// costs an atomic load and a waker comparison, no lock.
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
