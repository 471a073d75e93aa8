//! App instances: keep-alive connection pools, balancing, passive health, retries.
//!
//! Balancing policy: **least outstanding requests**, ties broken round-robin.
//! Sync WSGI workers serve one request at a time, so sending the next request
//! to the instance with the fewest in flight keeps queues short when requests
//! differ in cost; the rotating start spreads load evenly when all are idle.
//!
//! Passive health: an instance that refuses (or times out) a TCP connect is
//! marked down and skipped; a background task probes down instances with a TCP
//! connect and puts them back. A request is retried on another instance only
//! when it never reached the first: the connect failed; or a pooled keep-alive
//! connection turned out closed (writing failed, or it closed without a byte
//! of response, the race with an instance's idle timeout; idempotent methods only).
//!
//! Concurrency caps: an instance with a `concurrency` (its worker count) never
//! has more requests in flight than that; when every instance of an app is at
//! its cap, requests wait in the app's FIFO [`queue`], retries included.

pub mod backend;
pub mod h1;
pub mod queue;

pub use crate::upstream::backend::{pick, set_worker_index, Backend, Lease, Pick};

use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::buffer::Buffered;
use crate::config::UpstreamConfig;
use crate::error::{BodyError, ExchangeError, ProxyError};
use crate::upstream::h1::ResponseHead;
use crate::upstream::queue::AppQueue;

/// Most attempts for one request across instances.
const MAX_ATTEMPTS: usize = 4;

/// One request to send: everything needed to write it again on another connection.
pub struct Outgoing<'a> {
    pub method: &'a Method,
    pub target: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a Buffered,
}

/// Sends `request` over `first` (a slot from [`AppQueue::acquire`]) and reads the response head,
/// retrying only unsent requests, each retry on a slot of another instance (waiting for one if
/// every instance is at its cap).
pub async fn send(
    backends: &[Arc<Backend>],
    queue: &Arc<AppQueue>,
    start: usize,
    settings: &UpstreamConfig,
    request: &Outgoing<'_>,
    first: Lease,
) -> Result<(ResponseHead, Lease), ProxyError> {
    let idempotent =
        matches!(*request.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE);
    let mut tried: Vec<Arc<Backend>> = Vec::new();
    let mut last_err = None;
    let mut next = Some(first);
    for _ in 0..MAX_ATTEMPTS {
        // A failed attempt's lease is dropped by now, so its slot is free for others.
        let mut lease = match next.take() {
            Some(lease) => lease,
            None => match queue.acquire(backends, start, &tried, settings.queue_timeout()).await {
                Ok(lease) => lease,
                Err(ProxyError::NoBackend { .. }) if last_err.is_some() => break,
                Err(e) => return Err(e),
            },
        };
        let backend = &lease.backend;
        let (mut io, reused) = match backend.take_idle(Duration::from_millis(settings.idle_timeout_ms)) {
            Some(io) => (io, true),
            None => match backend.connect(Duration::from_millis(settings.connect_timeout_ms)).await {
                Ok(io) => (io, false),
                Err(source) => {
                    backend.mark_down(&source);
                    tried.push(backend.clone());
                    last_err = Some(ProxyError::UpstreamConnect { backend: backend.address.clone(), source });
                    continue;
                }
            },
        };
        let written =
            h1::write_request(&mut io.stream, request.method, request.target, request.headers, request.body).await;
        let result = match written {
            // The caller (`Proxy::forward`) bounds the whole exchange by the response timeout.
            Ok(()) => h1::read_head(&mut io, request.method, None).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(head) => {
                lease.io = Some(io);
                return Ok((head, lease));
            }
            // A stale keep-alive connection: the instance had closed it before reading our request.
            Err(ExchangeError::Write(_)) | Err(ExchangeError::ClosedEarly) if reused && idempotent => {
                tracing::debug!(backend = %backend.address, "pooled connection was closed; retrying");
                // The instance is fine: keep its slot rather than queue again.
                next = Some(lease);
            }
            Err(source) => return Err(exchange_error(&backend.address, source, settings)),
        }
    }
    Err(last_err.unwrap_or_else(|| queue.no_backend()))
}

/// A failed exchange as the client sees it: an instance that went quiet is a 504, anything else a 502.
pub fn exchange_error(backend: &str, source: ExchangeError, settings: &UpstreamConfig) -> ProxyError {
    match source {
        ExchangeError::Body(BodyError::Timeout) => {
            ProxyError::UpstreamTimeout { backend: backend.to_owned(), secs: settings.response_timeout_secs }
        }
        source => ProxyError::UpstreamBroken { backend: backend.to_owned(), source },
    }
}
