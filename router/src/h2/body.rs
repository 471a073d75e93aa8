//! A request body as HTTP/2 DATA frames, read through [`RequestBody`].
//!
//! Flow-control capacity is handed back as each frame is taken: the handler buffers the whole
//! body (memory, then a spill file, up to the body limit), so the window never needs to hold
//! the client back; the stream and connection windows bound what is in flight. The length is
//! checked against `Content-Length` here as well as by the h2 crate, so a mismatch always
//! fails the request before an instance sees it.

use std::future::poll_fn;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{Response, StatusCode};

use crate::error::BodyError;
use crate::http1::framing::Framing;
use crate::server::handler::RequestBody;

/// One stream's request body.
pub struct H2Body<'a> {
    recv: RecvStream,
    /// `Content-Length`, or `Some(0)` for a request that may carry no body (GET, HEAD).
    limit: Option<u64>,
    declared: Option<u64>,
    received: u64,
    done: bool,
    /// The response side, for `100 Continue` before the first read of a body the client holds back.
    respond: &'a Mutex<SendResponse<Bytes>>,
    continue_pending: bool,
    timeout: Duration,
}

impl<'a> H2Body<'a> {
    /// `framing` and `expect_continue` come from the validated head; `timeout` bounds each pause.
    pub fn new(
        recv: RecvStream,
        framing: Framing,
        declared: Option<u64>,
        expect_continue: bool,
        respond: &'a Mutex<SendResponse<Bytes>>,
        timeout: Duration,
    ) -> H2Body<'a> {
        let done = recv.is_end_stream();
        let limit = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        H2Body {
            recv,
            limit,
            declared,
            received: 0,
            done,
            respond,
            continue_pending: expect_continue && !done,
            timeout,
        }
    }

    fn send_continue(&mut self) {
        self.continue_pending = false;
        let interim = Response::builder().status(StatusCode::CONTINUE).body(()).expect("a bare status is valid");
        let mut respond = self.respond.lock().unwrap_or_else(|e| e.into_inner());
        // A client that reset the stream finds out from the read below.
        let _ = respond.send_informational(interim);
    }

    fn take(&mut self, data: Bytes) -> Result<Bytes, BodyError> {
        // Released at once: the body is buffered whole, the frame is ours now.
        let _ = self.recv.flow_control().release_capacity(data.len());
        self.received += data.len() as u64;
        match self.limit {
            Some(0) if self.declared.is_none() && self.received > 0 => {
                Err(BodyError::Malformed("GET or HEAD request with a body"))
            }
            Some(n) if self.received > n => Err(BodyError::Malformed("body longer than its Content-Length")),
            _ => Ok(data),
        }
    }
}

impl RequestBody for H2Body<'_> {
    fn declared_len(&self) -> Option<u64> {
        self.declared
    }

    fn is_done(&self) -> bool {
        self.done
    }

    async fn next(&mut self) -> Result<Option<Bytes>, BodyError> {
        if self.done {
            return Ok(None);
        }
        if self.continue_pending {
            self.send_continue();
        }
        let frame = tokio::time::timeout(self.timeout, poll_fn(|cx| self.recv.poll_data(cx)))
            .await
            .map_err(|_| BodyError::Timeout)?;
        match frame {
            Some(Ok(data)) => self.take(data).map(Some),
            Some(Err(error)) => Err(stream_error(&error)),
            None => {
                self.done = true;
                match self.limit {
                    Some(n) if self.received < n => Err(BodyError::Malformed("body shorter than its Content-Length")),
                    _ => Ok(None),
                }
            }
        }
    }
}

/// A broken body: the client gave up (reset, connection gone) or broke the rules (the h2
/// crate resets a stream whose DATA disagrees with its `Content-Length`).
fn stream_error(error: &h2::Error) -> BodyError {
    match error.reason() {
        Some(h2::Reason::NO_ERROR | h2::Reason::CANCEL) if error.is_remote() => BodyError::Closed,
        Some(h2::Reason::PROTOCOL_ERROR) => BodyError::Malformed("malformed HTTP/2 request body"),
        _ if error.is_io() || error.is_go_away() => BodyError::Closed,
        _ => BodyError::Malformed("HTTP/2 stream error in the request body"),
    }
}
