//! The WebSocket echo of `examples/websocket.rs`, shared with its test (`tests/websocket.rs`).

use async_tungstenite::tungstenite::{Error, Message};
use futures_lite::StreamExt;
use heist::net::TcpStream;

/// Completes the server's handshake on `stream`, then sends every text and binary message back
/// until the client closes. Returns how many messages were echoed.
pub async fn echo(stream: TcpStream) -> Result<usize, Error> {
    let mut socket = async_tungstenite::accept_async(stream).await?;
    let mut echoed = 0;
    while let Some(message) = socket.next().await {
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => {
                socket.send(message).await?;
                echoed += 1;
            }
            // tungstenite answers pings and the client's close itself; the stream ends once
            // the close reply is sent (stopping at the close frame would drop the reply).
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {}
        }
    }
    Ok(echoed)
}
