//! The front-end response cache: RFC 9111 shared-cache rules, so requests an
//! app lets be shared never reach Python.
//!
//! Off for an app until its responses ask for shared caching (explicit
//! `s-maxage`/`max-age`/`Expires`, see [`policy`]). In the request path:
//!
//! ```text
//! lookup(partition, request) -> Hit { response, refresh }   answer; run `refresh` in the background
//!                             -> Forward(fill)               fill.prepare(&mut upstream_headers);
//!                                                            forward; then fill.store(status, headers, body)
//!                                                            or fill.failed() on an upstream error
//! ```
//!
//! Modules: [`key`] (which requests, keys and `Accept-Encoding` variants),
//! [`policy`] (storability and freshness via `http-cache-semantics`, stale
//! windows, `Cache-Status`), [`store`] (per-app partitions, LRU and quotas),
//! [`coalesce`] (one app request for N identical misses), [`fill`] (what
//! happens to the app's answer).

pub mod coalesce;
pub mod fill;
pub mod key;
pub mod policy;
pub mod store;

use std::sync::Arc;
use std::time::SystemTime;

use http::header::{self, HeaderMap};
use http::Method;

pub use crate::cache::fill::{Fill, Stored};
pub use crate::cache::key::RequestView;
pub use crate::cache::policy::{Cached, CACHE_STATUS};
pub use crate::cache::store::{Cache, Limits, Partition};

use crate::cache::coalesce::Leader;
use crate::cache::key::{CacheRequest, Class};
use crate::cache::policy::answer;
use crate::cache::policy::{CacheStatus, Entry, Selection, Validators};
use crate::cache::store::Inner;
use crate::cache::store::Outcome;

/// What to do with a request.
#[derive(Debug)]
pub enum Lookup {
    /// Answer with `response`. `refresh`, when set, is a revalidation to run in the background
    /// (stale-while-revalidate): forward a GET for the same URL through it, as for `Forward`.
    Hit { response: Cached, refresh: Option<Fill> },
    /// Send the request to the app through `Fill`.
    Forward(Fill),
}

/// What the partition's state says about one request.
enum Probe {
    Hit(Arc<Entry>),
    /// Serve stale; revalidate (with these validators) through the leader when we got to be it.
    ServeStale(Arc<Entry>, Option<(Leader, Validators)>),
    Fetch {
        stale: Option<(Arc<Entry>, Validators)>,
        leader: Option<Leader>,
        fwd: &'static str,
    },
    Wait {
        rx: tokio::sync::watch::Receiver<Outcome>,
        stale: Option<Arc<Entry>>,
    },
}

/// Decides how `request` is served by `partition` (the app's cache). Waits, bounded, when an
/// identical request is already on its way to the app.
pub async fn lookup(partition: &Arc<Partition>, request: &RequestView<'_>) -> Lookup {
    if !partition.enabled() {
        return Lookup::Forward(Fill::off());
    }
    let class = key::classify(request);
    if let Class::Bypass { fwd, unsafe_method } = class {
        let invalidate = unsafe_method.then(|| key::resource(request));
        return Lookup::Forward(Fill::bypass(partition.clone(), fwd, invalidate));
    }
    let cache_request = Arc::new(CacheRequest::new(request));
    let head = *request.method == Method::HEAD;
    let client = client_conditionals(request.headers);
    let mut coalesced = false;
    loop {
        let now = SystemTime::now();
        let probe = probe(partition, &cache_request, class, head, now);
        let fetch = |stale, leader, fwd| {
            Fill::fetch(partition.clone(), cache_request.clone(), class, head, client.clone(), stale, leader, fwd)
        };
        match probe {
            Probe::Hit(entry) => {
                let mut status = CacheStatus { hit: true, ttl: Some(entry.ttl(now)), ..CacheStatus::default() };
                status.detail = coalesced.then_some("coalesced");
                partition.metrics.cache.hit.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Lookup::Hit { response: answer(&entry, &client, &status, now), refresh: None };
            }
            Probe::ServeStale(entry, leader) => {
                let status = CacheStatus {
                    hit: true,
                    ttl: Some(entry.ttl(now)),
                    detail: Some("stale-while-revalidate"),
                    ..CacheStatus::default()
                };
                partition.metrics.cache.stale.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let response = answer(&entry, &client, &status, now);
                let refresh = leader.map(|(leader, validators)| {
                    fetch(Some((entry, validators)), Some(leader), "stale").in_background()
                });
                return Lookup::Hit { response, refresh };
            }
            Probe::Fetch { stale, leader, fwd } => return Lookup::Forward(fetch(stale, leader, fwd)),
            Probe::Wait { rx, stale } => {
                // One more look once the leader stored; anything else and we go to the app ourselves.
                let outcome = coalesce::wait(rx, partition.limits().coalesce_timeout).await;
                if outcome != Outcome::Stored || coalesced {
                    return Lookup::Forward(fetch(stale.map(|s| (s, Vec::new())), None, "miss"));
                }
                coalesced = true;
            }
        }
    }
}

/// Reads the partition under its lock (no await, no `Leader` dropped inside).
fn probe(partition: &Arc<Partition>, request: &CacheRequest, class: Class, head: bool, now: SystemTime) -> Probe {
    let mut inner = partition.lock();
    let variants = partition.variants(&inner, &request.resource);
    let mut fwd = if variants.is_empty() { "miss" } else { "vary-miss" };
    let mut found = None;
    for entry in variants {
        match policy::select(&entry, request, now) {
            Selection::Fresh => {
                found = Some((entry, None));
                break;
            }
            Selection::Stale(validators) => {
                found = Some((entry, Some(validators)));
                break;
            }
            Selection::Other => {}
        }
    }
    if class == Class::Credentialed {
        return match found {
            Some((entry, None)) if entry.shareable => hit(partition, &mut inner, request, entry),
            _ => Probe::Fetch { stale: None, leader: None, fwd: "bypass" },
        };
    }
    let (entry, validators) = match found {
        Some((entry, None)) => return hit(partition, &mut inner, request, entry),
        Some((entry, Some(validators))) => (Some(entry), validators),
        None => (None, Vec::new()),
    };
    if let Some(entry) = &entry {
        // Fresh by its lifetime yet not servable: the request's own directives (`no-cache`, `max-age=0`).
        fwd = if now < entry.fresh_until { "request" } else { "stale" };
        if fwd == "stale" && entry.stale_within(entry.stale_while_revalidate, now) {
            partition.touch(&mut inner, &request.resource, entry);
            let leader = Leader::claim(partition, &mut inner, &request.fill).ok();
            return Probe::ServeStale(entry.clone(), leader.map(|l| (l, validators)));
        }
    }
    if head {
        // HEAD is answered from GET entries but never fills them.
        return Probe::Fetch { stale: entry.map(|e| (e, Vec::new())), leader: None, fwd };
    }
    if entry.is_none() && partition.passing(&inner, &request.fill) {
        return Probe::Fetch { stale: None, leader: None, fwd };
    }
    match Leader::claim(partition, &mut inner, &request.fill) {
        Ok(leader) => Probe::Fetch { stale: entry.map(|e| (e, validators)), leader: Some(leader), fwd },
        Err(rx) => Probe::Wait { rx, stale: entry },
    }
}

fn hit(partition: &Partition, inner: &mut Inner, request: &CacheRequest, entry: Arc<Entry>) -> Probe {
    partition.touch(inner, &request.resource, &entry);
    Probe::Hit(entry)
}

/// The client's own `If-None-Match` / `If-Modified-Since`, answered from the entry.
fn client_conditionals(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE] {
        if let Some(value) = headers.get(&name) {
            out.insert(name, value.clone());
        }
    }
    out
}
