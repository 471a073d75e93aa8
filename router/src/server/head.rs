//! Parses and strictly validates a client's request head.
//!
//! The router owns this parser (rather than using hyper's server) because a
//! front door must refuse every message two parsers could frame differently,
//! and hyper's server quietly accepts `Content-Length` + `Transfer-Encoding`
//! (it drops the length). Everything ambiguous is a 400 here, before any
//! backend is chosen: both framing headers, differing or malformed lengths,
//! transfer codings other than a single `chunked`, obs-fold, bytes outside
//! the grammar (httparse rejects those), duplicate `Host`. The framing-header
//! rules are [`framing::request`], beside the response side's rules.
//!
//! Beyond framing, what a backend could read differently from the router:
//! - header names with `_` are dropped (nginx's default): WSGI servers map
//!   `X_Forwarded_For` and `X-Forwarded-For` to the same `HTTP_X_FORWARDED_FOR`,
//!   so an underscored name could shadow a header the router sets or vouches
//!   for (`Content_Length`, `Transfer_Encoding` the same way). Dropping keeps
//!   the request usable; no legitimate client needs them.
//! - `GET`/`HEAD` with a body is a 400: the body has no meaning (RFC 9110
//!   9.3.1), a backend may ignore it and read it as the next request, and it
//!   would not be part of a cache key.
//! - only `Upgrade: websocket` is honoured; any other upgrade (`h2c`: h2c
//!   smuggling, where the backend then speaks HTTP/2 past the router's rules)
//!   is stripped and the request is forwarded as plain HTTP/1.1.
//! - a target with userinfo (`http://user:pass@host/`, RFC 9110 4.2.4) or a
//!   fragment is a 400; every other target is forwarded byte for byte.

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri, Version};

use crate::config::MAX_HEADER_SLOTS;
use crate::error::ProxyError;
use crate::http1::framing::{self, trim, Framing};

/// A validated request head.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The client allows the connection to stay open after this exchange.
    pub keep_alive: bool,
    /// The client waits for `100 Continue` before sending its body.
    pub expect_continue: bool,
    /// `Connection: upgrade` with an `Upgrade` header (WebSocket).
    pub wants_upgrade: bool,
}

/// Parses `buf`; `Ok(None)` means the head is incomplete, `Ok(Some((head, len)))` consumed `len` bytes.
pub fn parse(buf: &[u8], max_headers: usize) -> Result<Option<(RequestHead, usize)>, ProxyError> {
    // Uninitialised stack slots: no allocation or zeroing per parse.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADER_SLOTS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots[..max_headers.min(MAX_HEADER_SLOTS)]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ProxyError::HeadTooLarge),
        Err(_) => return Err(bad("unparsable request head")),
    };
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes()).map_err(|_| bad("invalid method"))?;
    let version = if req.version == Some(1) { Version::HTTP_11 } else { Version::HTTP_10 };
    let uri = parse_target(&method, req.path.unwrap_or_default())?;
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        if h.name.as_bytes().contains(&b'_') {
            continue;
        }
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad("invalid header value"))?;
        headers.append(name, value);
    }
    let head = validate(method, uri, version, headers)?;
    Ok(Some((head, len)))
}

fn parse_target(method: &Method, target: &str) -> Result<Uri, ProxyError> {
    if method == Method::CONNECT {
        return Err(bad("CONNECT is not supported"));
    }
    let ok = target.starts_with('/')
        || (target == "*" && method == Method::OPTIONS)
        || target.starts_with("http://")
        || target.starts_with("https://");
    if !ok || target.contains('#') {
        return Err(bad("invalid request target"));
    }
    let uri =
        Uri::from_maybe_shared(Bytes::copy_from_slice(target.as_bytes())).map_err(|_| bad("invalid request target"))?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(bad("userinfo in the request target"));
    }
    Ok(uri)
}

fn validate(method: Method, uri: Uri, version: Version, headers: HeaderMap) -> Result<RequestHead, ProxyError> {
    let framing = framing::request(version, &headers)?;
    if matches!(method, Method::GET | Method::HEAD) && framing != Framing::Length(0) {
        return Err(bad("GET or HEAD request with a body"));
    }
    let hosts = headers.get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(bad("more than one Host header"));
    }
    if hosts == 0 && version == Version::HTTP_11 {
        return Err(bad("missing Host header"));
    }
    let (close, keep_alive_token, upgrade_token) = connection_tokens(&headers);
    let keep_alive = !close && (version == Version::HTTP_11 || keep_alive_token);
    let expect_continue = match headers.get(header::EXPECT) {
        None => false,
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"100-continue") => true,
        Some(_) => return Err(ProxyError::ExpectationFailed),
    };
    let wants_upgrade = upgrade_token && version == Version::HTTP_11 && upgrades_to_websocket(&headers);
    Ok(RequestHead { method, uri, version, headers, framing, keep_alive, expect_continue, wants_upgrade })
}

/// `(close, keep-alive, upgrade)` tokens of all `Connection` headers.
fn connection_tokens(headers: &HeaderMap) -> (bool, bool, bool) {
    let (mut close, mut keep_alive, mut upgrade) = (false, false, false);
    for value in headers.get_all(header::CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',').map(trim) {
            close |= token.eq_ignore_ascii_case(b"close");
            keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            upgrade |= token.eq_ignore_ascii_case(b"upgrade");
        }
    }
    (close, keep_alive, upgrade)
}

/// `Upgrade: websocket`, the one protocol the router tunnels.
fn upgrades_to_websocket(headers: &HeaderMap) -> bool {
    let mut tokens = headers.get_all(header::UPGRADE).into_iter().flat_map(|v| v.as_bytes().split(|b| *b == b','));
    tokens.any(|t| trim(t).eq_ignore_ascii_case(b"websocket"))
}

fn bad(reason: &'static str) -> ProxyError {
    ProxyError::BadRequest { reason }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Result<RequestHead, ProxyError> {
        parse(raw.as_bytes(), 100).map(|h| h.expect("complete").0)
    }

    fn is_bad(raw: &str) -> bool {
        matches!(head(raw), Err(ProxyError::BadRequest { .. }))
    }

    #[test]
    fn accepts_plain_requests() {
        let h = head("GET /a?b HTTP/1.1\r\nHost: X.example:80\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::Length(0));
        assert!(h.keep_alive);
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::Length(5));
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        let h = head("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n", 100).unwrap().is_none());
    }

    #[test]
    fn rejects_ambiguous_framing() {
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"));
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"));
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n"));
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n"));
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n"));
        assert!(is_bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"));
        assert!(is_bad(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(is_bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(is_bad("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"));
        assert!(is_bad("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"));
        assert!(is_bad("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"));
        assert!(is_bad("GET / HTTP/1.1\r\n\r\n"));
        assert!(is_bad("GET x HTTP/1.1\r\nHost: x\r\n\r\n"));
    }

    #[test]
    fn refuses_what_a_backend_could_read_differently() {
        assert!(is_bad("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
        assert!(is_bad("HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
        assert!(head("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").is_ok());
        assert!(head("DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").is_ok());
        assert!(is_bad("GET http://user:pass@x/ HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(is_bad("GET http://user@x:80/ HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(is_bad("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"));
        // Origin-form paths may hold `user:pass@`: they are paths, kept as sent.
        let h = head("GET //user:pass@evil.test/x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(h.uri.path_and_query().unwrap().as_str(), "//user:pass@evil.test/x");
    }

    #[test]
    fn drops_underscored_names_and_honours_only_websocket_upgrades() {
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent_Length: 9\r\nX_Forwarded_For: 1.2.3.4\r\nContent-Length: 2\r\n\r\n").unwrap();
        assert_eq!(h.framing, Framing::Length(2));
        assert_eq!(h.headers.len(), 2, "{:?}", h.headers);
        let h2c = head("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n").unwrap();
        assert!(!h2c.wants_upgrade);
        let ws =
            head("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n").unwrap();
        assert!(ws.wants_upgrade);
    }

    #[test]
    fn too_many_headers_is_431() {
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "A: b\r\n".repeat(3));
        assert!(matches!(parse(raw.as_bytes(), 3), Err(ProxyError::HeadTooLarge)));
    }
}
