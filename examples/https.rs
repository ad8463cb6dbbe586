//! An HTTPS server: `heist::hyper::serve` on a `heist::tls::TlsListener` (rustls through
//! futures-rustls, the `ring` provider), HTTP/1.1 and HTTP/2 (ALPN `h2`) on one port, stopped
//! gracefully by Ctrl-C. Linux only (its certificate is made with rcgen, a Linux-only
//! dev-dependency here).
//!
//! ```text
//! cargo run --features hyper,tls --example https                          # 127.0.0.1:8443
//! curl --cacert target/https-example.pem https://localhost:8443/          # another terminal
//! curl --cacert target/https-example.pem --http2 https://localhost:8443/
//! ```
//!
//! At start it makes a self-signed certificate for `localhost` and `127.0.0.1` (a new key each
//! run, never stored) and writes the certificate, which clients must trust, to
//! `target/https-example.pem`.

#[cfg(target_os = "linux")]
#[path = "shared/self_signed.rs"]
#[allow(dead_code)] // the client side is for the tests
mod self_signed;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    use std::convert::Infallible;
    use std::path::PathBuf;
    use std::process::ExitCode;

    use heist::net::TcpListener;
    use heist::tls::{TlsAcceptor, TlsListener};
    use hyper::{Request, Response};

    async fn hello(request: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
        Ok(Response::new(format!(
            "Hello over TLS ({:?})!\n",
            request.version()
        )))
    }

    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8443".to_string());
    let certificate = self_signed::SelfSigned::generate();
    let cert_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/https-example.pem");
    if let Err(error) = std::fs::write(&cert_path, &certificate.cert_pem) {
        eprintln!("cannot write the certificate to {}: {error}", cert_path.display());
        return ExitCode::FAILURE;
    }
    let acceptor = TlsAcceptor::from(certificate.server_config(&[b"h2", b"http/1.1"]));

    heist::Runtime::new()
        .expect("a heist runtime")
        .block_on(async move {
            let listener = match TcpListener::bind(&addr).await {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("cannot listen on {addr}: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let port = listener.local_addr().map_or(0, |local| local.port());
            println!(
                "heist + rustls listening on https://localhost:{port}/ (certificate: {})",
                cert_path.display()
            );
            println!(
                "try: curl --cacert {} https://localhost:{port}/",
                cert_path.display()
            );
            let shutdown = async {
                heist::signal::ctrl_c().await.ok();
            };
            match heist::hyper::serve(TlsListener::new(listener, acceptor), tower::service_fn(hello))
                .with_graceful_shutdown(shutdown)
                .await
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("cannot accept connections: {error}");
                    ExitCode::FAILURE
                }
            }
        })
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("this example makes its certificate with rcgen, a dev-dependency on Linux only here");
    std::process::exit(1);
}
