//! Bytes in and out of an HTTP/1.1 connection, client-facing or upstream alike.
//!
//! [`ClientIo`] is a socket with the bytes read but not yet parsed; outgoing
//! message heads are built in a per-thread spare buffer (`take_out_buf`,
//! `give_out_buf`) so writing a message allocates nothing.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

use crate::error::BodyError;

/// A socket plus the bytes read from it but not yet consumed (client side, and upstream
/// connections). `S` is a TLS stream for HTTPS clients, plain TCP everywhere else.
#[derive(Debug)]
pub struct ClientIo<S = TcpStream> {
    pub stream: S,
    pub buf: BytesMut,
}

impl<S: AsyncRead + Unpin> ClientIo<S> {
    pub fn new(stream: S) -> Self {
        ClientIo { stream, buf: BytesMut::with_capacity(8 * 1024) }
    }

    /// Reads more bytes into `buf`; `Ok(0)` is end of stream. `timeout: None` when the caller
    /// already bounds the whole exchange (no timer per read).
    pub async fn read_more(&mut self, timeout: Option<Duration>) -> Result<usize, BodyError> {
        if self.buf.capacity() - self.buf.len() < 8192 {
            self.buf.reserve(16 * 1024);
        }
        let read = match timeout {
            Some(timeout) => match tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf)).await {
                Ok(read) => read,
                Err(_) => return Err(BodyError::Timeout),
            },
            None => self.stream.read_buf(&mut self.buf).await,
        };
        read.map_err(BodyError::Io)
    }
}

// === Reused output buffers ===

thread_local! {
    /// A spare buffer for message heads (plus small bodies): no allocation per message.
    static OUT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// An empty buffer for one outgoing message, reused from this thread's spare when there is one.
pub(crate) fn take_out_buf() -> Vec<u8> {
    let mut out = OUT.with(std::cell::Cell::take);
    out.clear();
    out.reserve(512);
    out
}

/// Keeps `out` as this thread's spare unless it grew large.
pub(crate) fn give_out_buf(out: Vec<u8>) {
    if out.capacity() <= 128 * 1024 {
        OUT.with(|spare| spare.set(out));
    }
}
