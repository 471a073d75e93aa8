//! One HTTP/2 stream: validate the request, let the handler answer, send the reply.
//!
//! The handler runs only while the client still wants the answer: a stream reset by the client
//! (or lost with its connection) drops the handler's future at its next await, which closes any
//! instance connection it held and gives back its queue slot. That is what keeps a rapid-reset
//! flood from piling requests onto instances.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::{header, Request};
use tokio::io::AsyncWriteExt;

use crate::h2::body::H2Body;
use crate::h2::send::{self, StreamWriter};
use crate::server::conn::{access_log, ConnSettings};
use crate::server::handler::{ConnInfo, Handler};
use crate::server::head;
use crate::server::reply::{self, Reply};

/// How a stream ended, for the connection's reset accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A reply went out (complete or not).
    Answered,
    /// The client reset the stream (or left) before its reply was complete.
    Cancelled,
}

/// Serves one stream to its end.
pub async fn serve<H: Handler>(
    handler: Arc<H>,
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    conn: ConnInfo,
    settings: Arc<ConnSettings>,
) -> Outcome {
    let started = Instant::now();
    let (parts, recv) = request.into_parts();
    let respond = Mutex::new(respond);
    let head = match head::from_h2(parts, recv.is_end_stream(), settings.limits.max_headers) {
        Ok(head) => head,
        Err(err) => {
            tracing::debug!(peer = %conn.peer, error = %err, "rejected HTTP/2 request head");
            // No head to log or answer by: the error page, then the stream is done.
            let mut reply = Reply::error(&err);
            return match send_reply(&respond, &http::Method::GET, &mut reply, &settings).await {
                Some(_) => Outcome::Answered,
                None => Outcome::Cancelled,
            };
        }
    };
    let declared = head.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let limits = &settings.limits;
    let mut body = H2Body::new(recv, head.framing, declared, head.expect_continue, &respond, limits.body_timeout());
    let work = handler.handle(&head, &mut body, &conn);
    let reply = tokio::select! {
        reply = work => Some(reply),
        () = reset(&respond) => None,
    };
    let Some(mut reply) = reply else {
        tracing::debug!(peer = %conn.peer, path = head.uri.path(), "client reset the stream; request dropped");
        return Outcome::Cancelled;
    };
    let sent = send_reply(&respond, &head.method, &mut reply, &settings).await;
    drop(body);
    if settings.access_log {
        access_log(&head, &reply, conn.peer, started, sent);
    }
    match sent {
        Some(_) => Outcome::Answered,
        None => Outcome::Cancelled,
    }
}

/// Sends head and body; `None` if the stream broke off first.
async fn send_reply(
    respond: &Mutex<SendResponse<Bytes>>,
    method: &http::Method,
    reply: &mut Reply,
    settings: &ConnSettings,
) -> Option<u64> {
    let with_body = send::has_body(method, reply);
    let head = send::head(method, reply);
    let tx = lock(respond).send_response(head, !with_body);
    let tx = match tx {
        Ok(tx) => tx,
        Err(error) => {
            tracing::debug!(error = %error, "HTTP/2 stream gone before its reply");
            return None;
        }
    };
    if !with_body {
        return Some(0);
    }
    let tx = Mutex::new(tx);
    let mut writer = StreamWriter::new(&tx);
    let written = tokio::select! {
        written = reply::write_body(&mut writer, reply, settings.limits.send_timeout()) => written,
        () = stream_reset(&tx) => Err(std::io::ErrorKind::ConnectionReset.into()),
    };
    match written {
        Ok(n) => writer.shutdown().await.ok().map(|()| n),
        Err(error) => {
            // An incomplete body must not look complete: reset instead of ending the stream.
            tracing::debug!(error = %error, "HTTP/2 response cut off");
            lock(&tx).send_reset(h2::Reason::INTERNAL_ERROR);
            None
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resolves when the client resets the stream (or the connection is gone) before the reply.
async fn reset(respond: &Mutex<SendResponse<Bytes>>) {
    let _ = poll_fn(|cx| lock(respond).poll_reset(cx)).await;
}

/// The same while the body is being sent.
async fn stream_reset(tx: &Mutex<SendStream<Bytes>>) {
    let _ = poll_fn(|cx| lock(tx).poll_reset(cx)).await;
}
