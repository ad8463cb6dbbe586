//! The server of `examples/http.rs` on tokio, for comparison: the same hello world through the
//! same hyper-util stack that `heist::hyper::serve` runs on heist (and `axum::serve` on tokio):
//! `server::conn::auto` (HTTP/1.1 with keep-alive and HTTP/2 on one port), a 30 s header read
//! timeout on tokio's timer, `TowerToHyperService`, and `server::graceful` on Ctrl-C.
//!
//! ```text
//! cargo run --release --features hyper --example http_tokio              # 127.0.0.1:8080
//! TOKIO_WORKER_THREADS=2 cargo run --release --features hyper --example http_tokio -- 127.0.0.1:8081
//! ```
//!
//! `TOKIO_WORKER_THREADS` sets the worker count (default: one per core). `HTTP_NAGLE` (any
//! value) leaves Nagle's algorithm on, as in `http.rs` (`benches/http_pipelined.sh`).

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

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

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("Hello, World!".to_string()))
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

    let nodelay = std::env::var_os("HTTP_NAGLE").is_none();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let code = loop {
        let accepted = tokio::select! {
            biased;
            signal = &mut ctrl_c => match signal {
                Ok(()) => break ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("cannot listen for Ctrl-C ({error}): shutting down");
                    break ExitCode::FAILURE;
                }
            },
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("accept failed: {error}; trying again in {ACCEPT_BACKOFF:?}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if nodelay {
            // Fails only on a socket already dead, which its first read or write reports.
            let _ = stream.set_nodelay(true);
        }
        let service = TowerToHyperService::new(tower::service_fn(hello));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            // The connection's error (a client gone mid-request) concerns that client only.
            let _ = connection.await;
        });
    };

    drop(listener);
    println!("no longer accepting; waiting for the open connections to finish");
    graceful.shutdown().await;
    println!("all connections closed");
    code
}
