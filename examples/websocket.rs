//! A WebSocket echo server: async-tungstenite (futures-io) on heist's `TcpStream`, each
//! connection in its own task, every text and binary message sent back.
//!
//! ```text
//! cargo run --example websocket                                 # ws://127.0.0.1:9001
//! cargo run --example websocket -- 0.0.0.0:9002
//! ```
//!
//! Any WebSocket client can talk to it, e.g. `websocat ws://127.0.0.1:9001`; `tests/websocket.rs`
//! drives it with async-tungstenite's client on heist.

use heist::net::TcpListener;

#[path = "shared/ws_echo.rs"]
mod ws_echo;

#[heist::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("WebSocket echo on ws://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        drop(heist::spawn(async move {
            match ws_echo::echo(stream).await {
                Ok(echoed) => println!("{peer}: closed after {echoed} message(s)"),
                Err(error) => eprintln!("{peer}: {error}"),
            }
        }));
    }
}
