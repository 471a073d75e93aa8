//! What may be stored, for how long, and how a stored response is answered.
//!
//! Storability, freshness lifetime, age and revalidation come from
//! `http-cache-semantics` as a *shared* cache. The router adds stricter rules
//! of its own, so an app is cached only when it asks to be:
//!
//! - **No heuristic freshness.** RFC 9111 4.2.2 lets a cache guess a lifetime
//!   for responses without `max-age`/`s-maxage`/`Expires` (10% of the time
//!   since `Last-Modified`, or for `public`). Python frameworks send
//!   `Last-Modified` on pages nobody meant to cache, so the router stores a
//!   response only with explicit freshness, or `no-cache` plus a validator
//!   (stored to be revalidated with a conditional request each time).
//! - Never a response with `Set-Cookie`, whatever its `Cache-Control`.
//! - From a request with credentials, only `public` or `s-maxage` responses.
//! - `stale-while-revalidate` / `stale-if-error` (RFC 5861) are honoured unless
//!   `must-revalidate`, `proxy-revalidate` or `no-cache` forbid serving stale;
//!   an explicit stale directive wins over the proxy-revalidate that `s-maxage`
//!   implies, since the app asked for both.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy, ResponseLike};

use crate::cache::key::{CacheRequest, Class};

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Shared cache, no heuristic lifetimes.
const OPTIONS: CacheOptions = CacheOptions {
    shared: true,
    cache_heuristic: 0.0,
    immutable_min_time_to_live: Duration::ZERO,
    ignore_cargo_cult: false,
};

/// Bookkeeping counted per entry on top of its headers and body (policy, maps, keys).
const ENTRY_OVERHEAD: usize = 512;

/// One stored response.
#[derive(Debug)]
pub struct Entry {
    pub policy: CachePolicy,
    pub status: StatusCode,
    /// End-to-end response headers as the app sent them (without `X-Request-Id`).
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the freshness lifetime the policy computed runs out.
    pub fresh_until: SystemTime,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
    /// `public` or `s-maxage`: may answer (and come from) requests with credentials.
    pub shareable: bool,
    /// No directive forbids serving it stale.
    pub may_serve_stale: bool,
    /// Bytes accounted against the memory limits.
    pub size: usize,
}

/// A response head the policy can read.
struct Head<'a> {
    status: StatusCode,
    headers: &'a HeaderMap,
}

impl ResponseLike for Head<'_> {
    fn status(&self) -> StatusCode {
        self.status
    }
    fn headers(&self) -> &HeaderMap {
        self.headers
    }
}

/// `Cache-Control` directives the router reads beyond the policy's own.
#[derive(Debug, Default)]
struct Directives {
    explicit_lifetime: bool,
    public: bool,
    s_maxage: bool,
    no_cache: bool,
    no_store: bool,
    private: bool,
    forbids_stale: bool,
    stale_while_revalidate: u64,
    stale_if_error: u64,
}

impl Directives {
    fn of(headers: &HeaderMap) -> Directives {
        let mut d = Directives { explicit_lifetime: headers.contains_key(header::EXPIRES), ..Directives::default() };
        let values = headers.get_all(header::CACHE_CONTROL);
        for item in values.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            let seconds = || value.trim().trim_matches('"').parse::<u64>().unwrap_or(0);
            match name.trim().to_ascii_lowercase().as_str() {
                "max-age" => d.explicit_lifetime = true,
                "s-maxage" => (d.explicit_lifetime, d.s_maxage) = (true, true),
                "public" => d.public = true,
                "private" => d.private = true,
                "no-store" => d.no_store = true,
                "no-cache" => (d.no_cache, d.forbids_stale) = (true, true),
                "must-revalidate" | "proxy-revalidate" => d.forbids_stale = true,
                "stale-while-revalidate" => d.stale_while_revalidate = seconds(),
                "stale-if-error" => d.stale_if_error = seconds(),
                _ => {}
            }
        }
        d
    }
}

/// Why a response was not stored (the `detail` of its `Cache-Status`).
pub type Refusal = &'static str;

/// Decides whether the app's answer to `request` is stored; `body` is `None` when it was too large
/// to hold in memory.
pub fn admit(
    request: &CacheRequest,
    class: Class,
    status: StatusCode,
    headers: &HeaderMap,
    body: Option<Bytes>,
    max_object: u64,
    now: SystemTime,
) -> Result<Entry, Refusal> {
    let body = body.filter(|b| b.len() as u64 <= max_object).ok_or("too-large")?;
    if headers.contains_key(header::SET_COOKIE) {
        return Err("set-cookie");
    }
    let directives = Directives::of(headers);
    let policy = CachePolicy::new_options(&request.policy, &Head { status, headers }, now, OPTIONS);
    if !policy.is_storable() {
        return Err(match () {
            _ if directives.no_store => "no-store",
            _ if directives.private => "private",
            _ => "uncacheable",
        });
    }
    if headers.get_all(header::VARY).iter().any(|v| v.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii() == b"*"))
    {
        return Err("vary");
    }
    let validator = headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED);
    if !(directives.explicit_lifetime || (directives.no_cache && validator)) {
        return Err("no-freshness");
    }
    if class == Class::Credentialed && !(directives.public || directives.s_maxage) {
        return Err("credentials");
    }
    let entry = Entry::new(policy, status, strip(headers), body, directives, request.resource.len(), now);
    let useful = entry.fresh_until > now || validator || !entry.stale_if_error.is_zero();
    if useful {
        Ok(entry)
    } else {
        Err("no-freshness")
    }
}

fn strip(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    headers.remove(&X_REQUEST_ID);
    headers
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 32).sum()
}

impl Entry {
    fn new(
        policy: CachePolicy,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        d: Directives,
        key_len: usize,
        now: SystemTime,
    ) -> Entry {
        // The policy keeps its own copies of the request and response headers.
        let size = ENTRY_OVERHEAD + key_len * 3 + body.len() + 2 * header_bytes(&headers);
        let may_serve_stale = !d.forbids_stale;
        let window = |secs: u64| if may_serve_stale { Duration::from_secs(secs) } else { Duration::ZERO };
        Entry {
            fresh_until: now + policy.time_to_live(now),
            stale_while_revalidate: window(d.stale_while_revalidate),
            stale_if_error: window(d.stale_if_error),
            shareable: d.public || d.s_maxage,
            may_serve_stale,
            policy,
            status,
            headers,
            body,
            size,
        }
    }

    /// The entry updated by a `304 Not Modified` answering our revalidation; `None` when the 304
    /// does not match the stored response's validators.
    pub fn refreshed(&self, request: &CacheRequest, headers: &HeaderMap, now: SystemTime) -> Option<Entry> {
        let head = Head { status: StatusCode::NOT_MODIFIED, headers };
        match self.policy.after_response(&request.policy, &head, now) {
            AfterResponse::NotModified(policy, parts) => {
                let mut merged = strip(&parts.headers);
                merged.remove(header::AGE);
                let directives = Directives::of(&merged);
                Some(Entry::new(
                    policy,
                    self.status,
                    merged,
                    self.body.clone(),
                    directives,
                    request.resource.len(),
                    now,
                ))
            }
            AfterResponse::Modified(..) => None,
        }
    }

    /// Seconds of freshness left (negative once stale), for `Cache-Status: ttl`.
    pub fn ttl(&self, now: SystemTime) -> i64 {
        match self.fresh_until.duration_since(now) {
            Ok(left) => left.as_secs() as i64,
            Err(past) => -(past.duration().as_secs_f64().ceil() as i64),
        }
    }

    /// Stale, and by no more than `window` past its lifetime.
    pub fn stale_within(&self, window: Duration, now: SystemTime) -> bool {
        now >= self.fresh_until && now < self.fresh_until + window
    }

    /// Headers for answering from this entry now: the stored ones plus `Age`.
    pub fn answer_headers(&self, now: SystemTime) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(header::AGE, HeaderValue::from(self.policy.age(now).as_secs()));
        headers
    }

    /// Whether the client's own conditional headers are satisfied (answer 304), RFC 9110 13.2.2.
    pub fn not_modified_for(&self, client: &HeaderMap) -> bool {
        if !self.status.is_success() {
            return false;
        }
        if let Some(tags) = client.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
            let Some(etag) = self.headers.get(header::ETAG).and_then(|v| v.to_str().ok()) else { return false };
            let weak = |t: &str| t.trim().trim_start_matches("W/").to_owned();
            return tags.split(',').any(|t| t.trim() == "*" || weak(t) == weak(etag));
        }
        let since =
            client.get(header::IF_MODIFIED_SINCE).and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
        let modified =
            self.headers.get(header::LAST_MODIFIED).and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
        matches!((since, modified), (Some(since), Some(modified)) if modified <= since)
    }
}

/// Conditional request headers for revalidating an entry (`If-None-Match`, `If-Modified-Since`).
pub type Validators = Vec<(HeaderName, HeaderValue)>;

/// How a stored variant relates to a request.
pub enum Selection {
    /// Answers it as is.
    Fresh,
    /// The same variant, but it must be revalidated first; these validators go to the app.
    Stale(Validators),
    /// Another variant (`Vary` differs).
    Other,
}

/// Asks the policy whether `entry` answers `request` at `now`.
pub fn select(entry: &Entry, request: &CacheRequest, now: SystemTime) -> Selection {
    match entry.policy.before_request(&request.policy, now) {
        BeforeRequest::Fresh(_) => Selection::Fresh,
        BeforeRequest::Stale { request, matches: true } => Selection::Stale(
            [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE]
                .into_iter()
                .filter_map(|name| Some((name.clone(), request.headers.get(&name)?.clone())))
                .collect(),
        ),
        BeforeRequest::Stale { matches: false, .. } => Selection::Other,
    }
}

// === Cache-Status (RFC 9211) ===

/// One `Cache-Status` member for this router (`paas; ...`).
#[derive(Debug, Default, Clone)]
pub struct CacheStatus {
    pub hit: bool,
    /// Why the request went to the app: `miss`, `stale`, `vary-miss`, `request`, `bypass`, `method`.
    pub fwd: Option<&'static str>,
    pub fwd_status: Option<u16>,
    pub stored: bool,
    pub ttl: Option<i64>,
    pub detail: Option<&'static str>,
}

impl CacheStatus {
    pub fn forwarded(fwd: &'static str) -> CacheStatus {
        CacheStatus { fwd: Some(fwd), ..CacheStatus::default() }
    }

    pub fn value(&self) -> HeaderValue {
        let mut out = String::from("paas");
        if self.hit {
            out.push_str("; hit");
        }
        if let Some(fwd) = self.fwd {
            out.push_str("; fwd=");
            out.push_str(fwd);
        }
        if let Some(status) = self.fwd_status {
            out.push_str(&format!("; fwd-status={status}"));
        }
        if self.stored {
            out.push_str("; stored");
        }
        if let Some(ttl) = self.ttl {
            out.push_str(&format!("; ttl={ttl}"));
        }
        if let Some(detail) = self.detail {
            out.push_str("; detail=");
            out.push_str(detail);
        }
        HeaderValue::from_str(&out).expect("tokens and digits")
    }
}

/// The RFC 9211 header.
pub static CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// A response answered from the cache.
#[derive(Debug)]
pub struct Cached {
    pub status: StatusCode,
    /// End-to-end headers, `Age` and `Cache-Status` included.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The answer from `entry`: a 304 when the client's conditionals hold, else the stored response.
pub fn answer(entry: &Entry, client: &HeaderMap, status: &CacheStatus, now: SystemTime) -> Cached {
    let mut headers = entry.answer_headers(now);
    headers.append(&CACHE_STATUS, status.value());
    if entry.not_modified_for(client) {
        headers.remove(header::CONTENT_LENGTH);
        return Cached { status: StatusCode::NOT_MODIFIED, headers, body: Bytes::new() };
    }
    Cached { status: entry.status, headers, body: entry.body.clone() }
}
