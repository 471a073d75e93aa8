//! Request coalescing: of N concurrent misses for one fill key, one (the
//! leader) goes to the app; the others wait, bounded, for its outcome. When
//! it stored the response they answer from the cache; when it could not
//! (uncacheable answer, error, cancelled request, timeout) they go to the
//! app themselves.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cache::store::{Inner, Outcome, Partition};

/// Held by the one request fetching a fill key; dropping it releases the waiters.
#[derive(Debug)]
pub struct Leader {
    partition: Arc<Partition>,
    fill: String,
    tx: watch::Sender<Outcome>,
}

impl Leader {
    /// Becomes the leader for `fill`, or returns the current leader's outcome to wait on.
    /// The caller holds `inner` (the partition's lock).
    pub(super) fn claim(
        partition: &Arc<Partition>,
        inner: &mut Inner,
        fill: &str,
    ) -> Result<Leader, watch::Receiver<Outcome>> {
        if let Some(rx) = inner.inflight.get(fill) {
            return Err(rx.clone());
        }
        let (tx, rx) = watch::channel(Outcome::Pending);
        inner.inflight.insert(fill.to_owned(), rx);
        Ok(Leader { partition: partition.clone(), fill: fill.to_owned(), tx })
    }

    /// Tells the waiters; they wake once this leader is dropped or right away.
    pub fn finish(self, outcome: Outcome) {
        self.tx.send_replace(outcome);
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Never dropped while the partition lock is held (see `Fill`), so locking here is safe.
        let mut inner = self.partition.lock();
        let ours = inner.inflight.get(&self.fill).is_some_and(|rx| rx.same_channel(&self.tx.subscribe()));
        if ours {
            inner.inflight.remove(&self.fill);
        }
    }
}

/// Waits up to `timeout` for a leader's outcome; `Pending` when it timed out, `NotStored` when the
/// leader went away without saying.
pub async fn wait(mut rx: watch::Receiver<Outcome>, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, rx.wait_for(|o| *o != Outcome::Pending)).await {
        Ok(Ok(outcome)) => *outcome,
        Ok(Err(_)) => Outcome::NotStored,
        Err(_) => Outcome::Pending,
    }
}
