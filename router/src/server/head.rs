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
//!
//! HTTP/2 requests ([`from_h2`]) go through the same rules, plus RFC 9113's: a `Host` that
//! disagrees with `:authority`, connection-specific fields (8.2.2) and CR, LF or NUL in a
//! value (8.2.1) are refused. The h2 crate refuses most of these itself (stream reset or
//! connection error); the checks here keep the rule in one place whatever the crate does.

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
    /// How the body is delimited; on HTTP/2 `Chunked` stands for a length only the end of
    /// the stream tells.
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
    let framing = framing::request(version, &headers)?;
    let head = validate(method, uri, version, headers, framing)?;
    Ok(Some((head, len)))
}

/// Fields that describe an HTTP/1 connection, malformed in an HTTP/2 message (RFC 9113 8.2.2;
/// `TE` too, unless it is `trailers`).
pub const CONNECTION_SPECIFIC: [&str; 5] =
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];

/// Validates an HTTP/2 request (`end_stream`: its HEADERS frame ended the stream, so no body).
/// The head is origin-form with `Host` set from `:authority`, as an HTTP/1.1 request would be.
/// The header list's size is bounded by the h2 crate (`--max-header-bytes`), its count here.
pub fn from_h2(parts: http::request::Parts, end_stream: bool, max_headers: usize) -> Result<RequestHead, ProxyError> {
    let http::request::Parts { method, uri, headers: fields, .. } = parts;
    if fields.len() > max_headers {
        return Err(ProxyError::HeadTooLarge);
    }
    let target = match uri.path_and_query() {
        Some(p) => p.as_str(),
        None => "/",
    };
    let target = parse_target(&method, target)?;
    let mut headers = HeaderMap::with_capacity(fields.len() + 1);
    for (name, value) in &fields {
        if CONNECTION_SPECIFIC.contains(&name.as_str()) {
            return Err(bad("connection-specific header in an HTTP/2 request"));
        }
        if name == header::TE && value != "trailers" {
            return Err(bad("TE other than trailers in an HTTP/2 request"));
        }
        if value.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(bad("CR, LF or NUL in a header value"));
        }
        if name.as_str().contains('_') {
            continue;
        }
        headers.append(name, value.clone());
    }
    if let Some(authority) = uri.authority() {
        if authority.as_str().contains('@') {
            return Err(bad("userinfo in :authority"));
        }
        let value = HeaderValue::from_str(authority.as_str()).map_err(|_| bad("invalid :authority"))?;
        match headers.get(header::HOST) {
            Some(host) if !host.as_bytes().eq_ignore_ascii_case(value.as_bytes()) => {
                return Err(bad("Host disagrees with :authority"));
            }
            Some(_) => {}
            None => {
                headers.insert(header::HOST, value);
            }
        }
    }
    let framing = match framing::request(Version::HTTP_2, &headers)? {
        Framing::Length(n) if end_stream && n > 0 => return Err(bad("Content-Length on a request without a body")),
        Framing::Length(0) if !end_stream && !headers.contains_key(header::CONTENT_LENGTH) => {
            // DATA frames may follow (an empty one, often): GET and HEAD get no body, so
            // any body they send fails as one longer than zero.
            if matches!(method, Method::GET | Method::HEAD) {
                Framing::Length(0)
            } else {
                Framing::Chunked
            }
        }
        framing => framing,
    };
    validate(method, target, Version::HTTP_2, headers, framing)
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

fn validate(
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    framing: Framing,
) -> Result<RequestHead, ProxyError> {
    if matches!(method, Method::GET | Method::HEAD) && framing != Framing::Length(0) {
        return Err(bad("GET or HEAD request with a body"));
    }
    let hosts = headers.get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(bad("more than one Host header"));
    }
    if hosts == 0 && version != Version::HTTP_10 {
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

    fn h2(method: &str, uri: &str, headers: &[(&str, &str)], end_stream: bool) -> Result<RequestHead, ProxyError> {
        let mut request = http::Request::builder().method(method).uri(uri).version(Version::HTTP_2);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        from_h2(request.body(()).unwrap().into_parts().0, end_stream, 100)
    }

    fn h2_bad(method: &str, headers: &[(&str, &str)], end_stream: bool) -> bool {
        matches!(h2(method, "https://a.test/x", headers, end_stream), Err(ProxyError::BadRequest { .. }))
    }

    #[test]
    fn http2_requests_become_origin_form_with_host_from_authority() {
        let h =
            h2("GET", "https://A.test:8443/p?q=1", &[("x_forwarded_for", "1.2.3.4"), ("accept", "*/*")], true).unwrap();
        assert_eq!(h.uri.to_string(), "/p?q=1");
        assert!(h.uri.authority().is_none());
        assert_eq!(h.headers[header::HOST], "A.test:8443");
        assert_eq!(h.headers.len(), 2, "underscored name dropped: {:?}", h.headers);
        assert_eq!(h.framing, Framing::Length(0));
        let post = h2("POST", "https://a.test/", &[("content-length", "5")], false).unwrap();
        assert_eq!(post.framing, Framing::Length(5));
        let unknown = h2("POST", "https://a.test/", &[], false).unwrap();
        assert_eq!(unknown.framing, Framing::Chunked);
        // A GET whose HEADERS did not end the stream may still have no body (an empty DATA frame).
        assert_eq!(h2("GET", "https://a.test/", &[], false).unwrap().framing, Framing::Length(0));
        assert!(h2("GET", "https://a.test/", &[("host", "a.TEST")], true).is_ok());
    }

    #[test]
    fn http2_rules_refuse_what_http1_refuses_and_more() {
        assert!(h2_bad("GET", &[("host", "b.test")], true), "Host disagreeing with :authority");
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
            assert!(h2_bad("GET", &[(name, "x")], true), "{name}");
        }
        assert!(h2_bad("GET", &[("te", "gzip")], true));
        assert!(h2("GET", "https://a.test/", &[("te", "trailers")], true).is_ok());
        assert!(h2_bad("GET", &[("content-length", "3")], false), "GET with a body");
        assert!(h2_bad("POST", &[("content-length", "3")], true), "a length but no body");
        assert!(h2_bad("POST", &[("content-length", "3"), ("content-length", "4")], false));
        assert!(h2_bad("CONNECT", &[], false));
        let expect = h2("GET", "https://a.test/", &[("expect", "nope")], true);
        assert!(matches!(expect, Err(ProxyError::ExpectationFailed)));
        assert!(matches!(h2("GET", "https://u:p@a.test/", &[], true), Err(ProxyError::BadRequest { .. })));
        assert!(matches!(h2("GET", "/x", &[], true), Err(ProxyError::BadRequest { .. })), "no Host nor :authority");
        assert!(h2("GET", "/x", &[("host", "a.test")], true).is_ok());
    }

    #[test]
    fn too_many_headers_is_431() {
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "A: b\r\n".repeat(3));
        assert!(matches!(parse(raw.as_bytes(), 3), Err(ProxyError::HeadTooLarge)));
    }
}
