//! Which requests the cache may answer, and the keys responses are filed under.
//!
//! A response is filed under its *resource* (normalised host + request
//! target); variants of one resource (`Vary`) are told apart by the stored
//! policy, which compares the request headers it names. `Accept-Encoding` is
//! normalised to the codings the router cares about (`br`, `gzip`, or neither)
//! before anything sees it, so `gzip, deflate` and `deflate, gzip` share a
//! variant, and the app is sent the normalised value so its answer fits the
//! variant it is stored as.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri};

/// The parts of a client request the cache looks at.
pub struct RequestView<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The request carried a body (a GET with a body is never answered from the cache).
    pub has_body: bool,
}

/// How the cache treats a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// GET/HEAD without credentials: answered from the cache when possible.
    Public,
    /// GET/HEAD with `Authorization` or a `Cookie`: only explicitly shareable
    /// responses (`public`, `s-maxage`; RFC 9111 3.5) are served or stored.
    Credentialed,
    /// Never answered from the cache; `fwd` is the RFC 9211 reason.
    Bypass { fwd: &'static str, unsafe_method: bool },
}

/// Sorts a request into a [`Class`].
pub fn classify(request: &RequestView<'_>) -> Class {
    let method = request.method;
    if *method != Method::GET && *method != Method::HEAD {
        // RFC 9111 4.4: a successful unsafe request invalidates what is stored for its target.
        let unsafe_method = !matches!(*method, Method::OPTIONS | Method::TRACE);
        return Class::Bypass { fwd: "method", unsafe_method };
    }
    let headers = request.headers;
    // Ranges and upgrades are not what a stored whole response answers; a body makes the URL a lie.
    if request.has_body || headers.contains_key(header::RANGE) || headers.contains_key(header::UPGRADE) {
        return Class::Bypass { fwd: "bypass", unsafe_method: false };
    }
    if headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE) {
        return Class::Credentialed;
    }
    Class::Public
}

/// Codings the router distinguishes; everything else counts as `identity`.
pub fn normalize_accept_encoding(headers: &HeaderMap) -> &'static str {
    let (mut br, mut gzip, mut any) = (None, None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let accepted = parts.all(|p| !is_zero_q(p));
            match coding.as_str() {
                "br" => br = Some(accepted),
                "gzip" | "x-gzip" => gzip = Some(accepted),
                "*" => any = Some(accepted),
                _ => {}
            }
        }
    }
    // `*` stands for every coding not listed by name (RFC 9110 12.5.3).
    let any = any.unwrap_or(false);
    match (br.unwrap_or(any), gzip.unwrap_or(any)) {
        (true, true) => "br, gzip",
        (true, false) => "br",
        (false, true) => "gzip",
        (false, false) => "",
    }
}

/// `q=0`, `q=0.0`, `q=0.000`: "not acceptable".
fn is_zero_q(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else { return false };
    let value = value.trim();
    name.trim().eq_ignore_ascii_case("q") && value.starts_with('0') && value.bytes().all(|b| b == b'0' || b == b'.')
}

/// The host part of the request's authority, lowercase, without port or trailing dot.
fn host(request: &RequestView<'_>) -> String {
    let raw = match request.uri.authority() {
        Some(authority) => authority.host(),
        None => request.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
    };
    let name = match raw.rsplit_once(':') {
        Some((name, port)) if !raw.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => raw,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn target<'a>(request: &RequestView<'a>) -> &'a str {
    request.uri.path_and_query().map_or("/", |p| p.as_str())
}

/// The resource key of `request` (what an unsafe method invalidates).
pub fn resource(request: &RequestView<'_>) -> String {
    format!("{} {}", host(request), target(request))
}

/// Request headers that make a request conditional: the cache answers those itself.
const CONDITIONALS: [header::HeaderName; 5] =
    [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::IF_MATCH, header::IF_UNMODIFIED_SINCE, header::IF_RANGE];

/// A request as the cache files and matches it.
#[derive(Debug)]
pub struct CacheRequest {
    /// Host and target: every variant of one URL.
    pub resource: String,
    /// Resource plus normalised `Accept-Encoding`: what concurrent misses coalesce on.
    pub fill: String,
    pub accept_encoding: &'static str,
    /// The request as the policy sees it: a GET (HEAD is answered from GET entries), normalised
    /// host and `Accept-Encoding`, without conditional headers.
    pub policy: http::request::Parts,
}

impl CacheRequest {
    pub fn new(request: &RequestView<'_>) -> CacheRequest {
        let host = host(request);
        let target = target(request);
        let accept_encoding = normalize_accept_encoding(request.headers);
        let resource = format!("{host} {target}");
        let fill = format!("{resource}\n{accept_encoding}");
        let mut headers = request.headers.clone();
        strip_conditionals(&mut headers);
        set_accept_encoding(&mut headers, accept_encoding);
        if let Ok(value) = HeaderValue::from_str(&host) {
            headers.insert(header::HOST, value);
        }
        let uri = target.parse().unwrap_or_else(|_| Uri::from_static("/"));
        let (mut policy, ()) = http::Request::get(uri).body(()).expect("a GET with a parsed URI").into_parts();
        policy.headers = headers;
        CacheRequest { resource, fill, accept_encoding, policy }
    }
}

/// Replaces `Accept-Encoding` with a normalised value (none for identity).
pub fn set_accept_encoding(headers: &mut HeaderMap, normalized: &'static str) {
    if normalized.is_empty() {
        headers.remove(header::ACCEPT_ENCODING);
    } else {
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(normalized));
    }
}

/// Removes the client's conditional headers (a fill needs the whole response to store it).
pub fn strip_conditionals(headers: &mut HeaderMap) {
    for name in &CONDITIONALS {
        headers.remove(name);
    }
}

/// The target part of a resource key.
pub fn target_of(resource: &str) -> &str {
    resource.split_once(' ').map_or(resource, |(_, target)| target)
}

/// Whether a purge of `path` covers `target`: an exact target, or the same path with any query
/// when `path` has none.
pub fn purge_matches(path: &str, target: &str) -> bool {
    target == path || (!path.contains('?') && target.split_once('?').is_some_and(|(p, _)| p == path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(header::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ae(value: &str) -> &'static str {
        normalize_accept_encoding(&headers(&[("accept-encoding", value)]))
    }

    #[test]
    fn accept_encoding_normalisation_merges_equivalent_values() {
        assert_eq!(ae("gzip, deflate"), "gzip");
        assert_eq!(ae("deflate, gzip"), "gzip");
        assert_eq!(ae("GZIP;q=0.5 , deflate"), "gzip");
        assert_eq!(ae("gzip, deflate, br, zstd"), "br, gzip");
        assert_eq!(ae("br;q=1.0, gzip;q=0.8"), "br, gzip");
        assert_eq!(ae("gzip;q=0, br"), "br");
        assert_eq!(ae("gzip;q=0.000"), "");
        assert_eq!(ae("x-gzip"), "gzip");
        assert_eq!(ae("*"), "br, gzip");
        assert_eq!(ae("*, br;q=0"), "gzip");
        assert_eq!(ae("identity"), "");
        assert_eq!(ae("deflate"), "");
        assert_eq!(normalize_accept_encoding(&HeaderMap::new()), "");
        let split = headers(&[("accept-encoding", "deflate"), ("accept-encoding", "gzip")]);
        assert_eq!(normalize_accept_encoding(&split), "gzip");
    }

    fn request(method: Method, uri: &str, pairs: &[(&str, &str)], has_body: bool) -> (Class, CacheRequest) {
        let (uri, headers) = (uri.parse::<Uri>().unwrap(), headers(pairs));
        let view = RequestView { method: &method, uri: &uri, headers: &headers, has_body };
        (classify(&view), CacheRequest::new(&view))
    }

    #[test]
    fn keys_normalise_host_and_encoding_and_drop_conditionals() {
        let (class, one) = request(
            Method::GET,
            "/a?b=1",
            &[("host", "Shop.Test.:8000"), ("accept-encoding", "deflate, gzip"), ("if-none-match", "\"x\"")],
            false,
        );
        assert_eq!(class, Class::Public);
        assert_eq!(one.resource, "shop.test /a?b=1");
        assert_eq!(one.fill, "shop.test /a?b=1\ngzip");
        assert_eq!(one.policy.method, Method::GET);
        assert_eq!(one.policy.headers["accept-encoding"], "gzip");
        assert_eq!(one.policy.headers["host"], "shop.test");
        assert!(one.policy.headers.get("if-none-match").is_none());
        let (_, two) = request(Method::HEAD, "/a?b=1", &[("host", "shop.test"), ("accept-encoding", "gzip")], false);
        assert_eq!((two.fill, two.policy.method), (one.fill, Method::GET), "HEAD looks up the GET entry");
        let (_, absolute) = request(Method::GET, "http://Shop.test:80/x", &[("host", "other")], false);
        assert_eq!(absolute.resource, "shop.test /x");
        let (_, v6) = request(Method::GET, "/", &[("host", "[::1]:8000")], false);
        assert_eq!(v6.resource, "[::1] /");
    }

    #[test]
    fn classes() {
        let class = |method, pairs: &[(&str, &str)], body| request(method, "/", pairs, body).0;
        assert_eq!(class(Method::HEAD, &[], false), Class::Public);
        assert_eq!(class(Method::GET, &[("cookie", "session=1")], false), Class::Credentialed);
        assert_eq!(class(Method::GET, &[("authorization", "Bearer x")], false), Class::Credentialed);
        assert_eq!(class(Method::GET, &[], true), Class::Bypass { fwd: "bypass", unsafe_method: false });
        assert_eq!(
            class(Method::GET, &[("range", "bytes=0-1")], false),
            Class::Bypass { fwd: "bypass", unsafe_method: false }
        );
        assert_eq!(class(Method::POST, &[], true), Class::Bypass { fwd: "method", unsafe_method: true });
        assert_eq!(class(Method::OPTIONS, &[], false), Class::Bypass { fwd: "method", unsafe_method: false });
    }

    #[test]
    fn purge_paths() {
        assert!(purge_matches("/a", "/a"));
        assert!(purge_matches("/a", "/a?x=1"));
        assert!(!purge_matches("/a", "/ab"));
        assert!(!purge_matches("/a", "/a/b"));
        assert!(purge_matches("/a?x=1", "/a?x=1"));
        assert!(!purge_matches("/a?x=1", "/a?x=2"));
        assert_eq!(target_of("shop.test /a?b"), "/a?b");
    }
}
