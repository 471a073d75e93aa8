//! Where entries live: one partition per app (per release), LRU-ordered,
//! bounded by a per-app quota and a total shared by every partition.
//!
//! Recency is a global tick, so "least recently used" means the same thing
//! in every partition: past the total, the entry with the oldest tick of any
//! partition goes first. No code path holds two partition locks at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::cache::key;
use crate::cache::policy::Entry;
use crate::config::CacheConfig;
use crate::metrics::AppMetrics;

/// What became of a coalescing leader's request (see `coalesce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Stored,
    NotStored,
}

/// Variants kept per resource (`Vary`); older ones are dropped.
const MAX_VARIANTS: usize = 8;
/// "Recently uncacheable" markers kept per partition.
const MAX_PASS_MARKERS: usize = 4096;
/// How long a key whose last answer was uncacheable skips coalescing.
const PASS_FOR: Duration = Duration::from_secs(10);
/// Most entries one insert may evict to get under the total.
const MAX_EVICTIONS_PER_INSERT: usize = 256;

/// Limits shared by every partition.
#[derive(Debug, Clone)]
pub struct Limits {
    pub total_bytes: u64,
    pub app_bytes: u64,
    pub max_object_bytes: u64,
    pub coalesce_timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &CacheConfig) -> Limits {
        Limits {
            total_bytes: config.cache_memory_bytes,
            app_bytes: config.cache_app_bytes.min(config.cache_memory_bytes),
            max_object_bytes: config.cache_max_object_bytes,
            coalesce_timeout: Duration::from_millis(config.cache_coalesce_timeout_ms),
        }
    }
}

#[derive(Debug)]
struct Shared {
    limits: Limits,
    used: AtomicU64,
    tick: AtomicU64,
    partitions: Mutex<Vec<Weak<Partition>>>,
}

/// The router's response cache: hands out partitions and enforces the total.
#[derive(Debug, Clone)]
pub struct Cache {
    shared: Arc<Shared>,
}

impl Cache {
    pub fn new(limits: Limits) -> Cache {
        let shared = Shared { limits, used: AtomicU64::new(0), tick: AtomicU64::new(1), partitions: Mutex::default() };
        Cache { shared: Arc::new(shared) }
    }

    /// Bytes held by every partition.
    pub fn used(&self) -> u64 {
        self.shared.used.load(Ordering::Relaxed)
    }

    /// The partition for `app` in a new table: `previous` if it served the same release (with the
    /// purges it has not applied yet applied), else a new, empty one.
    pub fn partition(
        &self,
        previous: Option<&Arc<Partition>>,
        app: &paas_types::routing::RouteApp,
        metrics: Arc<AppMetrics>,
    ) -> Arc<Partition> {
        let newest = app.cache_purges.iter().map(|p| p.seq).max().unwrap_or(0);
        if let Some(previous) = previous.filter(|p| p.release == app.release) {
            previous.apply_purges(&app.cache_purges);
            return previous.clone();
        }
        if let Some(previous) = previous {
            // Emptied now rather than when the last request of the old table lets go of it.
            let dropped = previous.purge(None);
            tracing::info!(app = %app.name, release = ?app.release, entries = dropped, "new release: cache dropped");
        }
        let partition = Arc::new(Partition {
            app: app.name.clone(),
            release: app.release,
            shared: self.shared.clone(),
            metrics,
            inner: Mutex::new(Inner { applied_purge: newest, ..Inner::default() }),
        });
        let mut all = self.shared.partitions.lock().expect("cache registry lock");
        all.retain(|p| p.strong_count() > 0);
        all.push(Arc::downgrade(&partition));
        partition
    }
}

/// One app's entries (for one release).
#[derive(Debug)]
pub struct Partition {
    pub app: String,
    release: Option<i32>,
    shared: Arc<Shared>,
    pub metrics: Arc<AppMetrics>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Variant {
    tick: u64,
    entry: Arc<Entry>,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    /// Resource key -> variants, newest first.
    resources: HashMap<String, Vec<Variant>>,
    /// Tick -> resource key, oldest first.
    lru: BTreeMap<u64, String>,
    bytes: u64,
    applied_purge: i64,
    /// Fill key -> the outcome of the one request fetching it now.
    pub(super) inflight: HashMap<String, watch::Receiver<Outcome>>,
    /// Fill key -> until when requests for it go to the app without waiting on each other.
    passes: HashMap<String, Instant>,
}

impl Partition {
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Whether the cache is on at all.
    pub fn enabled(&self) -> bool {
        self.shared.limits.total_bytes > 0 && self.shared.limits.app_bytes > 0
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("cache partition lock")
    }

    fn next_tick(&self) -> u64 {
        self.shared.tick.fetch_add(1, Ordering::Relaxed)
    }

    /// Bytes this partition holds.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Stores `entry` for `resource`, replacing `replaces` (the variant it revalidated) and
    /// evicting least recently used entries past the quotas. `false`: larger than the app quota.
    pub fn insert(&self, resource: &str, entry: Entry, replaces: Option<&Arc<Entry>>) -> bool {
        let size = entry.size as u64;
        if size > self.shared.limits.app_bytes {
            return false;
        }
        let tick = self.next_tick();
        {
            let mut inner = self.lock();
            if let Some(old) = replaces {
                self.remove_variant(&mut inner, resource, old);
            }
            while inner.bytes + size > self.shared.limits.app_bytes && self.evict_one(&mut inner) {}
            let variants = inner.resources.entry(resource.to_owned()).or_default();
            variants.insert(0, Variant { tick, entry: Arc::new(entry) });
            let dropped: Vec<_> = if variants.len() > MAX_VARIANTS { variants.split_off(MAX_VARIANTS) } else { vec![] };
            inner.lru.insert(tick, resource.to_owned());
            self.account(&mut inner, size as i64);
            for old in dropped {
                inner.lru.remove(&old.tick);
                self.account(&mut inner, -(old.entry.size as i64));
            }
        }
        self.metrics.cache.stored.fetch_add(1, Ordering::Relaxed);
        self.enforce_total();
        true
    }

    fn account(&self, inner: &mut Inner, delta: i64) {
        inner.bytes = inner.bytes.saturating_add_signed(delta);
        self.metrics.cache.bytes.fetch_add(delta, Ordering::Relaxed);
        if delta >= 0 {
            self.shared.used.fetch_add(delta as u64, Ordering::Relaxed);
        } else {
            self.shared.used.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// Drops the least recently used entry; `false` when there is none.
    fn evict_one(&self, inner: &mut Inner) -> bool {
        let Some((tick, resource)) = inner.lru.pop_first() else { return false };
        if let Some(variants) = inner.resources.get_mut(&resource) {
            if let Some(i) = variants.iter().position(|v| v.tick == tick) {
                let gone = variants.remove(i);
                if variants.is_empty() {
                    inner.resources.remove(&resource);
                }
                self.account(inner, -(gone.entry.size as i64));
                self.metrics.cache.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }

    fn remove_variant(&self, inner: &mut Inner, resource: &str, entry: &Arc<Entry>) {
        let Some(variants) = inner.resources.get_mut(resource) else { return };
        let Some(i) = variants.iter().position(|v| Arc::ptr_eq(&v.entry, entry)) else { return };
        let gone = variants.remove(i);
        if variants.is_empty() {
            inner.resources.remove(resource);
        }
        inner.lru.remove(&gone.tick);
        self.account(inner, -(gone.entry.size as i64));
    }

    /// Drops `entry` (the app said it is no longer storable).
    pub fn remove(&self, resource: &str, entry: &Arc<Entry>) {
        let mut inner = self.lock();
        self.remove_variant(&mut inner, resource, entry);
    }

    /// Drops every variant of `resource` (an unsafe method succeeded on it).
    pub fn invalidate(&self, resource: &str) {
        let mut inner = self.lock();
        for gone in inner.resources.remove(resource).unwrap_or_default() {
            inner.lru.remove(&gone.tick);
            self.account(&mut inner, -(gone.entry.size as i64));
        }
    }

    /// Variants of `resource`, newest first (cheap clones); marks none as used.
    pub(super) fn variants(&self, inner: &Inner, resource: &str) -> Vec<Arc<Entry>> {
        inner.resources.get(resource).map(|v| v.iter().map(|v| v.entry.clone()).collect()).unwrap_or_default()
    }

    /// Marks `entry` of `resource` as just used.
    pub(super) fn touch(&self, inner: &mut Inner, resource: &str, entry: &Arc<Entry>) {
        let tick = self.next_tick();
        let Some(variant) =
            inner.resources.get_mut(resource).and_then(|vs| vs.iter_mut().find(|v| Arc::ptr_eq(&v.entry, entry)))
        else {
            return;
        };
        let old = std::mem::replace(&mut variant.tick, tick);
        inner.lru.remove(&old);
        inner.lru.insert(tick, resource.to_owned());
    }

    /// Records that `fill`'s last answer was uncacheable: its requests stop waiting on each other.
    fn mark_pass(&self, inner: &mut Inner, fill: &str) {
        let now = Instant::now();
        if inner.passes.len() >= MAX_PASS_MARKERS {
            inner.passes.retain(|_, until| *until > now);
            if inner.passes.len() >= MAX_PASS_MARKERS {
                inner.passes.clear();
            }
        }
        inner.passes.insert(fill.to_owned(), now + PASS_FOR);
    }

    pub(super) fn passing(&self, inner: &Inner, fill: &str) -> bool {
        inner.passes.get(fill).is_some_and(|until| *until > Instant::now())
    }

    /// Sets (`true`) or clears the "recently uncacheable" marker of `fill`.
    pub fn set_pass(&self, fill: &str, pass: bool) {
        let mut inner = self.lock();
        if pass {
            self.mark_pass(&mut inner, fill);
        } else {
            inner.passes.remove(fill);
        }
    }

    /// Drops entries whose target matches `path` (every entry for `None`); returns how many.
    pub fn purge(&self, path: Option<&str>) -> usize {
        let mut inner = self.lock();
        let doomed: Vec<String> = inner
            .resources
            .keys()
            .filter(|r| path.is_none_or(|p| key::purge_matches(p, key::target_of(r))))
            .cloned()
            .collect();
        let mut dropped = 0;
        for resource in doomed {
            for gone in inner.resources.remove(&resource).unwrap_or_default() {
                inner.lru.remove(&gone.tick);
                self.account(&mut inner, -(gone.entry.size as i64));
                dropped += 1;
            }
        }
        inner.passes.clear();
        dropped
    }

    /// Applies the purges with a `seq` newer than the last one applied.
    fn apply_purges(&self, purges: &[paas_types::routing::CachePurge]) {
        let applied = self.lock().applied_purge;
        for purge in purges.iter().filter(|p| p.seq > applied) {
            let dropped = self.purge(purge.path.as_deref());
            tracing::info!(app = %self.app, seq = purge.seq, path = ?purge.path, entries = dropped, "cache purged");
            let mut inner = self.lock();
            inner.applied_purge = inner.applied_purge.max(purge.seq);
        }
    }

    /// Evicts the globally least recently used entries until the total is respected.
    fn enforce_total(&self) {
        let total = self.shared.limits.total_bytes;
        for _ in 0..MAX_EVICTIONS_PER_INSERT {
            if self.shared.used.load(Ordering::Relaxed) <= total {
                return;
            }
            let live: Vec<Arc<Partition>> = {
                let all = self.shared.partitions.lock().expect("cache registry lock");
                all.iter().filter_map(Weak::upgrade).collect()
            };
            let oldest =
                live.iter().filter_map(|p| Some((*p.lock().lru.keys().next()?, p))).min_by_key(|(tick, _)| *tick);
            let Some((_, victim)) = oldest else { return };
            let mut inner = victim.lock();
            victim.evict_one(&mut inner);
        }
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        let bytes = self.inner.get_mut().map(|i| i.bytes).unwrap_or(0);
        self.shared.used.fetch_sub(bytes, Ordering::Relaxed);
        self.metrics.cache.bytes.fetch_sub(bytes as i64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
    use paas_types::routing::{CachePurge, RouteApp};

    use super::*;
    use crate::cache::key::{CacheRequest, Class, RequestView};
    use crate::cache::policy;

    fn counters() -> Arc<AppMetrics> {
        crate::metrics::Metrics::default().app("t")
    }

    fn limits(total: u64, app: u64) -> Limits {
        Limits {
            total_bytes: total,
            app_bytes: app,
            max_object_bytes: 1 << 20,
            coalesce_timeout: Duration::from_secs(1),
        }
    }

    fn route(name: &str, release: i32, purges: Vec<CachePurge>) -> RouteApp {
        RouteApp {
            name: name.into(),
            hostnames: vec![format!("{name}.test")],
            release: Some(release),
            backends: vec![],
            statics: None,
            routes: vec![],
            request_timeout_secs: None,
            cache_purges: purges,
            https_redirect: false,
            hsts: false,
        }
    }

    /// A stored entry for `target` with a `len`-byte body.
    fn entry(target: &str, len: usize) -> (String, Entry) {
        let (uri, mut headers) = (target.parse::<Uri>().unwrap(), HeaderMap::new());
        headers.insert("host", HeaderValue::from_static("a.test"));
        let view = RequestView { method: &Method::GET, uri: &uri, headers: &headers, has_body: false };
        let request = CacheRequest::new(&view);
        let mut response = HeaderMap::new();
        response.insert("cache-control", HeaderValue::from_static("max-age=60"));
        let body = Bytes::from(vec![b'x'; len]);
        let stored =
            policy::admit(&request, Class::Public, StatusCode::OK, &response, Some(body), 1 << 20, SystemTime::now());
        (request.resource, stored.unwrap())
    }

    fn has(partition: &Partition, resource: &str) -> bool {
        !partition.variants(&partition.lock(), resource).is_empty()
    }

    #[test]
    fn accounting_tracks_inserts_replacements_purges_and_drops() {
        let cache = Cache::new(limits(1 << 20, 1 << 20));
        let metrics = counters();
        let part = cache.partition(None, &route("a", 1, vec![]), metrics.clone());
        let (key, first) = entry("/x", 1000);
        let size = first.size as u64;
        assert!(size > 1000, "headers and bookkeeping count too");
        assert!(part.insert(&key, first, None));
        assert_eq!(
            (part.bytes(), cache.used(), metrics.cache.bytes.load(Ordering::Relaxed)),
            (size, size, size as i64)
        );
        // Replacing the variant it revalidated keeps one copy.
        let old = part.variants(&part.lock(), &key)[0].clone();
        let (_, second) = entry("/x", 1000);
        part.insert(&key, second, Some(&old));
        assert_eq!((part.bytes(), part.variants(&part.lock(), &key).len()), (size, 1));
        let (other, third) = entry("/y?q=1", 10);
        part.insert(&other, third, None);
        assert_eq!(part.purge(Some("/y")), 1);
        assert_eq!(part.bytes(), size);
        drop(part);
        assert_eq!((cache.used(), metrics.cache.bytes.load(Ordering::Relaxed)), (0, 0));
    }

    #[test]
    fn the_app_quota_evicts_least_recently_used_first() {
        let size = entry("/1", 1000).1.size as u64;
        let cache = Cache::new(limits(1 << 20, 3 * size + 10));
        let part = cache.partition(None, &route("a", 1, vec![]), counters());
        let keys: Vec<String> = (1..=4).map(|i| entry(&format!("/{i}"), 1000).0).collect();
        for key in &keys[..3] {
            part.insert(key, entry(key.split(' ').nth(1).unwrap(), 1000).1, None);
        }
        let first = part.variants(&part.lock(), &keys[0])[0].clone();
        part.touch(&mut part.lock(), &keys[0], &first);
        part.insert(&keys[3], entry("/4", 1000).1, None);
        let present: Vec<bool> = keys.iter().map(|k| has(&part, k)).collect();
        assert_eq!(present, [true, false, true, true]);
        assert_eq!(part.metrics.cache.evicted.load(Ordering::Relaxed), 1);
        assert!(part.bytes() <= 3 * size + 10);
        let (big_key, big) = entry("/big", 10_000);
        assert!(!part.insert(&big_key, big, None), "larger than the whole quota");
    }

    #[test]
    fn the_total_evicts_the_oldest_entry_of_any_app() {
        let size = entry("/1", 1000).1.size as u64;
        let cache = Cache::new(limits(2 * size + 10, 1 << 20));
        let a = cache.partition(None, &route("a", 1, vec![]), counters());
        let b = cache.partition(None, &route("b", 1, vec![]), counters());
        let (ka, ea) = entry("/a", 1000);
        let (kb, eb) = entry("/b", 1000);
        let (kc, ec) = entry("/c", 1000);
        a.insert(&ka, ea, None);
        b.insert(&kb, eb, None);
        b.insert(&kc, ec, None);
        assert_eq!((has(&a, &ka), has(&b, &kb), has(&b, &kc)), (false, true, true));
        assert!(cache.used() <= 2 * size + 10);
    }

    #[test]
    fn partitions_survive_tables_of_the_same_release_and_apply_new_purges_once() {
        let cache = Cache::new(limits(1 << 20, 1 << 20));
        let purge = |seq, path: Option<&str>| CachePurge { seq, path: path.map(str::to_owned) };
        // Purges in the first table are history: the cache was empty.
        let first = cache.partition(None, &route("a", 1, vec![purge(3, None)]), counters());
        let (key, e) = entry("/x", 10);
        first.insert(&key, e, None);
        let same = cache.partition(Some(&first), &route("a", 1, vec![purge(3, None)]), counters());
        assert!(Arc::ptr_eq(&first, &same) && has(&same, &key));
        let purged =
            cache.partition(Some(&same), &route("a", 1, vec![purge(3, None), purge(4, Some("/x"))]), counters());
        assert!(!has(&purged, &key));
        let (key, e) = entry("/x", 10);
        purged.insert(&key, e, None);
        let again = cache.partition(Some(&purged), &route("a", 1, vec![purge(4, Some("/x"))]), counters());
        assert!(has(&again, &key), "seq 4 is applied once");
        let released = cache.partition(Some(&again), &route("a", 2, vec![]), counters());
        assert!(!Arc::ptr_eq(&again, &released) && !has(&released, &key) && !has(&again, &key));
    }
}
