//! One client's TLS handshake: read the ClientHello, make sure a certificate fits its SNI name
//! (else answer the `unrecognized_name` alert, RFC 6066 section 3), then complete the handshake.
//! The whole exchange is bounded by the client header timeout.

use std::sync::Arc;
use std::time::Duration;

use rustls::server::Acceptor;
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::{StartHandshake, TlsStream};

use crate::tls::resolver::SniResolver;

/// A fatal `unrecognized_name` alert record (content type 21, TLS 1.2 record version, level 2, code 112).
const UNRECOGNIZED_NAME: [u8; 7] = [21, 3, 3, 0, 2, 2, 112];

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("the client did not finish the handshake within {0:?}")]
    Timeout(Duration),
    #[error("the client closed the connection during the handshake")]
    Closed,
    #[error("no certificate for the requested name {name:?}")]
    NoCertificate { name: Option<String> },
    #[error("handshake failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad ClientHello: {0}")]
    Hello(rustls::Error),
}

/// Everything a listener thread needs for handshakes.
pub struct Handshaker {
    config: Arc<ServerConfig>,
    resolver: Arc<SniResolver>,
    timeout: Duration,
}

impl Handshaker {
    /// `resolver` must be the one inside `config`: it is asked first, to refuse a name cleanly.
    pub fn new(config: Arc<ServerConfig>, resolver: Arc<SniResolver>, timeout: Duration) -> Handshaker {
        Handshaker { config, resolver, timeout }
    }

    /// Runs the server side of a handshake on `tcp`.
    pub async fn accept(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, HandshakeError> {
        tokio::time::timeout(self.timeout, self.run(tcp)).await.map_err(|_| HandshakeError::Timeout(self.timeout))?
    }

    async fn run(&self, mut tcp: TcpStream) -> Result<TlsStream<TcpStream>, HandshakeError> {
        let mut acceptor = Acceptor::default();
        let mut buf = vec![0; 4096];
        // A ClientHello is a few records at most; rustls refuses one past its buffer limit.
        let accepted = loop {
            let n = tcp.read(&mut buf).await?;
            if n == 0 {
                return Err(HandshakeError::Closed);
            }
            let mut input = &buf[..n];
            while !input.is_empty() {
                if acceptor.read_tls(&mut input)? == 0 {
                    break;
                }
            }
            match acceptor.accept() {
                Ok(Some(accepted)) => break accepted,
                Ok(None) => continue,
                Err((error, mut alert)) => {
                    let mut out = Vec::new();
                    let _ = alert.write_all(&mut out);
                    let _ = tcp.write_all(&out).await;
                    return Err(HandshakeError::Hello(error));
                }
            }
        };
        let name = accepted.client_hello().server_name().map(str::to_owned);
        if self.resolver.pick(name.as_deref()).is_none() {
            let _ = tcp.write_all(&UNRECOGNIZED_NAME).await;
            let _ = tcp.shutdown().await;
            return Err(HandshakeError::NoCertificate { name });
        }
        Ok(StartHandshake::from_parts(accepted, tcp).into_stream(self.config.clone()).await?)
    }
}
