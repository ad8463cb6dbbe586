//! heist's streams through tokio's `AsyncRead`/`AsyncWrite` (feature `tokio-io`), and a crate
//! written for those traits (tokio-tungstenite) running over heist's sockets, both directly and
//! through tokio-util's `compat` wrapper of the `futures-io` impls.

mod common;

use std::net::SocketAddr;

use common::{run_with_timeout, runtime};
use futures_lite::StreamExt;
use futures_util::SinkExt;
use heist::net::{TcpListener, TcpStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (client, accepted) = futures_lite::future::zip(TcpStream::connect(addr), listener.accept()).await;
    (client.expect("connect"), accepted.expect("accept").0)
}

/// Sends 1 MiB one way through tokio's traits and reads it back with `read_buf` into a vector's
/// spare capacity, which tokio hands over uninitialized.
async fn one_mebibyte_through_tokio_traits<A, B>(mut writer: A, mut reader: B)
where
    A: AsyncWrite + Unpin,
    B: AsyncRead + Unpin,
{
    let message: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let (written, received) = futures_lite::future::zip(
        async {
            writer.write_all(&message).await.expect("write_all");
            writer.shutdown().await.expect("shutdown");
        },
        async {
            let mut received = Vec::with_capacity(64 * 1024);
            // Until all has arrived: `Async<T>`'s shutdown only flushes (a generic `T` has no
            // write side to close), so no end of stream comes after it.
            while received.len() < message.len() {
                if received.len() == received.capacity() {
                    received.reserve(64 * 1024);
                }
                if reader.read_buf(&mut received).await.expect("read_buf") == 0 {
                    break;
                }
            }
            received
        },
    )
    .await;
    let () = written;
    assert_eq!(received.len(), message.len());
    assert!(received == message, "the bytes differ from those sent");
}

#[test]
fn tcp_stream_reads_and_writes_through_tokio_traits() {
    run_with_timeout("tcp_stream_reads_and_writes_through_tokio_traits", || {
        runtime(2).block_on(async {
            let (client, server) = pair().await;
            assert!(tokio::io::AsyncWrite::is_write_vectored(&client));
            one_mebibyte_through_tokio_traits(client, server).await;
        })
    });
}

#[cfg(unix)]
#[test]
fn unix_stream_and_async_read_and_write_through_tokio_traits() {
    run_with_timeout(
        "unix_stream_and_async_read_and_write_through_tokio_traits",
        || {
            runtime(2).block_on(async {
                let (a, b) = heist::net::UnixStream::pair().expect("a Unix socket pair");
                one_mebibyte_through_tokio_traits(a, b).await;

                let (a, b) = std::os::unix::net::UnixStream::pair().expect("a std socket pair");
                let (a, b) = (
                    heist::io::Async::new(a).unwrap(),
                    heist::io::Async::new(b).unwrap(),
                );
                one_mebibyte_through_tokio_traits(a, b).await;
            })
        },
    );
}

/// A read through tokio's trait leaves the unfilled part of the `ReadBuf` as it found it: the
/// kernel writes the bytes it reports and nothing is zeroed first (on Windows too), so
/// `initialized` grows exactly with `filled`.
#[test]
fn tcp_stream_reads_into_uninitialized_memory_without_zeroing_it() {
    run_with_timeout(
        "tcp_stream_reads_into_uninitialized_memory_without_zeroing_it",
        || {
            runtime(2).block_on(async {
                let (mut client, mut server) = pair().await;
                client.write_all(b"hello").await.expect("write_all");
                let mut storage = [std::mem::MaybeUninit::<u8>::uninit(); 64];
                let mut buf = tokio::io::ReadBuf::uninit(&mut storage);
                while buf.filled().len() < 5 {
                    let before = buf.filled().len();
                    std::future::poll_fn(|cx| std::pin::Pin::new(&mut server).poll_read(cx, &mut buf))
                        .await
                        .expect("poll_read");
                    assert!(buf.filled().len() > before, "the stream ended early");
                    assert_eq!(
                        buf.initialized().len(),
                        buf.filled().len(),
                        "the read initialized more of the buffer than it filled (zeroed it first?)"
                    );
                }
                assert_eq!(buf.filled(), b"hello");
            })
        },
    );
}

/// A WebSocket echo with tokio-tungstenite, on `server` and `client` of any stream type.
async fn tokio_tungstenite_echo<S>(server: S, client: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let server = heist::spawn(async move {
        let mut socket = tokio_tungstenite::accept_async(server)
            .await
            .expect("the server's handshake");
        while let Some(message) = socket.next().await {
            let message = message.expect("a message");
            if message.is_close() {
                break;
            }
            socket.send(message).await.expect("echo");
        }
    });
    let (mut socket, response) = tokio_tungstenite::client_async("ws://heist.test/echo", client)
        .await
        .expect("the client's handshake");
    assert_eq!(response.status(), 101);
    for text in ["hello", "over", "heist's sockets"] {
        socket.send(Message::text(text)).await.expect("send");
        let echoed = socket.next().await.expect("an answer").expect("a message");
        assert_eq!(echoed, Message::text(text));
    }
    let big = vec![7u8; 300_000];
    socket.send(Message::binary(big.clone())).await.expect("send");
    assert_eq!(
        socket.next().await.expect("an answer").expect("a message"),
        Message::binary(big)
    );
    socket.close(None).await.expect("close");
    server.await.expect("the server task");
}

#[test]
fn tokio_tungstenite_over_heist_sockets() {
    run_with_timeout("tokio_tungstenite_over_heist_sockets", || {
        runtime(2).block_on(async {
            let (client, server) = pair().await;
            tokio_tungstenite_echo(server, client).await;
        })
    });
}

#[test]
fn tokio_tungstenite_over_heist_sockets_through_compat() {
    use tokio_util::compat::FuturesAsyncReadCompatExt;
    run_with_timeout("tokio_tungstenite_over_heist_sockets_through_compat", || {
        runtime(2).block_on(async {
            let (client, server) = pair().await;
            tokio_tungstenite_echo(server.compat(), client.compat()).await;
        })
    });
}
