//! HTTPS policy per app: plain-HTTP requests redirected to HTTPS (308) once the router holds a
//! certificate for the hostname, and `Strict-Transport-Security` on HTTPS responses.
//!
//! ACME HTTP-01 challenges are never redirected: the CA fetches them over plain HTTP, before a
//! certificate exists (and again at every renewal).

use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use crate::buffer::Buffered;
use crate::server::handler::ConnInfo;
use crate::server::head::RequestHead;
use crate::server::reply::{Reply, ReplyBody};
use crate::state::State;
use crate::table::{normalize_host, AppRoute};

const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";
/// One year, the value preload lists expect.
static HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The `308 Permanent Redirect` to the same URL over HTTPS, when `app` asks for it and the
/// router can serve HTTPS for the request's hostname.
pub fn redirect(state: &State, app: &AppRoute, head: &RequestHead, conn: &ConnInfo) -> Option<Reply> {
    if conn.tls || !app.https_redirect || state.config.tls.tls_listen.is_none() {
        return None;
    }
    let target = head.uri.path_and_query().map(|p| p.as_str()).filter(|t| t.starts_with('/'))?;
    if target.starts_with(ACME_CHALLENGE_PREFIX) {
        return None;
    }
    // An absolute-form target's authority overrides Host (RFC 9112 3.2.2), as in routing.
    let host = match head.uri.authority() {
        Some(authority) => authority.as_str(),
        None => head.headers.get(header::HOST)?.to_str().ok()?,
    };
    let host = normalize_host(host)?.to_ascii_lowercase();
    if !state.table.load().certificates.covers(&host) {
        return None;
    }
    let location = match state.config.tls.https_redirect_port {
        443 => format!("https://{host}{target}"),
        port => format!("https://{host}:{port}{target}"),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::LOCATION, HeaderValue::from_str(&location).ok()?);
    Some(Reply::new(StatusCode::PERMANENT_REDIRECT, headers, ReplyBody::Buffered(Buffered::default())))
}

/// Adds HSTS to an HTTPS response of an app that turned it on (an app's own header is kept).
pub fn strict_transport_security(reply: &mut Reply, app: Option<&AppRoute>, conn: &ConnInfo) {
    if conn.tls && app.is_some_and(|a| a.hsts) {
        reply.headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert_with(|| HSTS.clone());
    }
}
