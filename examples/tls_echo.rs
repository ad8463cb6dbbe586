//! A TLS echo server: rustls through futures-rustls on heist's `TcpStream`, each connection in
//! its own task, every byte received sent back. Linux only (its certificate is made with
//! rcgen, a Linux-only dev-dependency here).
//!
//! ```text
//! cargo run --features tls --example tls_echo                             # 127.0.0.1:7443
//! openssl s_client -quiet -CAfile target/tls-echo-example.pem -connect localhost:7443
//! ```
//!
//! At start it makes a self-signed certificate for `localhost` and `127.0.0.1` (a new key each
//! run, never stored) and writes the certificate to `target/tls-echo-example.pem`.

#[cfg(target_os = "linux")]
#[path = "shared/self_signed.rs"]
#[allow(dead_code)] // the client side is for the tests
mod self_signed;

#[cfg(target_os = "linux")]
#[heist::main]
async fn main() -> std::io::Result<()> {
    use std::path::PathBuf;

    use heist::io::{AsyncReadExt, AsyncWriteExt};
    use heist::net::TcpListener;
    use heist::tls::TlsAcceptor;

    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7443".to_string());
    let certificate = self_signed::SelfSigned::generate();
    let cert_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tls-echo-example.pem");
    std::fs::write(&cert_path, &certificate.cert_pem)?;
    let acceptor = TlsAcceptor::from(certificate.server_config(&[]));

    let listener = TcpListener::bind(&addr).await?;
    println!(
        "TLS echo on {} (certificate: {})",
        listener.local_addr()?,
        cert_path.display()
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        drop(heist::spawn(async move {
            let mut tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(error) => return eprintln!("{peer}: handshake failed: {error}"),
            };
            let mut buf = vec![0; 16 * 1024];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if let Err(error) = tls.write_all(&buf[..n]).await {
                            return eprintln!("{peer}: {error}");
                        }
                    }
                    Err(error) => return eprintln!("{peer}: {error}"),
                }
            }
            // close_notify, then the socket closes as the stream drops.
            let _ = tls.close().await;
        }));
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("this example makes its certificate with rcgen, a dev-dependency on Linux only here");
    std::process::exit(1);
}
