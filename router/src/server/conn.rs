//! One client connection: read a head, let the handler answer, write the reply, repeat.
//!
//! Timeouts: the first byte of a request must come within the keep-alive
//! timeout, the rest of its head within the header timeout; body pauses are
//! bounded by the body timeout (inside the handler), each write by the send
//! timeout (a streamed response included: its pauses on either side are bounded by
//! the relay, see [`crate::relay`]), and an upgraded connection's silence by the
//! stream idle timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Buf;
use http::header;
use http::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::config::Limits;
use crate::error::ProxyError;
use crate::http1::body::BodyReader;
use crate::http1::io::ClientIo;
use crate::server::handler::{ConnInfo, Handler};
use crate::server::head::{self, RequestHead};
use crate::server::reply::{self, ClientWrite, Reply};

/// Bodies left unread by a handler (a 404 for a small POST) are drained up to this size to keep the connection.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// Per-listener settings.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    pub limits: Limits,
    pub access_log: bool,
}

/// Serves HTTP/1.1 requests on `stream` (TCP, or TLS over it) until the client leaves, an
/// error closes it, or shutdown starts.
pub async fn serve<H: Handler, S: AsyncRead + ClientWrite>(
    handler: Arc<H>,
    stream: S,
    conn: ConnInfo,
    settings: Arc<ConnSettings>,
    shutdown: watch::Receiver<bool>,
) {
    let peer = conn.peer;
    let mut io = ClientIo::new(stream);
    // One shutdown waiter and one head timer per connection, re-armed per request: extending a
    // registered timer is a compare-and-swap, registering a fresh one takes the timer wheel's lock.
    let mut signal = shutdown.clone();
    let shutdown_started = signal.changed();
    tokio::pin!(shutdown_started);
    let head_timer = tokio::time::sleep(settings.limits.keepalive_timeout());
    tokio::pin!(head_timer);
    loop {
        let head = match read_head(&mut io, &settings.limits, shutdown_started.as_mut(), head_timer.as_mut()).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(err) => {
                let mut reply = Reply::error(&err);
                tracing::debug!(peer = %peer, error = %err, "rejected request head");
                let _ =
                    reply::write(&mut io.stream, &Method::GET, &mut reply, false, settings.limits.send_timeout()).await;
                return;
            }
        };
        let started = Instant::now();
        let mut body =
            BodyReader::new(&mut io, head.framing, Some(settings.limits.body_timeout()), head.expect_continue);
        let mut reply = handler.handle(&head, &mut body, &conn).await;
        let body_done = body.is_done() || drain(&mut body, reply.status).await;
        let keep_alive =
            head.keep_alive && body_done && !reply.close && !reply.body.ends_by_close() && !*shutdown.borrow();
        let sent =
            reply::write(&mut io.stream, &head.method, &mut reply, keep_alive, settings.limits.send_timeout()).await;
        // TLS may hold the tail of the last write when the socket was full; push it out before
        // waiting on the client (a no-op on TCP).
        let sent = match sent {
            Ok(n) => tokio::time::timeout(settings.limits.send_timeout(), io.stream.flush())
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
                .map(|()| n),
            Err(error) => Err(error),
        };
        if settings.access_log {
            access_log(&head, &reply, peer, started, sent.as_ref().ok().copied());
        }
        if sent.is_err() {
            return;
        }
        if let Some(upgrade) = reply.upgrade.take().filter(|_| reply.status == StatusCode::SWITCHING_PROTOCOLS) {
            super::tunnel::relay(io, upgrade, peer, settings.limits.stream_idle_timeout()).await;
            return;
        }
        if !keep_alive {
            let _ = io.stream.shutdown().await;
            return;
        }
    }
}

/// Reads and parses the next request head; `Ok(None)` closes quietly (idle, EOF, shutdown).
async fn read_head<S: AsyncRead + Unpin>(
    io: &mut ClientIo<S>,
    limits: &Limits,
    mut shutdown: Pin<&mut impl Future<Output = Result<(), watch::error::RecvError>>>,
    mut timer: Pin<&mut tokio::time::Sleep>,
) -> Result<Option<RequestHead>, ProxyError> {
    let mut deadline = None;
    loop {
        if !io.buf.is_empty() {
            match head::parse(&io.buf, limits.max_headers)? {
                Some((_, len)) if len > limits.max_header_bytes => return Err(ProxyError::HeadTooLarge),
                Some((head, len)) => {
                    io.buf.advance(len);
                    return Ok(Some(head));
                }
                None if io.buf.len() > limits.max_header_bytes => return Err(ProxyError::HeadTooLarge),
                None => {}
            }
        }
        // The head timeout runs from the first byte; before that the connection is merely idle.
        let idle = io.buf.is_empty();
        let until = if idle {
            tokio::time::Instant::now() + limits.keepalive_timeout()
        } else {
            *deadline.get_or_insert_with(|| tokio::time::Instant::now() + limits.header_timeout())
        };
        timer.as_mut().reset(until);
        tokio::select! {
            biased;
            read = io.read_more(None) => match read {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            },
            () = timer.as_mut() => return if idle { Ok(None) } else { Err(ProxyError::ClientTimeout) },
            _ = shutdown.as_mut(), if idle => return Ok(None),
        }
    }
}

/// Consumes a small unread body so the connection can be reused; `false` means close instead.
async fn drain<S: AsyncRead + AsyncWrite + Unpin + Send>(body: &mut BodyReader<'_, S>, status: StatusCode) -> bool {
    let small = body.declared_len().is_some_and(|n| n <= DRAIN_LIMIT);
    if !small || status == StatusCode::PAYLOAD_TOO_LARGE {
        return false;
    }
    for _ in 0..1024 {
        match body.next().await {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// One access-log line for a request, whatever protocol it came over.
pub fn access_log(head: &RequestHead, reply: &Reply, peer: std::net::SocketAddr, started: Instant, sent: Option<u64>) {
    let info = &reply.info;
    let host = head.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    tracing::info!(
        target: "access",
        method = %head.method,
        host,
        path = head.uri.path(),
        status = reply.status.as_u16(),
        bytes = sent.unwrap_or(0),
        complete = sent.is_some(),
        app = info.app.as_ref().map_or("-", |a| a.name.as_str()),
        backend = info.backend.as_ref().map_or("-", |b| b.address.as_str()),
        upstream_ms = info.upstream.map(|d| d.as_secs_f64() * 1000.0),
        total_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = info.request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
        peer = %peer.ip(),
        error = info.error,
        "request"
    );
}
