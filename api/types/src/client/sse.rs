//! Server-sent event streams (`text/event-stream`) whose events carry JSON
//! in `data:`, such as `GET /v1/apps/{app}/logs/stream`.

use std::collections::VecDeque;
use std::marker::PhantomData;

use reqwest::Response;
use serde::de::DeserializeOwned;

use super::connection::Connection;
use super::error::ClientError;

/// A stream of events decoded as `T`; it ends when the server closes it.
pub struct Events<T> {
    response: Response,
    connection: Connection,
    path: String,
    decoder: SseDecoder,
    ready: VecDeque<String>,
    _item: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Events<T> {
    pub(crate) fn new(connection: Connection, response: Response) -> Events<T> {
        let path = response.url().path().to_owned();
        Events {
            response,
            connection,
            path,
            decoder: SseDecoder::default(),
            ready: VecDeque::new(),
            _item: PhantomData,
        }
    }

    /// The next event; `None` once the stream has ended. An event whose data
    /// is not a `T` is a [`ClientError::Decode`], and the stream goes on.
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        loop {
            if let Some(data) = self.ready.pop_front() {
                let path = self.path.clone();
                return Some(serde_json::from_str(&data).map_err(|source| ClientError::Decode { path, source }));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.ready.extend(self.decoder.feed(&chunk)),
                Ok(None) => return None,
                Err(source) => return Some(Err(self.connection.unreachable(source))),
            }
        }
    }
}

/// Splits an event stream into the `data` of each event (the SSE framing:
/// lines, `field: value`, a blank line ends an event, `:` starts a comment).
#[derive(Debug, Default)]
struct SseDecoder {
    /// Bytes of a line not ended yet (a chunk may end mid-line, even mid-character).
    partial: Vec<u8>,
    data: Option<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of each event they complete.
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                events.extend(self.data.take());
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            if field == "data" {
                let value = value.strip_prefix(' ').unwrap_or(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                }
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::SseDecoder;

    #[test]
    fn events_end_at_blank_lines_and_survive_any_chunking() {
        let stream =
            ": keep-alive\n\ndata: {\"a\":1}\n\nevent: x\r\ndata:{\"b\":\"é\"}\r\n\r\ndata: one\ndata: two\n\n";
        let whole = SseDecoder::default().feed(stream.as_bytes());
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\"é\"}", "one\ntwo"]);
        for size in 1..8 {
            let mut decoder = SseDecoder::default();
            let events: Vec<String> = stream.as_bytes().chunks(size).flat_map(|c| decoder.feed(c)).collect();
            assert_eq!(events, whole, "chunks of {size} bytes");
        }
    }

    #[test]
    fn an_unfinished_event_is_not_emitted() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.feed(b"data: half").is_empty());
        assert!(decoder.feed(b"\n").is_empty());
        assert_eq!(decoder.feed(b"\n"), ["half"]);
    }
}
