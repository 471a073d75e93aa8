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

pub mod h1;

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::Method;
use tokio::net::TcpStream;

use crate::buffer::Buffered;
use crate::config::UpstreamConfig;
use crate::error::{BodyError, ExchangeError, ProxyError};
use crate::http1::io::ClientIo;
use crate::upstream::h1::ResponseHead;

/// Most attempts for one request across instances.
const MAX_ATTEMPTS: usize = 4;
/// Idle pools per backend, one per worker thread (modulo), so a pooled connection is reused on
/// the thread whose event loop drives it.
const POOL_SLOTS: usize = 16;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// Marks the current thread as worker `index` (1-based; 0 is any other thread).
pub fn set_worker_index(index: usize) {
    WORKER.with(|w| w.set(index));
}

fn pool_slot() -> usize {
    WORKER.with(|w| w.get()) % POOL_SLOTS
}

/// One app instance (`host:port`), shared by every table version that lists it.
#[derive(Debug)]
pub struct Backend {
    pub address: String,
    idle: Vec<Mutex<Vec<Idle>>>,
    outstanding: AtomicUsize,
    down: AtomicBool,
}

struct Idle {
    io: ClientIo,
    since: Instant,
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle").field("since", &self.since).finish()
    }
}

/// A connection checked out of a pool, counted as outstanding until dropped or released.
pub struct Lease {
    pub backend: Arc<Backend>,
    /// The connection; `None` once taken for a tunnel.
    pub io: Option<ClientIo>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.backend.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lease {
    /// Returns the connection to the pool once the response has been read in full.
    pub fn release(mut self, reusable: bool, settings: &UpstreamConfig) {
        // Leftover bytes after a complete response mean the instance broke framing: never reuse.
        if let Some(io) = self.io.take().filter(|io| reusable && io.buf.is_empty()) {
            let mut idle = self.backend.idle[pool_slot()].lock().expect("pool lock");
            if idle.len() < settings.max_idle {
                idle.push(Idle { io, since: Instant::now() });
            }
        }
    }
}

impl Backend {
    pub fn new(address: String) -> Arc<Backend> {
        Arc::new(Backend {
            address,
            idle: (0..POOL_SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
            outstanding: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        })
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    fn mark_down(&self, error: &io::Error) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(backend = %self.address, error = %error, "instance marked down");
        }
        for slot in &self.idle {
            slot.lock().expect("pool lock").clear();
        }
    }

    /// A pooled connection still fresh enough to trust, if any.
    fn take_idle(&self, max_age: Duration) -> Option<ClientIo> {
        let mut idle = self.idle[pool_slot()].lock().expect("pool lock");
        while let Some(conn) = idle.pop() {
            // A closed (readable EOF) or chattering idle connection is useless; WouldBlock means alive.
            let alive =
                matches!(conn.io.stream.try_read(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
            if alive && conn.since.elapsed() < max_age {
                return Some(conn.io);
            }
        }
        None
    }

    async fn connect(&self, timeout: Duration) -> io::Result<ClientIo> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(ClientIo { stream, buf: BytesMut::with_capacity(8 * 1024) })
    }

    /// TCP-connects to see whether a down instance accepts connections again.
    pub async fn probe(&self, timeout: Duration) {
        let ok = matches!(tokio::time::timeout(timeout, TcpStream::connect(&self.address)).await, Ok(Ok(_)));
        if ok && self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(backend = %self.address, "instance back in rotation");
        }
    }
}

/// Picks the instance with the fewest requests in flight, skipping down and already-tried ones.
pub fn pick(backends: &[Arc<Backend>], start: usize, tried: &[usize]) -> Option<usize> {
    let n = backends.len();
    (0..n)
        .map(|i| (start + i) % n)
        .filter(|i| !tried.contains(i) && !backends[*i].is_down())
        .min_by_key(|i| backends[*i].outstanding())
}

/// One request to send: everything needed to write it again on another connection.
pub struct Outgoing<'a> {
    pub method: &'a Method,
    pub target: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a Buffered,
}

/// Sends `request` to one of `backends` and reads the response head, retrying only unsent requests.
pub async fn send(
    backends: &[Arc<Backend>],
    start: usize,
    app: &str,
    settings: &UpstreamConfig,
    request: &Outgoing<'_>,
) -> Result<(ResponseHead, Lease), ProxyError> {
    let idempotent =
        matches!(*request.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE);
    let mut tried = Vec::with_capacity(2);
    let mut last_err = None;
    for _ in 0..MAX_ATTEMPTS {
        let Some(i) = pick(backends, start, &tried) else { break };
        let backend = &backends[i];
        backend.outstanding.fetch_add(1, Ordering::Relaxed);
        let mut lease = Lease { backend: backend.clone(), io: None };
        let (mut io, reused) = match backend.take_idle(Duration::from_millis(settings.idle_timeout_ms)) {
            Some(io) => (io, true),
            None => match backend.connect(Duration::from_millis(settings.connect_timeout_ms)).await {
                Ok(io) => (io, false),
                Err(source) => {
                    backend.mark_down(&source);
                    tried.push(i);
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
            }
            Err(source) => return Err(exchange_error(&backend.address, source, settings)),
        }
    }
    Err(last_err.unwrap_or_else(|| ProxyError::NoBackend { app: app.to_owned() }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_least_outstanding_and_skips_down_and_tried() {
        let backends: Vec<_> = (0..3).map(|i| Backend::new(format!("127.0.0.1:{}", 1000 + i))).collect();
        assert_eq!(pick(&backends, 0, &[]), Some(0));
        assert_eq!(pick(&backends, 1, &[]), Some(1), "ties rotate with the start index");
        backends[1].outstanding.fetch_add(2, Ordering::Relaxed);
        backends[2].outstanding.fetch_add(1, Ordering::Relaxed);
        assert_eq!(pick(&backends, 1, &[]), Some(0));
        assert_eq!(pick(&backends, 1, &[0]), Some(2));
        backends[2].down.store(true, Ordering::Relaxed);
        assert_eq!(pick(&backends, 1, &[0]), Some(1));
        assert_eq!(pick(&backends, 1, &[0, 1]), None);
    }
}
