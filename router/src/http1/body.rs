//! Reads a message body off a connection (client requests, instance responses):
//! fixed length, until close, or strictly decoded chunks.
//!
//! The chunk decoder is strict on purpose (hex digits only, CRLF everywhere, no
//! obs-fold in trailers): a lenient decoder in front of a differently lenient
//! backend is how request smuggling happens. Trailers are read and dropped.
//!
//! [`Decoder`] is the framing state alone; [`BodyReader`] pairs it with a client
//! connection (and `100 Continue`).

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::error::BodyError;
use crate::http1::framing::Framing;
use crate::http1::io::ClientIo;

/// Longest chunk-size line or trailer section accepted.
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy)]
enum State {
    Length(u64),
    UntilClose,
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
    Done,
}

/// What [`Decoder::decode`] found in the bytes already read.
#[derive(Debug)]
pub enum Decoded {
    /// The next piece of body data.
    Data(Bytes),
    /// The body (and its trailers) is complete.
    End,
    /// More bytes must be read first.
    NeedMore,
}

/// The framing state of one body, apart from the connection it is read from, so a
/// response relay can own the decoder and the upstream connection side by side.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
}

impl Decoder {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size,
            Framing::UntilClose => State::UntilClose,
        };
        Decoder { state }
    }

    /// Whether the whole body (and trailers) has been consumed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The declared length, when the body is not chunked.
    pub fn declared_len(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Takes the next piece of body from `buf` without reading the socket.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, BodyError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::End),
                State::UntilClose | State::Length(_) | State::Data(_) if buf.is_empty() => {
                    return Ok(Decoded::NeedMore)
                }
                State::UntilClose => return Ok(Decoded::Data(buf.split().freeze())),
                State::Length(n) | State::Data(n) => {
                    let take = n.min(buf.len() as u64);
                    let chunk = buf.split_to(take as usize).freeze();
                    let left = n - take;
                    self.state = match self.state {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::DataEnd,
                        _ => State::Data(left),
                    };
                    return Ok(Decoded::Data(chunk));
                }
                State::Size => {
                    let Some(line) = line(buf, MAX_LINE)? else { return Ok(Decoded::NeedMore) };
                    let size = chunk_size(&line)?;
                    self.state = if size == 0 { State::Trailers(0) } else { State::Data(size) };
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(BodyError::Malformed("missing CRLF after chunk data"));
                    }
                    buf.advance(2);
                    self.state = State::Size;
                }
                State::Trailers(seen) => {
                    let Some(line) = line(buf, MAX_LINE)? else { return Ok(Decoded::NeedMore) };
                    self.state = trailer(&line, seen)?;
                }
            }
        }
    }

    /// The next piece of body data read from `io`, `None` at the end. `timeout` bounds each
    /// read; `None` when the caller bounds the whole body. Cancel-safe: bytes read before a
    /// cancellation stay in `io.buf` and the state only moves on with consumed bytes.
    pub async fn next<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut ClientIo<S>,
        timeout: Option<Duration>,
    ) -> Result<Option<Bytes>, BodyError> {
        loop {
            match self.decode(&mut io.buf)? {
                Decoded::Data(data) => return Ok(Some(data)),
                Decoded::End => return Ok(None),
                Decoded::NeedMore => {
                    if io.read_more(timeout).await? == 0 {
                        return match self.state {
                            State::UntilClose => {
                                self.state = State::Done;
                                Ok(None)
                            }
                            _ => Err(BodyError::Closed),
                        };
                    }
                }
            }
        }
    }
}

/// Takes one CRLF-terminated line (without the CRLF) from `buf`; `None` until it is complete.
fn line(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, BodyError> {
    match buf.iter().position(|b| *b == b'\n') {
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            if i == 0 || line[i - 1] != b'\r' {
                return Err(BodyError::Malformed("bare LF"));
            }
            line.truncate(i - 1);
            Ok(Some(line.freeze()))
        }
        None if buf.len() > max => Err(BodyError::Malformed("line too long")),
        None => Ok(None),
    }
}

/// Yields the body of one request, then leaves the connection positioned at the next request.
pub struct BodyReader<'a, S = tokio::net::TcpStream> {
    io: &'a mut ClientIo<S>,
    decoder: Decoder,
    timeout: Option<Duration>,
    /// `100 Continue` still owed before the first socket read.
    continue_pending: bool,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin + Send> BodyReader<'a, S> {
    /// `timeout` bounds each pause; `None` when the caller bounds the whole read.
    pub fn new(io: &'a mut ClientIo<S>, framing: Framing, timeout: Option<Duration>, expect_continue: bool) -> Self {
        let decoder = Decoder::new(framing);
        // A client that already started sending its body needs no invitation.
        let continue_pending = expect_continue && io.buf.is_empty() && !decoder.is_done();
        BodyReader { io, decoder, timeout, continue_pending }
    }

    /// Whether the whole body (and trailers) has been consumed.
    pub fn is_done(&self) -> bool {
        self.decoder.is_done()
    }

    /// The declared length, when the body is not chunked.
    pub fn declared_len(&self) -> Option<u64> {
        self.decoder.declared_len()
    }

    /// The next piece of body data, `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, BodyError> {
        // Owed only while nothing of the body was buffered, so the first decode needs a read anyway.
        if self.continue_pending {
            self.continue_pending = false;
            self.io.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.map_err(BodyError::Io)?;
        }
        self.decoder.next(self.io, self.timeout).await
    }
}

/// Parses `1*HEXDIG [ ";" chunk-ext ]`.
fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let (digits, ext) = match line.iter().position(|b| *b == b';') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(BodyError::Malformed("invalid chunk size"));
    }
    if ext.iter().any(|b| b.is_ascii_control() && *b != b'\t') {
        return Err(BodyError::Malformed("invalid chunk extension"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| BodyError::Malformed("invalid chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| BodyError::Malformed("invalid chunk size"))
}

/// Checks one trailer line; an empty line ends the body.
fn trailer(line: &[u8], seen: usize) -> Result<State, BodyError> {
    if line.is_empty() {
        return Ok(State::Done);
    }
    let seen = seen + line.len();
    let folded = matches!(line.first(), Some(b' ' | b'\t'));
    let bad_bytes = line.iter().any(|b| b.is_ascii_control() && *b != b'\t');
    if folded || bad_bytes || !line.contains(&b':') || seen > MAX_TRAILERS {
        return Err(BodyError::Malformed("invalid trailer"));
    }
    Ok(State::Trailers(seen))
}

#[cfg(test)]
pub(crate) mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"0;name=value").unwrap(), 0);
        assert!(chunk_size(b"").is_err());
        assert!(chunk_size(b" 5").is_err());
        assert!(chunk_size(b"5 ").is_err());
        assert!(chunk_size(b"-1").is_err());
        assert!(chunk_size(b"0x5").is_err());
        assert!(chunk_size(b"ffffffffffffffffff").is_err());
    }

    #[test]
    fn trailers() {
        assert!(matches!(trailer(b"", 0), Ok(State::Done)));
        assert!(matches!(trailer(b"X-A: b", 0), Ok(State::Trailers(6))));
        assert!(trailer(b" folded", 0).is_err());
        assert!(trailer(b"nocolon", 0).is_err());
    }
}
