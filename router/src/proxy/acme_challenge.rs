//! ACME HTTP-01 answers (RFC 8555 section 8.3): `GET /.well-known/acme-challenge/<token>`
//! for a hostname with a pending challenge in the route table is answered
//! here with the key authorization, before any app routing, redirect or
//! cache. Over HTTPS too: a CA may follow a redirect to HTTPS (RFC 8555
//! allows it), and answering there costs nothing.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use crate::buffer::Buffered;
use crate::server::head::RequestHead;
use crate::server::reply::{Reply, ReplyBody};
use crate::table::{Challenge, Table};

const PREFIX: &str = "/.well-known/acme-challenge/";

/// The reply to a challenge request, or `None` to route the request as usual.
pub fn answer(table: &Table, head: &RequestHead) -> Option<Reply> {
    if head.method != Method::GET && head.method != Method::HEAD {
        return None;
    }
    let token = head.uri.path().strip_prefix(PREFIX)?;
    let host = match head.uri.authority() {
        Some(authority) => authority.as_str(),
        None => head.headers.get(header::HOST).and_then(|h| h.to_str().ok())?,
    };
    let (status, body) = match table.acme_challenge(host, token) {
        Challenge::Answer(key_authorization) => (StatusCode::OK, Bytes::copy_from_slice(key_authorization.as_bytes())),
        Challenge::UnknownToken => (StatusCode::NOT_FOUND, Bytes::from_static(b"No such ACME challenge.\n")),
        Challenge::None => return None,
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(Reply::new(status, headers, ReplyBody::Buffered(Buffered::Mem(body))))
}
