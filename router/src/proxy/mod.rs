//! Request handling as named phases over a per-request context:
//! route (Host -> app) -> static files -> buffer the request body -> pick an
//! instance and send -> filter the response head -> relay the body.
//!
//! The request body is read completely *before* an instance is chosen, so WSGI
//! workers only ever see whole requests at loopback speed. The response is
//! relayed as it arrives ([`crate::relay`]): read ahead of a slow client into a
//! spool so the worker is freed at once, yet the client's first byte is not
//! delayed. Earlier phases steer the relay through `RequestCtx::relay`
//! (streaming routes, idle timeout, capturing the body for a cache).

pub mod acme_challenge;
pub mod cached;
pub mod https;
pub mod request_start;
pub mod static_files;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::buffer::{Buffered, SpoolError, Spooler};
use crate::cache::{Fill, Lookup};
use crate::error::{BodyError, ProxyError, Side};
use crate::relay::{self, Body, RelayEnv, RelayOptions};
use crate::server::handler::{ConnInfo, Handler, RequestBody};
use crate::server::head::RequestHead;
use crate::server::reply::{Reply, ReplyBody};
use crate::state::State;
use crate::statics::Found;
use crate::table::{normalize_host, AppRoute};
use crate::upstream::h1::ResponseHead;
use crate::upstream::{self, Lease, Outgoing};

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that describe one connection, never the message (RFC 9110 7.6.1), plus our framing headers
/// (`HTTP2-Settings` belongs to an `Upgrade: h2c` the router never honours, RFC 7540 3.2.1).
const HOP_BY_HOP: [HeaderName; 11] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
    HeaderName::from_static("http2-settings"),
];

/// The client-facing request handler.
pub struct Proxy {
    state: Arc<State>,
    ids: RequestIds,
}

/// What the phases learn about one request.
#[derive(Default)]
struct RequestCtx {
    app: Option<Arc<AppRoute>>,
    request_id: Option<HeaderValue>,
    backend: Option<Arc<upstream::Backend>>,
    upstream: Option<Duration>,
    /// How the response is relayed; phases before `forward` set it (a streaming route sets
    /// `stream` and `idle_timeout`, a cache sets `capture`).
    relay: RelayOptions,
}

impl Handler for Proxy {
    async fn handle<B: RequestBody>(&self, head: &RequestHead, body: &mut B, conn: &ConnInfo) -> Reply {
        let mut ctx = RequestCtx::default();
        let mut reply = match self.phases(&mut ctx, head, body, conn).await {
            Ok(reply) => reply,
            Err(err) => {
                if err.side() != Side::Client {
                    let app = ctx.app.as_ref().map(|a| a.name.as_str()).unwrap_or("-");
                    tracing::warn!(app, error = %err, source = ?std::error::Error::source(&err), "request failed");
                }
                Reply::error(&err)
            }
        };
        match &ctx.app {
            Some(app) => app.metrics.request(reply.status.as_u16()),
            None => self.state.metrics.unrouted().request(reply.status.as_u16()),
        }
        if let Some(id) = &ctx.request_id {
            reply.headers.entry(&X_REQUEST_ID).or_insert_with(|| id.clone());
        }
        https::strict_transport_security(&mut reply, ctx.app.as_deref(), conn);
        reply.info.app = ctx.app;
        reply.info.request_id = ctx.request_id;
        reply.info.backend = ctx.backend;
        reply.info.upstream = ctx.upstream;
        reply
    }
}

impl Proxy {
    pub fn new(state: Arc<State>) -> Proxy {
        Proxy { state, ids: RequestIds::new() }
    }

    async fn phases<B: RequestBody>(
        &self,
        ctx: &mut RequestCtx,
        head: &RequestHead,
        body: &mut B,
        conn: &ConnInfo,
    ) -> Result<Reply, ProxyError> {
        let peer = conn.peer;
        if let Some(reply) = acme_challenge::answer(&self.state.table.load(), head) {
            return Ok(reply);
        }
        let app = self.route(head)?;
        ctx.app = Some(app.clone());
        if let Some(redirect) = https::redirect(&self.state, &app, head, conn) {
            return Ok(redirect);
        }
        if let Some(statics) = &app.statics {
            match statics.find(head.uri.path(), std::time::Instant::now()) {
                Found::File(file) => return static_files::respond(&file, head, &self.state.cache_control),
                Found::Missing => return Err(ProxyError::StaticNotFound),
                Found::Unmapped => {}
            }
        }
        let trusted = self.state.config.trusted_proxies.iter().any(|net| net.contains(peer.ip()));
        let request_id = head.headers.get(&X_REQUEST_ID).filter(|v| trusted && !v.is_empty() && v.len() <= 200);
        ctx.request_id = Some(request_id.cloned().unwrap_or_else(|| self.ids.next()));
        let request_id = ctx.request_id.clone().expect("set above");
        let mut headers = upstream_headers(head, peer, conn.tls, trusted, request_id);
        let buffered = if head.wants_upgrade { Buffered::default() } else { self.buffer_request(body).await? };
        request_start::stamp(&mut headers, trusted);
        let fill = match cached::lookup(&app, head, &buffered).await {
            Lookup::Hit { response, refresh } => {
                if let Some(fill) = refresh {
                    self.refresh_in_background(app.clone(), head, headers, fill);
                }
                return Ok(cached::reply(response));
            }
            Lookup::Forward(fill) => fill,
        };
        fill.prepare(&mut headers);
        if fill.wants_body() {
            // A body the cache may keep is read whole (up to the largest entry) before it is sent.
            ctx.relay.whole_up_to = Some(self.state.config.cache.cache_max_object_bytes);
        }
        cached::finish(fill, self.forward(ctx, &app, head, headers, buffered).await)
    }

    /// Phase 1: the app serving the request's host.
    fn route(&self, head: &RequestHead) -> Result<Arc<AppRoute>, ProxyError> {
        // An absolute-form target's authority overrides Host (RFC 9112 3.2.2).
        let host = match head.uri.authority() {
            Some(authority) => authority.as_str(),
            None => head.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        };
        normalize_host(host).ok_or(ProxyError::BadRequest { reason: "invalid Host" })?;
        let table = self.state.table.load();
        // Before any table (none cached, API silent) no host is known to be unknown.
        if table.version.is_none() {
            return Err(ProxyError::NoRouteTable);
        }
        table.lookup(host).cloned().ok_or_else(|| ProxyError::UnknownHost { host: host.to_ascii_lowercase() })
    }

    /// Phase 3: the whole request body, in memory or spilled to disk.
    async fn buffer_request<B: RequestBody>(&self, body: &mut B) -> Result<Buffered, ProxyError> {
        let limits = &self.state.config.limits;
        if body.declared_len().is_some_and(|n| n > limits.max_body_bytes) {
            return Err(ProxyError::BodyTooLarge { limit: limits.max_body_bytes });
        }
        let mut spool = Spooler::new(limits.body_memory_bytes, limits.max_body_bytes, &self.state.tmp_dir);
        loop {
            match body.next().await {
                Ok(Some(data)) => spool.push(data).await.map_err(spool_error)?,
                Ok(None) => return spool.finish().await.map_err(spool_error),
                Err(BodyError::Malformed(reason)) => return Err(ProxyError::BadRequest { reason }),
                Err(BodyError::Timeout) => return Err(ProxyError::ClientTimeout),
                Err(BodyError::Closed | BodyError::Io(_)) => {
                    return Err(ProxyError::BadRequest { reason: "client closed the connection mid-body" })
                }
            }
        }
    }

    /// Phases 4-6: send to an instance, buffer its response, filter it.
    async fn forward(
        &self,
        ctx: &mut RequestCtx,
        app: &AppRoute,
        head: &RequestHead,
        headers: HeaderMap,
        body: Buffered,
    ) -> Result<Reply, ProxyError> {
        let settings = &self.state.config.upstream;
        let pool = app.pool_for(head.uri.path());
        if pool.streaming() {
            ctx.relay.stream = true;
            ctx.relay.idle_timeout = Some(Duration::from_secs(self.state.config.limits.stream_idle_timeout_secs));
        }
        let start = pool.next.fetch_add(1, Ordering::Relaxed);
        // Waiting for a free worker (503 after the queue timeout) does not count against the app's timeout.
        let first = pool.queue.acquire(pool.backends, start, &[], settings.queue_timeout()).await?;
        let started = Instant::now();
        let target = match head.uri.path_and_query() {
            Some(p) => p.as_str(),
            None if head.uri.path() == "*" => "*",
            None => "/",
        };
        let outgoing = Outgoing { method: &head.method, target, headers: &headers, body: &body };
        // Bounds the time to the response head (and a small body); the rest of a body is
        // bounded per read by the relay's idle timeout, so long downloads and streams go on.
        // A process route (an async server's long poll may answer late) gets the stream timeout.
        let head_timeout = Duration::from_secs(if ctx.relay.stream {
            self.state.config.limits.stream_idle_timeout_secs
        } else {
            app.request_timeout_secs.map_or(settings.response_timeout_secs, u64::from)
        });
        let options = std::mem::take(&mut ctx.relay);
        let mut backend = None;
        let exchange = async {
            let (response, lease) =
                upstream::send(pool.backends, pool.queue, start, settings, &outgoing, first).await?;
            backend = Some(lease.backend.clone());
            self.read_response(response, lease, head, app, started, options).await
        };
        let result = tokio::time::timeout(head_timeout, exchange).await;
        ctx.backend = backend;
        ctx.upstream = Some(started.elapsed());
        let reply = match result {
            Ok(reply) => reply?,
            Err(_) => {
                let backend = ctx.backend.as_ref().map_or_else(|| "-".into(), |b| b.address.clone());
                return Err(ProxyError::UpstreamTimeout { backend, secs: head_timeout.as_secs() });
            }
        };
        Ok(reply)
    }

    /// Hands over the connection for a tunnel, or filters the head and starts relaying the body.
    async fn read_response(
        &self,
        response: ResponseHead,
        mut lease: Lease,
        head: &RequestHead,
        app: &AppRoute,
        started: Instant,
        options: RelayOptions,
    ) -> Result<Reply, ProxyError> {
        let ResponseHead { status, mut headers, framing, keep_alive } = response;
        if head.wants_upgrade && status == StatusCode::SWITCHING_PROTOCOLS {
            let upgrade_value = headers.get(header::UPGRADE).cloned();
            strip_hop_by_hop(&mut headers);
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            if let Some(value) = upgrade_value {
                headers.insert(header::UPGRADE, value);
            }
            let mut reply = Reply::new(status, headers, ReplyBody::Buffered(Buffered::default()));
            reply.upgrade = lease.io.take().map(Box::new);
            return Ok(reply);
        }
        strip_hop_by_hop(&mut headers);
        let unbuffered = relay::unbuffered(&mut headers, options.stream);
        let env = RelayEnv {
            settings: &self.state.config.upstream,
            tmp_dir: &self.state.tmp_dir,
            metrics: &app.metrics,
            started,
            client_http11: head.version == http::Version::HTTP_11,
        };
        let response = ResponseHead { status, headers, framing, keep_alive };
        let body = match relay::begin(&response, lease, options, unbuffered, &env).await? {
            Body::Whole(bytes) => ReplyBody::Buffered(Buffered::Mem(bytes)),
            Body::Stream(relay) => ReplyBody::Stream(relay),
        };
        Ok(Reply::new(status, response.headers, body))
    }
}

impl Proxy {
    /// Revalidates a stale entry after its stale answer went out (stale-while-revalidate): a GET
    /// for the same URL with the client's headers, through `fill`, on this worker's event loop.
    pub(super) fn refresh_in_background(
        &self,
        app: Arc<AppRoute>,
        head: &RequestHead,
        mut headers: HeaderMap,
        fill: Fill,
    ) {
        let proxy = Proxy::new(self.state.clone());
        let head = RequestHead {
            method: Method::GET,
            uri: head.uri.clone(),
            version: head.version,
            headers: head.headers.clone(),
            framing: head.framing,
            keep_alive: true,
            expect_continue: false,
            wants_upgrade: false,
        };
        fill.prepare(&mut headers);
        tokio::spawn(async move {
            let mut ctx = RequestCtx::default();
            let result = proxy.forward(&mut ctx, &app, &head, headers, Buffered::default()).await;
            if let Err(error) = cached::finish(fill, result) {
                tracing::debug!(app = %app.name, error = %error, "background revalidation failed");
            }
        });
    }
}

fn spool_error(e: SpoolError) -> ProxyError {
    match e {
        SpoolError::TooLarge { limit } => ProxyError::BodyTooLarge { limit },
        SpoolError::Io(source) => ProxyError::Spill { source },
    }
}

/// Phase 2b: end-to-end request headers plus `X-Forwarded-*` and `X-Request-Id`.
fn upstream_headers(
    head: &RequestHead,
    peer: SocketAddr,
    tls: bool,
    trusted: bool,
    request_id: HeaderValue,
) -> HeaderMap {
    let mut headers = head.headers.clone();
    let upgrade = head.wants_upgrade.then(|| headers.get(header::UPGRADE).cloned()).flatten();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::CONTENT_LENGTH);
    if let Some(value) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, value);
    }
    if let Some(authority) = head.uri.authority() {
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            headers.insert(header::HOST, host);
        }
    }
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()).filter(|_| trusted) {
        Some(chain) => HeaderValue::from_str(&format!("{chain}, {}", peer.ip())).expect("ip text is a valid header"),
        None => peer_ip_value(peer.ip()),
    };
    headers.insert(&X_FORWARDED_FOR, forwarded_for);
    if !trusted || !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(if tls { "https" } else { "http" }));
    }
    if !trusted || !headers.contains_key(&X_FORWARDED_HOST) {
        match headers.get(header::HOST).cloned() {
            Some(host) => headers.insert(&X_FORWARDED_HOST, host),
            None => headers.remove(&X_FORWARDED_HOST),
        };
    }
    if !trusted {
        headers.remove(header::FORWARDED);
    }
    headers.insert(&X_REQUEST_ID, request_id);
    headers
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass of name comparisons instead of a hashed removal per name.
    // (Headers a `Connection` header names only count when there is a `Connection` header.)
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// Request ids: a random per-process prefix and a counter, unique without a syscall per request.
struct RequestIds {
    prefix: u64,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> RequestIds {
        let prefix = uuid::Uuid::new_v4().as_u64_pair().0;
        RequestIds { prefix, counter: AtomicU64::new(0) }
    }

    fn next(&self) -> HeaderValue {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // One allocation: the hex digits go straight into the header's buffer.
        let mut text = Vec::with_capacity(32);
        for word in [self.prefix, n] {
            text.extend((0..16).rev().map(|i| HEX[((word >> (i * 4)) & 0xf) as usize]));
        }
        HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).expect("hex is a valid header")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

thread_local! {
    /// The last peer address's `X-Forwarded-For` value: keep-alive clients send many requests.
    static PEER_IP: std::cell::RefCell<Option<(std::net::IpAddr, HeaderValue)>> = const { std::cell::RefCell::new(None) };
}

/// The peer address as a header value, formatted once per peer and thread.
fn peer_ip_value(ip: std::net::IpAddr) -> HeaderValue {
    PEER_IP.with(|cache| {
        let mut cache = cache.borrow_mut();
        match &*cache {
            Some((cached, value)) if *cached == ip => value.clone(),
            _ => {
                let value = HeaderValue::from_str(&ip.to_string()).expect("ip text is a valid header");
                *cache = Some((ip, value.clone()));
                value
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::head::parse;

    fn head(raw: &str) -> RequestHead {
        parse(raw.as_bytes(), 100).unwrap().unwrap().0
    }

    #[test]
    fn strips_hop_by_hop_and_replaces_forwarding_headers() {
        let h = head(
            "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n\
             X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Request-Id: evil\r\nForwarded: for=x\r\n\r\n",
        );
        let peer: SocketAddr = "127.0.0.9:5000".parse().unwrap();
        let out = upstream_headers(&h, peer, false, false, HeaderValue::from_static("rid"));
        assert!(out.get("x-secret").is_none() && out.get("keep-alive").is_none() && out.get("connection").is_none());
        assert_eq!(out[&X_FORWARDED_FOR], "127.0.0.9");
        assert_eq!(out[&X_FORWARDED_PROTO], "http");
        assert_eq!(out[&X_FORWARDED_HOST], "a.test");
        assert_eq!(out[&X_REQUEST_ID], "rid");
        assert!(out.get(header::FORWARDED).is_none());
        let out = upstream_headers(&h, peer, true, false, HeaderValue::from_static("rid"));
        assert_eq!(out[&X_FORWARDED_PROTO], "https", "TLS to the router");
        let out = upstream_headers(&h, peer, false, true, HeaderValue::from_static("rid"));
        assert_eq!(out[&X_FORWARDED_FOR], "6.6.6.6, 127.0.0.9");
        assert_eq!(out[&X_FORWARDED_PROTO], "https", "a trusted proxy's value wins");
    }
}
