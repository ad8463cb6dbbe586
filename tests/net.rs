//! Networking on loopback: TCP, UDP and Unix-domain sockets driven by the runtime's reactor.
//!
//! Every body runs under `run_with_timeout`, so a lost wake-up fails the test instead of
//! hanging the suite. Nothing sleeps to let a race happen: a test that needs a task to be
//! parked on a socket waits for the task's first `Pending` (`net_common::on_pending`), and the
//! "all workers idle" test watches the runtime's metrics.
//!
//! On Windows only the TCP and UDP tests are built (run under wine by `.ci/run`); the rest
//! (Unix-domain sockets, `Async` over any descriptor, SIGPIPE, `libc`) is `cfg(unix)`, which
//! leaves some helpers and imports unused there.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

mod common;
#[path = "common/net.rs"]
mod net_common;

use std::cell::Cell;
use std::io::{self, IoSlice, Read, Write};
#[cfg(unix)]
use std::net::Shutdown;
use std::net::SocketAddr;
#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, mpsc};
use std::thread;

#[cfg(unix)]
use common::DropCounter;
use common::{WAIT, eventually, run_with_timeout, runtime};
use futures_lite::StreamExt;
use futures_lite::future::zip;
use heist::io::{Async, AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream, UdpSocket};
#[cfg(unix)]
use heist::net::{UnixDatagram, UnixListener, UnixStream};
#[cfg(unix)]
use net_common::TempSocketPath;
use net_common::{first_difference, on_pending, pattern, payload, raise_fd_limit};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A listener on a free loopback port, and its address.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    (listener, addr)
}

/// A connected pair of heist TCP streams: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let (listener, addr) = listener().await;
    let (client, accepted) = zip(TcpStream::connect(addr), listener.accept()).await;
    let client = client.expect("connect");
    let (server, peer) = accepted.expect("accept");
    assert_eq!(peer, client.local_addr().unwrap(), "accept reported another peer");
    (client, server)
}

/// Echoes everything it reads until end of stream; returns the byte count.
async fn echo<S: heist::io::AsyncRead + heist::io::AsyncWrite + Unpin>(mut stream: S) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Writes one payload per round and checks that exactly the same bytes come back.
async fn round_trips<S: heist::io::AsyncRead + heist::io::AsyncWrite + Unpin>(
    stream: &mut S,
    conn: usize,
    rounds: usize,
) -> io::Result<u64> {
    let mut total = 0;
    let mut back = Vec::new();
    for round in 0..rounds {
        let sent = payload(conn, round);
        stream.write_all(&sent).await?;
        back.resize(sent.len(), 0);
        stream.read_exact(&mut back).await?;
        if back != sent {
            return Err(io::Error::other(format!(
                "connection {conn}, round {round}: the echo differs from what was sent at byte {:?}",
                first_difference(&back, &sent)
            )));
        }
        total += sent.len() as u64;
    }
    Ok(total)
}

fn expect_eof_or_panic(result: io::Result<usize>, what: &str) {
    match result {
        Ok(0) => {}
        Ok(n) => panic!("{what}: expected end of stream, read {n} bytes"),
        Err(error) => panic!("{what}: expected end of stream, got {error:?}"),
    }
}

fn is_peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

// ---------------------------------------------------------------------------------------------
// 1. Many concurrent echo connections
// ---------------------------------------------------------------------------------------------

const ROUND_TRIPS: usize = 100;

fn echo_many_connections(connections: usize, workers: usize) {
    // 2 descriptors per connection, and the other tests of this binary run at the same time.
    raise_fd_limit(8 * 1024);
    run_with_timeout(
        &format!("echo_{connections}_connections_{workers}_workers"),
        move || {
            let rt = runtime(workers);
            rt.block_on(async {
                let (listener, addr) = listener().await;
                let server = heist::spawn(async move {
                    let mut handlers = Vec::with_capacity(connections);
                    for _ in 0..connections {
                        let (stream, _) = listener.accept().await?;
                        handlers.push(heist::spawn(echo(stream)));
                    }
                    let mut echoed = 0;
                    for handler in handlers {
                        echoed += handler.await.expect("an echo task failed")?;
                    }
                    io::Result::Ok(echoed)
                });
                let clients: Vec<_> = (0..connections)
                    .map(|conn| {
                        heist::spawn(async move {
                            let mut stream = TcpStream::connect(addr).await?;
                            stream.set_nodelay(true)?;
                            let sent = round_trips(&mut stream, conn, ROUND_TRIPS).await?;
                            // FIN: the server's echo loop reads 0, returns and closes its side.
                            stream.close().await?;
                            let tail = stream.read(&mut [0; 16]).await?;
                            if tail != 0 {
                                return Err(io::Error::other(format!(
                                    "connection {conn}: {tail} bytes after FIN"
                                )));
                            }
                            io::Result::Ok(sent)
                        })
                    })
                    .collect();
                let mut sent = 0;
                for (conn, client) in clients.into_iter().enumerate() {
                    sent += client
                        .await
                        .expect("a client task failed")
                        .unwrap_or_else(|error| panic!("client {conn}: {error}"));
                }
                let expected: u64 = (0..connections)
                    .flat_map(|conn| (0..ROUND_TRIPS).map(move |round| payload(conn, round).len() as u64))
                    .sum();
                assert_eq!(sent, expected, "the clients saw a different byte count");
                let echoed = server
                    .await
                    .expect("the server task failed")
                    .expect("the server failed");
                assert_eq!(echoed, expected, "the server echoed a different byte count");
            });
        },
    );
}

#[cfg(not(windows))]
#[test]
fn echo_1000_connections_2_workers() {
    echo_many_connections(1_000, 2);
}

#[cfg(not(windows))]
#[test]
fn echo_1000_connections_4_workers() {
    echo_many_connections(1_000, 4);
}

/// Under wine (where the Windows tests run) a round trip costs about a millisecond of
/// wineserver work: the 100 000 of the tests above would outlast the timeout.
#[cfg(windows)]
#[test]
fn echo_100_connections_2_workers() {
    echo_many_connections(100, 2);
}

// ---------------------------------------------------------------------------------------------
// 2. Half-close, end of stream, writes to a peer that has gone
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum HalfClose {
    /// `TcpStream::shutdown(Shutdown::Write)`.
    Shutdown,
    /// `AsyncWriteExt::close`.
    Close,
    /// Dropping the `OwnedWriteHalf` of `into_split`.
    DropWriteHalf,
}

#[cfg(unix)]
#[test]
fn half_close_lets_the_peer_read_to_end_and_reply() {
    run_with_timeout("half_close", || {
        let rt = runtime(2);
        rt.block_on(async {
            for how in [HalfClose::Shutdown, HalfClose::Close, HalfClose::DropWriteHalf] {
                let (listener, addr) = listener().await;
                let request = pattern(100_000, 1);
                let reply = pattern(50_000, 2);
                let server = {
                    let (request, reply) = (request.clone(), reply.clone());
                    heist::spawn(async move {
                        let (mut stream, _) = listener.accept().await.unwrap();
                        let mut got = Vec::new();
                        stream.read_to_end(&mut got).await.unwrap();
                        assert!(
                            got == request,
                            "{how:?}: the server read {} bytes, not the request",
                            got.len()
                        );
                        // End of stream stays end of stream.
                        expect_eof_or_panic(stream.read(&mut [0; 8]).await, "second read after FIN");
                        // The other direction is still open.
                        stream.write_all(&reply).await.unwrap();
                    })
                };
                let mut client = TcpStream::connect(addr).await.unwrap();
                client.write_all(&request).await.unwrap();
                let mut got = Vec::new();
                match how {
                    HalfClose::Shutdown => {
                        client.shutdown(Shutdown::Write).unwrap();
                        let error = client
                            .write(b"late")
                            .await
                            .expect_err("a write after shutdown(Write) succeeded");
                        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error:?}");
                        client.read_to_end(&mut got).await.unwrap();
                        expect_eof_or_panic(client.read(&mut [0; 8]).await, "client read after the reply");
                    }
                    HalfClose::Close => {
                        client.close().await.unwrap();
                        // Closing twice is not an error.
                        client.close().await.unwrap();
                        client.read_to_end(&mut got).await.unwrap();
                        expect_eof_or_panic(client.read(&mut [0; 8]).await, "client read after the reply");
                    }
                    HalfClose::DropWriteHalf => {
                        let (mut read, write) = client.into_split();
                        drop(write);
                        read.read_to_end(&mut got).await.unwrap();
                        expect_eof_or_panic(read.read(&mut [0; 8]).await, "client read after the reply");
                    }
                }
                assert!(
                    got == reply,
                    "{how:?}: the client read {} bytes, not the reply",
                    got.len()
                );
                server.await.unwrap();
            }

            // The same on a Unix stream pair.
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all(b"question").await.unwrap();
            a.close().await.unwrap();
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"question");
            b.write_all(b"answer").await.unwrap();
            drop(b);
            got.clear();
            a.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"answer");
        });
    });
}

#[test]
fn reading_a_stream_the_peer_closed_returns_zero() {
    run_with_timeout("read_after_peer_close", || {
        let rt = runtime(2);
        rt.block_on(async {
            // The peer closed before we read.
            let (mut client, server) = tcp_pair().await;
            drop(server);
            for attempt in 0..3 {
                expect_eof_or_panic(client.read(&mut [0; 64]).await, &format!("read #{attempt}"));
            }

            // The peer wrote, then closed: the data, then the end.
            let (mut client, mut server) = tcp_pair().await;
            server.write_all(b"last words").await.unwrap();
            drop(server);
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"last words");

            // A task already parked in `read` when the peer closes is woken with the end.
            let (mut client, server) = tcp_pair().await;
            let (parked_tx, parked_rx) = tokio::sync::oneshot::channel();
            let reader = heist::spawn(on_pending(
                async move { client.read(&mut [0; 64]).await },
                move || parked_tx.send(()).unwrap(),
            ));
            parked_rx.await.expect("the reader never parked");
            drop(server);
            expect_eof_or_panic(reader.await.unwrap(), "a parked reader when the peer closed");
        });
    });
}

#[test]
fn writing_to_a_peer_that_has_gone_fails() {
    run_with_timeout("write_after_peer_close", || {
        let rt = runtime(2);
        rt.block_on(async {
            // The peer has closed: the first write may still be accepted (it makes the peer
            // answer with RST); the next ones must fail.
            let (mut client, server) = tcp_pair().await;
            drop(server);
            let mut error = None;
            for _ in 0..1_000 {
                if let Err(e) = client.write_all(&[7; 1024]).await {
                    error = Some(e);
                    break;
                }
            }
            let error = error.expect("1000 writes to a closed peer all succeeded");
            assert!(is_peer_gone(&error), "unexpected error {error:?}");
            let again = client
                .write_all(b"x")
                .await
                .expect_err("a write after the error succeeded");
            assert!(is_peer_gone(&again), "unexpected error {again:?}");

            // A writer parked on a full send buffer (the peer never reads) is woken with an
            // error when the peer goes away.
            let (client, server) = tcp_pair().await;
            let (parked_tx, parked_rx) = tokio::sync::oneshot::channel();
            let writer = heist::spawn(on_pending(
                async move {
                    let mut client = client;
                    let chunk = vec![1u8; 256 * 1024];
                    loop {
                        if let Err(error) = client.write_all(&chunk).await {
                            return error;
                        }
                    }
                },
                move || parked_tx.send(()).unwrap(),
            ));
            parked_rx.await.expect("the writer never filled the send buffer");
            // Unread data in the server's receive queue: closing it sends RST.
            drop(server);
            let error = writer.await.unwrap();
            assert!(is_peer_gone(&error), "unexpected error {error:?}");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// SIGPIPE
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
static SIGPIPES: AtomicUsize = AtomicUsize::new(0);

std::thread_local!(static COUNTS_SIGPIPE: Cell<bool> = const { Cell::new(false) });

#[cfg(unix)]
extern "C" fn count_sigpipe(_: libc::c_int) {
    // Only threads of the SIGPIPE test count: other tests of this binary may write to closed
    // sockets at the same time. (A const thread-local without destructor: a plain TLS read.)
    if COUNTS_SIGPIPE.with(Cell::get) {
        SIGPIPES.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(unix)]
/// Replaces the ignored SIGPIPE (what Rust binaries start with) by a handler that counts the
/// signals raised on marked threads: a write that raises SIGPIPE would kill a process that
/// left SIGPIPE at its default (a C host, `-Zon-broken-pipe=kill`).
fn count_sigpipes() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic and a
        // const thread-local.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = count_sigpipe as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGPIPE, &action, std::ptr::null_mut()), 0);
        }
    });
}

#[cfg(unix)]
/// A write operation on a stream, as a function pointer so that it can borrow the stream anew
/// on each call.
type WriteOp<S> = for<'a> fn(&'a mut S) -> Pin<Box<dyn Future<Output = io::Result<usize>> + Send + 'a>>;

#[cfg(unix)]
/// Writes to `stream`, whose peer is gone, until a write fails with `BrokenPipe` (the error that
/// comes with SIGPIPE), and returns how many SIGPIPEs the marked threads got meanwhile.
async fn sigpipes_while<S>(what: &str, mut stream: S, write: WriteOp<S>) -> usize {
    let before = SIGPIPES.load(Ordering::SeqCst);
    let mut broken_pipe = false;
    for _ in 0..1_000 {
        match write(&mut stream).await {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                broken_pipe = true;
                break;
            }
            Err(error) => assert!(is_peer_gone(&error), "{what}: unexpected error {error:?}"),
        }
    }
    assert!(
        broken_pipe,
        "{what}: 1000 writes to a closed peer never failed with BrokenPipe"
    );
    SIGPIPES.load(Ordering::SeqCst) - before
}

#[cfg(unix)]
/// One case of the SIGPIPE test: a fresh stream whose peer has gone, and a way to write to it.
fn sigpipe_case(what: &'static str) -> Pin<Box<dyn Future<Output = usize> + Send>> {
    Box::pin(async move {
        match what {
            "TcpStream::write" => {
                let (client, server) = tcp_pair().await;
                drop(server);
                sigpipes_while(what, client, |s| Box::pin(s.write(b"data"))).await
            }
            "TcpStream::write_vectored" => {
                let (client, server) = tcp_pair().await;
                drop(server);
                sigpipes_while(what, client, |s| {
                    Box::pin(async move {
                        s.write_vectored(&[IoSlice::new(b"da"), IoSlice::new(b"ta")])
                            .await
                    })
                })
                .await
            }
            "OwnedWriteHalf::write_vectored" => {
                let (client, server) = tcp_pair().await;
                drop(server);
                let (_read, write) = client.into_split();
                sigpipes_while(what, write, |s| {
                    Box::pin(async move {
                        s.write_vectored(&[IoSlice::new(b"da"), IoSlice::new(b"ta")])
                            .await
                    })
                })
                .await
            }
            "UnixStream::write" => {
                let (a, b) = UnixStream::pair().unwrap();
                drop(b);
                sigpipes_while(what, a, |s| Box::pin(s.write(b"data"))).await
            }
            "UnixStream::write_vectored" => {
                let (a, b) = UnixStream::pair().unwrap();
                drop(b);
                sigpipes_while(what, a, |s| {
                    Box::pin(async move {
                        s.write_vectored(&[IoSlice::new(b"da"), IoSlice::new(b"ta")])
                            .await
                    })
                })
                .await
            }
            _ => unreachable!("{what}"),
        }
    })
}

#[cfg(unix)]
#[test]
fn writes_to_a_closed_peer_raise_no_sigpipe() {
    const CASES: [&str; 5] = [
        "TcpStream::write",
        "TcpStream::write_vectored",
        "OwnedWriteHalf::write_vectored",
        "UnixStream::write",
        "UnixStream::write_vectored",
    ];
    count_sigpipes();
    run_with_timeout("no_sigpipe", || {
        COUNTS_SIGPIPE.with(|marked| marked.set(true));
        let rt = heist::runtime::Builder::new()
            .worker_threads(2)
            .on_thread_start(|| COUNTS_SIGPIPE.with(|marked| marked.set(true)))
            .build()
            .unwrap();
        let raised: Vec<(&str, &str, usize)> = rt.block_on(async {
            let mut raised = Vec::new();
            for what in CASES {
                // In a task (on a worker thread), then on the block_on thread.
                raised.push(("task", what, heist::spawn(sigpipe_case(what)).await.unwrap()));
                raised.push(("block_on", what, sigpipe_case(what).await));
            }
            raised
        });
        let offenders: Vec<_> = raised.iter().filter(|(_, _, count)| *count > 0).collect();
        assert!(
            offenders.is_empty(),
            "writes to a closed peer raised SIGPIPE (which kills a process that does not ignore \
             it), as (thread, call, signals): {offenders:?}"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// 3. A reset errors its own stream only
// ---------------------------------------------------------------------------------------------

/// Unix only: under wine, closing a socket with unread data sends FIN rather than RST (what it
/// does on Windows itself is untested here).
#[cfg(unix)]
#[test]
fn a_peer_reset_fails_that_stream_only() {
    run_with_timeout("peer_reset", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (listener, addr) = listener().await;
            let mut client_a = TcpStream::connect(addr).await.unwrap();
            let mut client_b = TcpStream::connect(addr).await.unwrap();
            let (first, _) = listener.accept().await.unwrap();
            let (second, _) = listener.accept().await.unwrap();
            let (server_a, mut server_b) = if first.peer_addr().unwrap() == client_a.local_addr().unwrap() {
                (first, second)
            } else {
                (second, first)
            };
            assert_eq!(server_b.peer_addr().unwrap(), client_b.local_addr().unwrap());

            // Data the server never reads: closing its socket then sends RST, not FIN.
            client_a.write_all(b"never read").await.unwrap();
            let mut peeked = [0; 10];
            let mut have = 0;
            while have < peeked.len() {
                have = server_a.peek(&mut peeked).await.unwrap();
            }

            let (parked_tx, parked_rx) = tokio::sync::oneshot::channel();
            let reader = heist::spawn(on_pending(
                async move {
                    let result = client_a.read(&mut [0; 64]).await;
                    (client_a, result)
                },
                move || parked_tx.send(()).unwrap(),
            ));
            parked_rx.await.expect("the reader never parked");
            drop(server_a);
            let (mut client_a, result) = reader.await.unwrap();
            let error = result.expect_err("a read on a reset connection succeeded");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
            let error = client_a
                .write_all(b"anyone?")
                .await
                .expect_err("a write on a reset connection succeeded");
            assert!(is_peer_gone(&error), "{error:?}");

            // The other connection, and a new one, still work both ways.
            let server = heist::spawn(async move { echo(&mut server_b).await });
            round_trips(&mut client_b, 1, 50).await.unwrap();
            client_b.close().await.unwrap();
            assert!(server.await.unwrap().unwrap() > 0);
            let (mut client_c, (server_c, _)) =
                zip(async { TcpStream::connect(addr).await.unwrap() }, async {
                    listener.accept().await.unwrap()
                })
                .await;
            let server = heist::spawn(echo(server_c));
            round_trips(&mut client_c, 2, 50).await.unwrap();
            client_c.close().await.unwrap();
            assert!(server.await.unwrap().unwrap() > 0);
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 4. UDP
// ---------------------------------------------------------------------------------------------

#[test]
fn udp_round_trips() {
    const ROUNDS: u32 = 1_000;
    run_with_timeout("udp_round_trips", || {
        let rt = runtime(2);
        rt.block_on(async {
            let a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

            // send_to / recv_from, the reflector in its own task.
            let reflector = {
                let b = b.clone();
                heist::spawn(async move {
                    let mut buf = [0; 2048];
                    for i in 0..ROUNDS {
                        let (n, from) = b.recv_from(&mut buf).await.unwrap();
                        assert_eq!(from, a_addr, "datagram #{i} from a stranger");
                        let sent = payload(0, i as usize);
                        assert!(buf[..n] == sent[..], "datagram #{i} arrived altered ({n} bytes)");
                        buf[..n].reverse();
                        assert_eq!(b.send_to(&buf[..n], from).await.unwrap(), n);
                    }
                })
            };
            let mut buf = [0; 2048];
            for i in 0..ROUNDS {
                let mut sent = payload(0, i as usize);
                assert_eq!(a.send_to(&sent, b_addr).await.unwrap(), sent.len());
                let (n, from) = a.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, b_addr);
                sent.reverse();
                assert!(buf[..n] == sent[..], "reply #{i} differs");
            }
            reflector.await.unwrap();

            // A burst queued before the receiver reads arrives whole and in order.
            for i in 0..64u32 {
                a.send_to(&i.to_le_bytes(), b_addr).await.unwrap();
            }
            for i in 0..64u32 {
                let (n, _) = b.recv_from(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], i.to_le_bytes(), "burst datagram #{i}");
            }

            // A datagram longer than the buffer is truncated to it (and on Windows, where the
            // truncated bytes still arrive, reported as the error `WSAEMSGSIZE`).
            a.send_to(&[9; 100], b_addr).await.unwrap();
            let mut small = [0; 10];
            #[cfg(unix)]
            assert_eq!(b.recv_from(&mut small).await.unwrap(), (10, a_addr));
            #[cfg(windows)]
            {
                const WSAEMSGSIZE: i32 = 10040;
                let error = b.recv_from(&mut small).await.expect_err("a truncated datagram");
                assert_eq!(error.raw_os_error(), Some(WSAEMSGSIZE), "{error:?}");
                assert_eq!(small, [9; 10]);
            }

            // Connected: send / recv, and datagrams from anyone else are filtered out.
            a.connect(b_addr).await.unwrap();
            b.connect(a_addr).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b_addr);
            let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            stranger.send_to(b"not for you", a_addr).await.unwrap();
            let echo_task = {
                let b = b.clone();
                heist::spawn(async move {
                    let mut buf = [0; 2048];
                    for _ in 0..ROUNDS {
                        let n = b.recv(&mut buf).await.unwrap();
                        assert_eq!(b.send(&buf[..n]).await.unwrap(), n);
                    }
                })
            };
            for i in 0..ROUNDS {
                let sent = payload(1, i as usize);
                assert_eq!(a.send(&sent).await.unwrap(), sent.len());
                let n = a.recv(&mut buf).await.unwrap();
                assert!(buf[..n] == sent[..], "connected round #{i} differs");
            }
            echo_task.await.unwrap();

            // peek_from leaves the datagram in place.
            b.send(b"peek me").await.unwrap();
            let (n, from) = a.peek_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"peek me"[..], b_addr));
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"peek me");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 5. Unix-domain sockets
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn unix_stream_listener_round_trips() {
    const CLIENTS: usize = 20;
    run_with_timeout("unix_stream_listener", || {
        let rt = runtime(2);
        let socket = TempSocketPath::new("net-stream");
        let path = socket.path().to_path_buf();
        rt.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
            let server = heist::spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..CLIENTS {
                    let (stream, _) = listener.accept().await.unwrap();
                    handlers.push(heist::spawn(echo(stream)));
                }
                let mut total = 0;
                for handler in handlers {
                    total += handler.await.unwrap().unwrap();
                }
                total
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|conn| {
                    let path = path.clone();
                    heist::spawn(async move {
                        let mut stream = UnixStream::connect(&path).await.unwrap();
                        assert_eq!(stream.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
                        let sent = round_trips(&mut stream, conn, 100).await.unwrap();
                        stream.close().await.unwrap();
                        expect_eof_or_panic(stream.read(&mut [0; 8]).await, "unix client after close");
                        sent
                    })
                })
                .collect();
            let mut sent = 0;
            for client in clients {
                sent += client.await.unwrap();
            }
            assert_eq!(server.await.unwrap(), sent);
            assert!(sent > 0);
        });
        drop(rt);
        drop(socket);
        assert!(!path.exists(), "the socket file was not removed");
    });
}

#[cfg(unix)]
#[test]
fn unix_stream_pair_round_trips() {
    run_with_timeout("unix_stream_pair", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (mut a, b) = UnixStream::pair().unwrap();
            let server = heist::spawn(echo(b));
            let sent = round_trips(&mut a, 3, 1_000).await.unwrap();
            a.close().await.unwrap();
            assert_eq!(server.await.unwrap().unwrap(), sent);
            expect_eof_or_panic(a.read(&mut [0; 8]).await, "pair after the echo ended");

            // Two tasks sharing one stream through `&UnixStream`: one reads, one writes.
            let (a, b) = UnixStream::pair().unwrap();
            let a = Arc::new(a);
            let data = pattern(1 << 20, 3);
            let writer = {
                let (a, data) = (a.clone(), data.clone());
                heist::spawn(async move {
                    let mut a = &*a;
                    a.write_all(&data).await
                })
            };
            let echoer = heist::spawn(echo(b));
            let mut back = vec![0; data.len()];
            let mut a_ref = &*a;
            a_ref.read_exact(&mut back).await.unwrap();
            writer.await.unwrap().unwrap();
            assert_eq!(
                first_difference(&back, &data),
                None,
                "the shared stream mixed bytes up"
            );
            a.shutdown(Shutdown::Write).unwrap();
            assert_eq!(echoer.await.unwrap().unwrap(), data.len() as u64);
        });
    });
}

#[cfg(unix)]
#[test]
fn unix_datagram_round_trips() {
    run_with_timeout("unix_datagram", || {
        let rt = runtime(2);
        let path_a = TempSocketPath::new("net-dgram-a");
        let path_b = TempSocketPath::new("net-dgram-b");
        let (pa, pb) = (path_a.path().to_path_buf(), path_b.path().to_path_buf());
        rt.block_on(async move {
            // Bound sockets, addressed by path.
            let a = Arc::new(UnixDatagram::bind(&pa).unwrap());
            let b = Arc::new(UnixDatagram::bind(&pb).unwrap());
            assert_eq!(a.local_addr().unwrap().as_pathname(), Some(pa.as_path()));
            let reflector = {
                let (b, pa) = (b.clone(), pa.clone());
                heist::spawn(async move {
                    let mut buf = [0; 1024];
                    for _ in 0..500 {
                        let (n, from) = b.recv_from(&mut buf).await.unwrap();
                        assert_eq!(from.as_pathname(), Some(pa.as_path()));
                        b.send_to(&buf[..n], &pa).await.unwrap();
                    }
                })
            };
            let mut buf = [0; 1024];
            for i in 0..500 {
                let sent = payload(4, i);
                assert_eq!(a.send_to(&sent, &pb).await.unwrap(), sent.len());
                let (n, from) = a.recv_from(&mut buf).await.unwrap();
                assert_eq!(from.as_pathname(), Some(pb.as_path()));
                assert!(buf[..n] == sent[..], "datagram #{i} differs");
            }
            reflector.await.unwrap();

            // A pair: send / recv.
            let (x, y) = UnixDatagram::pair().unwrap();
            let (x, y) = (Arc::new(x), Arc::new(y));
            let reflector = {
                let y = y.clone();
                heist::spawn(async move {
                    let mut buf = [0; 1024];
                    for _ in 0..500 {
                        let n = y.recv(&mut buf).await.unwrap();
                        y.send(&buf[..n]).await.unwrap();
                    }
                })
            };
            for i in 0..500 {
                let sent = payload(5, i);
                x.send(&sent).await.unwrap();
                let n = x.recv(&mut buf).await.unwrap();
                assert!(buf[..n] == sent[..], "pair datagram #{i} differs");
            }
            reflector.await.unwrap();

            // An unbound socket connected to a path: its datagrams come from no address.
            let unbound = UnixDatagram::unbound().unwrap();
            unbound.connect(&pb).unwrap();
            unbound.send(b"anonymous").await.unwrap();
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"anonymous");
            assert!(from.is_unnamed(), "{from:?}");
        });
        drop((path_a, path_b));
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Split halves
// ---------------------------------------------------------------------------------------------

const SPLIT_BYTES: usize = 4 << 20;

/// Accepts one connection and echoes it with the borrowed halves and `copy`, then sends FIN.
fn spawn_split_echo_server(listener: TcpListener) -> heist::task::JoinHandle<u64> {
    heist::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (mut read, mut write) = stream.split();
        let copied = heist::io::copy(&mut read, &mut write).await.unwrap();
        write.close().await.unwrap();
        copied
    })
}

#[test]
fn owned_halves_read_and_write_from_two_tasks() {
    run_with_timeout("into_split_two_tasks", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = spawn_split_echo_server(listener);
            let stream = TcpStream::connect(addr).await.unwrap();
            let local = stream.local_addr().unwrap();
            let (mut read, mut write) = stream.into_split();
            assert_eq!(read.peer_addr().unwrap(), addr);
            assert_eq!(write.local_addr().unwrap(), local);
            let data = pattern(SPLIT_BYTES, 4);
            let writer = {
                let data = data.clone();
                heist::spawn(async move {
                    // Uneven chunks, so that writes and reads never line up.
                    for chunk in data.chunks(65_537) {
                        write.write_all(chunk).await.unwrap();
                    }
                    // Dropping the write half sends FIN.
                    drop(write);
                })
            };
            let reader = heist::spawn(async move {
                let mut back = Vec::with_capacity(SPLIT_BYTES);
                let mut buf = vec![0; 40_000];
                loop {
                    let n = read.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break back;
                    }
                    back.extend_from_slice(&buf[..n]);
                }
            });
            writer.await.unwrap();
            let back = reader.await.unwrap();
            assert_eq!(back.len(), SPLIT_BYTES, "the reader got a different length");
            assert_eq!(first_difference(&back, &data), None, "the echo differs");
            assert_eq!(server.await.unwrap(), SPLIT_BYTES as u64);
        });
    });
}

#[test]
fn borrowed_halves_read_and_write_in_one_task() {
    run_with_timeout("split_one_task", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = spawn_split_echo_server(listener);
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let data = pattern(SPLIT_BYTES, 5);
            let (written, back) = {
                let (mut read, mut write) = stream.split();
                zip(
                    async {
                        for chunk in data.chunks(100_003) {
                            write.write_all(chunk).await?;
                        }
                        write.close().await?;
                        io::Result::Ok(data.len())
                    },
                    async {
                        let mut back = Vec::new();
                        read.read_to_end(&mut back).await?;
                        io::Result::Ok(back)
                    },
                )
                .await
            };
            assert_eq!(written.unwrap(), SPLIT_BYTES);
            let back = back.unwrap();
            assert_eq!(back.len(), SPLIT_BYTES);
            assert_eq!(first_difference(&back, &data), None, "the echo differs");
            assert_eq!(server.await.unwrap(), SPLIT_BYTES as u64);
            // The stream is whole again once the borrowed halves are gone.
            expect_eof_or_panic(stream.read(&mut [0; 8]).await, "the stream after its halves");
        });
    });
}

#[test]
fn owned_halves_reunite_only_with_their_own() {
    run_with_timeout("reunite", || {
        let rt = runtime(1);
        rt.block_on(async {
            let (a, _a_server) = tcp_pair().await;
            let (b, mut b_server) = tcp_pair().await;
            let (a_read, a_write) = a.into_split();
            let (b_read, b_write) = b.into_split();
            let heist::net::tcp::ReuniteError(a_read, b_write) = a_read
                .reunite(b_write)
                .expect_err("halves of two streams were reunited");
            let a = a_read.reunite(a_write).expect("a stream's own halves");
            let mut b = b_write.reunite(b_read).expect("a stream's own halves");
            drop(a);
            // A reunited stream did not send FIN: it still writes.
            b.write_all(b"still open").await.unwrap();
            let mut got = [0; 10];
            b_server.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"still open");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 7. Readiness after WouldBlock
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
/// Reads one 8-byte message with `read_with`, counting the attempts that would block.
async fn read_u64(io: &Async<std::os::unix::net::UnixStream>, would_block: &AtomicUsize) -> io::Result<u64> {
    let mut buf = [0; 8];
    let n = io
        .read_with(|mut stream: &std::os::unix::net::UnixStream| {
            let result = stream.read(&mut buf);
            if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                would_block.fetch_add(1, Ordering::Relaxed);
            }
            result
        })
        .await?;
    // One message in flight on a Unix stream: it is read whole.
    assert_eq!(n, 8, "a short read of a ping-pong message");
    Ok(u64::from_le_bytes(buf))
}

#[cfg(unix)]
async fn write_u64(io: &Async<std::os::unix::net::UnixStream>, value: u64) -> io::Result<()> {
    let n = io
        .write_with(|mut stream: &std::os::unix::net::UnixStream| stream.write(&value.to_le_bytes()))
        .await?;
    assert_eq!(n, 8, "a short write of a ping-pong message");
    Ok(())
}

#[cfg(unix)]
/// `pairs` std socket pairs under `Async`, each with a pinger and a ponger task exchanging
/// `rounds` messages; every message is awaited after a `WouldBlock` most of the time.
fn ping_pong(workers: usize, pairs: usize, rounds: u64) -> usize {
    let rt = runtime(workers);
    let would_block = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for pair in 0..pairs as u64 {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let (a, b) = (Async::new(a).unwrap(), Async::new(b).unwrap());
            let wb = would_block.clone();
            tasks.push(heist::spawn(async move {
                for i in 0..rounds {
                    let got = read_u64(&b, &wb).await.unwrap();
                    assert_eq!(got, pair << 32 | i, "ponger {pair}: wrong message");
                    write_u64(&b, got + 1).await.unwrap();
                }
            }));
            let wb = would_block.clone();
            tasks.push(heist::spawn(async move {
                for i in 0..rounds {
                    write_u64(&a, pair << 32 | i).await.unwrap();
                    let got = read_u64(&a, &wb).await.unwrap();
                    assert_eq!(got, (pair << 32 | i) + 1, "pinger {pair}: wrong reply");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    would_block.load(Ordering::Relaxed)
}

#[cfg(unix)]
#[test]
fn read_with_wakes_after_would_block_ping_pong() {
    run_with_timeout("ping_pong_one_pair", || {
        let would_block = ping_pong(2, 1, 10_000);
        eprintln!("ping-pong, 1 pair: {would_block} reads would block");
    });
}

#[cfg(unix)]
#[test]
fn read_with_wakes_after_would_block_ping_pong_many_pairs() {
    run_with_timeout("ping_pong_many_pairs", || {
        let would_block = ping_pong(4, 8, 2_000);
        eprintln!("ping-pong, 8 pairs: {would_block} reads would block");
    });
}

/// The same exchange, but each message is written only once the reader is known to be parked
/// after a `WouldBlock`: every one of them must come through the reactor's wake.
#[cfg(unix)]
#[test]
fn read_with_wakes_a_reader_parked_after_would_block() {
    const ROUNDS: u64 = 1_000;
    run_with_timeout("parked_reader_wakes", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let (a, b) = (Async::new(a).unwrap(), Arc::new(Async::new(b).unwrap()));
            let (parked_tx, mut parked_rx) = tokio::sync::mpsc::unbounded_channel();
            let would_block = Arc::new(AtomicUsize::new(0));
            let reader = {
                let would_block = would_block.clone();
                heist::spawn(async move {
                    for i in 0..ROUNDS {
                        let parked_tx = parked_tx.clone();
                        let got = on_pending(read_u64(&a, &would_block), move || parked_tx.send(i).unwrap())
                            .await
                            .unwrap();
                        assert_eq!(got, i);
                    }
                })
            };
            for i in 0..ROUNDS {
                let parked = parked_rx.recv().await.expect("the reader ended early");
                assert_eq!(parked, i, "the reader parked out of turn");
                write_u64(&b, i).await.unwrap();
            }
            reader.await.unwrap();
            // At least one per message; an unrelated event (the initial writable edge) between
            // a WouldBlock and its clear can cost one more.
            let would_block = would_block.load(Ordering::Relaxed);
            assert!(
                would_block >= ROUNDS as usize,
                "only {would_block} reads would block"
            );
        });
    });
}

// ---------------------------------------------------------------------------------------------
// 8. A parked task wakes when every worker is idle
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
/// Spawns `reader` (which must park on its socket and return the bytes it read) on a 2-worker
/// runtime, waits until the worker that ran it has parked and no worker is searching, then
/// calls `write` from this plain thread and checks the reader got the data.
fn wake_idle_runtime<R>(what: &str, make_reader: impl Fn() -> (R, Box<dyn FnOnce()>))
where
    R: Future<Output = Vec<u8>> + Send + 'static,
{
    const ITERATIONS: usize = 20;
    let rt = runtime(2);
    let metrics = rt.metrics();
    let workers = metrics.num_workers();
    for iteration in 0..ITERATIONS {
        let (reader, write) = make_reader();
        let polls_before: Vec<u64> = (0..workers).map(|w| metrics.worker_poll_count(w)).collect();
        let (parked_tx, parked_rx) = mpsc::channel();
        let task = rt.spawn(on_pending(reader, move || {
            // Taken during the poll that parks the reader, so its worker cannot have parked
            // since: that worker's park count must go past this.
            let metrics = heist::runtime::Handle::current().metrics();
            let parks: Vec<u64> = (0..metrics.num_workers())
                .map(|w| metrics.worker_park_count(w))
                .collect();
            parked_tx.send(parks).unwrap();
        }));
        let parks_at_pending = parked_rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{what} #{iteration}: the reader never parked"));
        // Only the reader ran: the worker whose poll count moved is the one that ran it.
        let ran_it: Vec<usize> = (0..workers)
            .filter(|&w| metrics.worker_poll_count(w) > polls_before[w])
            .collect();
        assert_eq!(
            ran_it.len(),
            1,
            "{what} #{iteration}: several workers polled: {ran_it:?}"
        );
        let worker = ran_it[0];
        eventually(&format!("{what} #{iteration}: every worker idle"), || {
            metrics.worker_park_count(worker) > parks_at_pending[worker]
                && metrics.num_searching_workers() == 0
                && metrics.injection_queue_depth() == 0
                && (0..workers).all(|w| metrics.worker_local_queue_depth(w) == 0)
        });
        write();
        let (done_tx, done_rx) = mpsc::channel();
        let waiter = thread::spawn(move || done_tx.send(futures_lite::future::block_on(task)));
        let got = done_rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{what} #{iteration}: the parked reader was never woken"))
            .unwrap();
        let _sent = waiter.join().expect("the waiter thread panicked");
        assert_eq!(
            got,
            format!("wake #{iteration}").into_bytes(),
            "{what}: the reader read other bytes"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_parked_reader_wakes_while_every_worker_is_idle() {
    run_with_timeout("idle_wake_unix", || {
        let counter = Arc::new(AtomicUsize::new(0));
        wake_idle_runtime("unix stream", || {
            let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let message = format!("wake #{n}").into_bytes();
            let len = message.len();
            let reader = async move {
                let mut stream = UnixStream::from_std(ours).unwrap();
                let mut buf = vec![0; len];
                stream.read_exact(&mut buf).await.unwrap();
                buf
            };
            (reader, Box::new(move || theirs.write_all(&message).unwrap()))
        });
    });
    run_with_timeout("idle_wake_tcp", || {
        let counter = Arc::new(AtomicUsize::new(0));
        wake_idle_runtime("tcp stream", || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut theirs = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (ours, _) = listener.accept().unwrap();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let message = format!("wake #{n}").into_bytes();
            let len = message.len();
            let reader = async move {
                let mut stream = TcpStream::from_std(ours).unwrap();
                let mut buf = vec![0; len];
                stream.read_exact(&mut buf).await.unwrap();
                buf
            };
            (reader, Box::new(move || theirs.write_all(&message).unwrap()))
        });
    });
}

/// The converse: every worker busy with tasks that keep yielding, none parked in the poller. The
/// busy workers must still take in I/O events now and then.
#[cfg(unix)]
#[test]
fn a_parked_reader_wakes_while_every_worker_is_busy() {
    run_with_timeout("busy_wake", || {
        let rt = runtime(2);
        let metrics = rt.metrics();
        for iteration in 0..5 {
            let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            let (parked_tx, parked_rx) = mpsc::channel();
            let reader = rt.spawn(on_pending(
                async move {
                    let mut stream = UnixStream::from_std(ours).unwrap();
                    let mut buf = [0; 4];
                    stream.read_exact(&mut buf).await.unwrap();
                    buf
                },
                move || parked_tx.send(()).unwrap(),
            ));
            parked_rx.recv_timeout(WAIT).expect("the reader never parked");
            let spins = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let spinners: Vec<_> = (0..4)
                .map(|_| rt.spawn(common::yield_forever(spins.clone())))
                .collect();
            // Both workers running spinners: each has polled many times since.
            let polls: Vec<u64> = (0..2).map(|w| metrics.worker_poll_count(w)).collect();
            eventually("both workers busy", || {
                (0..2).all(|w| metrics.worker_poll_count(w) > polls[w] + 1_000)
            });
            theirs.write_all(&(iteration as u32).to_le_bytes()).unwrap();
            let (done_tx, done_rx) = mpsc::channel();
            let waiter = thread::spawn(move || done_tx.send(futures_lite::future::block_on(reader)));
            let got = done_rx
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| {
                    panic!("#{iteration}: with every worker busy, the reader was never woken")
                })
                .unwrap();
            let _sent = waiter.join().expect("the waiter thread panicked");
            assert_eq!(got, (iteration as u32).to_le_bytes());
            for spinner in spinners {
                spinner.abort();
                assert!(rt.block_on(spinner).unwrap_err().is_cancelled());
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 9. Errors: outside a runtime, regular files
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
fn assert_outside_error<T: std::fmt::Debug>(what: &str, result: io::Result<T>) {
    match result {
        Ok(value) => panic!("{what} outside a runtime succeeded: {value:?}"),
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains("runtime") && message.contains("inside"),
                "{what}: the error does not say to create it inside a runtime: {message:?}"
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn io_objects_outside_a_runtime_are_an_error() {
    run_with_timeout("outside_runtime", || {
        use futures_lite::future::block_on;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        assert_outside_error("TcpListener::bind", block_on(TcpListener::bind("127.0.0.1:0")));
        assert_outside_error("TcpStream::connect", block_on(TcpStream::connect(addr)));
        assert_outside_error(
            "TcpListener::from_std",
            TcpListener::from_std(std_listener.try_clone().unwrap()),
        );
        assert_outside_error(
            "TcpStream::from_std",
            TcpStream::from_std(std_stream.try_clone().unwrap()),
        );
        assert_outside_error("UdpSocket::bind", block_on(UdpSocket::bind("127.0.0.1:0")));
        assert_outside_error("UnixStream::pair", UnixStream::pair());
        assert_outside_error("UnixDatagram::pair", UnixDatagram::pair());
        assert_outside_error("UnixDatagram::unbound", UnixDatagram::unbound());
        let socket = TempSocketPath::new("net-outside");
        assert_outside_error("UnixListener::bind", UnixListener::bind(socket.path()));
        assert_outside_error(
            "Async::new",
            Async::new(std::os::unix::net::UnixStream::pair().unwrap().0),
        );

        // The same calls work inside `block_on`, in a task, and after `enter`.
        let rt = runtime(1);
        rt.block_on(async {
            TcpStream::from_std(std_stream.try_clone().unwrap()).unwrap();
            heist::spawn(async { UnixStream::pair().unwrap() }).await.unwrap();
        });
        {
            let _guard = rt.enter();
            TcpListener::from_std(std_listener.try_clone().unwrap()).unwrap();
            UnixDatagram::pair().unwrap();
        }
        // And fail again once the guard is gone.
        assert_outside_error("UnixStream::pair after leaving", UnixStream::pair());
    });
}

#[cfg(unix)]
#[test]
fn async_on_a_regular_file_is_an_error() {
    run_with_timeout("regular_file", || {
        let path = std::env::temp_dir().join(format!("heist-net-regular-{}", std::process::id()));
        std::fs::write(&path, b"not pollable").unwrap();
        let rt = runtime(1);
        rt.block_on(async {
            let file = std::fs::File::open(&path).unwrap();
            let error = Async::new(file).expect_err("epoll accepted a regular file");
            assert_eq!(error.raw_os_error(), Some(libc::EPERM), "{error:?}");
            // The failed registration left the reactor in working order.
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all(b"fine").await.unwrap();
            let mut got = [0; 4];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"fine");
        });
        std::fs::remove_file(&path).unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// 10. Runtime shutdown with tasks parked on sockets
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn dropping_the_runtime_cancels_tasks_parked_on_sockets() {
    run_with_timeout("drop_runtime_with_io", || {
        let rt = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (parked_tx, parked_rx) = mpsc::channel();
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_addr = std_udp.local_addr().unwrap();
        let listener_addr = std_listener.local_addr().unwrap();

        let guard = DropCounter(drops.clone());
        let tx = parked_tx.clone();
        rt.spawn(on_pending(
            async move {
                let _guard = guard;
                let mut stream = UnixStream::from_std(ours).unwrap();
                let _ = stream.read(&mut [0; 8]).await;
                std::future::pending::<()>().await;
            },
            move || tx.send("read").unwrap(),
        ));
        let guard = DropCounter(drops.clone());
        let tx = parked_tx.clone();
        rt.spawn(on_pending(
            async move {
                let _guard = guard;
                let listener = TcpListener::from_std(std_listener).unwrap();
                let _ = listener.accept().await;
                std::future::pending::<()>().await;
            },
            move || tx.send("accept").unwrap(),
        ));
        let guard = DropCounter(drops.clone());
        rt.spawn(on_pending(
            async move {
                let _guard = guard;
                let socket = UdpSocket::from_std(std_udp).unwrap();
                let _ = socket.recv_from(&mut [0; 8]).await;
                std::future::pending::<()>().await;
            },
            move || parked_tx.send("recv_from").unwrap(),
        ));
        let mut parked: Vec<_> = (0..3)
            .map(|_| parked_rx.recv_timeout(WAIT).expect("a task never parked"))
            .collect();
        parked.sort();
        assert_eq!(parked, ["accept", "read", "recv_from"]);

        // An I/O object that outlives its runtime.
        let (mut survivor, mut survivor_peer) = rt.block_on(async { UnixStream::pair().unwrap() });

        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            3,
            "the parked tasks' futures were not all dropped"
        );
        // Their sockets were closed: the peers see it.
        theirs.set_read_timeout(Some(WAIT)).unwrap();
        assert_eq!(
            theirs.read(&mut [0; 8]).unwrap(),
            0,
            "the reader's socket is still open"
        );
        let refused = std::net::TcpStream::connect(listener_addr);
        assert!(refused.is_err(), "the listener is still open: {refused:?}");
        let rebound = std::net::UdpSocket::bind(udp_addr);
        assert!(rebound.is_ok(), "the UDP socket is still bound: {rebound:?}");

        // Using the survivor fails instead of waiting for a poll that will never come.
        let error = futures_lite::future::block_on(survivor.read(&mut [0; 8]))
            .expect_err("a read on an I/O object of a dropped runtime succeeded");
        assert!(error.to_string().contains("shut down"), "{error}");
        let error = futures_lite::future::block_on(survivor_peer.write_all(&vec![0; 16 << 20]))
            .expect_err("writing 16 MiB without a runtime succeeded");
        assert!(error.to_string().contains("shut down"), "{error}");
    });
}

// ---------------------------------------------------------------------------------------------
// 11. Listener and stream odds and ends
// ---------------------------------------------------------------------------------------------

#[test]
fn incoming_yields_connections() {
    const CLIENTS: usize = 20;
    run_with_timeout("incoming", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (listener, addr) = listener().await;
            let server = heist::spawn(async move {
                let mut incoming = listener.incoming();
                let mut peers = Vec::new();
                for _ in 0..CLIENTS {
                    let mut stream = incoming
                        .next()
                        .await
                        .expect("incoming ended")
                        .expect("accept failed");
                    peers.push(stream.peer_addr().unwrap());
                    let mut id = [0; 1];
                    stream.read_exact(&mut id).await.unwrap();
                    stream.write_all(&[id[0] ^ 0xff]).await.unwrap();
                }
                peers
            });
            let mut locals = Vec::new();
            for id in 0..CLIENTS as u8 {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                locals.push(stream.local_addr().unwrap());
                stream.write_all(&[id]).await.unwrap();
                let mut reply = [0; 1];
                stream.read_exact(&mut reply).await.unwrap();
                assert_eq!(reply[0], id ^ 0xff);
            }
            let mut peers = server.await.unwrap();
            peers.sort();
            locals.sort();
            assert_eq!(peers, locals, "incoming yielded other connections");
        });
    });
}

#[test]
fn tcp_addresses_options_and_std_conversions() {
    run_with_timeout("tcp_odds_and_ends", || {
        let rt = runtime(1);
        rt.block_on(async {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = std_listener.local_addr().unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            assert_eq!(listener.local_addr().unwrap(), addr);
            let (client, accepted) = zip(TcpStream::connect(addr), listener.accept()).await;
            let client = client.unwrap();
            let (server, peer) = accepted.unwrap();
            assert_eq!(client.peer_addr().unwrap(), addr);
            assert_eq!(server.local_addr().unwrap(), addr);
            assert_eq!(peer, client.local_addr().unwrap());
            client.set_nodelay(true).unwrap();
            assert!(client.nodelay().unwrap());
            client.set_nodelay(false).unwrap();
            assert!(!client.nodelay().unwrap());

            // Back to std: still connected, in non-blocking mode.
            let std_server = server.into_std().unwrap();
            let mut client = client;
            client.write_all(b"to std").await.unwrap();
            let mut got = [0; 6];
            let mut std_server_ref = &std_server;
            let mut have = 0;
            while have < got.len() {
                match std_server_ref.read(&mut got[have..]) {
                    Ok(n) => have += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => heist::task::yield_now().await,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!(&got, b"to std");
            // And back to heist.
            let mut server = TcpStream::from_std(std_server).unwrap();
            server.write_all(b"back").await.unwrap();
            let mut got = [0; 4];
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"back");

            // The listener goes back to std too.
            let std_listener = listener.into_std().unwrap();
            assert_eq!(std_listener.local_addr().unwrap(), addr);
        });
    });
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    run_with_timeout("connect_refused", || {
        let rt = runtime(1);
        rt.block_on(async {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let error = TcpStream::connect(addr)
                .await
                .expect_err("connected to a closed port");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
        });
    });
}

/// `connect` returns once the handshake is over, not as soon as the SYN is sent. The listener's
/// accept queue is kept full, so the kernel drops the SYN and the connection can only complete
/// (on the client's SYN retransmission) after the test has made room in the queue.
#[cfg(unix)]
#[test]
fn connect_returns_only_once_connected() {
    run_with_timeout("connect_waits_for_handshake", || {
        let rt = runtime(2);
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        // Backlog 0: Linux queues one connection, then drops SYNs.
        // SAFETY: a valid listening socket.
        assert_eq!(unsafe { libc::listen(std_listener.as_raw_fd(), 0) }, 0);
        let _filler = std::net::TcpStream::connect(addr).unwrap();
        let parked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connect = {
            let parked = parked.clone();
            rt.spawn(on_pending(TcpStream::connect(addr), move || {
                parked.store(true, Ordering::SeqCst)
            }))
        };
        // Either the connect parks (its SYN was dropped), or it returns at once.
        eventually("connect parked or returned", || {
            connect.is_finished() || parked.load(Ordering::SeqCst)
        });
        let parked = parked.load(Ordering::SeqCst);
        // Make room; the retransmitted SYN then gets through.
        let (_accepted_filler, _) = std_listener.accept().unwrap();
        let stream = rt.block_on(connect).unwrap().expect("connect failed");
        assert!(
            parked,
            "connect completed without ever waiting, though its SYN was dropped"
        );
        let peer = stream.peer_addr();
        assert!(
            matches!(peer, Ok(p) if p == addr),
            "connect returned a stream that is not connected: peer_addr() = {peer:?}"
        );
    });
}

#[cfg(unix)]
#[test]
fn several_tasks_reading_one_socket_share_its_data() {
    const TASKS: usize = 4;
    const BYTES: usize = 10_000;
    run_with_timeout("shared_readers", || {
        let rt = runtime(2);
        rt.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Arc::new(a);
            let (parked_tx, mut parked_rx) = tokio::sync::mpsc::unbounded_channel();
            let readers: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (a, parked_tx) = (a.clone(), parked_tx.clone());
                    heist::spawn(on_pending(
                        async move {
                            let mut got = Vec::new();
                            let mut buf = [0; 97];
                            loop {
                                let mut a = &*a;
                                let n = a.read(&mut buf).await.unwrap();
                                if n == 0 {
                                    return got;
                                }
                                got.extend_from_slice(&buf[..n]);
                            }
                        },
                        move || parked_tx.send(()).unwrap(),
                    ))
                })
                .collect();
            for _ in 0..TASKS {
                parked_rx.recv().await.unwrap();
            }
            // Every reader is parked on the same source; the data wakes them.
            let data = pattern(BYTES, 6);
            b.write_all(&data).await.unwrap();
            b.close().await.unwrap();
            let mut total = 0;
            for reader in readers {
                total += reader.await.unwrap().len();
            }
            assert_eq!(total, BYTES, "the readers together read a different byte count");
        });
    });
}

#[cfg(unix)]
struct NoopWake;

#[cfg(unix)]
impl std::task::Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

#[cfg(unix)]
/// Polls `make_future()` once with each of `count` distinct wakers (as from distinct tasks),
/// drops it while pending, and returns how many of those wakers the socket still holds.
fn wakers_kept_by_abandoned_waits<F: Future>(count: usize, mut make_future: impl FnMut() -> F) -> usize {
    let wakes: Vec<Arc<NoopWake>> = (0..count).map(|_| Arc::new(NoopWake)).collect();
    for wake in &wakes {
        let waker = std::task::Waker::from(wake.clone());
        let mut future = Box::pin(make_future());
        let poll = future.as_mut().poll(&mut std::task::Context::from_waker(&waker));
        assert!(poll.is_pending(), "a wait on an idle socket did not wait");
    }
    wakes.iter().filter(|wake| Arc::strong_count(wake) > 1).count()
}

/// The futures of the async methods (the losing branch of a `select`, a `timeout`, an aborted
/// task) take their waker out of the socket when dropped while pending. Otherwise, on a socket
/// that stays idle, every abandoned wait from another task would add one waker, each keeping
/// its task's allocation alive, until the next event on that socket.
#[cfg(unix)]
#[test]
fn an_abandoned_async_method_leaves_no_waker_behind() {
    const WAITS: usize = 100;
    run_with_timeout("abandoned_method_waker", || {
        let rt = runtime(1);
        let _guard = rt.enter();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        // A read that gets `WouldBlock` first clears the socket's initial readiness.
        let kept = wakers_kept_by_abandoned_waits(WAITS, || async {
            let mut buf = [0; 8];
            a.read_with(|mut socket| socket.read(&mut buf)).await
        });
        assert_eq!(
            kept, 0,
            "{kept} of {WAITS} wakers of dropped read_with futures are still held"
        );
        let kept = wakers_kept_by_abandoned_waits(WAITS, || a.readable());
        assert_eq!(
            kept, 0,
            "{kept} of {WAITS} wakers of dropped readable futures are still held"
        );

        let udp = rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
        let kept = wakers_kept_by_abandoned_waits(WAITS, || async {
            let mut buf = [0; 8];
            udp.recv_from(&mut buf).await
        });
        assert_eq!(
            kept, 0,
            "{kept} of {WAITS} wakers of dropped recv_from futures are still held"
        );

        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let kept = wakers_kept_by_abandoned_waits(WAITS, || listener.accept());
        assert_eq!(
            kept, 0,
            "{kept} of {WAITS} wakers of dropped accept futures are still held"
        );
    });
}

/// The poll API (`AsyncRead::poll_read`, behind `AsyncReadExt::read`) has no drop to hook, and
/// keeps one waker per polling task so that several tasks may read one socket. The socket
/// bounds what it keeps: abandoned reads from any number of tasks on an idle socket hold at
/// most 64 wakers (the list is flushed, its wakers woken, when it would grow past that).
#[cfg(unix)]
#[test]
fn abandoned_poll_api_reads_keep_a_bounded_number_of_wakers() {
    const READS: usize = 1_000;
    const BOUND: usize = 64;
    run_with_timeout("abandoned_read_waker", || {
        let rt = runtime(1);
        let _guard = rt.enter();
        let (a, _b) = UnixStream::pair().unwrap();
        let kept = wakers_kept_by_abandoned_waits(READS, || {
            let mut a = &a;
            async move {
                let mut buf = [0; 8];
                a.read(&mut buf).await
            }
        });
        assert!(
            kept <= BOUND,
            "{kept} of {READS} wakers of dropped poll-API reads are still held (bound {BOUND})"
        );
        assert!(
            kept > 0,
            "the most recent poll-API reader must still be registered"
        );
    });
}

#[cfg(unix)]
/// Two tasks on `rt`, each parked on its socket when this returns: a *blocker*, which waits
/// for a byte on `trigger`, says so on `blocking`, then blocks its worker thread in `block`;
/// and a *reader*, which returns what it reads (up to 5 bytes) from `reader`.
#[cfg(unix)]
fn spawn_blocker_and_reader(
    rt: &heist::Runtime,
    trigger: std::os::unix::net::UnixStream,
    reader: std::os::unix::net::UnixStream,
    blocking: mpsc::Sender<()>,
    block: impl FnOnce() + Send + 'static,
) -> (heist::task::JoinHandle<()>, heist::task::JoinHandle<Vec<u8>>) {
    let _guard = rt.enter();
    let trigger = Async::new(trigger).unwrap();
    let reader = Async::new(reader).unwrap();
    // Use up the sockets' initial readiness, so both tasks wait for the poller.
    let mut buf = [0; 1];
    for socket in [&trigger, &reader] {
        assert_eq!(
            socket.get_ref().read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
    let (parked_tx, parked_rx) = mpsc::channel();
    let blocker = rt.spawn(on_pending(
        async move {
            let mut buf = [0; 1];
            trigger
                .read_with(|mut socket| socket.read(&mut buf))
                .await
                .unwrap();
            blocking.send(()).unwrap();
            block();
        },
        {
            let parked_tx = parked_tx.clone();
            move || parked_tx.send(()).unwrap()
        },
    ));
    let reader = rt.spawn(on_pending(
        async move {
            let mut buf = [0; 5];
            let n = reader
                .read_with(|mut socket| socket.read(&mut buf))
                .await
                .unwrap();
            buf[..n].to_vec()
        },
        move || parked_tx.send(()).unwrap(),
    ));
    parked_rx.recv().unwrap();
    parked_rx.recv().unwrap();
    (blocker, reader)
}

/// A worker that takes in an I/O event and then blocks inside the woken task (a blocking call
/// where it should not be) must not stall the I/O of every other task: another worker takes
/// the poller over. Here the blocked task is woken by the event the poller-holding worker
/// receives, so the holder itself is the one that blocks.
#[cfg(unix)]
#[test]
fn a_worker_blocked_in_a_task_does_not_stall_other_io() {
    run_with_timeout("blocked_worker_io", || {
        let rt = runtime(2);
        let (a_reader, mut a_writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (b_reader, mut b_writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (blocking_tx, blocking_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (blocker, reader) = spawn_blocker_and_reader(&rt, a_reader, b_reader, blocking_tx, move || {
            release_rx.recv().unwrap()
        });

        a_writer.write_all(b"x").unwrap();
        blocking_rx.recv().unwrap();
        // One worker is now stuck in the blocker's poll; the other must see this event.
        b_writer.write_all(b"hello").unwrap();
        assert_eq!(rt.block_on(reader).unwrap(), b"hello");

        release_tx.send(()).unwrap();
        rt.block_on(blocker).unwrap();
    });
}

#[cfg(unix)]
/// The standby is woken for work while the watch's holder is blocked in a task: another
/// sleeper must stand by in its place, or nobody would wait on I/O any more. Several rounds,
/// since which sleeper a spawn wakes (the standby or the other) is the scheduler's choice.
/// (Before `watch.rs` this passed too: the woken standby, the last searcher, brought the other
/// sleeper in. The standby that leaves now pokes a replacement itself.)
#[cfg(unix)]
#[test]
fn io_is_served_when_the_standby_is_woken_for_work_while_the_holder_is_blocked() {
    run_with_timeout("standby_woken_for_work", || {
        for _ in 0..8 {
            let rt = runtime(3);
            let (a_reader, mut a_writer) = std::os::unix::net::UnixStream::pair().unwrap();
            let (c_reader, mut c_writer) = std::os::unix::net::UnixStream::pair().unwrap();
            let (blocking_tx, blocking_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
            let block_until_released = move || release_rx.lock().unwrap().recv().unwrap();
            let (blocker, reader) = spawn_blocker_and_reader(
                &rt,
                a_reader,
                c_reader,
                blocking_tx.clone(),
                block_until_released.clone(),
            );

            // The holder takes the event and blocks in the blocker's poll...
            a_writer.write_all(b"x").unwrap();
            blocking_rx.recv().unwrap();
            // ...and a task from outside wakes a sleeper (maybe the standby), which blocks too.
            let second_blocker = rt.spawn(async move {
                blocking_tx.send(()).unwrap();
                block_until_released();
            });
            blocking_rx.recv().unwrap();
            // One worker is left, asleep: it must be the one waiting on I/O by now.
            c_writer.write_all(b"hello").unwrap();
            assert_eq!(rt.block_on(reader).unwrap(), b"hello");

            release_tx.send(()).unwrap();
            release_tx.send(()).unwrap();
            rt.block_on(blocker).unwrap();
            rt.block_on(second_blocker).unwrap();
        }
    });
}

#[cfg(unix)]
/// A waker that panics when the worker on watch wakes it (a bug in whoever made the waker)
/// must not take the runtime's I/O down: the other wakes of the batch happen, the watch is
/// given up, and later events still reach their tasks.
#[cfg(unix)]
#[test]
fn a_waker_that_panics_leaves_the_runtime_serving_io() {
    use std::task::{Context, Wake, Waker};

    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics");
        }
    }

    run_with_timeout("panicking_waker", || {
        let rt = runtime(2);
        let _guard = rt.enter();
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let reader = Async::new(reader).unwrap();
        let mut buf = [0; 1];
        let waker = Waker::from(Arc::new(Panics));
        // Would block: the readiness is cleared and the waker stored in the source.
        let poll = reader.poll_read_with(&mut Context::from_waker(&waker), |mut socket| {
            socket.read(&mut buf)
        });
        assert!(poll.is_pending());
        drop(waker);
        writer.write_all(b"x").unwrap();

        for round in 0..3u8 {
            let (other_reader, mut other_writer) = std::os::unix::net::UnixStream::pair().unwrap();
            let other_reader = Async::new(other_reader).unwrap();
            let read = rt.spawn(async move {
                let mut buf = [0; 1];
                other_reader
                    .read_with(|mut socket| socket.read(&mut buf))
                    .await
                    .unwrap();
                buf[0]
            });
            other_writer.write_all(&[round]).unwrap();
            assert_eq!(rt.block_on(read).unwrap(), round);
            // And plain spawns from outside still find a worker to wake.
            assert_eq!(rt.block_on(rt.spawn(async move { round })).unwrap(), round);
        }
    });
}

#[cfg(unix)]
/// The runtime went idle before any socket existed, so its second worker sleeps with no
/// timeout. Then the worker on watch takes an event whose task blocks it: the sleeper must be
/// woken to wait on I/O in its place, or the next event is never taken in.
#[cfg(unix)]
#[test]
fn io_is_served_when_the_holder_blocks_after_the_runtime_went_idle_with_no_sources() {
    use std::sync::Mutex;
    use std::task::{Context, Wake, Waker};

    /// Runs its closure on the first wake, on the thread that wakes it.
    struct OnWake(Mutex<Option<Box<dyn FnOnce() + Send>>>);
    impl Wake for OnWake {
        fn wake(self: Arc<Self>) {
            if let Some(f) = self.0.lock().unwrap().take() {
                f();
            }
        }
    }
    fn on_wake(f: impl FnOnce() + Send + 'static) -> Waker {
        Waker::from(Arc::new(OnWake(Mutex::new(Some(Box::new(f))))))
    }

    run_with_timeout("holder_blocks_after_idle", || {
        let rt = runtime(2);
        let metrics = rt.metrics();
        eventually("both workers parked", || {
            (0..2).all(|worker| metrics.worker_park_count(worker) >= 1)
        });
        let _guard = rt.enter();
        let (a_reader, mut a_writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (c_reader, mut c_writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let a_reader = Async::new(a_reader).unwrap();
        let c_reader = Async::new(c_reader).unwrap();
        let (blocked_tx, blocked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (c_tx, c_rx) = mpsc::channel();

        // A's event is taken in by the worker on watch, which runs the waker: it spawns a task
        // that blocks, and the worker runs that task itself, as it does with the tasks its
        // events wake.
        let handle = rt.handle().clone();
        let spawn_blocker = on_wake(move || {
            drop(handle.spawn(async move {
                blocked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            }))
        });
        let mut buf = [0; 1];
        let poll = a_reader.poll_read_with(&mut Context::from_waker(&spawn_blocker), |mut socket| {
            socket.read(&mut buf)
        });
        assert!(poll.is_pending());
        let tell_c = on_wake(move || c_tx.send(()).unwrap());
        let poll = c_reader.poll_read_with(&mut Context::from_waker(&tell_c), |mut socket| {
            socket.read(&mut buf)
        });
        assert!(poll.is_pending());

        a_writer.write_all(b"x").unwrap();
        blocked_rx
            .recv_timeout(WAIT)
            .expect("the blocking task never ran");
        c_writer.write_all(b"y").unwrap();
        c_rx.recv_timeout(WAIT)
            .expect("no one took in an event while the worker on watch was blocked in a task");
        release_tx.send(()).unwrap();
    });
}

#[cfg(unix)]
/// Data and the peer's FIN arrive before the reader looks, often reported by one event: the
/// short read that takes the data must not clear the readiness that the end of the stream
/// still needs, or the next read would wait forever. Many rounds, TCP and Unix streams.
#[cfg(unix)]
#[test]
fn the_end_of_the_stream_after_a_short_read_is_seen() {
    run_with_timeout("fin_with_last_data", || {
        let rt = runtime(2);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for round in 0..200u32 {
                let mut client = std::net::TcpStream::connect(addr).unwrap();
                let (mut server, _) = listener.accept().await.unwrap();
                client.write_all(&round.to_le_bytes()).unwrap();
                client.shutdown(Shutdown::Write).unwrap();
                let mut buf = [0; 64];
                let mut got = Vec::new();
                loop {
                    match server.read(&mut buf).await.unwrap() {
                        0 => break,
                        n => got.extend_from_slice(&buf[..n]),
                    }
                }
                assert_eq!(got, round.to_le_bytes(), "round {round}");

                let (mut near, far) = std::os::unix::net::UnixStream::pair().unwrap();
                let mut far = UnixStream::from_std(far).unwrap();
                near.write_all(b"last words").unwrap();
                near.shutdown(Shutdown::Write).unwrap();
                let mut got = Vec::new();
                far.read_to_end(&mut got).await.unwrap();
                assert_eq!(got, b"last words", "round {round}");
            }
        });
    });
}

/// A connect to a port nobody listens on fails with `ConnectionRefused`, on every backend: it
/// must not wait for a readiness the failed connect never reports. (Windows retries a refused
/// SYN for about a second before it gives up; the deadline covers that.)
#[test]
fn connect_to_a_closed_port_is_refused() {
    run_with_timeout("connect_to_a_closed_port_is_refused", || {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        runtime(2).block_on(async move {
            let error = TcpStream::connect(closed)
                .await
                .expect_err("nothing listens on a port whose listener was dropped");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        })
    });
}
