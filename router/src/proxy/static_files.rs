//! The static-file phase: the reply for a file of the release bundle (encoding choice,
//! conditional requests, ranges).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use crate::buffer::Buffered;
use crate::error::ProxyError;
use crate::http1::framing::trim;
use crate::server::head::RequestHead;
use crate::server::reply::{Reply, ReplyBody, SENDFILE_FROM};
use crate::statics::StaticFile;

/// `Cache-Control` of a file whose name carries a content hash: its bytes never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Builds the reply for `file` (200, 206, 304 or 416); `cache_control` is for names without a hash.
pub fn respond(file: &StaticFile, head: &RequestHead, cache_control: &HeaderValue) -> Result<Reply, ProxyError> {
    if head.method != Method::GET && head.method != Method::HEAD {
        return Err(ProxyError::MethodNotAllowed);
    }
    let (rep, encoding) = choose_encoding(file, &head.headers);
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::ETAG, rep.etag.clone());
    headers.insert(header::LAST_MODIFIED, rep.last_modified.clone());
    headers.insert(
        header::CACHE_CONTROL,
        if file.immutable { HeaderValue::from_static(IMMUTABLE) } else { cache_control.clone() },
    );
    if file.gzip.is_some() || file.brotli.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if not_modified(rep, &head.headers) {
        return Ok(Reply::new(StatusCode::NOT_MODIFIED, headers, ReplyBody::Buffered(Buffered::default())));
    }
    headers.insert(header::CONTENT_TYPE, rep.content_type.clone());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    let (status, offset, len) = match requested_range(rep, &head.headers) {
        RangeChoice::Full => (StatusCode::OK, 0, rep.len),
        RangeChoice::Unsatisfiable => return Err(ProxyError::RangeNotSatisfiable { len: rep.len }),
        RangeChoice::Part(start, end) => {
            let value = format!("bytes {start}-{end}/{}", rep.len);
            headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("ascii"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
    };
    let in_memory = rep.data.as_ref().map(|data| data.slice(offset as usize..(offset + len) as usize));
    let body = match in_memory {
        // Large files go to plain-TCP clients by sendfile(2) (see `server::reply`), others from memory.
        Some(data) if len < SENDFILE_FROM as u64 => ReplyBody::Buffered(Buffered::Mem(data)),
        in_memory => ReplyBody::Disk { path: rep.path.clone(), offset, len, in_memory },
    };
    Ok(Reply::new(status, headers, body))
}

/// Picks a precompressed variant the client accepts: brotli, then gzip, else identity.
fn choose_encoding<'a>(file: &'a StaticFile, headers: &HeaderMap) -> (&'a StaticFile, Option<&'static str>) {
    if let Some(br) = file.brotli.as_deref().filter(|_| accepts(headers, "br")) {
        return (br, Some("br"));
    }
    if let Some(gz) = file.gzip.as_deref().filter(|_| accepts(headers, "gzip")) {
        return (gz, Some("gzip"));
    }
    (file, None)
}

/// Whether `Accept-Encoding` lists `coding` (or `*`) with a non-zero q-value.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().flat_map(|v| v.as_bytes().split(|b| *b == b',')).any(|item| {
        let mut parts = item.split(|b| *b == b';');
        let name = trim(parts.next().unwrap_or_default());
        let matches = name.eq_ignore_ascii_case(coding.as_bytes()) || name == b"*";
        let zero = parts.any(|p| {
            let p = trim(p);
            p.len() >= 2 && p[..2].eq_ignore_ascii_case(b"q=") && trim(&p[2..]).iter().all(|b| matches!(b, b'0' | b'.'))
        });
        matches && !zero
    })
}

/// `If-None-Match` wins over `If-Modified-Since` (RFC 9110 13.2.2).
fn not_modified(file: &StaticFile, headers: &HeaderMap) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        return etag_listed(inm.as_bytes(), file.etag.as_bytes());
    }
    let since = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok());
    match since.and_then(|s| httpdate::parse_http_date(s).ok()) {
        Some(since) => whole_seconds(file.modified) <= since,
        None => false,
    }
}

/// Weak comparison of an `If-None-Match` list against our tag.
fn etag_listed(list: &[u8], ours: &[u8]) -> bool {
    list.split(|b| *b == b',').map(trim).any(|tag| {
        let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
        tag == b"*" || tag == ours
    })
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeChoice {
    Full,
    Part(u64, u64),
    Unsatisfiable,
}

/// A single `bytes=` range, honoured only if `If-Range` (when sent) still matches. Multiple ranges get the
/// full file, which RFC 9110 allows.
fn requested_range(file: &StaticFile, headers: &HeaderMap) -> RangeChoice {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return RangeChoice::Full };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        if if_range != file.etag && if_range != file.last_modified {
            return RangeChoice::Full;
        }
    }
    parse_range(range, file.len)
}

fn parse_range(range: &str, len: u64) -> RangeChoice {
    let Some(spec) = range.trim().strip_prefix("bytes=") else { return RangeChoice::Full };
    if spec.contains(',') {
        return RangeChoice::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return RangeChoice::Full };
    let (start, end) = (start.trim(), end.trim());
    let parsed = match (start.is_empty(), end.is_empty()) {
        (true, false) => end.parse::<u64>().ok().map(|n| (len.saturating_sub(n), len.saturating_sub(1), n > 0)),
        (false, true) => start.parse::<u64>().ok().map(|s| (s, len.saturating_sub(1), true)),
        (false, false) => match (start.parse::<u64>(), end.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => Some((s, e.min(len.saturating_sub(1)), true)),
            _ => None,
        },
        (true, true) => None,
    };
    match parsed {
        None => RangeChoice::Full,
        Some((start, end, nonempty)) if nonempty && start < len && start <= end => RangeChoice::Part(start, end),
        Some(_) => RangeChoice::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeChoice::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeChoice::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeChoice::Part(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeChoice::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeChoice::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeChoice::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeChoice::Full);
        assert_eq!(parse_range("items=0-1", 100), RangeChoice::Full);
        assert_eq!(parse_range("bytes=5-1", 100), RangeChoice::Full);
    }

    #[test]
    fn accept_encoding() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        assert!(!accepts(&h, "gzip"));
        assert!(accepts(&h, "br"));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("*"));
        assert!(accepts(&h, "gzip"));
    }

    #[test]
    fn etag_lists() {
        assert!(etag_listed(b"\"a\", W/\"b\"", b"\"b\""));
        assert!(etag_listed(b"*", b"\"b\""));
        assert!(!etag_listed(b"\"a\"", b"\"b\""));
    }
}
