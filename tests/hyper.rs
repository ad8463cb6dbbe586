//! hyper 1.x on heist through `heist::hyper`'s adapters: HTTP/1.1 and HTTP/2 servers and
//! clients, both ends on heist (`HeistIo`, `HeistExecutor`, `HeistTimer`).
//!
//! Run with `cargo test --features hyper --test hyper`. Every body runs under
//! `run_with_timeout`; nothing sleeps to let a race happen: where the order of events matters
//! (a request in flight when the shutdown begins), the test waits for messages from the
//! server's tasks.

mod common;

use std::convert::Infallible;
use std::future::{Future, IntoFuture, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{run_with_timeout, runtime};
use futures_lite::future;
use heist::hyper::{HeistExecutor, HeistIo, HeistSleep, HeistTimer};
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use hyper::body::{Body, Incoming};
use hyper::rt::{Sleep, Timer};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A listener on a free loopback port, and its address.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    (listener, addr)
}

/// A client stream to `addr`, ready for hyper.
async fn connect(addr: SocketAddr) -> HeistIo<TcpStream> {
    HeistIo::new(TcpStream::connect(addr).await.expect("connect"))
}

/// The whole body, as text.
async fn text(mut body: Incoming) -> String {
    let mut bytes = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.expect("a body frame").into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    String::from_utf8(bytes).expect("a UTF-8 body")
}

fn request(method: &str, path: &str, body: &str) -> Request<String> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "heist.test")
        .body(body.to_string())
        .expect("a valid request")
}

/// Answers "`n` `METHOD` `path` `body`", where `n` counts the requests of the connection.
fn counting_service(
    served: Arc<AtomicUsize>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<String>, Infallible>> + Send,
> + Clone {
    service_fn(move |request: Request<Incoming>| {
        let served = served.clone();
        async move {
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            let (parts, body) = request.into_parts();
            let body = text(body).await;
            Ok::<_, Infallible>(Response::new(format!(
                "{n} {} {} {body}",
                parts.method,
                parts.uri.path()
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1
// ---------------------------------------------------------------------------------------------

#[test]
fn http1_keep_alive_serves_several_requests_on_one_connection() {
    run_with_timeout(
        "http1_keep_alive_serves_several_requests_on_one_connection",
        || {
            runtime(2).block_on(async {
                let (listener, addr) = listener().await;
                let served = Arc::new(AtomicUsize::new(0));
                let server = heist::spawn({
                    let served = served.clone();
                    async move {
                        let (stream, _) = listener.accept().await.expect("accept");
                        hyper::server::conn::http1::Builder::new()
                            .timer(HeistTimer::new())
                            .serve_connection(HeistIo::new(stream), counting_service(served))
                            .await
                    }
                });

                let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                    .await
                    .expect("handshake");
                let client = heist::spawn(connection);
                for i in 1..=5 {
                    let (method, body) = if i % 2 == 0 {
                        ("POST", format!("body {i}"))
                    } else {
                        ("GET", String::new())
                    };
                    sender
                        .ready()
                        .await
                        .expect("the connection takes another request");
                    let response = sender
                        .send_request(request(method, &format!("/{i}"), &body))
                        .await
                        .expect("a response");
                    assert_eq!(response.status(), StatusCode::OK);
                    assert_eq!(response.version(), Version::HTTP_11);
                    assert_eq!(
                        text(response.into_body()).await,
                        format!("{i} {method} /{i} {body}")
                    );
                }

                // Closing the client's side ends both connection futures cleanly.
                drop(sender);
                client
                    .await
                    .unwrap()
                    .expect("the client connection ends without error");
                server
                    .await
                    .unwrap()
                    .expect("the server connection ends without error");
                assert_eq!(
                    served.load(Ordering::SeqCst),
                    5,
                    "all requests on the one connection"
                );
            })
        },
    );
}

#[test]
fn http1_large_bodies_arrive_whole_both_ways() {
    large_bodies_arrive_whole_both_ways("http1_large_bodies_arrive_whole_both_ways", HeistIo::new);
}

/// The same over `TcpStream`'s own hyper traits, which read into hyper's uninitialized buffer.
#[test]
fn http1_large_bodies_arrive_whole_both_ways_over_a_bare_tcp_stream() {
    large_bodies_arrive_whole_both_ways(
        "http1_large_bodies_arrive_whole_both_ways_over_a_bare_tcp_stream",
        |stream| stream,
    );
}

fn large_bodies_arrive_whole_both_ways<Io>(name: &'static str, wrap: fn(TcpStream) -> Io)
where
    Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    run_with_timeout(name, move || {
        runtime(2).block_on(async move {
            let (listener, addr) = listener().await;
            // Echoes the request body: large reads on both sides.
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                let echo = service_fn(|request: Request<Incoming>| async move {
                    Ok::<_, Infallible>(Response::new(text(request.into_body()).await))
                });
                hyper::server::conn::http1::Builder::new()
                    .timer(HeistTimer::new())
                    .serve_connection(wrap(stream), echo)
                    .await
            });

            let client_stream = wrap(TcpStream::connect(addr).await.expect("connect"));
            let (mut sender, connection) = hyper::client::conn::http1::handshake(client_stream)
                .await
                .expect("handshake");
            let client = heist::spawn(connection);
            // A small request first (reads shrink to it), then 4 MiB, then a small one again.
            for size in [10, 4 << 20, 10] {
                let body: String = (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
                sender
                    .ready()
                    .await
                    .expect("the connection takes another request");
                let response = sender
                    .send_request(request("POST", "/echo", &body))
                    .await
                    .expect("a response");
                assert_eq!(response.status(), StatusCode::OK);
                let echoed = text(response.into_body()).await;
                assert!(
                    echoed == body,
                    "{size} bytes sent, {} came back (or other bytes)",
                    echoed.len()
                );
            }
            drop(sender);
            client
                .await
                .unwrap()
                .expect("the client connection ends without error");
            server
                .await
                .unwrap()
                .expect("the server connection ends without error");
        })
    });
}

#[test]
fn http1_header_read_timeout_runs_on_the_heist_timer() {
    run_with_timeout("http1_header_read_timeout_runs_on_the_heist_timer", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                hyper::server::conn::http1::Builder::new()
                    .timer(HeistTimer::new())
                    .header_read_timeout(Duration::from_millis(50))
                    .serve_connection(HeistIo::new(stream), counting_service(Arc::default()))
                    .await
            });

            // A request head that never ends: only the timeout can end the connection.
            let mut client = TcpStream::connect(addr).await.expect("connect");
            client
                .write_all(b"GET / HTTP/1.1\r\nhost: heist.test\r\n")
                .await
                .unwrap();
            let error = server.await.unwrap().expect_err("the connection times out");
            assert!(error.is_timeout(), "not a timeout: {error:?}");
            let mut rest = Vec::new();
            client
                .read_to_end(&mut rest)
                .await
                .expect("the server closes the connection");
        })
    });
}

/// hyper's deadlines follow a paused heist clock: `HeistTimer::now` reads it, and its sleeps
/// end by auto-advance. An hour-long header read timeout ends the connection at once, at
/// exactly one virtual hour.
#[test]
fn http1_header_read_timeout_follows_the_paused_clock() {
    run_with_timeout("http1_header_read_timeout_follows_the_paused_clock", || {
        runtime(2).block_on(async {
            heist::time::pause();
            let timer = HeistTimer::new();
            let start = heist::time::Instant::now();
            assert_eq!(timer.now(), start.into_std());
            let (listener, addr) = listener().await;
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                hyper::server::conn::http1::Builder::new()
                    .timer(HeistTimer::new())
                    .header_read_timeout(Duration::from_secs(3600))
                    .serve_connection(HeistIo::new(stream), counting_service(Arc::default()))
                    .await
            });
            let mut client = TcpStream::connect(addr).await.expect("connect");
            client
                .write_all(b"GET / HTTP/1.1\r\nhost: heist.test\r\n")
                .await
                .unwrap();
            let error = server.await.unwrap().expect_err("the connection times out");
            assert!(error.is_timeout(), "not a timeout: {error:?}");
            assert_eq!(start.elapsed(), Duration::from_secs(3600));
        })
    });
}

/// Waits until the shutdown has begun, then shuts `conn` down gracefully and finishes it;
/// `begun` is told once `graceful_shutdown` has been called.
async fn serve_until_shutdown<C: Future<Output = hyper::Result<()>>>(
    mut conn: Pin<&mut C>,
    shutdown: oneshot::Receiver<()>,
    begun: oneshot::Sender<()>,
    graceful_shutdown: impl FnOnce(Pin<&mut C>),
) -> hyper::Result<()> {
    let finished = future::or(async { Some(conn.as_mut().await) }, async {
        shutdown.await.expect("the test tells the server to shut down");
        None
    })
    .await;
    if let Some(result) = finished {
        return result;
    }
    graceful_shutdown(conn.as_mut());
    begun.send(()).unwrap();
    conn.await
}

#[test]
fn http1_graceful_shutdown_lets_the_request_in_flight_finish() {
    run_with_timeout(
        "http1_graceful_shutdown_lets_the_request_in_flight_finish",
        || {
            runtime(2).block_on(async {
                let (listener, addr) = listener().await;
                let (entered_tx, entered_rx) = oneshot::channel::<()>();
                let (release_tx, release_rx) = oneshot::channel::<()>();
                let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
                let (begun_tx, begun_rx) = oneshot::channel::<()>();
                let hooks = Arc::new(std::sync::Mutex::new(Some((entered_tx, release_rx))));
                let server = heist::spawn(async move {
                    let (stream, _) = listener.accept().await.expect("accept");
                    // The request waits in the handler until the test releases it.
                    let service = service_fn(move |_: Request<Incoming>| {
                        let hooks = hooks.lock().unwrap().take();
                        async move {
                            let (entered, release) = hooks.expect("one request only");
                            entered.send(()).unwrap();
                            release.await.expect("the test releases the request");
                            Ok::<_, Infallible>(Response::new("finished".to_string()))
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(HeistTimer::new())
                        .serve_connection(HeistIo::new(stream), service);
                    serve_until_shutdown(pin!(conn), shutdown_rx, begun_tx, |conn| conn.graceful_shutdown())
                        .await
                });

                let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                    .await
                    .expect("handshake");
                let client = heist::spawn(connection);
                let in_flight = heist::spawn(sender.send_request(request("GET", "/slow", "")));
                entered_rx.await.expect("the request reaches the handler");
                shutdown_tx.send(()).unwrap();
                begun_rx.await.expect("the server begins its graceful shutdown");
                release_tx.send(()).unwrap();

                let response = in_flight
                    .await
                    .unwrap()
                    .expect("the request in flight is answered");
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(
                    response.headers().get("connection").map(|value| value.as_bytes()),
                    Some(&b"close"[..]),
                    "the answer announces the close"
                );
                assert_eq!(text(response.into_body()).await, "finished");
                server
                    .await
                    .unwrap()
                    .expect("the server connection closes cleanly");
                client
                    .await
                    .unwrap()
                    .expect("the client connection ends without error");
                assert!(
                    sender.ready().await.is_err(),
                    "the connection is closed after the answer"
                );
            })
        },
    );
}

#[test]
fn http1_graceful_shutdown_closes_an_idle_connection() {
    run_with_timeout("http1_graceful_shutdown_closes_an_idle_connection", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
            let (begun_tx, begun_rx) = oneshot::channel::<()>();
            let served = Arc::new(AtomicUsize::new(0));
            let server = heist::spawn({
                let served = served.clone();
                async move {
                    let (stream, _) = listener.accept().await.expect("accept");
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(HeistTimer::new())
                        .serve_connection(HeistIo::new(stream), counting_service(served));
                    serve_until_shutdown(pin!(conn), shutdown_rx, begun_tx, |conn| conn.graceful_shutdown())
                        .await
                }
            });

            let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                .await
                .expect("handshake");
            let client = heist::spawn(connection);
            let response = sender
                .send_request(request("GET", "/", ""))
                .await
                .expect("a response");
            assert_eq!(text(response.into_body()).await, "1 GET / ");

            // Idle now (keep-alive): a graceful shutdown closes it without waiting.
            shutdown_tx.send(()).unwrap();
            begun_rx.await.unwrap();
            server
                .await
                .unwrap()
                .expect("the server connection closes cleanly");
            client.await.unwrap().expect("the client sees a clean close");
            assert_eq!(served.load(Ordering::SeqCst), 1);
        })
    });
}

// ---------------------------------------------------------------------------------------------
// HTTP/2
// ---------------------------------------------------------------------------------------------

#[test]
fn http2_round_trips_with_the_heist_executor() {
    run_with_timeout("http2_round_trips_with_the_heist_executor", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let served = Arc::new(AtomicUsize::new(0));
            let server = heist::spawn({
                let served = served.clone();
                async move {
                    let (stream, _) = listener.accept().await.expect("accept");
                    // Every stream is a task on heist (the executor), and the keep-alive pings
                    // run on its timer.
                    hyper::server::conn::http2::Builder::new(HeistExecutor::new())
                        .timer(HeistTimer::new())
                        .keep_alive_interval(Duration::from_secs(30))
                        .serve_connection(HeistIo::new(stream), counting_service(served))
                        .await
                }
            });

            let (sender, connection) = hyper::client::conn::http2::Builder::new(HeistExecutor::new())
                .timer(HeistTimer::new())
                .handshake(connect(addr).await)
                .await
                .expect("handshake");
            let client = heist::spawn(connection);

            // Concurrent requests, multiplexed on the one connection.
            let requests: Vec<_> = (0..16)
                .map(|i| {
                    let mut sender = sender.clone();
                    heist::spawn(async move {
                        let body = format!("request {i}");
                        let response = sender
                            .send_request(request("POST", &format!("/{i}"), &body))
                            .await
                            .expect("a response");
                        assert_eq!(response.status(), StatusCode::OK);
                        assert_eq!(response.version(), Version::HTTP_2);
                        let text = text(response.into_body()).await;
                        assert!(
                            text.ends_with(&format!(" POST /{i} {body}")),
                            "request {i} got {text:?}"
                        );
                        text.split(' ').next().unwrap().parse::<usize>().unwrap()
                    })
                })
                .collect();
            let mut counts = Vec::new();
            for request in requests {
                counts.push(request.await.unwrap());
            }
            counts.sort_unstable();
            assert_eq!(counts, (1..=16).collect::<Vec<_>>(), "each request counted once");

            drop(sender);
            client
                .await
                .unwrap()
                .expect("the client connection ends without error");
            server
                .await
                .unwrap()
                .expect("the server connection ends without error");
            assert_eq!(served.load(Ordering::SeqCst), 16);
        })
    });
}

#[test]
fn http2_graceful_shutdown_lets_the_request_in_flight_finish() {
    run_with_timeout(
        "http2_graceful_shutdown_lets_the_request_in_flight_finish",
        || {
            runtime(2).block_on(async {
                let (listener, addr) = listener().await;
                let (entered_tx, entered_rx) = oneshot::channel::<()>();
                let (release_tx, release_rx) = oneshot::channel::<()>();
                let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
                let (begun_tx, begun_rx) = oneshot::channel::<()>();
                let hooks = Arc::new(std::sync::Mutex::new(Some((entered_tx, release_rx))));
                let server = heist::spawn(async move {
                    let (stream, _) = listener.accept().await.expect("accept");
                    let service = service_fn(move |_: Request<Incoming>| {
                        let hooks = hooks.lock().unwrap().take();
                        async move {
                            let (entered, release) = hooks.expect("one request only");
                            entered.send(()).unwrap();
                            release.await.expect("the test releases the request");
                            Ok::<_, Infallible>(Response::new("finished".to_string()))
                        }
                    });
                    let conn = hyper::server::conn::http2::Builder::new(HeistExecutor::new())
                        .timer(HeistTimer::new())
                        .serve_connection(HeistIo::new(stream), service);
                    serve_until_shutdown(pin!(conn), shutdown_rx, begun_tx, |conn| conn.graceful_shutdown())
                        .await
                });

                let (mut sender, connection) = hyper::client::conn::http2::Builder::new(HeistExecutor::new())
                    .handshake(connect(addr).await)
                    .await
                    .expect("handshake");
                let client = heist::spawn(connection);
                let in_flight = heist::spawn(sender.send_request(request("GET", "/slow", "")));
                entered_rx.await.expect("the request reaches the handler");
                shutdown_tx.send(()).unwrap();
                begun_rx.await.expect("the server begins its graceful shutdown");
                release_tx.send(()).unwrap();

                let response = in_flight
                    .await
                    .unwrap()
                    .expect("the request in flight is answered");
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(text(response.into_body()).await, "finished");
                server
                    .await
                    .unwrap()
                    .expect("the server connection closes cleanly (GOAWAY)");
                client
                    .await
                    .unwrap()
                    .expect("the client connection ends without error");
                assert!(
                    sender.send_request(request("GET", "/", "")).await.is_err(),
                    "no new request after the GOAWAY"
                );
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// The adapters on their own
// ---------------------------------------------------------------------------------------------

/// A `Sleep` of another timer, to see `HeistTimer::reset` replace it.
struct ForeignSleep;

impl Future for ForeignSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Sleep for ForeignSleep {}

#[test]
fn timer_sleeps_and_resets_in_place() {
    run_with_timeout("timer_sleeps_and_resets_in_place", || {
        runtime(2).block_on(async {
            let timer = HeistTimer::new();
            timer.sleep(Duration::from_millis(1)).await;
            timer.sleep_until(Instant::now()).await;

            // An hour's sleep, registered, then reset to now: it completes, and it is the same
            // allocation (moved in place, not replaced).
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            assert!(
                future::poll_once(sleep.as_mut()).await.is_none(),
                "an hour went by"
            );
            let before: *const dyn Sleep = &*sleep;
            let deadline = Instant::now();
            timer.reset(&mut sleep, deadline);
            let after: *const dyn Sleep = &*sleep;
            assert!(std::ptr::addr_eq(before, after), "reset replaced the sleep");
            let heist_sleep = sleep
                .as_mut()
                .downcast_mut_pin::<HeistSleep>()
                .expect("a HeistSleep");
            assert_eq!(heist_sleep.deadline(), deadline);
            sleep.await;

            // Another timer's sleep is replaced by one of ours.
            let mut foreign: Pin<Box<dyn Sleep>> = Box::pin(ForeignSleep);
            timer.reset(&mut foreign, Instant::now());
            assert!(foreign.is::<HeistSleep>());
            foreign.await;
        })
    });
}

#[test]
fn heist_io_turns_hyper_io_back_into_futures_io() {
    run_with_timeout("heist_io_turns_hyper_io_back_into_futures_io", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let (client, accepted) = future::zip(TcpStream::connect(addr), listener.accept()).await;
            // futures-io -> hyper -> futures-io, on both ends.
            let mut client = HeistIo::new(HeistIo::new(client.expect("connect")));
            let mut server = HeistIo::new(HeistIo::new(accepted.expect("accept").0));

            let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let writer = heist::spawn({
                let payload = payload.clone();
                async move {
                    client.write_all(&payload).await.unwrap();
                    client.close().await.unwrap();
                    client
                }
            });
            let mut received = Vec::new();
            server.read_to_end(&mut received).await.unwrap();
            assert!(received == payload, "the bytes arrive unchanged");
            let client = writer.await.unwrap();
            assert_eq!(client.into_inner().into_inner().peer_addr().unwrap(), addr);
        })
    });
}

#[test]
fn upgraded_connection_speaks_futures_io_through_heist_io() {
    run_with_timeout("upgraded_connection_speaks_futures_io_through_heist_io", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                let service = service_fn(|mut request: Request<Incoming>| async move {
                    // After the 101, the connection is an echo stream.
                    drop(heist::spawn(async move {
                        let upgraded = hyper::upgrade::on(&mut request).await.expect("server upgrade");
                        let mut io = HeistIo::new(upgraded);
                        let mut buf = [0; 4];
                        io.read_exact(&mut buf).await.unwrap();
                        io.write_all(&buf).await.unwrap();
                        io.flush().await.unwrap();
                    }));
                    let response = Response::builder()
                        .status(StatusCode::SWITCHING_PROTOCOLS)
                        .header("connection", "upgrade")
                        .header("upgrade", "echo")
                        .body(String::new())
                        .unwrap();
                    Ok::<_, Infallible>(response)
                });
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(HeistIo::new(stream), service)
                    .with_upgrades()
                    .await
            });

            let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                .await
                .expect("handshake");
            let client = heist::spawn(connection.with_upgrades());
            let mut upgrade = request("GET", "/", "");
            upgrade
                .headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            upgrade.headers_mut().insert("upgrade", "echo".parse().unwrap());
            let response = sender.send_request(upgrade).await.expect("a response");
            assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            let upgraded = hyper::upgrade::on(response).await.expect("client upgrade");
            let mut io = HeistIo::new(upgraded);
            io.write_all(b"ping").await.unwrap();
            let mut echoed = [0; 4];
            io.read_exact(&mut echoed).await.unwrap();
            assert_eq!(&echoed, b"ping");
            drop(io);
            server
                .await
                .unwrap()
                .expect("the server connection hands over cleanly");
            client
                .await
                .unwrap()
                .expect("the client connection hands over cleanly");
        })
    });
}

#[test]
fn the_adapters_are_what_hyper_asks_for() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<HeistExecutor>();
    send_sync::<HeistTimer>();
    send_sync::<HeistSleep>();
    send_sync::<HeistIo<TcpStream>>();
    fn unpin<T: Unpin>() {}
    unpin::<HeistSleep>();
    unpin::<HeistIo<TcpStream>>();
}

#[test]
fn executor_tasks_are_listed_where_the_executor_was_made() {
    run_with_timeout("executor_tasks_are_listed_where_the_executor_was_made", || {
        let rt = runtime(1);
        let made_at = line!() + 1;
        let executor = HeistExecutor::new();
        let default_made_at = line!() + 1;
        let default = HeistExecutor::default();
        rt.block_on(async move {
            // As hyper does: through the trait, from its own code.
            hyper::rt::Executor::execute(&executor, std::future::pending::<()>());
            hyper::rt::Executor::execute(&default, std::future::pending::<()>());
        });
        let dump = rt.dump();
        let mut lines: Vec<u32> = dump.tasks().iter().map(|task| task.location().line()).collect();
        lines.sort_unstable();
        assert_eq!(lines, [made_at, default_made_at], "{dump}");
        for task in dump.tasks() {
            assert_eq!(task.location().file(), file!(), "{dump}");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// heist::hyper::serve
// ---------------------------------------------------------------------------------------------

/// The hooks of the one `/slow` request: "entered" for the handler to send, "release" for it
/// to wait on.
type SlowHooks = Arc<std::sync::Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>>;

/// A tower service answering "`VERSION` `path`"; `/slow` first reports that it was entered,
/// then waits for the test to release it.
fn version_service(
    slow: SlowHooks,
) -> impl tower::Service<
    Request<Incoming>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<String>, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |request: Request<Incoming>| {
        let hooks = (request.uri().path() == "/slow").then(|| slow.lock().unwrap().take());
        async move {
            if let Some(hooks) = hooks {
                let (entered, release) = hooks.expect("one slow request only");
                entered.send(()).unwrap();
                release.await.expect("the test releases the request");
            }
            Ok::<_, Infallible>(Response::new(format!(
                "{:?} {}",
                request.version(),
                request.uri().path()
            )))
        }
    })
}

fn no_slow_requests() -> SlowHooks {
    Arc::new(std::sync::Mutex::new(None))
}

#[test]
fn serve_speaks_http1_and_http2_on_one_port() {
    run_with_timeout("serve_speaks_http1_and_http2_on_one_port", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let (stop, stopped) = oneshot::channel::<()>();
            let server = heist::spawn(
                heist::hyper::serve(listener, version_service(no_slow_requests()))
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .into_future(),
            );

            let (mut http1, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                .await
                .expect("HTTP/1 handshake");
            let http1_connection = heist::spawn(connection);
            for path in ["/a", "/b"] {
                http1.ready().await.expect("the HTTP/1 connection is ready");
                let response = http1
                    .send_request(request("GET", path, ""))
                    .await
                    .expect("HTTP/1 request");
                assert_eq!(text(response.into_body()).await, format!("HTTP/1.1 {path}"));
            }

            let (mut http2, connection) =
                hyper::client::conn::http2::handshake(HeistExecutor::new(), connect(addr).await)
                    .await
                    .expect("HTTP/2 handshake");
            let http2_connection = heist::spawn(connection);
            let response = http2
                .send_request(request("GET", "http://heist.test/c", ""))
                .await
                .expect("HTTP/2 request");
            assert_eq!(response.version(), Version::HTTP_2);
            assert_eq!(text(response.into_body()).await, "HTTP/2.0 /c");

            stop.send(()).unwrap();
            server.await.unwrap().expect("the server stops without error");
            http1_connection
                .await
                .unwrap()
                .expect("the idle HTTP/1 connection is closed cleanly");
            http2_connection
                .await
                .unwrap()
                .expect("the idle HTTP/2 connection is closed cleanly");
        })
    });
}

#[test]
fn serve_graceful_shutdown_waits_for_the_request_in_flight() {
    run_with_timeout("serve_graceful_shutdown_waits_for_the_request_in_flight", || {
        runtime(2).block_on(async {
            let (listener, addr) = listener().await;
            let (entered_tx, entered_rx) = oneshot::channel::<()>();
            let (release_tx, release_rx) = oneshot::channel::<()>();
            let slow = Arc::new(std::sync::Mutex::new(Some((entered_tx, release_rx))));
            let (stop, stopped) = oneshot::channel::<()>();
            let server = heist::spawn(
                heist::hyper::serve(listener, version_service(slow))
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .into_future(),
            );

            let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                .await
                .expect("handshake");
            let client = heist::spawn(connection);
            let in_flight = heist::spawn(sender.send_request(request("GET", "/slow", "")));
            entered_rx.await.expect("the request reaches the handler");
            stop.send(()).unwrap();

            // The listener closes once the shutdown has begun: connections are refused. One
            // that reached the listener's queue just before it closed is reset instead.
            loop {
                match TcpStream::connect(addr).await {
                    Ok(_) => heist::task::yield_now().await,
                    Err(error) => {
                        assert!(
                            matches!(
                                error.kind(),
                                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                            ),
                            "{error}"
                        );
                        break;
                    }
                }
            }
            assert!(
                !server.is_finished(),
                "the server completed while a request was still in its handler"
            );

            release_tx.send(()).unwrap();
            let response = in_flight
                .await
                .unwrap()
                .expect("the request in flight is answered");
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers().get("connection").map(|value| value.as_bytes()),
                Some(&b"close"[..]),
                "the answer announces the close"
            );
            assert_eq!(text(response.into_body()).await, "HTTP/1.1 /slow");
            server.await.unwrap().expect("the server stops without error");
            client
                .await
                .unwrap()
                .expect("the client connection ends without error");
        })
    });
}

#[cfg(unix)]
#[test]
fn serve_on_a_unix_listener() {
    run_with_timeout("serve_on_a_unix_listener", || {
        runtime(2).block_on(async {
            let dir = std::env::temp_dir().join(format!("heist-serve-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("http.sock");
            let _ = std::fs::remove_file(&path);
            let listener = heist::net::UnixListener::bind(&path).expect("bind a Unix socket");
            let (stop, stopped) = oneshot::channel::<()>();
            let server = heist::spawn(
                heist::hyper::serve(listener, version_service(no_slow_requests()))
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .into_future(),
            );
            let stream = HeistIo::new(heist::net::UnixStream::connect(&path).await.expect("connect"));
            let (mut sender, connection) = hyper::client::conn::http1::handshake(stream)
                .await
                .expect("handshake");
            let client = heist::spawn(connection);
            let response = sender
                .send_request(request("GET", "/unix", ""))
                .await
                .expect("request");
            assert_eq!(text(response.into_body()).await, "HTTP/1.1 /unix");
            stop.send(()).unwrap();
            server.await.unwrap().expect("the server stops without error");
            client
                .await
                .unwrap()
                .expect("the client connection ends without error");
            std::fs::remove_dir_all(&dir).unwrap();
        })
    });
}

#[test]
fn serve_stops_with_an_error_on_a_listener_that_cannot_accept() {
    /// A listener whose socket is not listening: every accept fails with `InvalidInput`.
    struct NotListening;
    impl heist::hyper::Listener for NotListening {
        type Io = TcpStream;
        type Addr = SocketAddr;
        async fn accept(&mut self) -> std::io::Result<(TcpStream, SocketAddr)> {
            Err(std::io::Error::from(std::io::ErrorKind::InvalidInput))
        }
        fn local_addr(&self) -> std::io::Result<SocketAddr> {
            Err(std::io::Error::from(std::io::ErrorKind::InvalidInput))
        }
    }
    run_with_timeout(
        "serve_stops_with_an_error_on_a_listener_that_cannot_accept",
        || {
            runtime(1).block_on(async {
                let error = heist::hyper::serve(NotListening, version_service(no_slow_requests()))
                    .await
                    .expect_err("an accept that can never succeed ends the server");
                assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
            })
        },
    );
}

#[test]
fn serve_graceful_shutdown_closes_a_connection_that_never_sent_a_byte() {
    run_with_timeout(
        "serve_graceful_shutdown_closes_a_connection_that_never_sent_a_byte",
        || {
            runtime(2).block_on(async {
                let (listener, addr) = listener().await;
                let (stop, stopped) = oneshot::channel::<()>();
                let server = heist::spawn(
                    heist::hyper::serve(listener, version_service(no_slow_requests()))
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .into_future(),
                );
                // Connected and silent: the server is still reading the first bytes, to tell HTTP/1
                // from HTTP/2.
                let mut silent = TcpStream::connect(addr).await.expect("connect");
                // A served request proves the accept loop has taken the silent connection too
                // (connections are accepted in order).
                let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                    .await
                    .expect("handshake");
                let client = heist::spawn(connection);
                let response = sender
                    .send_request(request("GET", "/x", ""))
                    .await
                    .expect("request");
                assert_eq!(text(response.into_body()).await, "HTTP/1.1 /x");

                stop.send(()).unwrap();
                server
                    .await
                    .unwrap()
                    .expect("the server stops without waiting for the silent client");
                client
                    .await
                    .unwrap()
                    .expect("the client connection ends without error");
                let mut buf = [0; 1];
                assert_eq!(
                    silent.read(&mut buf).await.expect("read"),
                    0,
                    "the silent connection is closed"
                );
            })
        },
    );
}

#[test]
fn serve_closes_a_connection_that_sends_nothing_within_the_header_read_timeout() {
    run_with_timeout(
        "serve_closes_a_connection_that_sends_nothing_within_the_header_read_timeout",
        || {
            runtime(2).block_on(async {
                let (listener, addr) = listener().await;
                let server = heist::spawn(
                    heist::hyper::serve(listener, version_service(no_slow_requests()))
                        .header_read_timeout(Duration::from_millis(50))
                        .into_future(),
                );
                let mut silent = TcpStream::connect(addr).await.expect("connect");
                let mut buf = [0; 1];
                // Closed by the server (FIN, or RST for the unread nothing): either ends the read.
                let read = silent.read(&mut buf).await;
                assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

                // A client that speaks still gets its answer.
                let (mut sender, connection) = hyper::client::conn::http1::handshake(connect(addr).await)
                    .await
                    .expect("handshake");
                drop(heist::spawn(connection));
                let response = sender
                    .send_request(request("GET", "/y", ""))
                    .await
                    .expect("request");
                assert_eq!(text(response.into_body()).await, "HTTP/1.1 /y");
                server.abort();
            })
        },
    );
}
