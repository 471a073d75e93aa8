//! Prometheus metrics, kept in atomics and rendered as text on the admin port.
//!
//! Labels are bounded: the app name (from the route table, `-` for unrouted
//! requests) and the status code. Never paths or addresses.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the upstream latency histogram buckets.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Counters of one app.
#[derive(Debug)]
pub struct AppMetrics {
    /// Requests by status code (index = status - 100).
    statuses: Vec<AtomicU64>,
    upstream: Histogram,
    /// Time requests waited for a free worker (only those that waited).
    queue_wait: Histogram,
    queue_depth: AtomicI64,
    queue_timeouts: AtomicU64,
    /// Front-end cache outcomes and size.
    pub cache: CacheCounters,
}

impl AppMetrics {
    fn new() -> Self {
        AppMetrics {
            statuses: (100..600).map(|_| AtomicU64::new(0)).collect(),
            upstream: Histogram::default(),
            queue_wait: Histogram::default(),
            queue_depth: AtomicI64::new(0),
            queue_timeouts: AtomicU64::new(0),
            cache: CacheCounters::default(),
        }
    }

    /// A request got a worker after waiting `waited` in the router's queue.
    pub fn queued(&self, waited: Duration) {
        self.queue_wait.observe(waited);
    }

    /// Requests waiting in the router's queue now.
    pub fn queue_depth(&self, depth: usize) {
        self.queue_depth.store(depth as i64, Ordering::Relaxed);
    }

    /// A request waited the whole queue timeout (answered 503).
    pub fn queue_timeout(&self) {
        self.queue_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Queue timeouts so far.
    pub fn queue_timeouts(&self) -> u64 {
        self.queue_timeouts.load(Ordering::Relaxed)
    }

    /// Counts one answered request.
    pub fn request(&self, status: u16) {
        if let Some(counter) = self.statuses.get(usize::from(status).wrapping_sub(100)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the time an instance took to answer in full.
    pub fn upstream(&self, took: Duration) {
        self.upstream.observe(took);
    }
}

/// A latency histogram with the [`BUCKETS`] bounds: one bucket increment per observation,
/// summed into Prometheus' cumulative form when rendered.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| secs <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The `_bucket`, `_sum` and `_count` lines of `app`; nothing before the first observation.
    fn render(&self, out: &mut String, name: &str, app: &str) {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return;
        }
        let mut n = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            n += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{app=\"{app}\",le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{app=\"{app}\",le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{app=\"{app}\"}} {sum}\n{name}_count{{app=\"{app}\"}} {count}");
    }
}

/// Reads one value of an app's cache counters, for the exposition.
type CacheValue = fn(&CacheCounters) -> i64;

/// What the front-end cache did with an app's requests, and what it holds.
#[derive(Debug, Default)]
pub struct CacheCounters {
    /// Answered from a fresh entry without reaching the app.
    pub hit: AtomicU64,
    /// Cacheable requests forwarded to the app (no usable entry, or revalidation).
    pub miss: AtomicU64,
    /// Answered from a stale entry (stale-while-revalidate, stale-if-error).
    pub stale: AtomicU64,
    /// Requests the cache may not answer (method, credentials, body, range).
    pub bypass: AtomicU64,
    /// Responses stored.
    pub stored: AtomicU64,
    /// Entries dropped to stay within the memory limits.
    pub evicted: AtomicU64,
    /// Bytes held now (body, headers and bookkeeping).
    pub bytes: AtomicI64,
}

impl CacheCounters {
    fn render(&self, out: &mut String, app: &str) {
        let results = [("hit", &self.hit), ("miss", &self.miss), ("stale", &self.stale), ("bypass", &self.bypass)];
        for (result, counter) in results {
            let n = counter.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(out, "paas_router_cache_requests_total{{app=\"{app}\",result=\"{result}\"}} {n}");
            }
        }
    }
}

/// All router metrics.
#[derive(Debug)]
pub struct Metrics {
    apps: Mutex<BTreeMap<String, Arc<AppMetrics>>>,
    unrouted: Arc<AppMetrics>,
    pub open_connections: AtomicI64,
    pub connections_total: AtomicU64,
    /// TLS handshakes completed and failed (timeouts, no certificate for the name, protocol errors).
    pub tls_handshakes_ok: AtomicU64,
    pub tls_handshakes_failed: AtomicU64,
    pub table_version: AtomicI64,
    pub table_updates_total: AtomicU64,
    pub table_fetch_errors_total: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            apps: Mutex::new(BTreeMap::new()),
            unrouted: Arc::new(AppMetrics::new()),
            open_connections: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            tls_handshakes_ok: AtomicU64::new(0),
            tls_handshakes_failed: AtomicU64::new(0),
            table_version: AtomicI64::new(-1),
            table_updates_total: AtomicU64::new(0),
            table_fetch_errors_total: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// The counters of `app`, created on first use (apps are few; entries are never dropped).
    pub fn app(&self, app: &str) -> Arc<AppMetrics> {
        let mut apps = self.apps.lock().expect("metrics lock");
        apps.entry(app.to_owned()).or_insert_with(|| Arc::new(AppMetrics::new())).clone()
    }

    /// Counters for requests that matched no app.
    pub fn unrouted(&self) -> &AppMetrics {
        &self.unrouted
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let apps: Vec<(String, Arc<AppMetrics>)> = {
            let apps = self.apps.lock().expect("metrics lock");
            apps.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let all = apps.iter().map(|(k, v)| (k.as_str(), v.as_ref())).chain([("-", self.unrouted.as_ref())]);
        let all: Vec<_> = all.collect();
        out.push_str("# HELP paas_router_requests_total Requests answered, by app and status.\n");
        out.push_str("# TYPE paas_router_requests_total counter\n");
        for (app, m) in &all {
            for (i, counter) in m.statuses.iter().enumerate() {
                let n = counter.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "paas_router_requests_total{{app=\"{app}\",status=\"{}\"}} {n}", i + 100);
                }
            }
        }
        out.push_str("# HELP paas_router_upstream_duration_seconds Time from sending a request to an instance to its full response.\n");
        out.push_str("# TYPE paas_router_upstream_duration_seconds histogram\n");
        for (app, m) in &all {
            m.upstream.render(&mut out, "paas_router_upstream_duration_seconds", app);
        }
        render_queue(&mut out, &apps);
        out.push_str(
            "# HELP paas_router_cache_requests_total Front-end cache outcomes (hit, miss, stale, bypass) by app.\n",
        );
        out.push_str("# TYPE paas_router_cache_requests_total counter\n");
        for (app, m) in &all {
            m.cache.render(&mut out, app);
        }
        let per_app: [(&str, &str, CacheValue); 3] = [
            ("paas_router_cache_stored_total", "Responses stored in the front-end cache.", |c| {
                c.stored.load(Ordering::Relaxed) as i64
            }),
            ("paas_router_cache_evictions_total", "Cache entries dropped to stay within memory limits.", |c| {
                c.evicted.load(Ordering::Relaxed) as i64
            }),
            ("paas_router_cache_bytes", "Bytes the front-end cache holds now.", |c| c.bytes.load(Ordering::Relaxed)),
        ];
        for (name, help, value) in per_app {
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
            // Only apps that ever had a response stored: the rest would be rows of zeros.
            for (app, m) in all.iter().filter(|(_, m)| m.cache.stored.load(Ordering::Relaxed) > 0) {
                let _ = writeln!(out, "{name}{{app=\"{app}\"}} {}", value(&m.cache));
            }
        }
        gauge(
            &mut out,
            "paas_router_open_connections",
            "Client connections open now.",
            self.open_connections.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "paas_router_connections_total",
            "Client connections accepted.",
            self.connections_total.load(Ordering::Relaxed),
        );
        out.push_str("# HELP paas_router_tls_handshakes_total TLS handshakes with clients, by result.\n");
        out.push_str("# TYPE paas_router_tls_handshakes_total counter\n");
        for (result, n) in [("ok", &self.tls_handshakes_ok), ("failed", &self.tls_handshakes_failed)] {
            let _ =
                writeln!(out, "paas_router_tls_handshakes_total{{result=\"{result}\"}} {}", n.load(Ordering::Relaxed));
        }
        gauge(
            &mut out,
            "paas_router_route_table_version",
            "Version of the route table in use (-1: none yet).",
            self.table_version.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "paas_router_route_table_updates_total",
            "Route tables applied.",
            self.table_updates_total.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "paas_router_route_table_fetch_errors_total",
            "Failed route table fetches.",
            self.table_fetch_errors_total.load(Ordering::Relaxed),
        );
        out
    }
}

/// Queue time, depth and timeouts of routed apps (unrouted requests never queue).
fn render_queue(out: &mut String, apps: &[(String, Arc<AppMetrics>)]) {
    const WAIT: &str = "paas_router_queue_duration_seconds";
    let _ = write!(
        out,
        "# HELP {WAIT} Time requests waited in the router for a free worker (only those that waited).\n\
         # TYPE {WAIT} histogram\n"
    );
    for (app, m) in apps {
        m.queue_wait.render(out, WAIT, app);
    }
    out.push_str("# HELP paas_router_queue_depth Requests waiting in the router for a free worker now.\n");
    out.push_str("# TYPE paas_router_queue_depth gauge\n");
    for (app, m) in apps {
        let _ = writeln!(out, "paas_router_queue_depth{{app=\"{app}\"}} {}", m.queue_depth.load(Ordering::Relaxed));
    }
    out.push_str(
        "# HELP paas_router_queue_timeouts_total Requests answered 503 after waiting the whole queue timeout.\n",
    );
    out.push_str("# TYPE paas_router_queue_timeouts_total counter\n");
    for (app, m) in apps {
        let _ = writeln!(out, "paas_router_queue_timeouts_total{{app=\"{app}\"}} {}", m.queue_timeouts());
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let metrics = Metrics::default();
        let app = metrics.app("shop");
        app.request(200);
        app.request(200);
        app.request(502);
        app.upstream(Duration::from_millis(3));
        metrics.unrouted().request(404);
        let text = metrics.render();
        assert!(text.contains("paas_router_requests_total{app=\"shop\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("paas_router_requests_total{app=\"shop\",status=\"502\"} 1"));
        assert!(text.contains("paas_router_requests_total{app=\"-\",status=\"404\"} 1"));
        assert!(text.contains("paas_router_upstream_duration_seconds_bucket{app=\"shop\",le=\"0.005\"} 1"));
        assert!(text.contains("paas_router_upstream_duration_seconds_bucket{app=\"shop\",le=\"0.0025\"} 0"));
        assert!(text.contains("paas_router_upstream_duration_seconds_count{app=\"shop\"} 1"));
        assert!(text.contains("paas_router_queue_depth{app=\"shop\"} 0"), "{text}");
        assert!(!text.contains("paas_router_queue_duration_seconds_count"), "no waits, no histogram lines");
    }

    #[test]
    fn renders_queue_figures() {
        let metrics = Metrics::default();
        let app = metrics.app("shop");
        app.queue_depth(3);
        app.queued(Duration::from_millis(30));
        app.queued(Duration::from_millis(300));
        app.queue_timeout();
        let text = metrics.render();
        assert!(text.contains("paas_router_queue_depth{app=\"shop\"} 3"), "{text}");
        assert!(text.contains("paas_router_queue_duration_seconds_bucket{app=\"shop\",le=\"0.05\"} 1"), "{text}");
        assert!(text.contains("paas_router_queue_duration_seconds_bucket{app=\"shop\",le=\"0.5\"} 2"));
        assert!(text.contains("paas_router_queue_duration_seconds_sum{app=\"shop\"} 0.33"), "{text}");
        assert!(text.contains("paas_router_queue_duration_seconds_count{app=\"shop\"} 2"));
        assert!(text.contains("paas_router_queue_timeouts_total{app=\"shop\"} 1"));
    }
}
