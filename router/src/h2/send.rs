//! A reply on an HTTP/2 stream: the head as a HEADERS frame, the body through an
//! [`AsyncWrite`] over the stream so the HTTP/1 body writers and the relay serve HTTP/2 too.
//!
//! The writer hands out only the send capacity the h2 crate grants (stream and connection
//! windows, capped by the connection's send buffer), so a slow client holds back the writer
//! the way a full socket does on HTTP/1: the relay's spool then reads the instance ahead and
//! its send timeout bounds each pause.

use std::io;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use h2::SendStream;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response};
use tokio::io::AsyncWrite;

use crate::relay::OutFraming;
use crate::server::head::CONNECTION_SPECIFIC;
use crate::server::reply::{self, ClientWrite, Reply};

/// Most bytes asked for at once: about one spool write's worth.
const RESERVE: usize = 256 * 1024;

/// The response head for `reply`, with the body's length as the HTTP/1 writer would declare it.
pub fn head(method: &Method, reply: &Reply) -> Response<()> {
    let mut headers = HeaderMap::with_capacity(reply.headers.len() + 2);
    for (name, value) in &reply.headers {
        let replaced = name == header::CONTENT_LENGTH || name == header::DATE;
        // The h2 crate refuses to send connection-specific fields (any `TE` on a response).
        let connection_specific = CONNECTION_SPECIFIC.contains(&name.as_str()) || name == header::TE;
        if !replaced && !connection_specific {
            headers.append(name, value.clone());
        }
    }
    headers.insert(header::DATE, reply::date());
    if reply::has_body(reply.status) {
        // A HEAD reply carries the length the app declared for the GET.
        let declared = reply.headers.get(header::CONTENT_LENGTH).filter(|_| *method == Method::HEAD);
        match (declared, reply.body.framing()) {
            (Some(v), _) => drop(headers.insert(header::CONTENT_LENGTH, v.clone())),
            (None, OutFraming::Length(n)) => drop(headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n))),
            (None, _) => {}
        }
    }
    let mut response = Response::new(());
    *response.status_mut() = reply.status;
    *response.headers_mut() = headers;
    response
}

/// Whether DATA frames follow the head.
pub fn has_body(method: &Method, reply: &Reply) -> bool {
    *method != Method::HEAD && reply::has_body(reply.status) && reply.body.framing() != OutFraming::Length(0)
}

/// Writes into a stream's DATA frames as send capacity allows. Shared with whoever watches the
/// stream for a reset (a `Mutex` only to lend it to two futures of one task; never contended).
pub struct StreamWriter<'a> {
    tx: &'a Mutex<SendStream<Bytes>>,
}

impl<'a> StreamWriter<'a> {
    pub fn new(tx: &'a Mutex<SendStream<Bytes>>) -> StreamWriter<'a> {
        StreamWriter { tx }
    }

    fn lock(&self) -> MutexGuard<'a, SendStream<Bytes>> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for send capacity for up to `want` bytes; returns how much there is.
    fn poll_room(&self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        let mut tx = self.lock();
        loop {
            let room = tx.capacity();
            if room > 0 {
                return Poll::Ready(Ok(room.min(want)));
            }
            tx.reserve_capacity(want.min(RESERVE));
            match ready!(tx.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(error)) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, error))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    fn send(&self, data: Bytes) -> io::Result<()> {
        self.lock().send_data(data, false).map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e))
    }
}

/// DATA frames are not the socket: files are copied in, never `sendfile`d.
impl ClientWrite for StreamWriter<'_> {}

impl AsyncWrite for StreamWriter<'_> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(self.poll_room(cx, buf.len()))?;
        self.send(Bytes::copy_from_slice(&buf[..n]))?;
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        // The relay's spool pieces go out as one DATA payload, not one frame per piece.
        let room = ready!(self.poll_room(cx, total))?;
        let mut data = BytesMut::with_capacity(room);
        for buf in bufs {
            let take = buf.len().min(room - data.len());
            data.extend_from_slice(&buf[..take]);
            if data.len() == room {
                break;
            }
        }
        let n = data.len();
        self.send(data.freeze())?;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection task writes frames as soon as they are queued.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.lock().send_data(Bytes::new(), true).map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e)))
    }
}
