//! What a request handler sees, whatever the client speaks (HTTP/1.1 or HTTP/2, plain or TLS).

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::BodyError;
use crate::http1::body::BodyReader;
use crate::server::head::RequestHead;
use crate::server::reply::Reply;

/// Answers one request. The body is read through `body` (or not at all).
pub trait Handler: Send + Sync + 'static {
    fn handle<B: RequestBody>(
        &self,
        head: &RequestHead,
        body: &mut B,
        conn: &ConnInfo,
    ) -> impl Future<Output = Reply> + Send;
}

/// The client connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The connection is TLS (the request came over HTTPS).
    pub tls: bool,
}

impl ConnInfo {
    pub fn plain(peer: SocketAddr) -> ConnInfo {
        ConnInfo { peer, tls: false }
    }
}

/// A request body as it arrives: HTTP/1.1 framing on a connection, or HTTP/2 DATA frames.
pub trait RequestBody: Send {
    /// The declared length (`Content-Length`), when there is one.
    fn declared_len(&self) -> Option<u64>;
    /// Whether the whole body has been read.
    fn is_done(&self) -> bool;
    /// The next piece of body data, `None` at the end.
    fn next(&mut self) -> impl Future<Output = Result<Option<Bytes>, BodyError>> + Send;
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> RequestBody for BodyReader<'_, S> {
    fn declared_len(&self) -> Option<u64> {
        BodyReader::declared_len(self)
    }

    fn is_done(&self) -> bool {
        BodyReader::is_done(self)
    }

    fn next(&mut self) -> impl Future<Output = Result<Option<Bytes>, BodyError>> + Send {
        BodyReader::next(self)
    }
}
