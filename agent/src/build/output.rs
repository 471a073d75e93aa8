//! Build output streaming: lines go to the API in small batches as they are
//! produced, which also renews the build's lease; a `409` means the lease
//! went to another node.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{self, AgentClient};

/// Sends build output to the API in small batches as it is produced, which
/// also renews the build's lease.
pub(super) struct BuildLog {
    tx: mpsc::UnboundedSender<String>,
    flusher: tokio::task::JoinHandle<()>,
    lease_lost: Arc<AtomicBool>,
}

impl BuildLog {
    pub(super) fn start(api: Arc<AgentClient>, build: uuid::Uuid) -> BuildLog {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let lease_lost = Arc::new(AtomicBool::new(false));
        let lost = lease_lost.clone();
        let flusher = tokio::spawn(async move {
            let mut open = true;
            while open {
                let mut lines = Vec::new();
                // Wait for a first line (or a quiet period: still renew the lease).
                match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                    Ok(Some(line)) => lines.push(line),
                    Ok(None) => open = false,
                    Err(_) => {}
                }
                // Then gather what else arrives within a short window.
                let window = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(window);
                while open && lines.len() < 200 {
                    tokio::select! {
                        line = rx.recv() => match line { Some(l) => lines.push(l), None => open = false },
                        _ = &mut window => break,
                    }
                }
                if let Err(error) = api.append_build_log(build, lines).await {
                    if client::is_lease_lost(&error) {
                        lost.store(true, Ordering::SeqCst);
                    }
                    tracing::warn!(build.id = %build, error = %error, "cannot ship build output");
                }
            }
        });
        BuildLog { tx, flusher, lease_lost }
    }

    pub(super) fn line(&self, line: String) {
        let _ = self.tx.send(line);
    }

    pub(super) fn sender(&self) -> mpsc::UnboundedSender<String> {
        self.tx.clone()
    }

    /// Flushes everything; returns whether the lease was lost meanwhile.
    pub(super) async fn finish(self) -> bool {
        drop(self.tx);
        let _ = self.flusher.await;
        self.lease_lost.load(Ordering::SeqCst)
    }
}
