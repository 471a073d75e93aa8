//! The per-app queue of requests waiting for a free worker.
//!
//! A sync WSGI instance serves as many requests at once as it has workers
//! (`WEB_CONCURRENCY`); a request sent beyond that waits in the instance's
//! listen backlog, invisible and unbounded, and is then served even if its
//! client left long ago. So the router caps each instance at its worker count
//! and keeps the excess here, where it is measured and bounded in time.
//!
//! Fast path (an instance has room and nobody waits): [`AppQueue::acquire`]
//! reads one atomic and reserves a slot with one compare-and-swap, no lock.
//! Otherwise the request joins the app's FIFO; whenever a slot frees (a
//! [`Lease`] of a capped instance is dropped), the table changes, or an
//! instance comes back, [`AppQueue::wake`] hands free slots to waiters in
//! arrival order. A slot is reserved before it is handed over, so newcomers
//! cannot take it first, and a waiter that gave up returns it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::ProxyError;
use crate::metrics::AppMetrics;
use crate::upstream::backend::{pick, Backend, Lease, Pick, SlotFreed};

/// Failed reservations (races with other threads) one hand-out pass tolerates before it stops;
/// the next freed slot starts another pass.
const MAX_RACES: usize = 64;

/// The waiting requests of one app, shared by every route table that lists the app.
pub struct AppQueue {
    app: String,
    /// `inner.waiters.len()`, read without the lock by every freed slot.
    waiting: AtomicUsize,
    inner: Mutex<Inner>,
    metrics: Arc<AppMetrics>,
}

struct Inner {
    waiters: VecDeque<Waiter>,
    /// The app's instances in the newest table.
    backends: Vec<Arc<Backend>>,
    /// Rotating start for ties between equally busy instances.
    next: usize,
    next_id: u64,
}

struct Waiter {
    id: u64,
    /// Instances this request already failed on (retries).
    tried: Vec<Arc<Backend>>,
    /// Receives an instance whose slot was reserved for this waiter; dropped unsent when no
    /// instance is left to wait for.
    tx: oneshot::Sender<Arc<Backend>>,
}

impl std::fmt::Debug for AppQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppQueue").field("app", &self.app).field("waiting", &self.waiting).finish()
    }
}

impl SlotFreed for AppQueue {
    /// Called by every dropped lease of a capped instance.
    fn slot_freed(&self) {
        self.wake();
    }
}

impl AppQueue {
    pub fn new(app: &str, metrics: Arc<AppMetrics>) -> Arc<AppQueue> {
        Arc::new(AppQueue {
            app: app.to_owned(),
            waiting: AtomicUsize::new(0),
            inner: Mutex::new(Inner { waiters: VecDeque::new(), backends: Vec::new(), next: 0, next_id: 0 }),
            metrics,
        })
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The "no running instance" error of this app.
    pub fn no_backend(&self) -> ProxyError {
        ProxyError::NoBackend { app: self.app.clone() }
    }

    /// A slot on the least busy instance of `backends` with room, skipping `tried`; when every
    /// instance is at its cap, waits in line up to `timeout` (then a 503 [`ProxyError::QueueTimeout`]).
    pub async fn acquire(
        self: &Arc<Self>,
        backends: &[Arc<Backend>],
        start: usize,
        tried: &[Arc<Backend>],
        timeout: Duration,
    ) -> Result<Lease, ProxyError> {
        // Newcomers never overtake waiters: with anyone in line they join it.
        if self.waiting() == 0 {
            for _ in 0..backends.len().max(1) {
                match pick(backends, start, tried) {
                    Pick::Free(i) if backends[i].try_reserve() => return Ok(self.lease(backends[i].clone())),
                    // Another thread took the last slot between the look and the reservation.
                    Pick::Free(_) => continue,
                    Pick::Full => break,
                    Pick::Nothing => return Err(self.no_backend()),
                }
            }
        }
        self.wait(tried, timeout).await
    }

    /// Replaces the app's instances (a new route table) and hands out slots they make free.
    pub fn set_backends(&self, backends: Vec<Arc<Backend>>) {
        let mut inner = self.inner.lock().expect("queue lock");
        inner.backends = backends;
        self.hand_out(&mut inner);
    }

    /// Hands free slots to waiters, oldest first: after a slot freed or an instance came back.
    pub fn wake(&self) {
        if self.waiting() > 0 {
            let mut inner = self.inner.lock().expect("queue lock");
            self.hand_out(&mut inner);
        }
    }

    /// A lease of `backend`, whose slot is already reserved.
    fn lease(self: &Arc<Self>, backend: Arc<Backend>) -> Lease {
        // Only capped instances have anyone to wake; the others skip the shared refcount.
        let queue = backend.limit().map(|_| self.clone() as Arc<dyn SlotFreed>);
        Lease { backend, io: None, queue }
    }

    async fn wait(self: &Arc<Self>, tried: &[Arc<Backend>], timeout: Duration) -> Result<Lease, ProxyError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut inner = self.inner.lock().expect("queue lock");
            let id = inner.next_id;
            inner.next_id += 1;
            inner.waiters.push_back(Waiter { id, tried: tried.to_vec(), tx });
            // Published before looking for room (SeqCst, as `Lease::drop` decrements then reads it):
            // a slot freed meanwhile is either seen free here or its lease sees this waiter.
            self.waiting.store(inner.waiters.len(), Ordering::SeqCst);
            self.hand_out(&mut inner);
            id
        };
        let enqueued = Instant::now();
        let mut ticket = Ticket { queue: self, id, rx: Some(rx) };
        let result = tokio::time::timeout(timeout, ticket.rx.as_mut().expect("set above")).await;
        match result {
            Ok(Ok(backend)) => {
                ticket.rx = None;
                self.metrics.queued(enqueued.elapsed());
                Ok(self.lease(backend))
            }
            // Dropped unsent: every instance went away or down.
            Ok(Err(_)) => {
                ticket.rx = None;
                Err(self.no_backend())
            }
            Err(_) => {
                self.metrics.queue_timeout();
                Err(ProxyError::QueueTimeout { app: self.app.clone(), secs: timeout.as_secs() })
            }
        }
    }

    /// Reserves slots for waiters in arrival order while any instance has room.
    fn hand_out(&self, inner: &mut Inner) {
        let mut races = 0;
        let mut i = 0;
        while i < inner.waiters.len() && races < MAX_RACES {
            if inner.waiters[i].tx.is_closed() {
                inner.waiters.remove(i);
                continue;
            }
            match pick(&inner.backends, inner.next, &inner.waiters[i].tried) {
                Pick::Free(b) => {
                    let backend = inner.backends[b].clone();
                    if !backend.try_reserve() {
                        races += 1;
                        continue;
                    }
                    inner.next = inner.next.wrapping_add(1);
                    let waiter = inner.waiters.remove(i).expect("index checked by the loop");
                    if waiter.tx.send(backend.clone()).is_err() {
                        // It gave up just now: the slot is free again for the next one.
                        backend.unreserve();
                    }
                }
                // A waiter with nothing tried could use any instance: nobody behind it can be served.
                Pick::Full if inner.waiters[i].tried.is_empty() => break,
                Pick::Full => i += 1,
                Pick::Nothing => {
                    // No instance left to wait for: its `tx` drops unsent and it answers 503 now.
                    inner.waiters.remove(i);
                }
            }
        }
        let len = inner.waiters.len();
        self.waiting.store(len, Ordering::SeqCst);
        self.metrics.queue_depth(len);
    }

    /// Takes a waiter out of line (it timed out or its client left).
    fn leave(&self, id: u64) {
        let mut inner = self.inner.lock().expect("queue lock");
        if let Some(at) = inner.waiters.iter().position(|w| w.id == id) {
            inner.waiters.remove(at);
            let len = inner.waiters.len();
            self.waiting.store(len, Ordering::SeqCst);
            self.metrics.queue_depth(len);
        }
    }
}

/// A place in line; dropping it before a slot arrived leaves the line, and a slot that arrived
/// meanwhile is passed on.
struct Ticket<'a> {
    queue: &'a Arc<AppQueue>,
    id: u64,
    rx: Option<oneshot::Receiver<Arc<Backend>>>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else { return };
        rx.close();
        match rx.try_recv() {
            // Dropping the lease frees the slot and wakes the next waiter.
            Ok(backend) => drop(self.queue.lease(backend)),
            Err(_) => self.queue.leave(self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    fn setup(limits: &[u32]) -> (Arc<AppQueue>, Vec<Arc<Backend>>, Arc<AppMetrics>) {
        let metrics = Metrics::default().app("shop");
        let backends: Vec<_> = limits
            .iter()
            .enumerate()
            .map(|(i, limit)| {
                let b = Backend::new(format!("127.0.0.1:{}", 2000 + i));
                b.set_limit(Some(*limit));
                b
            })
            .collect();
        let queue = AppQueue::new("shop", metrics.clone());
        queue.set_backends(backends.clone());
        (queue, backends, metrics)
    }

    const LONG: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn waiters_are_served_in_arrival_order_as_slots_free() {
        let (queue, backends, _) = setup(&[1]);
        let held = queue.acquire(&backends, 0, &[], LONG).await.unwrap();
        assert_eq!(backends[0].outstanding(), 1);
        let (order_tx, mut order_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for n in 0..3 {
            let (q, all, order_tx) = (queue.clone(), backends.clone(), order_tx.clone());
            tasks.push(tokio::spawn(async move {
                let lease = q.acquire(&all, 0, &[], LONG).await.unwrap();
                order_tx.send(n).unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(lease);
            }));
            // Each joins the line before the next one starts.
            for _ in 0..100 {
                if queue.waiting() == n + 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(queue.waiting(), n + 1);
        }
        // A newcomer must not overtake them even though it arrives when a slot frees.
        drop(held);
        let late = queue.acquire(&backends, 0, &[], LONG).await.unwrap();
        order_tx.send(99).unwrap();
        drop(late);
        for task in tasks {
            task.await.unwrap();
        }
        let mut order = Vec::new();
        while let Ok(n) = order_rx.try_recv() {
            order.push(n);
        }
        assert_eq!(order, [0, 1, 2, 99]);
        assert_eq!((backends[0].outstanding(), queue.waiting()), (0, 0));
    }

    #[tokio::test]
    async fn a_timed_out_waiter_leaves_the_line_and_leaks_no_slot() {
        let (queue, backends, metrics) = setup(&[1]);
        let held = queue.acquire(&backends, 0, &[], LONG).await.unwrap();
        let err = queue.acquire(&backends, 0, &[], Duration::from_millis(50)).await.err().expect("timed out");
        assert!(matches!(err, ProxyError::QueueTimeout { .. }), "{err:?}");
        assert_eq!(queue.waiting(), 0);
        assert_eq!(metrics.queue_timeouts(), 1);
        // A waiter dropped (client gone) right as a slot is handed to it passes the slot on.
        let waiting = tokio::spawn({
            let (queue, backends) = (queue.clone(), backends.clone());
            async move { queue.acquire(&backends, 0, &[], LONG).await.map(|_| ()) }
        });
        for _ in 0..100 {
            if queue.waiting() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        waiting.abort();
        drop(held);
        let _ = waiting.await;
        assert_eq!((backends[0].outstanding(), queue.waiting()), (0, 0), "the slot came back");
        assert!(queue.acquire(&backends, 0, &[], LONG).await.is_ok());
    }

    #[tokio::test]
    async fn waiters_get_new_instances_and_fail_fast_when_none_is_left() {
        let (queue, backends, _) = setup(&[1]);
        let _held = queue.acquire(&backends, 0, &[], LONG).await.unwrap();
        let waiter = tokio::spawn({
            let (queue, backends) = (queue.clone(), backends.clone());
            async move { queue.acquire(&backends, 0, &[], LONG).await.map(|l| l.backend.address.clone()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Scale-up: a new table lists another instance; the waiter gets it at once.
        let added = Backend::new("127.0.0.1:2999".into());
        added.set_limit(Some(1));
        queue.set_backends(vec![backends[0].clone(), added.clone()]);
        assert_eq!(waiter.await.unwrap().unwrap(), "127.0.0.1:2999");
        // Every instance down: waiting is pointless, the answer is "no running instance".
        let _taken = queue.acquire(std::slice::from_ref(&added), 0, &[], LONG).await;
        let waiter = tokio::spawn({
            let queue = queue.clone();
            let all = vec![backends[0].clone(), added.clone()];
            async move { queue.acquire(&all, 0, &[], LONG).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.set_backends(vec![]);
        let started = Instant::now();
        assert!(matches!(waiter.await.unwrap(), Err(ProxyError::NoBackend { .. })));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
