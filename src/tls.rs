//! TLS on heist: [rustls](https://docs.rs/rustls/0.23) through
//! [futures-rustls](https://docs.rs/futures-rustls/0.26), re-exported here (feature `tls`).
//!
//! futures-rustls speaks `futures-io`, as heist's sockets do, so its
//! [`TlsAcceptor`](crate::tls::TlsAcceptor) and [`TlsConnector`](crate::tls::TlsConnector) wrap a [`TcpStream`](crate::net::TcpStream) (or a
//! `UnixStream`) as they are. The crypto provider is `ring`
//! ([`rustls::crypto::ring`](crate::tls::rustls::crypto::ring)), which builds with the Rust toolchain and a C compiler for the
//! target; no other provider is enabled.
//!
//! For servers, [`TlsListener`](crate::tls::TlsListener) accepts TCP connections and hands them out at once, the
//! handshake still to do: it happens in the connection's own task, on its first read or write,
//! so one slow client does not hold up the accept loop. It is a
//! [`heist::hyper::Listener`](crate::hyper::Listener) (with the `hyper` feature), which makes
//! HTTPS one line: `heist::hyper::serve(TlsListener::new(tcp, acceptor), service)`.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use heist::io::{AsyncReadExt, AsyncWriteExt};
//! use heist::net::TcpStream;
//! use heist::tls::{TlsConnector, pki_types::ServerName, rustls};
//!
//! # async fn f(roots: rustls::RootCertStore) -> std::io::Result<()> {
//! let provider = Arc::new(rustls::crypto::ring::default_provider());
//! let config = rustls::ClientConfig::builder_with_provider(provider)
//!     .with_safe_default_protocol_versions()
//!     .expect("ring supports the default versions")
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//! let connector = TlsConnector::from(Arc::new(config));
//! let tcp = TcpStream::connect("example.invalid:443").await?;
//! let name = ServerName::try_from("example.invalid").expect("a DNS name");
//! let mut tls = connector.connect(name, tcp).await?;
//! tls.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
//! let mut response = Vec::new();
//! tls.read_to_end(&mut response).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_lite::io::{AsyncRead, AsyncWrite};
pub use futures_rustls::{Accept, Connect, TlsAcceptor, TlsConnector, client, pki_types, rustls, server};

use crate::net::{TcpListener, TcpStream};
use crate::time::{Duration, Sleep, sleep};

/// How long a client has to complete its handshake unless
/// [`TlsListener::handshake_timeout`] says otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener whose connections speak TLS: [`accept`](TlsListener::accept) returns a
/// [`TlsConnection`] that performs the server's handshake on its first read or write.
pub struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("listener", &self.listener)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Accepts on `listener`, with `acceptor`'s server configuration.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        TlsListener {
            listener,
            acceptor,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// How long a client may take over its handshake, from the connection's first read or
    /// write on (default [`DEFAULT_HANDSHAKE_TIMEOUT`]); past it, reads and writes fail with
    /// [`TimedOut`](io::ErrorKind::TimedOut).
    pub fn handshake_timeout(mut self, timeout: Duration) -> TlsListener {
        self.handshake_timeout = timeout;
        self
    }

    /// Waits for the next TCP connection and returns it with its handshake still to do.
    /// `TCP_NODELAY` is set on it: TLS records are written whole, and the handshake is a
    /// dialogue that Nagle's algorithm would slow.
    pub async fn accept(&self) -> io::Result<(TlsConnection, SocketAddr)> {
        let (stream, addr) = self.listener.accept().await?;
        // Fails only on a socket already dead, which its first read or write reports.
        let _ = stream.set_nodelay(true);
        let connection = TlsConnection {
            state: State::Handshaking {
                accept: Box::new(self.acceptor.accept(stream)),
                deadline: None,
                timeout: self.handshake_timeout,
            },
        };
        Ok((connection, addr))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

#[cfg(feature = "hyper")]
impl crate::hyper::Listener for TlsListener {
    type Io = crate::hyper::HeistIo<TlsConnection>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (connection, addr) = TlsListener::accept(self).await?;
        Ok((crate::hyper::HeistIo::new(connection), addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TlsListener::local_addr(self)
    }
}

/// A server-side TLS connection made by [`TlsListener::accept`]: its first read or write
/// completes the handshake, then it reads and writes plaintext. A failed or timed-out
/// handshake fails that read or write, and every one after it.
pub struct TlsConnection {
    state: State,
}

enum State {
    Handshaking {
        accept: Box<Accept<TcpStream>>,
        /// Set at the first poll, so the timeout counts from when the connection's task runs.
        deadline: Option<Sleep>,
        timeout: Duration,
    },
    Ready(Box<server::TlsStream<TcpStream>>),
    Failed(io::ErrorKind),
}

impl fmt::Debug for TlsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Handshaking { .. } => "handshaking",
            State::Ready(_) => "ready",
            State::Failed(_) => "failed",
        };
        f.debug_struct("TlsConnection").field("state", &state).finish()
    }
}

impl TlsConnection {
    /// The TLS stream once the handshake has completed (to read the negotiated ALPN protocol
    /// or the client's SNI name), or `None` before then or after a failed handshake.
    pub fn tls_stream(&self) -> Option<&server::TlsStream<TcpStream>> {
        match &self.state {
            State::Ready(stream) => Some(stream),
            _ => None,
        }
    }

    /// Drives the handshake; `Ready` with the stream once it is complete.
    fn poll_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut server::TlsStream<TcpStream>>> {
        if let State::Handshaking {
            accept,
            deadline,
            timeout,
        } = &mut self.state
        {
            let outcome = match Pin::new(accept.as_mut()).poll(cx) {
                Poll::Ready(outcome) => outcome,
                Poll::Pending => {
                    let deadline = deadline.get_or_insert_with(|| sleep(*timeout));
                    ready!(Pin::new(deadline).poll(cx));
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client did not complete its TLS handshake within {timeout:?}"),
                    ))
                }
            };
            match outcome {
                Ok(stream) => self.state = State::Ready(Box::new(stream)),
                Err(error) => {
                    // This read or write gets the error itself; later ones, its kind.
                    self.state = State::Failed(error.kind());
                    return Poll::Ready(Err(error));
                }
            }
        }
        match &mut self.state {
            State::Ready(stream) => Poll::Ready(Ok(stream)),
            State::Failed(kind) => Poll::Ready(Err(io::Error::new(
                *kind,
                "the TLS handshake of this connection failed",
            ))),
            State::Handshaking { .. } => unreachable!("the handshake state was just replaced"),
        }
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Ready(stream) => Pin::new(stream.as_mut()).poll_close(cx),
            // Nothing was said over TLS: just close the socket (dropping the handshake does).
            State::Handshaking { .. } | State::Failed(_) => Poll::Ready(Ok(())),
        }
    }
}
