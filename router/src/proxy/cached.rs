//! The front-end cache in the request path: [`crate::cache`] speaks plain
//! `http` types; this turns its answers into replies and feeds it the
//! responses (the stale-while-revalidate refresh is `Proxy::refresh_in_background`).

use crate::buffer::Buffered;
use crate::cache::{self, Cached, Fill, Lookup, RequestView, Stored};
use crate::error::{ProxyError, Side};
use crate::server::head::RequestHead;
use crate::server::reply::{Reply, ReplyBody};
use crate::table::AppRoute;

/// Looks `head` up in the app's cache; `body` is the buffered request body.
pub async fn lookup(app: &AppRoute, head: &RequestHead, body: &Buffered) -> Lookup {
    if head.wants_upgrade {
        return Lookup::Forward(Fill::off());
    }
    let view = RequestView { method: &head.method, uri: &head.uri, headers: &head.headers, has_body: !body.is_empty() };
    cache::lookup(&app.cache, &view).await
}

/// A reply from a cached response.
pub fn reply(cached: Cached) -> Reply {
    Reply::new(cached.status, cached.headers, ReplyBody::Buffered(Buffered::Mem(cached.body)))
}

/// Hands the app's answer (or failure) to `fill`; returns what the client gets.
pub fn finish(fill: Fill, result: Result<Reply, ProxyError>) -> Result<Reply, ProxyError> {
    let mut reply = match result {
        Ok(reply) => reply,
        Err(err) if err.side() == Side::Upstream => {
            let stale = fill.failed().ok_or(err)?;
            tracing::warn!(status = %stale.status, "instance failed; answered from a stale cache entry (stale-if-error)");
            return Ok(reply(stale));
        }
        Err(err) => return Err(err),
    };
    if reply.upgrade.is_some() {
        return Ok(reply);
    }
    // Spilled bodies are larger than any entry is allowed to be.
    let body = match &reply.body {
        ReplyBody::Buffered(Buffered::Mem(bytes)) => Some(bytes.clone()),
        _ => None,
    };
    match fill.store(reply.status, &reply.headers, body) {
        Stored::Replace(cached) => Ok(self::reply(cached)),
        Stored::Pass(status) => {
            if let Some(status) = status {
                reply.headers.append(&cache::CACHE_STATUS, status);
            }
            Ok(reply)
        }
    }
}
