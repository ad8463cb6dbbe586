//! An axum application on heist: axum without its tokio feature, served by
//! `heist::hyper::serve` (HTTP/1.1 and HTTP/2 on one port), stopped gracefully by Ctrl-C.
//!
//! ```text
//! cargo run --release --features hyper --example axum                    # 127.0.0.1:3000
//! cargo run --release --features hyper --example axum -- 0.0.0.0:3001 path/to/static
//! curl http://127.0.0.1:3000/hello/heist                                 # another terminal
//! curl http://127.0.0.1:3000/api/stats
//! curl -H 'content-type: application/json' -d '{"text":"héllo"}' http://127.0.0.1:3000/api/echo
//! curl --http2-prior-knowledge http://127.0.0.1:3000/static/index.html
//! ```
//!
//! The routes are in `examples/shared/axum_app.rs` (a JSON endpoint, a path parameter, shared
//! state, static files from `examples/static/`); `benches/axum_wrk.sh` runs the same application
//! on tokio (`axum::serve`) beside this one.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use heist::net::TcpListener;

#[path = "shared/axum_app.rs"]
mod axum_app;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// Reads a static file with `heist::fs` (one hop to the blocking pool).
fn read_file(path: PathBuf) -> std::pin::Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>> {
    Box::pin(heist::fs::read(path))
}

#[heist::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_string());
    if addr == "-h" || addr == "--help" {
        println!("usage: axum [ADDR [STATIC_DIR]]   (default {DEFAULT_ADDR} examples/static)");
        return ExitCode::SUCCESS;
    }
    let static_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/static"));

    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or(addr, |local| local.to_string());
    println!(
        "heist + axum listening on http://{local}, static files from {}; Ctrl-C stops it",
        static_dir.display()
    );

    let router = axum_app::router(static_dir, read_file);
    let shutdown = async {
        match heist::signal::ctrl_c().await {
            Ok(()) => println!("Ctrl-C: finishing the requests in flight"),
            Err(error) => eprintln!("cannot listen for Ctrl-C ({error}): shutting down"),
        }
    };
    match heist::hyper::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cannot accept connections: {error}");
            ExitCode::FAILURE
        }
    }
}
