//! The application of `examples/axum.rs` on tokio: the same router, served by `axum::serve`,
//! with tokio's file reads and Ctrl-C. For `benches/axum_wrk.sh`.
//!
//! ```text
//! cargo run --release --manifest-path benches/axum_tokio/Cargo.toml -- 127.0.0.1:3001
//! ```

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

#[path = "../../../examples/shared/axum_app.rs"]
mod axum_app;

fn read_file(path: PathBuf) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>> {
    Box::pin(tokio::fs::read(path))
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3001".to_string());
    let static_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/static"));
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    println!("tokio + axum listening on http://{addr} ({workers} workers)");
    let router = axum_app::router(static_dir, read_file);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("serve: {error}");
            ExitCode::FAILURE
        }
    }
}
