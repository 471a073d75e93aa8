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

pub mod h1;
pub mod queue;

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
use crate::upstream::queue::AppQueue;

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
    /// Most requests in flight at once (the instance's worker count); 0: no cap.
    limit: AtomicUsize,
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
    /// The queue to hand the freed slot to, for an instance with a cap.
    queue: Option<Arc<AppQueue>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // SeqCst pairs with the queue's: a waiter that enqueued before this either sees the slot free
        // or is seen here and served.
        self.backend.outstanding.fetch_sub(1, Ordering::SeqCst);
        if let Some(queue) = &self.queue {
            queue.slot_freed();
        }
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
            limit: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        })
    }

    /// Sets the cap from the route table (`None`: no cap).
    pub fn set_limit(&self, concurrency: Option<u32>) {
        self.limit.store(concurrency.map_or(0, |n| n as usize), Ordering::SeqCst);
    }

    /// The cap, if any.
    pub fn limit(&self) -> Option<usize> {
        Some(self.limit.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// Takes one slot: always for an instance without a cap, else only below it.
    fn try_reserve(&self) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == 0 {
            self.outstanding.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        self.outstanding.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < limit).then_some(n + 1)).is_ok()
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub fn outstanding(&self) -> usize {
        // SeqCst for the queue's handshake with `Lease::drop`; a plain load on x86 all the same.
        self.outstanding.load(Ordering::SeqCst)
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

    /// TCP-connects to see whether a down instance accepts connections again; true when it is back.
    pub async fn probe(&self, timeout: Duration) -> bool {
        let ok = matches!(tokio::time::timeout(timeout, TcpStream::connect(&self.address)).await, Ok(Ok(_)));
        let back = ok && self.down.swap(false, Ordering::Relaxed);
        if back {
            tracing::info!(backend = %self.address, "instance back in rotation");
        }
        back
    }
}

/// What [`pick`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The instance with the fewest requests in flight among those with a free slot.
    Free(usize),
    /// Instances are up but every one is at its cap: wait.
    Full,
    /// No instance to try (none, all down, or all tried).
    Nothing,
}

/// Picks the instance with the fewest requests in flight and room for one more, skipping down
/// and already-tried ones; ties go to the first from `start`.
pub fn pick(backends: &[Arc<Backend>], start: usize, tried: &[Arc<Backend>]) -> Pick {
    let n = backends.len();
    let mut best: Option<(usize, usize)> = None;
    let mut full = false;
    for i in (0..n).map(|i| (start + i) % n) {
        let backend = &backends[i];
        if backend.is_down() || tried.iter().any(|t| Arc::ptr_eq(t, backend)) {
            continue;
        }
        let outstanding = backend.outstanding();
        if backend.limit().is_some_and(|limit| outstanding >= limit) {
            full = true;
        } else if best.is_none_or(|(_, fewest)| outstanding < fewest) {
            best = Some((i, outstanding));
        }
    }
    match best {
        Some((i, _)) => Pick::Free(i),
        None if full => Pick::Full,
        None => Pick::Nothing,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_least_outstanding_and_skips_down_and_tried() {
        let backends: Vec<_> = (0..3).map(|i| Backend::new(format!("127.0.0.1:{}", 1000 + i))).collect();
        let b = |i: usize| backends[i].clone();
        assert_eq!(pick(&backends, 0, &[]), Pick::Free(0));
        assert_eq!(pick(&backends, 1, &[]), Pick::Free(1), "ties rotate with the start index");
        backends[1].outstanding.fetch_add(2, Ordering::Relaxed);
        backends[2].outstanding.fetch_add(1, Ordering::Relaxed);
        assert_eq!(pick(&backends, 1, &[]), Pick::Free(0));
        assert_eq!(pick(&backends, 1, &[b(0)]), Pick::Free(2));
        backends[2].down.store(true, Ordering::Relaxed);
        assert_eq!(pick(&backends, 1, &[b(0)]), Pick::Free(1));
        assert_eq!(pick(&backends, 1, &[b(0), b(1)]), Pick::Nothing);
    }

    #[test]
    fn instances_at_their_cap_are_full_not_missing() {
        let backends: Vec<_> = (0..2).map(|i| Backend::new(format!("127.0.0.1:{}", 1000 + i))).collect();
        backends[0].set_limit(Some(1));
        backends[1].set_limit(Some(2));
        assert!(backends[0].try_reserve());
        assert!(!backends[0].try_reserve(), "a cap of 1 takes one request");
        assert_eq!(pick(&backends, 0, &[]), Pick::Free(1));
        assert!(backends[1].try_reserve() && backends[1].try_reserve());
        assert_eq!(pick(&backends, 0, &[]), Pick::Full);
        backends[1].down.store(true, Ordering::Relaxed);
        assert_eq!(pick(&backends, 0, &[backends[0].clone()]), Pick::Nothing);
        backends[1].set_limit(None);
        backends[1].down.store(false, Ordering::Relaxed);
        assert_eq!(pick(&backends, 0, &[]), Pick::Free(1), "no cap: always room");
    }
}
