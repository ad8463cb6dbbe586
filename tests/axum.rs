//! The axum application of `examples/axum.rs` served by `heist::hyper::serve`, driven by real
//! clients: curl over HTTP/1.1 and HTTP/2 (prior knowledge), and hyper's client on heist.
//!
//! curl: on CI (`CI` set) a missing curl fails the tests; elsewhere they say so and skip it.

mod common;

#[path = "../examples/shared/axum_app.rs"]
#[allow(dead_code)]
mod axum_app;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Command;

use common::{run_with_timeout, runtime};
use heist::hyper::{HeistExecutor, HeistIo};
use heist::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Version};

fn read_file(path: PathBuf) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>> {
    Box::pin(heist::fs::read(path))
}

fn static_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/static")
}

/// Starts the application on a free port; it stops when the returned sender is dropped.
async fn start() -> (
    SocketAddr,
    heist::sync::oneshot::Sender<()>,
    heist::task::JoinHandle<io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    let (stop, stopped) = heist::sync::oneshot::channel::<()>();
    let server = heist::spawn(
        heist::hyper::serve(listener, axum_app::router(static_dir(), read_file))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    (addr, stop, server)
}

/// curl's answer: (status, HTTP version, body). `None` when curl is not installed (and not on CI).
async fn curl(args: &[&str]) -> Option<(u16, String, String)> {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(["--write-out", "\n%{http_code} %{http_version}"])
        .args(args);
    let output = match heist::spawn_blocking(move || command.output()).await.unwrap() {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound && std::env::var_os("CI").is_none() => {
            eprintln!("skipped: curl is not installed (apt-get install curl); CI requires it");
            return None;
        }
        Err(error) => panic!("cannot run curl ({error}): install it (apt-get install curl)"),
    };
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 from curl");
    let (body, trailer) = stdout.rsplit_once('\n').expect("curl's --write-out line");
    let (code, version) = trailer.split_once(' ').expect("code and version");
    Some((
        code.parse().expect("a status code"),
        version.to_string(),
        body.to_string(),
    ))
}

fn curl_test(name: &str, version_flag: &'static str, expected_version: &'static str) {
    run_with_timeout(name, move || {
        runtime(2).block_on(async {
            let (addr, stop, server) = start().await;
            let url = |path: &str| format!("http://{addr}{path}");
            let Some(hello) = curl(&[version_flag, &url("/hello/curl")]).await else {
                return;
            };
            assert_eq!(
                hello,
                (200, expected_version.to_string(), "Hello, curl!".to_string())
            );

            let stats = curl(&[version_flag, &url("/api/stats")]).await.unwrap();
            assert_eq!((stats.0, stats.1.as_str()), (200, expected_version));
            let stats: axum_app::Stats = serde_json::from_str(&stats.2).expect("JSON stats");
            assert_eq!(
                stats.greetings, 1,
                "the greeting above was counted in the shared state"
            );

            let echoed = curl(&[
                version_flag,
                "-H",
                "content-type: application/json",
                "--data",
                r#"{"text":"héllo"}"#,
                &url("/api/echo"),
            ])
            .await
            .unwrap();
            assert_eq!(echoed.0, 200);
            let echoed: axum_app::Echoed = serde_json::from_str(&echoed.2).expect("JSON echo");
            assert_eq!((echoed.text.as_str(), echoed.length), ("héllo", 5));

            let file = curl(&[version_flag, &url("/static/hello.txt")]).await.unwrap();
            let on_disk = std::fs::read_to_string(static_dir().join("hello.txt")).unwrap();
            assert_eq!(file, (200, expected_version.to_string(), on_disk));

            let missing = curl(&[version_flag, &url("/static/missing.txt")]).await.unwrap();
            assert_eq!(missing.0, 404);
            let escape = curl(&[version_flag, "--path-as-is", &url("/static/../Cargo.toml")])
                .await
                .unwrap();
            assert_eq!(
                escape.0, 400,
                "a path out of the static directory is refused: {escape:?}"
            );

            drop(stop);
            server.await.unwrap().expect("the server stops cleanly");
        })
    });
}

#[test]
fn curl_http1() {
    curl_test("curl_http1", "--http1.1", "1.1");
}

#[test]
fn curl_http2_prior_knowledge() {
    curl_test("curl_http2_prior_knowledge", "--http2-prior-knowledge", "2");
}

async fn body_text(response: hyper::Response<hyper::body::Incoming>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("a UTF-8 body")
}

fn json_post(path: &str, json: &str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "heist.test")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json.to_string())))
        .unwrap()
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "heist.test")
        .body(Full::default())
        .unwrap()
}

#[test]
fn hyper_client_http1_and_http2() {
    run_with_timeout("hyper_client_http1_and_http2", || {
        runtime(2).block_on(async {
            let (addr, stop, server) = start().await;

            let stream = HeistIo::new(TcpStream::connect(addr).await.unwrap());
            let (mut http1, connection) = hyper::client::conn::http1::handshake(stream).await.unwrap();
            let http1_connection = heist::spawn(connection);
            let response = http1.send_request(get("/hello/one")).await.unwrap();
            assert_eq!(
                (response.status(), response.version()),
                (StatusCode::OK, Version::HTTP_11)
            );
            assert_eq!(body_text(response).await, "Hello, one!");

            let stream = HeistIo::new(TcpStream::connect(addr).await.unwrap());
            let (mut http2, connection) = hyper::client::conn::http2::handshake(HeistExecutor::new(), stream)
                .await
                .unwrap();
            let http2_connection = heist::spawn(connection);
            // Several streams at once on the one HTTP/2 connection.
            let greetings: Vec<_> = (0..8)
                .map(|i| {
                    let request = http2.send_request(get(&format!("http://heist.test/hello/{i}")));
                    heist::spawn(async move {
                        let response = request.await.unwrap();
                        assert_eq!(response.version(), Version::HTTP_2);
                        body_text(response).await
                    })
                })
                .collect();
            for (i, greeting) in greetings.into_iter().enumerate() {
                assert_eq!(greeting.await.unwrap(), format!("Hello, {i}!"));
            }
            let response = http2
                .send_request(json_post("http://heist.test/api/echo", r#"{"text":"over h2"}"#))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let echoed: axum_app::Echoed = serde_json::from_str(&body_text(response).await).unwrap();
            assert_eq!((echoed.text.as_str(), echoed.length), ("over h2", 7));

            http1.ready().await.expect("the HTTP/1 connection is ready again");
            let response = http1.send_request(get("/api/stats")).await.unwrap();
            let stats: axum_app::Stats = serde_json::from_str(&body_text(response).await).unwrap();
            assert_eq!(stats.greetings, 9);

            http1.ready().await.expect("the HTTP/1 connection is ready again");
            let response = http1
                .send_request(json_post("/api/echo", "not json"))
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "axum's Json rejects bad JSON"
            );

            // The graceful shutdown closes both idle connections, and the server then completes.
            drop(stop);
            server.await.unwrap().expect("the server stops cleanly");
            http1_connection
                .await
                .unwrap()
                .expect("the HTTP/1 connection ends cleanly");
            http2_connection
                .await
                .unwrap()
                .expect("the HTTP/2 connection ends cleanly (GOAWAY)");
        })
    });
}
