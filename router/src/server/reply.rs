//! A response ready to be written to a client, and how it is written: whole bodies
//! (memory, spill file, static file on disk) with their head in as few writes as
//! possible, and bodies still arriving from an instance through their [`Relay`].
//!
//! Files go to plain-TCP clients by `sendfile(2)`, as nginx sends them: the bytes move
//! from the page cache to the socket without passing through the router; TLS and
//! HTTP/2 clients get them copied (from memory when the file is held there).

use std::cell::RefCell;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::buffer::Buffered;
use crate::error::ProxyError;
use crate::http1::io::{give_out_buf, take_out_buf, ClientIo};
use crate::relay::{OutFraming, Relay};

/// Bytes written per timed write, so `send_timeout` bounds each pause rather than the whole transfer.
const WRITE_SLICE: usize = 256 * 1024;
/// Static files at least this large are sent by `sendfile(2)` to plain-TCP clients; below it a
/// copy from memory together with the head (one write) is cheaper.
pub const SENDFILE_FROM: usize = 64 * 1024;

/// A client stream replies are written to. Plain TCP says so, for `sendfile(2)`.
pub trait ClientWrite: AsyncWrite + Unpin + Send {
    /// The socket, when bytes written to it reach the client unchanged (no TLS, no framing).
    fn raw_tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl ClientWrite for TcpStream {
    fn raw_tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl ClientWrite for tokio_rustls::server::TlsStream<TcpStream> {}

/// Body of a reply.
#[derive(Debug)]
pub enum ReplyBody {
    Buffered(Buffered),
    /// A byte range of a file on disk (large static files); `in_memory`: the same bytes, when
    /// the file is also held in memory (for clients `sendfile(2)` cannot serve).
    Disk {
        path: PathBuf,
        offset: u64,
        len: u64,
        in_memory: Option<Bytes>,
    },
    /// A body still arriving from an instance (its length may be unknown).
    Stream(Box<Relay>),
}

impl ReplyBody {
    /// How the body is delimited for the client.
    pub fn framing(&self) -> OutFraming {
        match self {
            ReplyBody::Buffered(b) => OutFraming::Length(b.len()),
            ReplyBody::Disk { len, .. } => OutFraming::Length(*len),
            ReplyBody::Stream(relay) => relay.framing(),
        }
    }

    /// Whether the connection must close after this body (its end is the end of the connection).
    pub fn ends_by_close(&self) -> bool {
        self.framing() == OutFraming::Close
    }
}

/// What the access log needs to know beyond the request and status.
#[derive(Debug, Default)]
pub struct AccessInfo {
    pub request_id: Option<HeaderValue>,
    pub app: Option<std::sync::Arc<crate::table::AppRoute>>,
    pub backend: Option<std::sync::Arc<crate::upstream::Backend>>,
    pub upstream: Option<Duration>,
    pub error: Option<&'static str>,
}

/// A response the connection writes in one go.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// End-to-end headers only; the writer sets `Content-Length`, `Date` and `Connection`.
    pub headers: HeaderMap,
    pub body: ReplyBody,
    /// For `101 Switching Protocols`: the upstream connection to tunnel to.
    pub upgrade: Option<Box<ClientIo>>,
    /// The connection must close after this reply (client errors that leave framing in doubt).
    pub close: bool,
    pub info: AccessInfo,
}

impl Reply {
    pub fn new(status: StatusCode, headers: HeaderMap, body: ReplyBody) -> Reply {
        Reply { status, headers, body, upgrade: None, close: false, info: AccessInfo::default() }
    }

    /// The error page for `err`; client-side framing errors also close the connection.
    pub fn error(err: &ProxyError) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let ProxyError::RangeNotSatisfiable { len } = err {
            headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
        }
        if matches!(err, ProxyError::MethodNotAllowed) {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        if let Some(secs) = err.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        let mut reply = Reply::new(err.status(), headers, ReplyBody::Buffered(Buffered::Mem(err.page())));
        reply.close = matches!(
            err,
            ProxyError::BadRequest { .. }
                | ProxyError::HeadTooLarge
                | ProxyError::BodyTooLarge { .. }
                | ProxyError::ClientTimeout
                | ProxyError::ExpectationFailed
        );
        reply.info.error = Some(err.kind());
        reply
    }
}

/// Writes `reply` (head, then body unless `HEAD`); returns the body bytes sent. A streamed
/// body that breaks off is logged here and noted in `reply.info.error`.
pub async fn write<W: ClientWrite>(
    stream: &mut W,
    method: &Method,
    reply: &mut Reply,
    keep_alive: bool,
    timeout: Duration,
) -> std::io::Result<u64> {
    let mut out = take_out_buf();
    head_bytes(&mut out, method, reply, keep_alive);
    let send_body = *method != Method::HEAD && has_body(reply.status);
    if let ReplyBody::Stream(relay) = &mut reply.body {
        // The head goes out with whatever of the body is already there, in one write.
        return send_stream(stream, out, relay, &mut reply.info, timeout).await;
    }
    match &reply.body {
        ReplyBody::Buffered(Buffered::Mem(b)) if send_body && b.len() <= 16 * 1024 => {
            out.extend_from_slice(b);
            timed(timeout, stream.write_all(&out)).await?;
            give_out_buf(out);
            return Ok(b.len() as u64);
        }
        _ => timed(timeout, stream.write_all(&out)).await?,
    }
    give_out_buf(out);
    if !send_body {
        return Ok(0);
    }
    send_whole(stream, &mut reply.body, timeout).await
}

/// Writes the body alone, for a protocol that sends the head in its own framing (HTTP/2);
/// the caller leaves out bodies that `HEAD` or the status rule out. Returns the bytes sent.
pub async fn write_body<W: ClientWrite>(stream: &mut W, reply: &mut Reply, timeout: Duration) -> std::io::Result<u64> {
    match &mut reply.body {
        ReplyBody::Stream(relay) => send_stream(stream, Vec::new(), relay, &mut reply.info, timeout).await,
        body => send_whole(stream, body, timeout).await,
    }
}

/// Relays a streamed body after `head`; a body that breaks off is logged here and noted in
/// `info.error`.
async fn send_stream<W: AsyncWrite + Unpin>(
    stream: &mut W,
    head: Vec<u8>,
    relay: &mut Relay,
    info: &mut AccessInfo,
    timeout: Duration,
) -> std::io::Result<u64> {
    match relay.send(stream, head, timeout).await {
        Ok(sent) => Ok(sent),
        Err(error) => {
            let app = info.app.as_ref().map_or("-", |a| a.name.as_str());
            if error.is_client() {
                tracing::debug!(app, error = %error, "client left mid-response");
            } else {
                tracing::warn!(app, error = %error, source = ?std::error::Error::source(&error), "response cut off");
            }
            info.error = Some(error.kind());
            Err(std::io::Error::other(error))
        }
    }
}

/// Writes a body that is whole already (memory, spill file, file on disk).
async fn send_whole<W: ClientWrite>(stream: &mut W, body: &mut ReplyBody, timeout: Duration) -> std::io::Result<u64> {
    // `&mut`: a `&ReplyBody` held across an await would make the future `!Send` (a relay's capture is not `Sync`).
    match body {
        ReplyBody::Buffered(Buffered::Mem(b)) => write_bytes(stream, b, timeout).await?,
        ReplyBody::Buffered(Buffered::File { file, len }) => {
            write_file(stream, file.path().into(), 0, *len, timeout).await?
        }
        ReplyBody::Disk { path, offset, len, in_memory } => match (stream.raw_tcp(), in_memory) {
            (Some(socket), _) => send_file(socket, path, *offset, *len, timeout).await?,
            (None, Some(bytes)) => write_bytes(stream, bytes, timeout).await?,
            (None, None) => write_file(stream, path.clone(), *offset, *len, timeout).await?,
        },
        ReplyBody::Stream(_) => {} // relayed by send_stream
    }
    Ok(match body.framing() {
        OutFraming::Length(n) => n,
        _ => 0,
    })
}

/// The current `Date` value (formatted at most once a second per thread).
pub fn date() -> HeaderValue {
    DATE.with(|d| HeaderValue::from_str(d.borrow_mut().now()).expect("an HTTP date is a valid header"))
}

/// Whether a response with `status` has a body (RFC 9110 6.4.1: not 1xx, 204 or 304).
pub fn has_body(status: StatusCode) -> bool {
    !(status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED)
}

fn head_bytes(out: &mut Vec<u8>, method: &Method, reply: &Reply, keep_alive: bool) {
    let status = reply.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    let upgrading = status == StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in &reply.headers {
        let framing = name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING;
        if framing || name == header::DATE || (name == header::CONNECTION && !upgrading) {
            continue;
        }
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    DATE.with(|d| line(out, b"date", d.borrow_mut().now().as_bytes()));
    if has_body(status) {
        // A HEAD reply relays the length the app declared for the GET.
        let declared = reply.headers.get(header::CONTENT_LENGTH).filter(|_| *method == Method::HEAD);
        match (declared, reply.body.framing()) {
            (Some(v), _) => line(out, b"content-length", v.as_bytes()),
            (None, OutFraming::Length(n)) => {
                out.extend_from_slice(b"content-length: ");
                let _ = std::io::Write::write_fmt(out, format_args!("{n}\r\n"));
            }
            (None, OutFraming::Chunked) => line(out, b"transfer-encoding", b"chunked"),
            (None, OutFraming::Close) => {}
        }
    }
    if !upgrading {
        line(out, b"connection", if keep_alive { b"keep-alive" } else { b"close" });
    }
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

async fn write_bytes<W: AsyncWrite + Unpin>(stream: &mut W, body: &Bytes, timeout: Duration) -> std::io::Result<()> {
    for slice in body.chunks(WRITE_SLICE) {
        timed(timeout, stream.write_all(slice)).await?;
    }
    Ok(())
}

async fn write_file<W: AsyncWrite + Unpin>(
    stream: &mut W,
    path: PathBuf,
    offset: u64,
    len: u64,
    timeout: Duration,
) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut left = len;
    let mut buf = vec![0u8; WRITE_SLICE.min(len as usize).max(1)];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        file.read_exact(&mut buf[..n]).await?;
        timed(timeout, stream.write_all(&buf[..n])).await?;
        left -= n as u64;
    }
    Ok(())
}

/// `len` bytes of the file at `path` from `offset`, by `sendfile(2)`: each wait for the socket to
/// take more is bounded by `timeout`.
async fn send_file(
    socket: &TcpStream,
    path: &std::path::Path,
    offset: u64,
    len: u64,
    timeout: Duration,
) -> std::io::Result<()> {
    // Opening a file of an unpacked bundle is a metadata lookup, not worth a blocking-pool hop.
    let file = std::fs::File::open(path)?;
    let mut at = i64::try_from(offset).map_err(std::io::Error::other)?;
    let end = at + i64::try_from(len).map_err(std::io::Error::other)?;
    while at < end {
        let count = usize::try_from(end - at).unwrap_or(usize::MAX).min(WRITE_SLICE * 4);
        timed(timeout, socket.writable()).await?;
        let sent = socket.try_io(Interest::WRITABLE, || {
            nix::sys::sendfile::sendfile64(socket, &file, Some(&mut at), count).map_err(std::io::Error::from)
        });
        match sent {
            Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "static file shrank")),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn timed<T>(timeout: Duration, f: impl std::future::Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "client too slow to read")))
}

// === Date header cache ===

/// Formatting a date per response is measurable at proxy rates; the value only changes once a second.
struct DateCache {
    second: u64,
    value: String,
}

impl DateCache {
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if second != self.second || self.value.is_empty() {
            self.second = second;
            self.value = httpdate::fmt_http_date(now);
        }
        &self.value
    }
}

thread_local! {
    static DATE: RefCell<DateCache> = const { RefCell::new(DateCache { second: 0, value: String::new() }) };
}
