//! A response on its way from an instance to a client, buffered without delaying it.
//!
//! As nginx does: the instance's body is read as fast as it comes into a [`Spool`]
//! (memory, then a temp file, then back-pressure) while the client is written to at
//! its own pace, and the upstream connection goes back to its pool the moment the
//! body has been read in full, however long the client still takes. A slow client
//! therefore holds a WSGI worker only for a response larger than the spool.
//!
//! Everything runs in the request's own task: [`Relay::send`] alternates between
//! reading the instance and writing the client with one `select!`, no extra task or
//! channel (cross-thread wake-ups are what a proxy's time goes on; see
//! `upstream/h1.rs`). Small bodies never get here: [`begin`] reads a body that is
//! small or already buffered whole and hands it back as [`Body::Whole`], written with
//! its head in one write.
//!
//! Unbuffered pass-through (`X-Accel-Buffering: no`, `text/event-stream`, or a
//! streaming route): the same loop with a spool of [`PASS_THROUGH_AHEAD`] bytes and no
//! file, so each piece is written as soon as it arrives and the instance is never
//! read far ahead of the client.

pub mod spool;

use std::fmt;
use std::io::IoSlice;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName};
use http::StatusCode;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::buffer::Joined;
use crate::config::UpstreamConfig;
use crate::error::{BodyError, ExchangeError, ProxyError};
use crate::http1::body::{Decoded, Decoder};
use crate::http1::framing::Framing;
use crate::metrics::AppMetrics;
use crate::upstream::h1::ResponseHead;
use crate::upstream::{self, Lease};

pub use spool::Spool;

/// Bodies declared at most this long are read whole before the client gets the head
/// (they are nearly always in the first read already): one write, no relay loop.
pub const WHOLE_BODY: u64 = 64 * 1024;
/// How far an unbuffered response may be read ahead of its client.
pub const PASS_THROUGH_AHEAD: usize = 64 * 1024;
/// Most spool pieces per vectored write.
const WRITE_PIECES: usize = 32;

static X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

// === Inputs from the request phases ===

/// What earlier phases decide about relaying one response (all off by default).
#[derive(Debug, Default)]
pub struct RelayOptions {
    /// The route streams (long-poll, SSE on an async process type): pass the body through
    /// unbuffered whatever its headers say.
    pub stream: bool,
    /// Longest pause between two reads of the body; `None` is `--upstream-read-timeout-secs`.
    pub idle_timeout: Option<Duration>,
    /// Hand the complete body to someone (a cache) when it is at most a given size.
    pub capture: Option<Capture>,
    /// Read a body of a declared length up to this many bytes whole before sending (instead
    /// of [`WHOLE_BODY`]): a response the front-end cache may store.
    pub whole_up_to: Option<u64>,
}

/// A complete response, as a cache stores it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub status: StatusCode,
    /// End-to-end headers as the client gets them (hop-by-hop and `X-Accel-*` removed;
    /// `Content-Length`, if the instance sent one, kept).
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Asks for a copy of the response body: `deliver` is called once the instance's body has
/// been read completely, if it was at most `limit` bytes; otherwise (too large, the
/// instance broke off, the client left early) it is dropped without being called.
pub struct Capture {
    limit: usize,
    deliver: Box<dyn FnOnce(Captured) + Send>,
}

impl Capture {
    pub fn new(limit: usize, deliver: impl FnOnce(Captured) + Send + 'static) -> Capture {
        Capture { limit, deliver: Box::new(deliver) }
    }

    /// A capture whose result arrives on a oneshot channel (`Err` on the receiver: no capture).
    pub fn oneshot(limit: usize) -> (Capture, tokio::sync::oneshot::Receiver<Captured>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Capture::new(limit, move |captured| drop(tx.send(captured))), rx)
    }
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").field("limit", &self.limit).finish_non_exhaustive()
    }
}

/// A capture in progress: the response it belongs to and the body so far.
struct Capturing {
    capture: Capture,
    status: StatusCode,
    headers: HeaderMap,
    body: BytesMut,
}

impl Capturing {
    /// Adds `data`; `false` once the body outgrew the limit (the capture is then dropped).
    fn add(&mut self, data: &[u8]) -> bool {
        if self.body.len() + data.len() > self.capture.limit {
            return false;
        }
        self.body.extend_from_slice(data);
        true
    }

    fn deliver(self) {
        let captured = Captured { status: self.status, headers: self.headers, body: self.body.freeze() };
        (self.capture.deliver)(captured);
    }
}

/// What the relay needs to know besides the response.
pub struct RelayEnv<'a> {
    pub settings: &'a UpstreamConfig,
    pub tmp_dir: &'a Path,
    pub metrics: &'a Arc<AppMetrics>,
    /// When the request was sent (for the upstream duration metric).
    pub started: Instant,
    /// The client speaks HTTP/1.1 (chunked framing available). HTTP/1.0 and HTTP/2 clients get
    /// a body of unknown length unframed ([`OutFraming::Close`]).
    pub client_http11: bool,
}

// === Starting a response ===

/// A response body, once the head is in.
#[derive(Debug)]
pub enum Body {
    /// Read completely; the connection is already back in its pool.
    Whole(Bytes),
    /// Still arriving: [`Relay::send`] writes it out.
    Stream(Box<Relay>),
}

/// How a streamed body is framed for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFraming {
    /// The instance declared the length: relayed as is.
    Length(u64),
    /// Length unknown, HTTP/1.1 client.
    Chunked,
    /// Length unknown, no chunked framing: on HTTP/1.0 the end of the body is the end of the
    /// connection; on HTTP/2 the end of the stream (the bytes go out as they are either way).
    Close,
}

/// Whether the response is to be passed through unbuffered; removes `X-Accel-Buffering`
/// (it is meant for the proxy, as nginx treats it).
pub fn unbuffered(headers: &mut HeaderMap, route_streams: bool) -> bool {
    let accel = headers.remove(&X_ACCEL_BUFFERING);
    if route_streams {
        return true;
    }
    if let Some(value) = accel {
        return value.as_bytes().eq_ignore_ascii_case(b"no");
    }
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let essence = v.as_bytes().split(|b| *b == b';').next().unwrap_or_default();
        crate::http1::framing::trim(essence).eq_ignore_ascii_case(b"text/event-stream")
    })
}

/// Whether a response says how long it stays fresh and sets no cookie: only then may a cache
/// keep it, so only then is a larger body read whole first (the cache decides the rest).
fn gives_freshness(headers: &HeaderMap) -> bool {
    let fresh_for = headers.get_all(header::CACHE_CONTROL).iter().any(|v| {
        let v = v.as_bytes();
        v.windows(7).any(|w| w.eq_ignore_ascii_case(b"max-age"))
            || v.windows(8).any(|w| w.eq_ignore_ascii_case(b"s-maxage"))
    });
    (fresh_for || headers.contains_key(header::EXPIRES)) && !headers.contains_key(header::SET_COOKIE)
}

/// Reads what of the body is there (or all of a small one) after the head; a complete body
/// returns the connection to its pool at once.
pub async fn begin(
    response: &ResponseHead,
    mut lease: Lease,
    options: RelayOptions,
    unbuffered: bool,
    env: &RelayEnv<'_>,
) -> Result<Body, ProxyError> {
    let backend = lease.backend.clone();
    let broken = |e| upstream::exchange_error(&backend.address, ExchangeError::Body(e), env.settings);
    let mut decoder = Decoder::new(response.framing);
    let io = lease.io.as_mut().expect("a sent request has its connection");
    let mut so_far = Joined::default();
    let whole_limit = match options.whole_up_to {
        Some(n) if gives_freshness(&response.headers) => n.max(WHOLE_BODY),
        _ => WHOLE_BODY,
    };
    let small = matches!(response.framing, Framing::Length(n) if n <= whole_limit);
    if small && !unbuffered {
        // No timer per read: `Proxy::forward` bounds this by the response head timeout.
        while let Some(data) = decoder.next(io, None).await.map_err(broken)? {
            so_far.push(data);
        }
    }
    while let Decoded::Data(data) = decoder.decode(&mut io.buf).map_err(broken)? {
        so_far.push(data);
    }
    let so_far = so_far.finish();
    let capture = options.capture.map(|capture| Capturing {
        capture,
        status: response.status,
        headers: response.headers.clone(),
        body: BytesMut::new(),
    });
    if decoder.is_done() {
        lease.release(response.keep_alive, env.settings);
        env.metrics.upstream(env.started.elapsed());
        if let Some(mut capture) = capture {
            if capture.add(&so_far) {
                capture.deliver();
            }
        }
        return Ok(Body::Whole(so_far));
    }
    let out = match response.framing {
        Framing::Length(n) => OutFraming::Length(n),
        _ if env.client_http11 => OutFraming::Chunked,
        _ => OutFraming::Close,
    };
    let spool = if unbuffered {
        Spool::new(PASS_THROUGH_AHEAD, 0, env.tmp_dir.to_owned())
    } else {
        Spool::new(env.settings.response_memory_bytes, env.settings.response_file_bytes, env.tmp_dir.to_owned())
    };
    let mut relay = Relay {
        backend: backend.address.clone(),
        lease: Some(lease),
        keep_alive: response.keep_alive,
        decoder,
        spool,
        out,
        idle: options.idle_timeout.unwrap_or(Duration::from_secs(env.settings.read_timeout_secs)),
        settings: env.settings.clone(),
        metrics: env.metrics.clone(),
        started: env.started,
        capture,
        body_bytes: 0,
    };
    relay.push_body(so_far).await.map_err(|source| ProxyError::Spill { source })?;
    Ok(Body::Stream(Box::new(relay)))
}

// === The relay loop ===

/// Why a streamed response stopped before its end (the client has its head already, so the
/// only signal left is closing the connection).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("instance {backend} broke off the response body")]
    Upstream {
        backend: String,
        #[source]
        source: BodyError,
    },
    #[error("instance {backend} sent nothing for {secs} s mid-body")]
    UpstreamIdle { backend: String, secs: u64 },
    #[error("writing the response to the client")]
    Client(#[source] std::io::Error),
    #[error("client read nothing for {secs} s")]
    ClientTimeout { secs: u64 },
    #[error("spooling the response to a temp file")]
    Spill(#[source] std::io::Error),
}

impl RelayError {
    /// Failures an operator should see (the instance or the router); client ones are routine.
    pub fn is_client(&self) -> bool {
        matches!(self, RelayError::Client(_) | RelayError::ClientTimeout { .. })
    }

    /// A stable short name for the access log.
    pub fn kind(&self) -> &'static str {
        match self {
            RelayError::Upstream { .. } => "upstream_broken",
            RelayError::UpstreamIdle { .. } => "upstream_idle",
            RelayError::Client(_) => "client_gone",
            RelayError::ClientTimeout { .. } => "client_timeout",
            RelayError::Spill(_) => "spill",
        }
    }
}

/// A response body still coming from an instance: its connection, framing and spool.
pub struct Relay {
    backend: String,
    /// The upstream connection until the body has been read in full.
    lease: Option<Lease>,
    keep_alive: bool,
    decoder: Decoder,
    spool: Spool,
    out: OutFraming,
    idle: Duration,
    settings: UpstreamConfig,
    metrics: Arc<AppMetrics>,
    started: Instant,
    capture: Option<Capturing>,
    /// Body bytes received from the instance (without framing).
    body_bytes: u64,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("backend", &self.backend)
            .field("out", &self.out)
            .field("reading", &self.lease.is_some())
            .field("spooled", &self.spool.len())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// How the body is framed for the client.
    pub fn framing(&self) -> OutFraming {
        self.out
    }

    /// Writes `head` (empty when the protocol sends heads in its own framing, as HTTP/2 does)
    /// and then the body as it arrives; returns the body bytes relayed.
    /// `send_timeout` bounds each pause of the client, the idle timeout each of the instance.
    pub async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        client: &mut W,
        head: Vec<u8>,
        send_timeout: Duration,
    ) -> Result<u64, RelayError> {
        if !head.is_empty() {
            self.spool.push_front(Bytes::from(head));
        }
        let read_timer = tokio::time::sleep(self.idle);
        let write_timer = tokio::time::sleep(send_timeout);
        tokio::pin!(read_timer, write_timer);
        let (mut was_reading, mut was_writing) = (false, false);
        loop {
            self.spool.fill_front().await.map_err(RelayError::Spill)?;
            let reading = self.lease.is_some() && self.spool.has_room();
            let writing = !self.spool.is_empty();
            if !reading && !writing {
                return Ok(self.body_bytes);
            }
            // A timer runs only while its side is awaited; it restarts when that side resumes.
            if reading && !was_reading {
                read_timer.as_mut().reset(tokio::time::Instant::now() + self.idle);
            }
            if writing && !was_writing {
                write_timer.as_mut().reset(tokio::time::Instant::now() + send_timeout);
            }
            (was_reading, was_writing) = (reading, writing);
            let mut slices = [IoSlice::new(&[]); WRITE_PIECES];
            let pieces = self.spool.front(&mut slices);
            let (lease, decoder) = (&mut self.lease, &mut self.decoder);
            let read = async {
                let io = lease.as_mut().and_then(|l| l.io.as_mut()).expect("read only while the lease is held");
                decoder.next(io, None).await
            };
            // Writes first: a fast client keeps the spool near empty; a blocked one lets the read run.
            tokio::select! {
                biased;
                written = client.write_vectored(&slices[..pieces]), if writing => match written {
                    Ok(0) => return Err(RelayError::Client(std::io::ErrorKind::WriteZero.into())),
                    Ok(n) => {
                        self.spool.consume(n);
                        if self.spool.is_empty() {
                            // TLS keeps what a full socket did not take until flushed (TCP: no-op).
                            match tokio::time::timeout(send_timeout, client.flush()).await {
                                Ok(Ok(())) => {}
                                Ok(Err(error)) => return Err(RelayError::Client(error)),
                                Err(_) => return Err(RelayError::ClientTimeout { secs: send_timeout.as_secs() }),
                            }
                        }
                        write_timer.as_mut().reset(tokio::time::Instant::now() + send_timeout);
                    }
                    Err(error) => return Err(RelayError::Client(error)),
                },
                piece = read, if reading => match piece {
                    Ok(Some(data)) => {
                        self.push_body(data).await.map_err(RelayError::Spill)?;
                        read_timer.as_mut().reset(tokio::time::Instant::now() + self.idle);
                    }
                    Ok(None) => self.finish_upstream().await?,
                    Err(source) => return Err(RelayError::Upstream { backend: self.backend.clone(), source }),
                },
                () = write_timer.as_mut(), if writing => {
                    return Err(RelayError::ClientTimeout { secs: send_timeout.as_secs() });
                }
                () = read_timer.as_mut(), if reading => {
                    return Err(RelayError::UpstreamIdle { backend: self.backend.clone(), secs: self.idle.as_secs() });
                }
            }
        }
    }

    async fn push_body(&mut self, data: Bytes) -> std::io::Result<()> {
        if data.is_empty() {
            // An empty chunk would end a chunked body.
            return Ok(());
        }
        self.body_bytes += data.len() as u64;
        if let Some(capture) = &mut self.capture {
            if !capture.add(&data) {
                self.capture = None;
            }
        }
        self.frame(data).await
    }

    /// Queues one piece of body in the client's framing.
    async fn frame(&mut self, data: Bytes) -> std::io::Result<()> {
        if self.out != OutFraming::Chunked {
            return self.spool.push(data).await;
        }
        let size = Bytes::from(format!("{:x}\r\n", data.len()));
        self.spool.push(size).await?;
        self.spool.push(data).await?;
        self.spool.push(Bytes::from_static(b"\r\n")).await
    }

    /// The instance's body is complete: pool the connection now, end the client's framing.
    async fn finish_upstream(&mut self) -> Result<(), RelayError> {
        if let Some(lease) = self.lease.take() {
            lease.release(self.keep_alive, &self.settings);
        }
        self.metrics.upstream(self.started.elapsed());
        if let Some(capture) = self.capture.take() {
            capture.deliver();
        }
        if self.out == OutFraming::Chunked {
            self.spool.push(Bytes::from_static(b"0\r\n\r\n")).await.map_err(RelayError::Spill)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
