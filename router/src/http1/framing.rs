//! How an HTTP/1.1 message body is delimited, the rules that decide it, and
//! the whitespace rule of header list values.
//!
//! The two rules sit side by side on purpose: [`request`] is strict (anything
//! two parsers could frame differently is refused), [`response`] follows
//! RFC 9112 6.3 as a client must; a lenient reading there cannot desynchronise
//! a client connection because every reply is re-framed with its own length.

use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};

use crate::error::{ExchangeError, ProxyError};

/// How a message body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    /// Until the peer closes (responses only; requests never use it).
    UntilClose,
}

/// Strips optional whitespace (SP / HTAB) from both ends.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A request's body framing, refusing every ambiguous combination (a 400 before any backend).
pub fn request(version: Version, headers: &HeaderMap) -> Result<Framing, ProxyError> {
    let mut length: Option<u64> = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|b| *b == b',') {
            let n = parse_length(trim(part)).ok_or_else(|| bad("invalid Content-Length"))?;
            if length.is_some_and(|prev| prev != n) {
                return Err(bad("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    let mut codings = 0;
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        for part in value.as_bytes().split(|b| *b == b',') {
            codings += 1;
            if !trim(part).eq_ignore_ascii_case(b"chunked") || codings > 1 {
                return Err(bad("unsupported Transfer-Encoding"));
            }
        }
    }
    match (length, codings) {
        (Some(_), 1) => Err(bad("both Content-Length and Transfer-Encoding")),
        (None, 1) if version == Version::HTTP_10 => Err(bad("Transfer-Encoding in HTTP/1.0")),
        (None, 1) => Ok(Framing::Chunked),
        (Some(n), _) => Ok(Framing::Length(n)),
        (None, _) => Ok(Framing::Length(0)),
    }
}

fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// A response's body framing per RFC 9112 6.3.
pub fn response(status: StatusCode, method: &Method, headers: &HeaderMap) -> Result<Framing, ExchangeError> {
    let bodiless = *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodiless {
        return Ok(Framing::Length(0));
    }
    if let Some(last) = headers.get_all(header::TRANSFER_ENCODING).iter().next_back() {
        let chunked =
            last.as_bytes().rsplit(|b| *b == b',').next().is_some_and(|c| trim(c).eq_ignore_ascii_case(b"chunked"));
        return Ok(if chunked { Framing::Chunked } else { Framing::UntilClose });
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let text = std::str::from_utf8(trim(value.as_bytes())).ok();
        let n: u64 = text.and_then(|t| t.parse().ok()).ok_or(ExchangeError::Invalid("bad Content-Length"))?;
        if length.is_some_and(|prev| prev != n) {
            return Err(ExchangeError::Invalid("conflicting Content-Length"));
        }
        length = Some(n);
    }
    Ok(length.map(Framing::Length).unwrap_or(Framing::UntilClose))
}

fn bad(reason: &'static str) -> ProxyError {
    ProxyError::BadRequest { reason }
}
