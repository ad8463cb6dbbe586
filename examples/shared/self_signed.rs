//! A self-signed certificate made at start-up with rcgen (no key is ever committed), and the
//! rustls configurations that serve and trust it. Shared by the TLS examples and tests.

use std::sync::Arc;

use heist::tls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use heist::tls::rustls;

/// A certificate for `localhost` and `127.0.0.1` with its server configuration.
pub struct SelfSigned {
    /// The certificate, PEM-encoded: what a client (`curl --cacert`) must trust.
    pub cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl SelfSigned {
    /// A new key pair and certificate.
    pub fn generate() -> SelfSigned {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("rcgen makes a self-signed certificate");
        SelfSigned {
            cert_pem: certified.cert.pem(),
            cert_der: certified.cert.der().clone(),
            key_der: certified.key_pair.serialize_der(),
        }
    }

    /// A server configuration presenting the certificate, offering `alpn` (most preferred
    /// first: `[b"h2", b"http/1.1"]` for HTTPS).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .expect("the certificate matches its key");
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }

    /// A client configuration trusting this certificate only, asking for `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).expect("a valid certificate");
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }
}
