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
//! when it provably never reached the first: the connect failed, or hyper
//! handed the unsent request back (a pooled connection closed under us).

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::buffer::UpBody;
use crate::config::UpstreamConfig;
use crate::error::ProxyError;

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

#[derive(Debug)]
struct Idle {
    sender: SendRequest<UpBody>,
    since: Instant,
}

/// A connection checked out of a pool; goes back with [`Lease::release`].
pub struct Lease {
    pub backend: Arc<Backend>,
    sender: Option<SendRequest<UpBody>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.backend.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lease {
    /// Returns the connection to the pool once the response has been read in full.
    pub fn release(mut self, reusable: bool, settings: &UpstreamConfig) {
        if let Some(sender) = self.sender.take().filter(|s| reusable && s.is_ready()) {
            let mut idle = self.backend.idle[pool_slot()].lock().expect("pool lock");
            if idle.len() < settings.max_idle {
                idle.push(Idle { sender, since: Instant::now() });
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
    fn take_idle(&self, max_age: Duration) -> Option<SendRequest<UpBody>> {
        let mut idle = self.idle[pool_slot()].lock().expect("pool lock");
        while let Some(conn) = idle.pop() {
            if conn.since.elapsed() < max_age && conn.sender.is_ready() {
                return Some(conn.sender);
            }
        }
        None
    }

    /// Opens a new connection with the HTTP/1.1 handshake; its driver task runs until it closes.
    async fn connect(&self, timeout: Duration) -> io::Result<SendRequest<UpBody>> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(io::Error::other)?;
        let address = self.address.clone();
        tokio::spawn(async move {
            if let Err(error) = conn.with_upgrades().await {
                tracing::debug!(backend = %address, error = %error, "upstream connection ended");
            }
        });
        Ok(sender)
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

/// Sends `request` (rebuilt per attempt by `make`) to one of `backends`, retrying only unsent requests.
pub async fn send<F, Fut>(
    backends: &[Arc<Backend>],
    start: usize,
    app: &str,
    settings: &UpstreamConfig,
    mut make: F,
) -> Result<(Response<Incoming>, Lease), ProxyError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Request<UpBody>, ProxyError>>,
{
    let mut tried = Vec::with_capacity(2);
    let mut last_err = None;
    let mut pending: Option<Request<UpBody>> = None;
    for _ in 0..MAX_ATTEMPTS {
        let Some(i) = pick(backends, start, &tried) else { break };
        let backend = &backends[i];
        backend.outstanding.fetch_add(1, Ordering::Relaxed);
        let mut lease = Lease { backend: backend.clone(), sender: None };
        let mut sender = match backend.take_idle(Duration::from_millis(settings.idle_timeout_ms)) {
            Some(sender) => sender,
            None => match backend.connect(Duration::from_millis(settings.connect_timeout_ms)).await {
                Ok(sender) => sender,
                Err(source) => {
                    backend.mark_down(&source);
                    tried.push(i);
                    last_err = Some(ProxyError::UpstreamConnect { backend: backend.address.clone(), source });
                    continue;
                }
            },
        };
        let request = match pending.take() {
            Some(request) => request,
            None => make().await?,
        };
        match sender.try_send_request(request).await {
            Ok(response) => {
                lease.sender = Some(sender);
                return Ok((response, lease));
            }
            Err(mut err) => match err.take_message() {
                // Never written: the pooled connection had closed. Safe to try again.
                Some(request) => {
                    pending = Some(request);
                    tracing::debug!(backend = %backend.address, error = %err.error(), "retrying unsent request");
                }
                None => {
                    let source = err.into_error();
                    return Err(ProxyError::UpstreamBroken { backend: backend.address.clone(), source });
                }
            },
        }
    }
    Err(last_err.unwrap_or_else(|| ProxyError::NoBackend { app: app.to_owned() }))
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
