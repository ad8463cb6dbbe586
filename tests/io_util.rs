//! `heist::io::{duplex, split, copy_bidirectional}`: in-memory pipes, halves of any stream,
//! and a proxy's two-way copy, over duplex pipes and real TCP connections.

mod common;

use common::{run_with_timeout, runtime};
use futures_lite::future::{poll_once, zip};
use heist::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, copy_bidirectional, duplex, split};
use heist::net::{TcpListener, TcpStream};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn duplex_carries_bytes_both_ways() {
    run_with_timeout("duplex_carries_bytes_both_ways", || {
        runtime(2).block_on(async {
            let (mut a, mut b) = duplex(4096);
            let there = pattern(100_000, 1);
            let back = pattern(70_000, 2);
            let (sent, received) = zip(
                heist::spawn({
                    let there = there.clone();
                    let back_len = back.len();
                    async move {
                        a.write_all(&there).await.unwrap();
                        let mut got = vec![0; back_len];
                        a.read_exact(&mut got).await.unwrap();
                        got
                    }
                }),
                heist::spawn({
                    let there_len = there.len();
                    let back = back.clone();
                    async move {
                        let mut got = vec![0; there_len];
                        b.read_exact(&mut got).await.unwrap();
                        b.write_all(&back).await.unwrap();
                        got
                    }
                }),
            )
            .await;
            assert!(sent.unwrap() == back, "b to a altered the bytes");
            assert!(received.unwrap() == there, "a to b altered the bytes");
        });
    });
}

#[test]
fn duplex_writes_wait_while_the_buffer_is_full() {
    run_with_timeout("duplex_writes_wait_while_full", || {
        runtime(1).block_on(async {
            let (mut a, mut b) = duplex(10);
            let data = pattern(25, 3);
            let mut write = pin!(a.write_all(&data));
            // 10 bytes fit; the rest waits for the reader.
            assert!(poll_once(write.as_mut()).await.is_none(), "25 bytes fit in 10");
            let mut got = vec![0; 10];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(got, data[..10]);
            // The reader made room: the writer was woken and goes on.
            let (written, rest) = zip(write, async {
                let mut rest = vec![0; 15];
                b.read_exact(&mut rest).await.unwrap();
                rest
            })
            .await;
            written.unwrap();
            assert_eq!(rest, data[10..]);
        });
    });
}

#[test]
fn duplex_close_and_drop_end_the_other_side() {
    run_with_timeout("duplex_close_and_drop", || {
        runtime(1).block_on(async {
            let (mut a, mut b) = duplex(64);
            // A reader parked on an empty pipe wakes at the close, after the data.
            a.write_all(b"last words").await.unwrap();
            {
                let mut read_all = pin!(async {
                    let mut all = Vec::new();
                    b.read_to_end(&mut all).await.unwrap();
                    all
                });
                assert!(poll_once(read_all.as_mut()).await.is_none());
                a.close().await.unwrap();
                assert_eq!(read_all.await, b"last words");
            }
            // Writing after closing is an error, not a silent drop.
            let error = a.write_all(b"more").await.expect_err("closed for writing");
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
            // b may still write to a.
            b.write_all(b"reply").await.unwrap();
            let mut reply = [0; 5];
            a.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, b"reply");

            // Dropping an end: the other's reads end, its writes fail, a parked writer wakes.
            let (mut c, d) = duplex(4);
            {
                let mut stuck = pin!(c.write_all(b"more than four"));
                assert!(poll_once(stuck.as_mut()).await.is_none());
                drop(d);
                let error = stuck.await.expect_err("the reader is gone");
                assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
            }
            let mut buf = [0; 4];
            assert_eq!(c.read(&mut buf).await.unwrap(), 0);
        });
    });
}

#[test]
#[should_panic(expected = "heist::io::duplex(0)")]
fn duplex_of_zero_bytes_is_refused() {
    let _ = duplex(0);
}

#[test]
fn split_halves_work_from_two_tasks_and_unsplit() {
    run_with_timeout("split_halves", || {
        runtime(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (client, accepted) = zip(
                TcpStream::connect(listener.local_addr().unwrap()),
                listener.accept(),
            )
            .await;
            let (mut server, _) = accepted.unwrap();
            let (mut read, mut write) = split(client.unwrap());
            let data = pattern(300_000, 5);
            // The echo server reads and writes; our halves write and read in two tasks.
            let echo = heist::spawn(async move {
                let mut buf = vec![0; 8192];
                loop {
                    let n = server.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return server;
                    }
                    server.write_all(&buf[..n]).await.unwrap();
                }
            });
            let writer = heist::spawn({
                let data = data.clone();
                async move {
                    write.write_all(&data).await.unwrap();
                    write
                }
            });
            let mut echoed = vec![0; data.len()];
            read.read_exact(&mut echoed).await.unwrap();
            assert!(echoed == data, "the echo differs");
            let write = writer.await.unwrap();
            assert!(read.is_pair_of(&write) && write.is_pair_of(&read));

            drop((read, write));
            echo.await.unwrap();

            // Halves of another stream are not a pair, and unsplit says so.
            let (one_read, _one_write) = split(duplex(8).0);
            let (_other_read, other_write) = split(duplex(8).0);
            assert!(!one_read.is_pair_of(&other_write));
            let mismatch = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                drop(one_read.unsplit(other_write));
            }));
            let message = common::panic_message(&*mismatch.expect_err("unsplit of a stranger"));
            assert!(message.contains("is_pair_of"), "{message}");

            // The matching pair unsplits into the stream, usable as before.
            let (mut a, _b) = duplex(8);
            let (read, write) = split(a);
            a = read.unsplit(write);
            a.write_all(b"whole").await.unwrap();
        });
    });
}

/// A client, a proxy doing `copy_bidirectional` between two TCP connections, and an upper-
/// casing server: all bytes pass both ways, the client's half-close reaches the server, and
/// the counts are right.
#[test]
fn copy_bidirectional_proxies_tcp_and_passes_the_close_on() {
    run_with_timeout("copy_bidirectional_tcp", || {
        runtime(2).block_on(async {
            let server_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let server_addr = server_listener.local_addr().unwrap();
            let server = heist::spawn(async move {
                let (mut stream, _) = server_listener.accept().await.unwrap();
                let mut request = Vec::new();
                stream.read_to_end(&mut request).await.unwrap(); // ends with the client's close
                stream.write_all(&request.to_ascii_uppercase()).await.unwrap();
                request.len()
            });
            let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let proxy_addr = proxy_listener.local_addr().unwrap();
            let proxy = heist::spawn(async move {
                let (mut inbound, _) = proxy_listener.accept().await.unwrap();
                let mut outbound = TcpStream::connect(server_addr).await.unwrap();
                copy_bidirectional(&mut inbound, &mut outbound).await
            });

            let request: Vec<u8> = pattern(500_000, 7).iter().map(|b| b'a' + b % 26).collect();
            let mut client = TcpStream::connect(proxy_addr).await.unwrap();
            let (sent, response) = zip(
                async {
                    (&client).write_all(&request).await.unwrap();
                    (&client).close().await.unwrap();
                },
                async {
                    let mut response = Vec::new();
                    (&client).read_to_end(&mut response).await.unwrap();
                    response
                },
            )
            .await;
            let () = sent;
            assert!(response == request.to_ascii_uppercase(), "the response differs");
            assert_eq!(server.await.unwrap(), request.len());
            let (up, down) = proxy.await.unwrap().unwrap();
            assert_eq!((up, down), (request.len() as u64, request.len() as u64));
            let _ = &mut client;
        });
    });
}

/// A stream whose reads fail.
struct FailingReads;

impl AsyncRead for FailingReads {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "injected")))
    }
}

impl AsyncWrite for FailingReads {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn copy_bidirectional_returns_the_first_error() {
    run_with_timeout("copy_bidirectional_error", || {
        runtime(1).block_on(async {
            let (mut a, _b) = duplex(16);
            let error = copy_bidirectional(&mut a, &mut FailingReads)
                .await
                .expect_err("reads from b fail");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
            assert_eq!(error.to_string(), "injected");
        });
    });
}
