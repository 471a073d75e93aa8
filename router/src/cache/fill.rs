//! A request on its way to the app, and what becomes of the app's answer:
//! stored (waiters answered from it), a stored entry refreshed by a 304,
//! a stale entry served instead of an error, or passed through as is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use http::StatusCode;

use crate::cache::coalesce::Leader;
use crate::cache::key::{self, CacheRequest, Class};
use crate::cache::policy::{self, CacheStatus, Entry, Validators};
use crate::cache::policy::{answer, Cached};
use crate::cache::store::Outcome;
use crate::cache::store::Partition;

/// Guards one request to the app on behalf of the cache. Dropping it unused (the request failed
/// or was cancelled) releases requests waiting on it.
#[derive(Debug)]
pub struct Fill {
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// The cache is off, or the request is not HTTP the cache speaks (an upgrade).
    Off,
    Bypass {
        partition: Arc<Partition>,
        fwd: &'static str,
        invalidate: Option<String>,
    },
    Fetch(Box<Fetch>),
}

#[derive(Debug)]
struct Fetch {
    partition: Arc<Partition>,
    request: Arc<CacheRequest>,
    class: Class,
    /// HEAD: answered from GET entries, never stored.
    head: bool,
    /// The client's own conditionals, answered from the cache.
    client: HeaderMap,
    /// The stored variant being revalidated (and served on error, if allowed).
    stale: Option<Arc<Entry>>,
    validators: Validators,
    leader: Option<Leader>,
    fwd: &'static str,
    /// A stale-while-revalidate refresh: no client sees its answer.
    background: bool,
}

/// What to send the client after [`Fill::store`].
#[derive(Debug)]
pub enum Stored {
    /// The app's response, with this `Cache-Status` member added (none when the cache is off).
    Pass(Option<HeaderValue>),
    /// This instead of the app's response: the entry a 304 refreshed, or a stale entry in place
    /// of a 5xx (stale-if-error).
    Replace(Cached),
}

impl Fill {
    /// A fill that does nothing: the cache is off, or the request is not one it speaks (upgrades).
    pub fn off() -> Fill {
        Fill { mode: Mode::Off }
    }

    pub(super) fn bypass(partition: Arc<Partition>, fwd: &'static str, invalidate: Option<String>) -> Fill {
        Fill { mode: Mode::Bypass { partition, fwd, invalidate } }
    }

    #[expect(clippy::too_many_arguments, reason = "one constructor for the one place that knows all of it")]
    pub(super) fn fetch(
        partition: Arc<Partition>,
        request: Arc<CacheRequest>,
        class: Class,
        head: bool,
        client: HeaderMap,
        stale: Option<(Arc<Entry>, Validators)>,
        leader: Option<Leader>,
        fwd: &'static str,
    ) -> Fill {
        let (stale, validators) = stale.map_or((None, Vec::new()), |(entry, v)| (Some(entry), v));
        let fetch =
            Fetch { partition, request, class, head, client, stale, validators, leader, fwd, background: false };
        Fill { mode: Mode::Fetch(Box::new(fetch)) }
    }

    pub(super) fn in_background(mut self) -> Fill {
        if let Mode::Fetch(fetch) = &mut self.mode {
            (fetch.background, fetch.head) = (true, false);
        }
        self
    }

    /// Adjusts the request headers going to the app: the normalised `Accept-Encoding` the answer
    /// is stored under, no client conditionals (the cache answers those), our validators.
    pub fn prepare(&self, headers: &mut HeaderMap) {
        let Mode::Fetch(fetch) = &self.mode else { return };
        key::set_accept_encoding(headers, fetch.request.accept_encoding);
        key::strip_conditionals(headers);
        for (name, value) in &fetch.validators {
            headers.insert(name, value.clone());
        }
    }

    /// Whether [`store`](Fill::store) might keep the body: give it the whole body then.
    pub fn wants_body(&self) -> bool {
        matches!(&self.mode, Mode::Fetch(f) if !f.head)
    }

    /// Whether an answer with `status` must not reach the client as is: a 304 to our own
    /// revalidation, or a 5xx with a stale entry to serve instead. Such an answer must be
    /// buffered and handed to [`store`](Fill::store), which returns what to send.
    pub fn intercepts(&self, status: StatusCode) -> bool {
        let Mode::Fetch(fetch) = &self.mode else { return false };
        (status == StatusCode::NOT_MODIFIED && !fetch.validators.is_empty())
            || (is_error_status(status) && fetch.stale_if_error(SystemTime::now(), None).is_some())
    }

    /// The app answered (`body`: the whole body, `None` when it was not kept in memory): stores
    /// it when the rules allow and says what the client gets.
    pub fn store(self, status: StatusCode, headers: &HeaderMap, body: Option<Bytes>) -> Stored {
        match self.mode {
            Mode::Off => Stored::Pass(None),
            Mode::Bypass { partition, fwd, invalidate } => {
                count(&partition.metrics.cache.bypass, false);
                if let Some(resource) = invalidate.filter(|_| status.is_success() || status.is_redirection()) {
                    partition.invalidate(&resource);
                }
                Stored::Pass(Some(CacheStatus::forwarded(fwd).value()))
            }
            Mode::Fetch(fetch) => fetch.store(status, headers, body),
        }
    }

    /// The app could not be reached or broke the exchange: a stale entry, when one may be served
    /// on error; `None` to report the error.
    pub fn failed(self) -> Option<Cached> {
        let Mode::Fetch(fetch) = self.mode else { return None };
        let served = fetch.stale_if_error(SystemTime::now(), None);
        let counter = if served.is_some() { &fetch.partition.metrics.cache.stale } else { fetch.miss_counter() };
        count(counter, fetch.background);
        served
    }
}

fn is_error_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

fn count(counter: &AtomicU64, background: bool) {
    if !background {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl Fetch {
    fn miss_counter(&self) -> &AtomicU64 {
        let cache = &self.partition.metrics.cache;
        if self.class == Class::Credentialed {
            &cache.bypass
        } else {
            &cache.miss
        }
    }

    /// The stale entry as a stale-if-error answer, when its window allows; `fwd_status`: the
    /// app's error status, when it answered at all.
    fn stale_if_error(&self, now: SystemTime, fwd_status: Option<u16>) -> Option<Cached> {
        let entry =
            self.stale.as_ref().filter(|e| now < e.fresh_until + e.stale_if_error && !e.stale_if_error.is_zero())?;
        let status = CacheStatus {
            fwd: Some(self.fwd),
            fwd_status,
            ttl: Some(entry.ttl(now)),
            detail: Some("stale-if-error"),
            ..CacheStatus::default()
        };
        Some(answer(entry, &self.client, &status, now))
    }

    fn store(mut self, status: StatusCode, headers: &HeaderMap, body: Option<Bytes>) -> Stored {
        let now = SystemTime::now();
        let resource = &self.request.resource;
        let mut cache_status = CacheStatus::forwarded(self.fwd);
        if self.stale.is_some() {
            cache_status.fwd_status = Some(status.as_u16());
        }
        if status == StatusCode::NOT_MODIFIED && !self.validators.is_empty() {
            if let Some(refreshed) = self.stale.as_ref().and_then(|s| s.refreshed(&self.request, headers, now)) {
                count(self.miss_counter(), self.background);
                cache_status.stored = true;
                cache_status.ttl = Some(refreshed.ttl(now));
                let response = answer(&refreshed, &self.client, &cache_status, now);
                let stored = self.partition.insert(resource, refreshed, self.stale.as_ref());
                self.finish(if stored { Outcome::Stored } else { Outcome::NotStored });
                return Stored::Replace(response);
            }
        }
        if is_error_status(status) {
            if let Some(response) = self.stale_if_error(now, Some(status.as_u16())) {
                count(&self.partition.metrics.cache.stale, self.background);
                return Stored::Replace(response);
            }
        }
        count(self.miss_counter(), self.background);
        if self.head {
            return Stored::Pass(Some(cache_status.value()));
        }
        let limit = self.partition.limits().max_object_bytes;
        match policy::admit(&self.request, self.class, status, headers, body, limit, now) {
            Ok(entry) => {
                let ttl = entry.ttl(now);
                cache_status.stored = self.partition.insert(resource, entry, self.stale.as_ref());
                cache_status.ttl = cache_status.stored.then_some(ttl);
                if !cache_status.stored {
                    cache_status.detail = Some("too-large");
                }
                self.partition.set_pass(&self.request.fill, !cache_status.stored);
                self.finish(if cache_status.stored { Outcome::Stored } else { Outcome::NotStored });
            }
            Err(refusal) => {
                cache_status.detail = Some(refusal);
                if self.class == Class::Public {
                    self.partition.set_pass(&self.request.fill, true);
                }
                // A new non-error answer that may not be stored supersedes the stored one.
                if let Some(stale) = self.stale.as_ref().filter(|_| status.as_u16() < 500) {
                    self.partition.remove(resource, stale);
                }
                self.finish(Outcome::NotStored);
            }
        }
        Stored::Pass(Some(cache_status.value()))
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(leader) = self.leader.take() {
            leader.finish(outcome);
        }
    }
}
