//! No descriptor leaks: 10 000 TCP connections opened, used and closed, many of them dropped
//! while a task was parked on them (the task aborted, or the stream's halves split across
//! tasks), plus Unix pairs and UDP sockets dropped the same way. The process's open
//! descriptors are counted before and after.
//!
//! The only test of its binary: tests of the same binary run at once, in threads, and their
//! descriptors would be counted too.
//!
//! Unix only: counts open descriptors in `/proc/self/fd`.
#![cfg(unix)]

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::io;

use common::run_with_timeout;
use futures_lite::future::zip;
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use heist::task::JoinHandle;
use net_common::{fd_diff, on_pending, open_fds};
use tokio::sync::oneshot;

const CONNECTIONS: usize = 10_000;
const LANES: usize = 8;

/// Spawns `future`, waits until it has parked (its first `Pending`), aborts it and checks it
/// ended cancelled: its future, and the socket in it, are dropped by then.
async fn abort_once_parked<F>(future: F)
where
    F: Future + Send + 'static,
    F::Output: Send + std::fmt::Debug + 'static,
{
    let (parked_tx, parked_rx) = oneshot::channel();
    let task: JoinHandle<F::Output> = heist::spawn(on_pending(future, move || {
        let _ = parked_tx.send(());
    }));
    parked_rx.await.expect("the task ended before parking");
    task.abort();
    let error = task.await.expect_err("an aborted task completed");
    assert!(error.is_cancelled(), "{error:?}");
}

async fn expect_eof(stream: &mut TcpStream, what: &str) {
    match stream.read(&mut [0; 16]).await {
        Ok(0) => {}
        other => panic!("{what}: expected end of stream, got {other:?}"),
    }
}

/// One lane: `count` connections one after the other on its own listener, each closed in one
/// of several ways.
async fn lane(lane: usize, count: usize) -> io::Result<usize> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    for i in 0..count {
        let id = (lane * count + i) as u32;
        let (client, accepted) = zip(TcpStream::connect(addr), listener.accept()).await;
        let mut client = client?;
        let (mut server, _) = accepted?;

        // A small exchange.
        client.write_all(&id.to_le_bytes()).await?;
        let mut got = [0; 4];
        server.read_exact(&mut got).await?;
        assert_eq!(u32::from_le_bytes(got), id);
        server.write_all(&(!id).to_le_bytes()).await?;
        client.read_exact(&mut got).await?;
        assert_eq!(u32::from_le_bytes(got), !id);

        match i % 5 {
            // Both sides dropped at once.
            0 => drop((client, server)),
            // The server side dropped by aborting a task parked in `read`: the client sees
            // the end of the stream.
            1 => {
                abort_once_parked(async move {
                    let mut server = server;
                    server.read(&mut [0; 16]).await
                })
                .await;
                expect_eof(&mut client, "client after the server's task was aborted").await;
            }
            // The same on the client side, aborted in `read_exact`.
            2 => {
                abort_once_parked(async move {
                    let mut client = client;
                    client.read_exact(&mut [0; 16]).await
                })
                .await;
                expect_eof(&mut server, "server after the client's task was aborted").await;
            }
            // Split: a task parked on the owned read half, the write half dropped (FIN); the
            // server then closes and the parked reader ends on its own.
            3 => {
                let (mut read, write) = client.into_split();
                let (parked_tx, parked_rx) = oneshot::channel();
                let reader = heist::spawn(on_pending(
                    async move { read.read(&mut [0; 16]).await },
                    move || {
                        let _ = parked_tx.send(());
                    },
                ));
                parked_rx.await.expect("the reader never parked");
                drop(write);
                expect_eof(&mut server, "server after the write half was dropped").await;
                drop(server);
                assert_eq!(reader.await.expect("the reader failed")?, 0);
            }
            // The server closes while the client is parked in `read` and woken by the FIN.
            _ => {
                let (parked_tx, parked_rx) = oneshot::channel();
                let reader = heist::spawn(on_pending(
                    async move {
                        let mut client = client;
                        client.read(&mut [0; 16]).await
                    },
                    move || {
                        let _ = parked_tx.send(());
                    },
                ));
                parked_rx.await.expect("the reader never parked");
                drop(server);
                assert_eq!(reader.await.expect("the reader failed")?, 0);
            }
        }

        // Now and then, other kinds of sockets dropped while a task is parked on them.
        if i % 50 == 0 {
            let (a, b) = UnixStream::pair()?;
            abort_once_parked(async move {
                let mut a = a;
                a.read(&mut [0; 16]).await
            })
            .await;
            drop(b);
            let socket = UdpSocket::bind("127.0.0.1:0").await?;
            abort_once_parked(async move { socket.recv_from(&mut [0; 16]).await }).await;
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            abort_once_parked(async move { listener.accept().await.map(drop) }).await;
        }
    }
    Ok(count)
}

#[test]
fn ten_thousand_connections_leak_no_descriptor() {
    run_with_timeout("fd_leak", || {
        let before_runtime = open_fds();
        let rt = common::runtime(2);
        let with_runtime = open_fds();
        rt.block_on(async {
            let lanes: Vec<_> = (0..LANES)
                .map(|l| heist::spawn(lane(l, CONNECTIONS / LANES)))
                .collect();
            let mut done = 0;
            for (l, handle) in lanes.into_iter().enumerate() {
                done += handle
                    .await
                    .unwrap_or_else(|error| panic!("lane {l} failed: {error:?}"))
                    .unwrap_or_else(|error| panic!("lane {l}: {error}"));
            }
            assert_eq!(done, CONNECTIONS);
        });
        let after_connections = open_fds();
        assert!(
            after_connections == with_runtime,
            "descriptors leaked by the connections: {}",
            fd_diff(&with_runtime, &after_connections)
        );

        // Tasks still parked on sockets when the runtime goes: their sockets close with it.
        let (parked_tx, parked_rx) = std::sync::mpsc::channel();
        for _ in 0..100 {
            let parked_tx = parked_tx.clone();
            rt.spawn(on_pending(
                async {
                    let (mut a, _b) = UnixStream::pair().unwrap();
                    let _ = a.read(&mut [0; 16]).await;
                    std::future::pending::<()>().await;
                },
                move || parked_tx.send(()).unwrap(),
            ));
        }
        for _ in 0..100 {
            parked_rx.recv_timeout(common::WAIT).expect("a task never parked");
        }
        assert_eq!(
            open_fds().len(),
            with_runtime.len() + 200,
            "the 100 pairs are not all open"
        );
        drop(rt);
        let after_runtime = open_fds();
        assert!(
            after_runtime == before_runtime,
            "descriptors left behind by the runtime: {}",
            fd_diff(&before_runtime, &after_runtime)
        );
    });
}
