//! TLS on heist with real handshakes: rustls (ring) through futures-rustls, a certificate made
//! by rcgen for each test. Linux only: rcgen is a Linux-only dev-dependency (see Cargo.toml).
#![cfg(target_os = "linux")]

mod common;

#[path = "../examples/shared/self_signed.rs"]
mod self_signed;

use std::convert::Infallible;
use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::process::Command;

use common::{run_with_timeout, runtime};
use heist::hyper::{HeistExecutor, HeistIo};
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use heist::tls::pki_types::ServerName;
use heist::tls::{TlsAcceptor, TlsConnector, TlsListener};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Response, Version};
use self_signed::SelfSigned;

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    (listener, addr)
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("a DNS name")
}

#[test]
fn echo_over_a_real_handshake() {
    run_with_timeout("echo_over_a_real_handshake", || {
        runtime(2).block_on(async {
            let certificate = SelfSigned::generate();
            let acceptor = TlsAcceptor::from(certificate.server_config(&[b"echo"]));
            let (listener, addr) = listener().await;
            let server = heist::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                let mut tls = acceptor.accept(stream).await.expect("the server's handshake");
                let (_, connection) = tls.get_ref();
                assert_eq!(connection.alpn_protocol(), Some(&b"echo"[..]));
                assert_eq!(connection.server_name(), Some("localhost"), "the client's SNI");
                let mut received = Vec::new();
                let mut buf = [0; 4096];
                loop {
                    let n = tls.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break;
                    }
                    received.extend_from_slice(&buf[..n]);
                    tls.write_all(&buf[..n]).await.expect("write");
                }
                tls.close().await.expect("close_notify");
                received.len()
            });

            let connector = TlsConnector::from(certificate.client_config(&[b"echo"]));
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let mut tls = connector
                .connect(localhost(), tcp)
                .await
                .expect("the client's handshake");
            // More than one TLS record (16 KiB each) and more than a socket buffer's worth.
            let message: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            let (mut reader, mut writer) = futures_lite::io::split(&mut tls);
            let (written, echoed) = futures_lite::future::zip(
                async {
                    writer.write_all(&message).await.expect("write");
                    writer.flush().await.expect("flush");
                },
                async {
                    let mut echoed = vec![0; message.len()];
                    reader.read_exact(&mut echoed).await.expect("the echo");
                    echoed
                },
            )
            .await;
            let () = written;
            assert!(echoed == message, "the echo differs from what was sent");
            tls.close().await.expect("close_notify");
            assert_eq!(server.await.unwrap(), message.len());
        })
    });
}

#[test]
fn a_client_that_does_not_trust_the_certificate_fails_its_handshake() {
    run_with_timeout(
        "a_client_that_does_not_trust_the_certificate_fails_its_handshake",
        || {
            runtime(2).block_on(async {
                let served = SelfSigned::generate();
                let other = SelfSigned::generate();
                let acceptor = TlsAcceptor::from(served.server_config(&[]));
                let (listener, addr) = listener().await;
                let server = heist::spawn(async move {
                    let (stream, _) = listener.accept().await.expect("accept");
                    acceptor.accept(stream).await.map(drop)
                });
                let connector = TlsConnector::from(other.client_config(&[]));
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let error = connector
                    .connect(localhost(), tcp)
                    .await
                    .expect_err("a certificate the client does not trust");
                assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
                assert!(error.to_string().contains("invalid peer certificate"), "{error}");
                server
                    .await
                    .unwrap()
                    .expect_err("the server sees the client's alert");
            })
        },
    );
}

async fn hello(request: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(format!(
        "{:?} {}",
        request.version(),
        request.uri().path()
    )))
}

/// Starts HTTPS on a free port with `certificate`; it stops when the sender is dropped.
async fn https_server(
    certificate: &SelfSigned,
) -> (
    SocketAddr,
    heist::sync::oneshot::Sender<()>,
    heist::task::JoinHandle<io::Result<()>>,
) {
    let (listener, addr) = listener().await;
    let acceptor = TlsAcceptor::from(certificate.server_config(&[b"h2", b"http/1.1"]));
    let (stop, stopped) = heist::sync::oneshot::channel::<()>();
    let server = heist::spawn(
        heist::hyper::serve(TlsListener::new(listener, acceptor), tower::service_fn(hello))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    (addr, stop, server)
}

#[test]
fn https_with_hyper_clients_over_http1_and_h2() {
    run_with_timeout("https_with_hyper_clients_over_http1_and_h2", || {
        runtime(2).block_on(async {
            let certificate = SelfSigned::generate();
            let (addr, stop, server) = https_server(&certificate).await;

            for (alpn, version) in [
                (&b"http/1.1"[..], Version::HTTP_11),
                (&b"h2"[..], Version::HTTP_2),
            ] {
                let connector = TlsConnector::from(certificate.client_config(&[alpn]));
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let tls = connector.connect(localhost(), tcp).await.expect("the handshake");
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn), "ALPN");
                let io = HeistIo::new(tls);
                let request = Request::get("https://localhost/tls")
                    .header("host", "localhost")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = if version == Version::HTTP_2 {
                    let (mut sender, connection) =
                        hyper::client::conn::http2::handshake(HeistExecutor::new(), io)
                            .await
                            .expect("HTTP/2 handshake");
                    drop(heist::spawn(connection));
                    sender.send_request(request).await.expect("request")
                } else {
                    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                        .await
                        .expect("handshake");
                    drop(heist::spawn(connection));
                    sender.send_request(request).await.expect("request")
                };
                assert_eq!(response.version(), version);
                let body = response.into_body().collect().await.expect("body").to_bytes();
                assert_eq!(body, format!("{version:?} /tls").as_bytes());
            }

            drop(stop);
            server.await.unwrap().expect("the server stops cleanly");
        })
    });
}

#[test]
fn https_with_curl() {
    run_with_timeout("https_with_curl", || {
        runtime(2).block_on(async {
            let certificate = SelfSigned::generate();
            let dir = std::env::temp_dir().join(format!("heist-tls-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let cert_path = dir.join("cert.pem");
            std::fs::write(&cert_path, &certificate.cert_pem).unwrap();
            let (addr, stop, server) = https_server(&certificate).await;

            for (flag, expected) in [("--http1.1", "HTTP/1.1 /curl"), ("--http2", "HTTP/2.0 /curl")] {
                let mut command = Command::new("curl");
                command
                    .args(["--silent", "--show-error", "--max-time", "30", flag, "--cacert"])
                    .arg(&cert_path)
                    .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
                    .arg(format!("https://localhost:{}/curl", addr.port()));
                let output = match heist::spawn_blocking(move || command.output()).await.unwrap() {
                    Ok(output) => output,
                    Err(error)
                        if error.kind() == io::ErrorKind::NotFound && std::env::var_os("CI").is_none() =>
                    {
                        eprintln!("skipped: curl is not installed (apt-get install curl); CI requires it");
                        break;
                    }
                    Err(error) => panic!("cannot run curl ({error}): install it (apt-get install curl)"),
                };
                assert!(
                    output.status.success(),
                    "curl: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
            }

            drop(stop);
            server.await.unwrap().expect("the server stops cleanly");
            std::fs::remove_dir_all(&dir).unwrap();
        })
    });
}

#[test]
fn a_client_that_never_completes_its_handshake_times_out() {
    run_with_timeout("a_client_that_never_completes_its_handshake_times_out", || {
        runtime(2).block_on(async {
            let certificate = SelfSigned::generate();
            let acceptor = TlsAcceptor::from(certificate.server_config(&[]));
            let (listener, addr) = listener().await;
            let listener =
                TlsListener::new(listener, acceptor).handshake_timeout(std::time::Duration::from_millis(50));
            let server = heist::spawn(async move {
                let (mut connection, _) = listener.accept().await.expect("accept");
                let mut buf = [0; 16];
                let error = connection.read(&mut buf).await.expect_err("no handshake");
                let again = connection.read(&mut buf).await.expect_err("still no handshake");
                (error, again)
            });
            // Connected, silent: no ClientHello.
            let _client = TcpStream::connect(addr).await.expect("connect");
            let (error, again) = server.await.unwrap();
            assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
            assert!(error.to_string().contains("handshake"), "{error}");
            assert_eq!(again.kind(), io::ErrorKind::TimedOut, "{again}");
        })
    });
}
