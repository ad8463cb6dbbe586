//! The WebSocket echo of `examples/websocket.rs` driven by async-tungstenite's client, both on
//! heist's sockets.

mod common;

#[path = "../examples/shared/ws_echo.rs"]
mod ws_echo;

use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use common::{run_with_timeout, runtime};
use futures_lite::StreamExt;
use heist::net::{TcpListener, TcpStream};

#[test]
fn echo_with_a_websocket_client() {
    run_with_timeout("echo_with_a_websocket_client", || {
        runtime(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                ws_echo::echo(stream).await
            });

            let stream = TcpStream::connect(addr).await.expect("connect");
            let (mut socket, response) = async_tungstenite::client_async(format!("ws://{addr}/echo"), stream)
                .await
                .expect("the client's handshake");
            assert_eq!(response.status(), 101, "Switching Protocols");

            for text in ["hello", "héllo wörld", ""] {
                socket.send(Message::text(text)).await.expect("send");
                assert_eq!(
                    socket.next().await.expect("an answer").expect("a message"),
                    Message::text(text)
                );
            }
            // Larger than one frame read and than the socket buffers.
            let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 256) as u8).collect();
            socket.send(Message::binary(big.clone())).await.expect("send");
            assert_eq!(
                socket.next().await.expect("an answer").expect("a message"),
                Message::binary(big)
            );
            // A ping is answered by the server's tungstenite with a pong.
            socket
                .send(Message::Ping(b"are you there".to_vec().into()))
                .await
                .expect("ping");
            assert_eq!(
                socket.next().await.expect("an answer").expect("a message"),
                Message::Pong(b"are you there".to_vec().into())
            );

            socket
                .close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "done".into(),
                }))
                .await
                .expect("close");
            // The server's close reply ends the client's stream.
            while let Some(message) = socket.next().await {
                match message {
                    Ok(Message::Close(_)) => {}
                    Ok(other) => panic!("unexpected message after close: {other:?}"),
                    Err(error) => panic!("the closing handshake failed: {error}"),
                }
            }
            assert_eq!(server.await.unwrap().expect("the server's side"), 4);
        })
    });
}

#[test]
fn a_plain_http_request_fails_the_handshake() {
    run_with_timeout("a_plain_http_request_fails_the_handshake", || {
        runtime(2).block_on(async {
            use heist::io::{AsyncReadExt, AsyncWriteExt};
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                ws_echo::echo(stream).await
            });
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: heist.test\r\n\r\n")
                .await
                .unwrap();
            let error = server.await.unwrap().expect_err("not a WebSocket handshake");
            assert!(
                error.to_string().to_lowercase().contains("upgrade"),
                "the error says what is missing: {error}"
            );
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await.unwrap();
            assert_eq!(answer, b"", "the connection is closed");
        })
    });
}
