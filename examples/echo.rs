//! A TCP echo server on heist: every connection gets a task that writes back whatever it reads.
//!
//! ```text
//! cargo run --release --example echo                       # listens on 127.0.0.1:7000
//! cargo run --release --example echo -- 0.0.0.0:7001
//! cargo run --release --example echo_client -- 127.0.0.1:7000   # in another terminal
//! ```
//!
//! It serves until Ctrl-C. An error on one connection is printed and ends only that
//! connection; an `accept` error (the descriptor table full, say) is printed and the server
//! tries again 100 ms later: the connection waits in the kernel's queue meanwhile.

use std::process::ExitCode;

use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use heist::time::{Duration, sleep};

const DEFAULT_ADDR: &str = "127.0.0.1:7000";
/// Bytes read (and written back) at a time on each connection.
const BUFFER: usize = 16 * 1024;
/// How long the accept loop waits after an error before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let addr = match std::env::args().nth(1) {
        Some(arg) if arg == "-h" || arg == "--help" => {
            println!("usage: echo [ADDR]   (default {DEFAULT_ADDR})");
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

    runtime.block_on(async move {
        let listener = match TcpListener::bind(&addr).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("cannot listen on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().map_or(addr, |local| local.to_string());
        println!(
            "heist echo server listening on {local} ({workers} workers); drive it with: \
             cargo run --release --example echo_client -- {local}"
        );

        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    // Dropping the handle detaches the task.
                    drop(heist::spawn(async move {
                        if let Err(error) = serve(stream).await {
                            eprintln!("connection from {peer}: {error}");
                        }
                    }));
                }
                Err(error) => {
                    eprintln!("accept failed: {error}; trying again in {ACCEPT_BACKOFF:?}");
                    sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    })
}

/// Echoes until the peer closes its side (EOF) or an error.
async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
