//! HTTP/2 to clients on TLS (ALPN `h2`): the connection loop over the h2 crate's server.
//!
//! Each request becomes a [`RequestHead`](crate::server::head::RequestHead) through the same
//! rules as HTTP/1.1 plus HTTP/2's own ([`crate::server::head::from_h2`]) and goes to the same
//! [`Handler`], so instances still get whole HTTP/1.1 requests and replies are buffered and
//! relayed as on HTTP/1.1 ([`send`]). The router offers no cleartext HTTP/2 (h2c).
//!
//! Limits: concurrent streams (`--h2-max-concurrent-streams`), the header list at
//! `--max-header-bytes`, bounded windows and send buffer; an idle connection (no open stream)
//! closes after the keep-alive timeout, the preface must come within the header timeout, and
//! shutdown sends GOAWAY and lets open streams finish.
//!
//! Rapid reset (CVE-2023-44487): streams reset before they are accepted are capped by the h2
//! crate (`max_pending_accept_reset_streams`, then GOAWAY), and so are streams the router has
//! to reset for the client's errors (`max_local_error_reset_streams`). A reset stream's
//! handler is dropped at once ([`stream`]), and a connection whose client cancels more than
//! [`RESET_BUDGET`] streams, more than it lets finish, gets GOAWAY `ENHANCE_YOUR_CALM`.

pub mod body;
pub mod send;
pub mod stream;

use std::sync::Arc;

use bytes::Bytes;
use h2::Reason;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::h2::stream::Outcome;
use crate::server::conn::ConnSettings;
use crate::server::handler::{ConnInfo, Handler};

/// Client-cancelled streams a connection may have before it has to let as many finish.
pub const RESET_BUDGET: u64 = 100;
/// Per-stream receive window: enough for a fast upload, small enough that a hundred streams
/// stay cheap (the connection window bounds them together).
const STREAM_WINDOW: u32 = 256 * 1024;
const CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Response bytes the h2 crate queues per stream beyond what the client's window lets out.
const SEND_BUFFER: usize = 256 * 1024;
/// Streams reset by the client before they were accepted; more is a flood (the crate's default).
const PENDING_ACCEPT_RESETS: usize = 20;
/// Streams the router resets for the client's protocol errors; more is a flood.
const LOCAL_ERROR_RESETS: usize = 256;

/// Serves HTTP/2 on `stream` (TLS that negotiated `h2`) until the client leaves, an error
/// closes it, it idles out, or shutdown starts.
pub async fn serve<H: Handler, S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    handler: Arc<H>,
    stream: S,
    conn: ConnInfo,
    settings: Arc<ConnSettings>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = &settings.limits;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(SEND_BUFFER)
        .max_pending_accept_reset_streams(PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(LOCAL_ERROR_RESETS));
    let handshake = builder.handshake::<S, Bytes>(stream);
    let mut connection = match tokio::time::timeout(limits.header_timeout(), handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return tracing::debug!(peer = %conn.peer, error = %error, "HTTP/2 handshake failed"),
        Err(_) => return tracing::debug!(peer = %conn.peer, "no HTTP/2 preface in time"),
    };
    let mut streams: JoinSet<Outcome> = JoinSet::new();
    let (mut cancelled, mut answered) = (0u64, 0u64);
    let idle = tokio::time::sleep(limits.keepalive_timeout());
    tokio::pin!(idle);
    let mut closing = *shutdown.borrow();
    if closing {
        connection.graceful_shutdown();
    }
    loop {
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    let task = stream::serve(handler.clone(), request, respond, conn.clone(), settings.clone());
                    streams.spawn(task);
                }
                Some(Err(error)) => {
                    // The crate has sent GOAWAY where one was due (floods included).
                    let level = if error.is_go_away() && error.reason() == Some(Reason::ENHANCE_YOUR_CALM) {
                        tracing::Level::WARN
                    } else {
                        tracing::Level::DEBUG
                    };
                    log(level, &conn, &error);
                    break;
                }
                None => break,
            },
            Some(done) = streams.join_next(), if !streams.is_empty() => {
                match done {
                    Ok(Outcome::Answered) => answered += 1,
                    Ok(Outcome::Cancelled) => cancelled += 1,
                    Err(_) => {}
                }
                if cancelled > RESET_BUDGET && cancelled > answered && !closing {
                    tracing::warn!(peer = %conn.peer, cancelled, answered, "HTTP/2 client cancels most of its requests; GOAWAY");
                    connection.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                    closing = true;
                }
                if streams.is_empty() {
                    idle.as_mut().reset(tokio::time::Instant::now() + limits.keepalive_timeout());
                }
            },
            () = idle.as_mut(), if streams.is_empty() && !closing => {
                connection.graceful_shutdown();
                closing = true;
            },
            changed = shutdown.changed(), if !closing => {
                if changed.is_err() || *shutdown.borrow() {
                    connection.graceful_shutdown();
                    closing = true;
                }
            },
        }
    }
    // Streams still running lost their connection; dropping the set cancels them.
    streams.shutdown().await;
}

fn log(level: tracing::Level, conn: &ConnInfo, error: &h2::Error) {
    if level == tracing::Level::WARN {
        tracing::warn!(peer = %conn.peer, error = %error, "HTTP/2 connection closed for abuse");
    } else {
        tracing::debug!(peer = %conn.peer, error = %error, "HTTP/2 connection ended");
    }
}
