//! The compiled route table: hostname -> app, swapped atomically as a whole.
//!
//! Compiling reuses the [`Backend`]s of the previous table by address, so
//! connection pools and health marks survive a table update.

pub mod certs;
pub mod keys;
pub mod routes;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_types::routing::RouteTable;

use crate::cache::{Cache, Partition};
use crate::metrics::{AppMetrics, Metrics};
use crate::statics::grace::AppStatics;
use crate::statics::StaticSite;
use crate::upstream::queue::AppQueue;
use crate::upstream::Backend;
use certs::CertStore;
use keys::DefaultCert;

/// One app as the proxy sees it.
#[derive(Debug)]
pub struct AppRoute {
    pub name: String,
    pub release: Option<i32>,
    pub backends: Vec<Arc<Backend>>,
    /// This release's bundle, plus the previous release's during its grace period.
    pub statics: Option<Arc<AppStatics>>,
    pub metrics: Arc<AppMetrics>,
    /// This release's front-end cache entries (a new release starts empty).
    pub cache: Arc<Partition>,
    /// Rotating start index for balancing ties.
    pub next: AtomicUsize,
    /// URL prefixes served by other process types, longest first.
    pub routes: Vec<routes::ProcessRoute>,
    /// Requests waiting for a free worker; the same queue across tables.
    pub queue: Arc<AppQueue>,
    /// Seconds to wait for a response head (`None`: the router's default).
    pub request_timeout_secs: Option<u32>,
    /// Plain-HTTP requests for a hostname with a certificate go to HTTPS.
    pub https_redirect: bool,
    /// HTTPS responses carry `Strict-Transport-Security`.
    pub hsts: bool,
}

impl AppRoute {
    /// The instances a request for `path` goes to: a route's, else the web ones.
    pub fn pool_for(&self, path: &str) -> routes::Pool<'_> {
        match routes::matching(&self.routes, path) {
            Some(route) => {
                routes::Pool { backends: &route.backends, next: &route.next, queue: &route.queue, route: Some(route) }
            }
            None => routes::Pool { backends: &self.backends, next: &self.next, queue: &self.queue, route: None },
        }
    }

    /// Every instance of the app, web and routed (for health probes and reuse).
    pub fn all_backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.backends.iter().chain(self.routes.iter().flat_map(|r| r.backends.iter()))
    }
}

/// Everything the proxy routes by, immutable once built.
#[derive(Debug, Default)]
pub struct Table {
    /// `None` until a table was loaded (from disk or the API).
    pub version: Option<i64>,
    hosts: HashMap<String, Arc<AppRoute>>,
    pub apps: Vec<Arc<AppRoute>>,
    /// Certificates by hostname (SNI) and which routed hostnames have one.
    pub certificates: CertStore,
    /// Pending ACME HTTP-01 challenges: hostname -> token -> key authorization.
    challenges: HashMap<String, HashMap<String, String>>,
}

/// What the table says about a `/.well-known/acme-challenge/<token>` request.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge<'a> {
    /// The body to answer with.
    Answer(&'a str),
    /// The hostname has a pending challenge, but not this token.
    UnknownToken,
    /// No challenge pending for the hostname: route the request as any other.
    None,
}

impl Table {
    /// Builds the lookup structures for `raw`, reusing `previous` backends and the given bundles;
    /// an app whose bundle changed keeps the one `previous` served for `grace`. Cache partitions
    /// carry over while the release stays (new purges applied). Certificates parsed for
    /// `previous` are reused; `default_cert` counts for the hostnames it names.
    #[allow(clippy::too_many_arguments)]
    pub fn compile(
        raw: &RouteTable,
        previous: &Table,
        sites: &HashMap<String, Arc<StaticSite>>,
        grace: Duration,
        metrics: &Metrics,
        cache: &Cache,
        default_cert: Option<&DefaultCert>,
    ) -> Table {
        let now = Instant::now();
        let before: HashMap<&str, &Arc<AppStatics>> =
            previous.apps.iter().filter_map(|a| Some((a.name.as_str(), a.statics.as_ref()?))).collect();
        let known: HashMap<&str, &Arc<Backend>> =
            previous.apps.iter().flat_map(|a| a.all_backends()).map(|b| (b.address.as_str(), b)).collect();
        let reuse = |address: &str| {
            known.get(address).map(|k| (*k).clone()).unwrap_or_else(|| Backend::new(address.to_owned()))
        };
        let queues: HashMap<&str, &Arc<AppQueue>> = previous.apps.iter().map(|a| (a.name.as_str(), &a.queue)).collect();
        let caches: HashMap<&str, &Arc<Partition>> =
            previous.apps.iter().map(|a| (a.name.as_str(), &a.cache)).collect();
        let mut hosts = HashMap::new();
        let mut apps = Vec::with_capacity(raw.apps.len());
        for app in &raw.apps {
            let backends: Vec<Arc<Backend>> = app
                .backends
                .iter()
                .map(|b| {
                    let backend = reuse(&b.address);
                    backend.set_limit(b.concurrency);
                    backend
                })
                .collect();
            let app_metrics = metrics.app(&app.name);
            let queue = match queues.get(app.name.as_str()) {
                Some(queue) => (*queue).clone(),
                None => AppQueue::new(&app.name, app_metrics.clone()),
            };
            // Waiters may use new instances (or raised caps) at once.
            queue.set_backends(backends.clone());
            let route = Arc::new(AppRoute {
                name: app.name.clone(),
                release: app.release,
                backends,
                statics: app.statics.as_ref().and_then(|s| sites.get(&s.sha256)).map(|site| {
                    let before = before.get(app.name.as_str()).map(|b| b.as_ref());
                    Arc::new(AppStatics::next(site.clone(), before, grace, now))
                }),
                cache: cache.partition(caches.get(app.name.as_str()).copied(), app, app_metrics.clone()),
                metrics: app_metrics,
                next: AtomicUsize::new(0),
                routes: routes::compile(&app.routes, reuse, || AppQueue::new(&app.name, metrics.app(&app.name))),
                queue,
                request_timeout_secs: app.request_timeout_secs,
                https_redirect: app.https_redirect,
                hsts: app.hsts,
            });
            for hostname in &app.hostnames {
                let key = hostname.trim_end_matches('.').to_ascii_lowercase();
                if let Some(other) = hosts.get(&key).map(|r: &Arc<AppRoute>| r.name.clone()) {
                    tracing::warn!(hostname = %key, app = %app.name, other = %other, "hostname listed twice; first wins");
                    continue;
                }
                hosts.insert(key, route.clone());
            }
            apps.push(route);
        }
        let certificates = CertStore::compile(
            &raw.certificates,
            &previous.certificates,
            default_cert,
            hosts.keys().map(String::as_str),
        );
        let mut challenges: HashMap<String, HashMap<String, String>> = HashMap::new();
        for c in &raw.acme_challenges {
            let host = c.hostname.trim_end_matches('.').to_ascii_lowercase();
            challenges.entry(host).or_default().insert(c.token.clone(), c.key_authorization.clone());
        }
        Table { version: Some(raw.version), hosts, apps, certificates, challenges }
    }

    /// The app serving `host` (a `Host` header value: any case, optional port, optional trailing dot).
    pub fn lookup(&self, host: &str) -> Option<&Arc<AppRoute>> {
        let name = normalize_host(host)?;
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.hosts.get(&name.to_ascii_lowercase())
        } else {
            self.hosts.get(name)
        }
    }
}

impl Table {
    /// The pending ACME challenge for `host` (a `Host` value) and `token`.
    pub fn acme_challenge(&self, host: &str, token: &str) -> Challenge<'_> {
        let Some(name) = normalize_host(host) else { return Challenge::None };
        match self.challenges.get(&name.to_ascii_lowercase()) {
            Some(tokens) => tokens.get(token).map_or(Challenge::UnknownToken, |k| Challenge::Answer(k)),
            None => Challenge::None,
        }
    }
}

/// Strips the port and a trailing dot; `None` for values that are not a hostname.
pub fn normalize_host(host: &str) -> Option<&str> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: `[::1]:8000`.
        &host[..rest.find(']')? + 2]
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return None,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::routing::{Backend as RawBackend, RouteApp};
    use uuid::Uuid;

    fn raw(version: i64, address: &str) -> RouteTable {
        RouteTable {
            version,
            apps: vec![RouteApp {
                name: "shop".into(),
                hostnames: vec!["shop.paas.test".into(), "www.shop.example".into()],
                release: Some(3),
                backends: vec![RawBackend { instance_id: Uuid::nil(), address: address.into(), concurrency: None }],
                statics: None,
                routes: vec![],
                request_timeout_secs: None,
                cache_purges: vec![],
                https_redirect: false,
                hsts: false,
            }],
            certificates: vec![],
            acme_challenges: vec![],
        }
    }

    #[test]
    fn acme_challenges_are_found_by_host_and_token() {
        let mut raw = raw(1, "127.0.0.1:1");
        raw.acme_challenges = vec![paas_types::routing::AcmeChallenge {
            hostname: "www.shop.example".into(),
            token: "abc".into(),
            key_authorization: "abc.xyz".into(),
        }];
        let cache =
            Cache::new(crate::cache::Limits::from_config(&crate::Config::for_tests("http://x", "/x".into()).cache));
        let table =
            Table::compile(&raw, &Table::default(), &HashMap::new(), Duration::ZERO, &Metrics::default(), &cache, None);
        assert_eq!(table.acme_challenge("WWW.shop.example.:80", "abc"), Challenge::Answer("abc.xyz"));
        assert_eq!(table.acme_challenge("www.shop.example", "abd"), Challenge::UnknownToken);
        assert_eq!(table.acme_challenge("shop.paas.test", "abc"), Challenge::None);
        assert_eq!(table.acme_challenge("a/b", "abc"), Challenge::None);
    }

    #[test]
    fn host_normalization() {
        assert_eq!(normalize_host("Shop.Paas.Test:8000"), Some("Shop.Paas.Test"));
        assert_eq!(normalize_host("shop.paas.test."), Some("shop.paas.test"));
        assert_eq!(normalize_host("[::1]:80"), Some("[::1]"));
        assert_eq!(normalize_host("a:b"), None);
        assert_eq!(normalize_host("a/b"), None);
        assert_eq!(normalize_host(""), None);
    }

    #[test]
    fn lookup_is_case_insensitive_and_reuses_backends() {
        let metrics = Metrics::default();
        let cache =
            Cache::new(crate::cache::Limits::from_config(&crate::Config::for_tests("http://x", "/x".into()).cache));
        let first = Table::compile(
            &raw(1, "127.0.0.1:9"),
            &Table::default(),
            &HashMap::new(),
            Duration::ZERO,
            &metrics,
            &cache,
            None,
        );
        assert_eq!(first.lookup("SHOP.paas.test:443").map(|a| a.name.as_str()), Some("shop"));
        assert_eq!(first.lookup("www.shop.example").map(|a| a.name.as_str()), Some("shop"));
        assert!(first.lookup("other.paas.test").is_none());
        let second =
            Table::compile(&raw(2, "127.0.0.1:9"), &first, &HashMap::new(), Duration::ZERO, &metrics, &cache, None);
        assert!(Arc::ptr_eq(&first.apps[0].backends[0], &second.apps[0].backends[0]));
    }
}
