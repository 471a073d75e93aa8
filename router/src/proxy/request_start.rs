//! `X-Request-Start: t=<microseconds since the Unix epoch>`, the header New
//! Relic, Scout and similar APM agents read to report queue time: the time
//! between it and the moment a worker starts on the request.
//!
//! The router stamps it once the whole request is read (bodies are buffered
//! first, so an upload's duration is not counted as queueing: no worker waited
//! for it) and before it waits for a free worker, so that the router's own
//! queue shows up as queue time in the app's APM.

use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderName, HeaderValue};

pub static X_REQUEST_START: HeaderName = HeaderName::from_static("x-request-start");

/// Sets `X-Request-Start` to now; a trusted proxy's value (stamped earlier, closer to the client) stays.
pub fn stamp(headers: &mut HeaderMap, trusted: bool) {
    if trusted && headers.get(&X_REQUEST_START).is_some_and(|v| !v.is_empty()) {
        return;
    }
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    headers.insert(&X_REQUEST_START, value(micros));
}

/// `t=<micros>`, formatted into a stack buffer: the only allocation is the header value's own.
fn value(micros: u64) -> HeaderValue {
    let mut buf = [0u8; 22];
    let mut at = buf.len();
    let mut n = micros;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at -= 2;
    buf[at..at + 2].copy_from_slice(b"t=");
    HeaderValue::from_bytes(&buf[at..]).expect("digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_microseconds() {
        assert_eq!(value(0), "t=0");
        assert_eq!(value(1_700_000_000_123_456), "t=1700000000123456");
        assert_eq!(value(u64::MAX), format!("t={}", u64::MAX).as_str());
    }

    #[test]
    fn replaces_a_forged_value_unless_the_peer_is_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_START, HeaderValue::from_static("t=1"));
        stamp(&mut headers, true);
        assert_eq!(headers[&X_REQUEST_START], "t=1");
        stamp(&mut headers, false);
        let text = headers[&X_REQUEST_START].to_str().unwrap().to_owned();
        let micros: u64 = text.strip_prefix("t=").unwrap().parse().unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
        assert!(now - micros < 5_000_000, "{text} is not now");
        assert_eq!(headers.get_all(&X_REQUEST_START).iter().count(), 1);
    }
}
