//! One app instance: its keep-alive connection pools, in-flight count and cap,
//! passive health mark; the lease of one slot on it; and the least-outstanding pick.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::config::UpstreamConfig;
use crate::http1::io::ClientIo;

/// Told when a lease of a capped instance ends (the app's queue hands the slot on).
pub trait SlotFreed: Send + Sync {
    fn slot_freed(&self);
}

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
    /// Who to tell that the slot is free, for an instance with a cap (the app's queue).
    pub(super) queue: Option<Arc<dyn SlotFreed>>,
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
    pub(super) fn try_reserve(&self) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == 0 {
            self.outstanding.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        self.outstanding.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < limit).then_some(n + 1)).is_ok()
    }

    /// Gives back a slot taken by [`try_reserve`](Backend::try_reserve) that was never leased.
    pub(super) fn unreserve(&self) {
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub fn outstanding(&self) -> usize {
        // SeqCst for the queue's handshake with `Lease::drop`; a plain load on x86 all the same.
        self.outstanding.load(Ordering::SeqCst)
    }

    pub(super) fn mark_down(&self, error: &io::Error) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(backend = %self.address, error = %error, "instance marked down");
        }
        for slot in &self.idle {
            slot.lock().expect("pool lock").clear();
        }
    }

    /// A pooled connection still fresh enough to trust, if any.
    pub(super) fn take_idle(&self, max_age: Duration) -> Option<ClientIo> {
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

    pub(super) async fn connect(&self, timeout: Duration) -> io::Result<ClientIo> {
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
