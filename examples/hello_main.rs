//! `#[heist::main]`: an `async fn main` on a heist runtime.
//!
//! ```text
//! cargo run --example hello_main
//! HEIST_WORKER_THREADS=2 cargo run --example hello_main
//! ```

use heist::time::{Duration, sleep};

#[heist::main]
async fn main() -> std::io::Result<()> {
    let greeting = heist::spawn(async {
        sleep(Duration::from_millis(10)).await;
        "hello"
    });
    let name = heist::spawn_blocking(|| "world");
    let workers = heist::runtime::Handle::current().metrics().num_workers();
    println!("{}, {}! ({workers} workers)", greeting.await?, name.await?);
    Ok(())
}
