//! A hello-world HTTP server: hyper on heist, through `heist::hyper::serve`.
//!
//! ```text
//! cargo run --release --features hyper --example http                   # 127.0.0.1:8080
//! cargo run --release --features hyper --example http -- 0.0.0.0:8081
//! curl -i http://127.0.0.1:8080/                                          # another terminal
//! curl -i --http2-prior-knowledge http://127.0.0.1:8080/
//! ```
//!
//! `heist::hyper::serve` runs a task per connection, HTTP/1.1 with keep-alive and HTTP/2 on the
//! same port; hyper's header read timeout (30 s, on heist's timer) closes connections that never
//! finish a request head. On Ctrl-C the server stops accepting, asks each open connection to
//! shut down gracefully (a request in flight is answered, then the connection closes; an idle
//! one closes at once), waits until they have all closed and exits with status 0.
//!
//! `examples/http_tokio.rs` is the same server on tokio; `benches/http_wrk.sh` compares them.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use heist::net::{TcpListener, TcpStream};
use hyper::body::Incoming;
use hyper::{Request, Response};

const DEFAULT_ADDR: &str = "127.0.0.1:8080";

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
    runtime.block_on(run(addr, workers))
}

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("Hello, World!".to_string()))
}

async fn run(addr: String, workers: usize) -> ExitCode {
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or(addr, |local| local.to_string());
    println!("heist + hyper listening on http://{local} ({workers} workers); Ctrl-C stops it");

    // Set when Ctrl-C cannot be listened for: the server then stops at once, and fails.
    let no_ctrl_c = Arc::new(AtomicBool::new(false));
    let signal = {
        let no_ctrl_c = no_ctrl_c.clone();
        async move {
            match heist::signal::ctrl_c().await {
                Ok(()) => println!("Ctrl-C: no longer accepting; waiting for the open connections to finish"),
                Err(error) => {
                    eprintln!("cannot listen for Ctrl-C ({error}): shutting down");
                    no_ctrl_c.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    let connections = Connections {
        listener,
        nodelay: std::env::var_os("HTTP_NAGLE").is_none(),
    };
    let served = heist::hyper::serve(connections, tower::service_fn(hello))
        .with_graceful_shutdown(signal)
        .await;
    match served {
        Err(error) => {
            eprintln!("cannot accept connections: {error}");
            ExitCode::FAILURE
        }
        Ok(()) if no_ctrl_c.load(Ordering::Relaxed) => ExitCode::FAILURE,
        Ok(()) => {
            println!("all connections closed");
            ExitCode::SUCCESS
        }
    }
}

/// The listener `serve` takes: heist's `TcpListener`, setting `TCP_NODELAY` on each connection
/// as `serve` does for a bare `TcpListener`, unless `HTTP_NAGLE` is set (any value): that
/// leaves Nagle's algorithm on, for `benches/http_pipelined.sh`, which checks that a response
/// leaves in one write.
struct Connections {
    listener: TcpListener,
    nodelay: bool,
}

impl heist::hyper::Listener for Connections {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
        let (stream, addr) = self.listener.accept().await?;
        if self.nodelay {
            // Fails only on a socket already dead, which its first read or write reports.
            let _ = stream.set_nodelay(true);
        }
        Ok((stream, addr))
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}
