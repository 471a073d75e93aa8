//! Keeps the route table current: disk cache at start, then long-polls the API.
//!
//! Each new table has its static bundles made ready *before* it is swapped in,
//! is swapped in whole, and is written to `<state>/route-table.json` (mode 0600: it
//! holds certificate keys) so a restart while the API is down still routes. Fetch
//! failures keep the last good table and retry with capped backoff.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use paas_types::routing::RouteTable;
use tokio::sync::watch;

use crate::source::ApiClient;
use crate::state::State;
use crate::statics::{bundle, StaticSite};
use crate::table::Table;

const CACHE_FILE: &str = "route-table.json";
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Long-poll wait while a bundle is missing, so it is retried soon.
const RETRY_WAIT_SECS: u64 = 5;

/// The task that owns table updates.
pub struct TableSource {
    api: ApiClient,
    state: Arc<State>,
    poll_wait: u64,
    cache_path: PathBuf,
    statics_dir: PathBuf,
    /// Loaded bundles by digest, reused across tables.
    sites: HashMap<String, Arc<StaticSite>>,
    current: Option<RouteTable>,
    /// A bundle of the current table could not be made ready; retry soon.
    incomplete: bool,
}

impl TableSource {
    pub fn new(api: ApiClient, state: Arc<State>) -> TableSource {
        let state_dir = &state.config.state_dir;
        TableSource {
            api,
            poll_wait: state.config.api.poll_wait_secs,
            cache_path: state_dir.join(CACHE_FILE),
            statics_dir: state_dir.join("statics"),
            state,
            sites: HashMap::new(),
            current: None,
            incomplete: false,
        }
    }

    /// Applies the table cached on disk, if any, using only bundles already on disk.
    pub async fn load_cache(&mut self) {
        let raw = match tokio::fs::read(&self.cache_path).await {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(error) => {
                return tracing::warn!(path = %self.cache_path.display(), error = %error, "reading cached route table")
            }
        };
        match serde_json::from_slice::<RouteTable>(&raw) {
            Ok(table) => {
                tracing::info!(version = table.version, apps = table.apps.len(), "loaded cached route table");
                self.apply(table, false).await;
            }
            Err(error) => {
                tracing::warn!(path = %self.cache_path.display(), error = %error, "ignoring corrupt cached table")
            }
        }
    }

    /// Polls until shutdown.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            let after = self.current.as_ref().map(|t| t.version);
            let wait = if self.incomplete { RETRY_WAIT_SECS.min(self.poll_wait) } else { self.poll_wait };
            let result = tokio::select! {
                result = self.api.table(after, wait) => result,
                _ = shutdown.changed() => return,
            };
            match result {
                Ok(table) => {
                    failures = 0;
                    if Some(table.version) != after || self.incomplete {
                        self.apply(table, true).await;
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    self.state.metrics.table_fetch_errors_total.fetch_add(1, Ordering::Relaxed);
                    let backoff = Duration::from_millis(250 << failures.min(6)).min(MAX_BACKOFF);
                    tracing::warn!(error = %error, source = ?std::error::Error::source(&error), failures, "route table fetch failed; keeping last good table");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    }

    /// Makes the bundles ready, then swaps the table in; `fresh` tables are also cached on disk.
    async fn apply(&mut self, table: RouteTable, fresh: bool) {
        self.incomplete = false;
        let mut sites = HashMap::new();
        for app in &table.apps {
            let Some(statics) = &app.statics else { continue };
            if let Some(site) = self.sites.get(&statics.sha256).or_else(|| sites.get(&statics.sha256)) {
                sites.insert(statics.sha256.clone(), site.clone());
                continue;
            }
            match self.load_site(statics, fresh).await {
                Some(site) => {
                    sites.insert(statics.sha256.clone(), site);
                }
                None => self.incomplete = true,
            }
        }
        let grace = Duration::from_secs(self.state.config.statics.static_grace_secs);
        let state = &self.state;
        let compiled = Table::compile(
            &table,
            &state.table.load(),
            &sites,
            grace,
            &state.metrics,
            &state.cache,
            state.tls_default.as_deref(),
        );
        self.state.table.store(Arc::new(compiled));
        self.sites = sites;
        self.state.metrics.table_version.store(table.version, Ordering::Relaxed);
        self.state.metrics.table_updates_total.fetch_add(1, Ordering::Relaxed);
        tracing::info!(version = table.version, apps = table.apps.len(), "route table applied");
        if fresh {
            if let Err(error) = write_cache(&self.cache_path, &table).await {
                tracing::warn!(path = %self.cache_path.display(), error = %error, "caching route table");
            }
        }
        self.current = Some(table);
    }

    /// Downloads (when `fetch`) and indexes one bundle; `None` leaves the app's static paths to the app.
    async fn load_site(&self, statics: &paas_types::routing::StaticBundle, fetch: bool) -> Option<Arc<StaticSite>> {
        let root = self.statics_dir.join(statics.sha256.to_ascii_lowercase());
        let root = if fetch || root.is_dir() {
            match bundle::ensure(&self.api, statics, &self.statics_dir).await {
                Ok(root) => root,
                Err(error) => {
                    tracing::warn!(error = %error, source = ?std::error::Error::source(&error), "static bundle unavailable");
                    return None;
                }
            }
        } else {
            return None;
        };
        let (bundle, budget) = (statics.clone(), self.state.static_budget.clone());
        match tokio::task::spawn_blocking(move || StaticSite::load(&root, &bundle, budget)).await {
            Ok(Ok(site)) => Some(Arc::new(site)),
            Ok(Err(error)) => {
                tracing::warn!(bundle.sha256 = %statics.sha256, error = %error, "indexing static bundle");
                None
            }
            Err(_) => None,
        }
    }
}

/// Writes the cache owner-only (0600): the table holds certificates' private keys.
async fn write_cache(path: &Path, table: &RouteTable) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::AsyncWriteExt;
    let tmp = path.with_extension("json.tmp");
    let mut file = tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).await?;
    // A temp file left by an older version may be more open than the mode above.
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).await?;
    file.write_all(&serde_json::to_vec(table)?).await?;
    file.flush().await?;
    tokio::fs::rename(&tmp, path).await
}
