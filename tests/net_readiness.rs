//! The readiness API of the socket types (tokio's shapes): `ready(Interest)`, `readable`,
//! `writable`, and the `try_*` calls that never wait.
//!
//! What these tests pin down: a `try_*` that returns `WouldBlock` clears the readiness it was
//! tried on, so the next `ready` waits for the poller instead of returning at once; an event
//! then makes it ready again. A readiness wait is checked to be parked by polling it once
//! (`poll_once`), never by sleeping.
//!
//! One subtlety, by design: a clear is skipped when an event arrived between the `try_*`'s
//! look at the readiness and its clear (the source's tick moved), since erasing that event
//! could lose it for good with an edge-triggered poller. A socket gets one such event when
//! it is registered (it is writable), so `cleared_by_would_block` allows a second try.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

mod common;

use common::{run_with_timeout, runtime};
use futures_lite::future::{poll_once, zip};
use heist::io::{AsyncReadExt, AsyncWriteExt, Interest, Ready};
use heist::net::{TcpListener, TcpStream, UdpSocket};
use std::future::Future;
use std::io::{self, IoSlice, IoSliceMut};
use std::pin::pin;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = zip(TcpStream::connect(addr), listener.accept()).await;
    (client.unwrap(), accepted.unwrap().0)
}

fn is_would_block<T: std::fmt::Debug>(result: io::Result<T>) -> bool {
    match result {
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => true,
        other => panic!("expected WouldBlock, got {other:?}"),
    }
}

/// Runs `try_op` (which must return `WouldBlock`) until `wait` no longer completes at once:
/// at most twice (see the module docs for why a second try may be needed).
async fn cleared_by_would_block<F: Future<Output = io::Result<Ready>>>(
    what: &str,
    mut try_op: impl FnMut() -> bool,
    mut wait: impl FnMut() -> F,
) {
    for _ in 0..2 {
        assert!(try_op(), "{what}: the try did not return WouldBlock");
        if poll_once(pin!(wait())).await.is_none() {
            return;
        }
    }
    panic!("{what}: WouldBlock did not clear the readiness: the next wait returned at once");
}

#[test]
fn tcp_try_read_would_block_makes_ready_wait_until_data_arrives() {
    run_with_timeout("tcp_try_read_would_block", || {
        runtime(1).block_on(async {
            let (client, server) = tcp_pair().await;
            // A new socket starts out ready both ways (the first try goes to the kernel).
            let ready = client
                .ready(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap();
            assert!(ready.is_readable() && ready.is_writable(), "{ready:?}");
            let mut buf = [0; 16];
            cleared_by_would_block(
                "try_read",
                || is_would_block(client.try_read(&mut buf)),
                || client.ready(Interest::READABLE),
            )
            .await;
            // Writable is untouched by a read's WouldBlock.
            let ready = client.ready(Interest::WRITABLE).await.unwrap();
            assert!(ready.is_writable() && !ready.is_readable(), "{ready:?}");

            // The wait is parked until the peer writes, then the data is there to take.
            let mut wait = pin!(client.ready(Interest::READABLE));
            assert!(poll_once(wait.as_mut()).await.is_none());
            (&server).write_all(b"hello").await.unwrap();
            assert!(wait.await.unwrap().is_readable());
            assert_eq!(client.try_read(&mut buf).unwrap(), 5);
            assert_eq!(&buf[..5], b"hello");

            // Vectored, and the end of the stream.
            (&server).write_all(b"abcdef").await.unwrap();
            client.readable().await.unwrap();
            let (mut a, mut b) = ([0; 2], [0; 8]);
            let mut read = 0;
            while read < 6 {
                match client.try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]) {
                    Ok(n) => read += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => client.readable().await.unwrap(),
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!((&a, &b[..4]), (b"ab", &b"cdef"[..]));
            server.shutdown(std::net::Shutdown::Write).unwrap();
            loop {
                client.readable().await.unwrap();
                match client.try_read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => panic!("{n} bytes after the peer's FIN"),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
        });
    });
}

#[test]
fn tcp_try_write_until_would_block_then_writable_waits_for_room() {
    run_with_timeout("tcp_try_write_until_would_block", || {
        runtime(1).block_on(async {
            let (client, mut server) = tcp_pair().await;
            let chunk = vec![7u8; 64 * 1024];
            let mut written = 0usize;
            // Fill the send buffer (and the peer's receive buffer).
            loop {
                match client.try_write_vectored(&[IoSlice::new(&chunk[..1024]), IoSlice::new(&chunk)]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(written > 0);
            // The buffer is full: the clear made `writable` wait (a second try in case the
            // registration's event raced the first clear).
            cleared_by_would_block(
                "try_write",
                || is_would_block(client.try_write(&chunk)),
                || client.ready(Interest::WRITABLE),
            )
            .await;
            let mut wait = pin!(client.writable());
            assert!(poll_once(wait.as_mut()).await.is_none());
            // The peer drains everything: room again, and the writer wakes.
            let mut sink = vec![0; written];
            server.read_exact(&mut sink).await.unwrap();
            assert!(sink.iter().all(|&b| b == 7));
            wait.await.unwrap();
            assert!(client.try_write(b"more").unwrap() > 0);
        });
    });
}

#[test]
fn tcp_try_io_and_try_peek() {
    run_with_timeout("tcp_try_io_and_try_peek", || {
        runtime(1).block_on(async {
            let (client, server) = tcp_pair().await;
            // try_io runs the closure when ready, and passes its result through.
            assert_eq!(client.try_io(Interest::WRITABLE, || Ok(42)).unwrap(), 42);
            // A WouldBlock from the closure clears that readiness.
            cleared_by_would_block(
                "try_io",
                || {
                    is_would_block(client.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    }))
                },
                || client.ready(Interest::READABLE),
            )
            .await;
            // Not ready: the closure is not even called.
            let called = std::cell::Cell::new(false);
            let result = client.try_io(Interest::READABLE, || {
                called.set(true);
                Ok(())
            });
            assert!(
                is_would_block(result) && !called.get(),
                "try_io ran without readiness"
            );

            (&server).write_all(b"peek").await.unwrap();
            client.readable().await.unwrap();
            let mut buf = [0; 4];
            // try_peek leaves the data for the read.
            let mut peeked = 0;
            while peeked < 4 {
                match client.try_peek(&mut buf) {
                    Ok(n) => peeked = n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => client.readable().await.unwrap(),
                    Err(e) => panic!("{e}"),
                }
            }
            let mut again = [0; 4];
            assert_eq!(client.try_read(&mut again).unwrap(), 4);
            assert_eq!((&buf, &again), (b"peek", b"peek"));
        });
    });
}

#[test]
fn owned_halves_have_their_directions_readiness() {
    run_with_timeout("owned_halves_readiness", || {
        runtime(2).block_on(async {
            let (client, server) = tcp_pair().await;
            let (read, write) = client.into_split();
            let reader = heist::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0; 64];
                loop {
                    read.readable().await.unwrap();
                    match read.try_read(&mut buf) {
                        Ok(0) => return got,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
            let echo = heist::spawn(async move {
                let mut all = Vec::new();
                let mut buf = [0; 64];
                loop {
                    let n = (&server).read(&mut buf).await.unwrap();
                    if n == 0 {
                        server.shutdown(std::net::Shutdown::Write).unwrap();
                        return all;
                    }
                    all.extend_from_slice(&buf[..n]);
                    (&server).write_all(&buf[..n]).await.unwrap();
                }
            });
            let message = b"the write half writes, the read half reads";
            let mut sent = 0;
            while sent < message.len() {
                let ready = write.ready(Interest::WRITABLE).await.unwrap();
                assert!(ready.is_writable());
                match write.try_write(&message[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            drop(write); // FIN
            assert_eq!(echo.await.unwrap(), message);
            assert_eq!(reader.await.unwrap(), message);
        });
    });
}

#[test]
fn udp_try_send_and_try_recv() {
    run_with_timeout("udp_try_send_and_try_recv", || {
        runtime(1).block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            let mut buf = [0; 64];
            cleared_by_would_block(
                "try_recv_from",
                || is_would_block(b.try_recv_from(&mut buf)),
                || b.ready(Interest::READABLE),
            )
            .await;
            let mut wait = pin!(b.readable());
            assert!(poll_once(wait.as_mut()).await.is_none());
            a.writable().await.unwrap();
            assert_eq!(a.try_send_to(b"one", b_addr).unwrap(), 3);
            wait.await.unwrap();
            assert_eq!(b.try_peek_from(&mut buf).unwrap(), (3, a_addr));
            assert_eq!(b.try_recv_from(&mut buf).unwrap(), (3, a_addr));
            assert_eq!(&buf[..3], b"one");
            assert!(is_would_block(b.try_recv_from(&mut buf)));

            // Connected: try_send / try_peek / try_recv.
            a.connect(b_addr).await.unwrap();
            b.connect(a_addr).await.unwrap();
            assert_eq!(a.try_send(b"two").unwrap(), 3);
            let n = loop {
                b.readable().await.unwrap();
                match b.try_peek(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            };
            assert_eq!(&buf[..n], b"two");
            assert_eq!(b.try_recv(&mut buf).unwrap(), 3);
            assert!(is_would_block(b.try_recv(&mut buf)));
        });
    });
}

/// On Linux's epoll backend (the default there) the peer's FIN is reported as
/// `Ready::READ_CLOSED`; the `polling` backend reports it as plain readiness.
#[cfg(target_os = "linux")]
#[test]
fn ready_reports_the_peer_closing_on_epoll() {
    let epoll = std::env::var_os(heist_reactor::POLLER_ENV).is_none_or(|value| value != "polling");
    run_with_timeout("ready_reports_read_closed", move || {
        runtime(1).block_on(async move {
            let (client, server) = tcp_pair().await;
            let mut buf = [0; 8];
            cleared_by_would_block(
                "try_read",
                || is_would_block(client.try_read(&mut buf)),
                || client.ready(Interest::READABLE),
            )
            .await;
            drop(server);
            let ready = client.ready(Interest::READABLE).await.unwrap();
            assert!(ready.is_readable(), "{ready:?}");
            assert_eq!(ready.is_read_closed(), epoll, "{ready:?}");
            assert_eq!(client.try_read(&mut buf).unwrap(), 0);
        });
    });
}

#[cfg(unix)]
#[test]
fn unix_stream_and_datagram_try_calls() {
    use heist::net::{UnixDatagram, UnixStream};
    run_with_timeout("unix_try_calls", || {
        runtime(1).block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut buf = [0; 16];
            cleared_by_would_block(
                "UnixStream::try_read",
                || is_would_block(a.try_read(&mut buf)),
                || a.ready(Interest::READABLE),
            )
            .await;
            let mut wait = pin!(a.readable());
            assert!(poll_once(wait.as_mut()).await.is_none());
            b.writable().await.unwrap();
            assert_eq!(
                b.try_write_vectored(&[IoSlice::new(b"un"), IoSlice::new(b"ix")])
                    .unwrap(),
                4
            );
            wait.await.unwrap();
            assert_eq!(a.try_read(&mut buf).unwrap(), 4);
            assert_eq!(&buf[..4], b"unix");
            assert_eq!(b.try_write(b"!").unwrap(), 1);
            a.readable().await.unwrap();
            let mut one = [0; 1];
            assert_eq!(a.try_read_vectored(&mut [IoSliceMut::new(&mut one)]).unwrap(), 1);

            let (x, y) = UnixDatagram::pair().unwrap();
            cleared_by_would_block(
                "UnixDatagram::try_recv",
                || is_would_block(y.try_recv(&mut buf)),
                || y.ready(Interest::READABLE),
            )
            .await;
            let mut wait = pin!(y.readable());
            assert!(poll_once(wait.as_mut()).await.is_none());
            assert_eq!(x.try_send(b"dgram").unwrap(), 5);
            wait.await.unwrap();
            assert_eq!(y.try_recv(&mut buf).unwrap(), 5);
            assert!(is_would_block(y.try_recv_from(&mut buf)));

            let dir = std::env::temp_dir().join(format!("heist-try-send-to-{}", std::process::id()));
            let _ = std::fs::remove_file(&dir);
            let bound = UnixDatagram::bind(&dir).unwrap();
            let sender = UnixDatagram::unbound().unwrap();
            assert_eq!(sender.try_send_to(b"to path", &dir).unwrap(), 7);
            bound.readable().await.unwrap();
            let (n, _) = bound.try_recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"to path");
            std::fs::remove_file(&dir).unwrap();
        });
    });
}

/// After the runtime is gone, the try calls fail with the shutdown error instead of
/// reporting `WouldBlock` forever.
#[test]
fn try_calls_after_shutdown_fail_with_a_clear_error() {
    let rt = runtime(1);
    let (client, _server) = rt.block_on(tcp_pair());
    drop(rt);
    let mut buf = [0; 4];
    let error = client.try_read(&mut buf).expect_err("the runtime is gone");
    assert!(error.to_string().contains("shut down"), "{error}");
    let error = futures_lite::future::block_on(client.ready(Interest::READABLE)).expect_err("gone");
    assert!(error.to_string().contains("shut down"), "{error}");
}

/// The poll forms, for hand-written futures: `poll_read_ready`/`poll_write_ready` on streams,
/// `poll_recv_ready`/`poll_send_ready` on datagram sockets (tokio's names).
#[test]
fn poll_ready_functions_wait_for_their_direction() {
    use std::future::poll_fn;
    run_with_timeout("poll_ready_functions", || {
        runtime(1).block_on(async {
            let (client, server) = tcp_pair().await;
            let mut buf = [0; 8];
            cleared_by_would_block(
                "try_read",
                || is_would_block(client.try_read(&mut buf)),
                || client.ready(Interest::READABLE),
            )
            .await;
            poll_fn(|cx| client.poll_write_ready(cx)).await.unwrap();
            let mut read_ready = pin!(poll_fn(|cx| client.poll_read_ready(cx)));
            assert!(poll_once(read_ready.as_mut()).await.is_none());
            (&server).write_all(b"x").await.unwrap();
            read_ready.await.unwrap();
            assert_eq!(client.try_read(&mut buf).unwrap(), 1);

            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            cleared_by_would_block(
                "try_recv_from",
                || is_would_block(b.try_recv_from(&mut buf)),
                || b.ready(Interest::READABLE),
            )
            .await;
            let mut recv_ready = pin!(poll_fn(|cx| b.poll_recv_ready(cx)));
            assert!(poll_once(recv_ready.as_mut()).await.is_none());
            poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();
            a.try_send_to(b"y", b.local_addr().unwrap()).unwrap();
            recv_ready.await.unwrap();
            assert_eq!(b.try_recv(&mut buf).unwrap(), 1);
        });
    });
}
