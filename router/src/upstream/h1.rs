//! The HTTP/1.1 client side, inline in the request's task: write the buffered
//! request in one go, parse the response head, frame its body.
//!
//! Doing this in the request's own task (rather than through a connection
//! task and channels) saves several wake-ups per request, and tells exactly
//! whether a request could have reached the instance.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::buffer::Buffered;
use crate::error::{BodyError, ExchangeError};
use crate::http1::framing::{self, trim, Framing};
use crate::http1::io::{give_out_buf, take_out_buf, ClientIo};

/// Largest response head accepted from an instance.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// Requests whose body is at most this size go out in the same write as their head.
const INLINE_BODY: usize = 64 * 1024;

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The connection may carry another request afterwards.
    pub keep_alive: bool,
}

/// Writes `method target` with `headers` (end-to-end only) and the buffered body.
pub async fn write_request(
    stream: &mut TcpStream,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: &Buffered,
) -> Result<(), ExchangeError> {
    let mut out = take_out_buf();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let len = body.len();
    if len > 0 || method_has_body(method) {
        let _ = std::io::Write::write_fmt(&mut out, format_args!("content-length: {len}\r\n"));
    }
    out.extend_from_slice(b"\r\n");
    match body {
        Buffered::Mem(b) if b.len() <= INLINE_BODY => {
            out.extend_from_slice(b);
            stream.write_all(&out).await.map_err(ExchangeError::Write)?;
            give_out_buf(out);
            Ok(())
        }
        Buffered::Mem(b) => {
            stream.write_all(&out).await.map_err(ExchangeError::Write)?;
            stream.write_all(b).await.map_err(ExchangeError::Write)
        }
        Buffered::File { file, len } => {
            stream.write_all(&out).await.map_err(ExchangeError::Write)?;
            let mut reader = tokio::fs::File::open(file.path()).await.map_err(ExchangeError::Write)?;
            let copied = tokio::io::copy(&mut (&mut reader).take(*len), stream).await.map_err(ExchangeError::Write)?;
            if copied != *len {
                return Err(ExchangeError::Write(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(())
        }
    }
}

fn method_has_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Reads the final response head (skipping `1xx` other than `101`).
/// `timeout` bounds each read; `None` when the caller bounds the whole exchange.
pub async fn read_head(
    io: &mut ClientIo,
    method: &Method,
    timeout: Option<Duration>,
) -> Result<ResponseHead, ExchangeError> {
    let mut received = false;
    loop {
        if !io.buf.is_empty() {
            received = true;
            if let Some((head, len)) = parse_head(&io.buf, method)? {
                io.buf.advance(len);
                if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
                    continue;
                }
                return Ok(head);
            }
            if io.buf.len() > MAX_HEAD {
                return Err(ExchangeError::Invalid("response head too large"));
            }
        }
        match io.read_more(timeout).await {
            Ok(0) if received => return Err(ExchangeError::Invalid("truncated response head")),
            Ok(0) => return Err(ExchangeError::ClosedEarly),
            Ok(_) => {}
            Err(BodyError::Io(e)) if !received && e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(ExchangeError::ClosedEarly)
            }
            Err(BodyError::Io(e)) => return Err(ExchangeError::Read(e)),
            Err(other) => return Err(ExchangeError::Body(other)),
        }
    }
}

fn parse_head(buf: &BytesMut, method: &Method) -> Result<Option<(ResponseHead, usize)>, ExchangeError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ExchangeError::Invalid("unparsable response head")),
    };
    let status = StatusCode::from_u16(response.code.unwrap_or(0)).map_err(|_| ExchangeError::Invalid("bad status"))?;
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| ExchangeError::Invalid("header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| ExchangeError::Invalid("header value"))?;
        headers.append(name, value);
    }
    let http11 = response.version == Some(1);
    let framing = framing::response(status, method, &headers)?;
    let close = tokens(&headers, header::CONNECTION, b"close");
    let keep_alive =
        framing != Framing::UntilClose && !close && (http11 || tokens(&headers, header::CONNECTION, b"keep-alive"));
    Ok(Some((ResponseHead { status, headers, framing, keep_alive }, len)))
}

fn tokens(headers: &HeaderMap, name: HeaderName, token: &[u8]) -> bool {
    headers
        .get_all(name)
        .iter()
        .any(|v| v.as_bytes().split(|b| *b == b',').any(|t| trim(t).eq_ignore_ascii_case(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, method: Method) -> ResponseHead {
        parse_head(&BytesMut::from(raw), &method).unwrap().unwrap().0
    }

    #[test]
    fn response_framing() {
        let h = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Method::GET);
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(5), true));
        let h = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", Method::GET);
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = parse("HTTP/1.0 200 OK\r\n\r\n", Method::GET);
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let h = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Method::HEAD);
        assert_eq!(h.framing, Framing::Length(0));
        let h = parse("HTTP/1.1 304 Not Modified\r\n\r\n", Method::GET);
        assert_eq!(h.framing, Framing::Length(0));
        assert!(parse_head(&BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), &Method::GET).is_err());
        assert!(parse_head(&BytesMut::from("HTTP/1.1 200 OK\r\nContent"), &Method::GET).unwrap().is_none());
    }
}
