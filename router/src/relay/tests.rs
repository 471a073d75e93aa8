//! The relay against real loopback sockets: an instance written by hand (exact bytes,
//! exact pauses), the request sent by [`upstream::send`], the body relayed to a client
//! socket whose bytes are checked.

use std::net::SocketAddr;

use bytes::BytesMut;
use http::{HeaderMap, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::buffer::Buffered;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::upstream::queue::AppQueue;
use crate::upstream::{Backend, Outgoing};

/// An instance answering one request with `parts`, pausing 50 ms between them, then closing.
async fn instance(parts: Vec<&'static [u8]>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if conn.read(&mut byte).await.unwrap() == 0 {
                return;
            }
            head.push(byte[0]);
        }
        for part in parts {
            conn.write_all(part).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    addr
}

/// What one exchange gave: the body as `begin` returned it, and the client's bytes if streamed.
struct Outcome {
    whole: Option<Bytes>,
    client: Vec<u8>,
    framing: Option<OutFraming>,
}

async fn exchange(parts: Vec<&'static [u8]>, capture: Option<Capture>, client_http11: bool) -> Outcome {
    let addr = instance(parts).await;
    let settings = Config::for_tests("http://127.0.0.1:1", "/tmp".into()).upstream;
    let backends = [Backend::new(addr.to_string())];
    let (headers, body) = (HeaderMap::new(), Buffered::default());
    let request = Outgoing { method: &Method::GET, target: "/", headers: &headers, body: &body };
    let metrics = Metrics::default().app("app");
    let queue = AppQueue::new("app", metrics.clone());
    let first = queue.acquire(&backends, 0, &[], settings.queue_timeout()).await.unwrap();
    let (head, lease) = upstream::send(&backends, &queue, 0, &settings, &request, first).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = RelayEnv {
        settings: &settings,
        tmp_dir: dir.path(),
        metrics: &metrics,
        started: Instant::now(),
        client_http11,
    };
    let options = RelayOptions { capture, ..RelayOptions::default() };
    let relay = match begin(&head, lease, options, false, &env).await.unwrap() {
        Body::Whole(bytes) => return Outcome { whole: Some(bytes), client: Vec::new(), framing: None },
        Body::Stream(relay) => relay,
    };
    let framing = relay.framing();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut reader = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (mut writer, _) = listener.accept().await.unwrap();
    let mut relay = relay;
    let send = async move {
        relay.send(&mut writer, b"HEAD\r\n\r\n".to_vec(), Duration::from_secs(5)).await.unwrap();
    };
    let mut client = Vec::new();
    let read = reader.read_to_end(&mut client);
    let ((), read) = tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(send, read) }).await.unwrap();
    read.unwrap();
    Outcome { whole: None, client, framing: Some(framing) }
}

/// The data of a chunked body, decoded by the router's own strict decoder.
fn dechunk(framed: &[u8]) -> Vec<u8> {
    let (mut buf, mut decoder, mut data) = (BytesMut::from(framed), Decoder::new(Framing::Chunked), Vec::new());
    loop {
        match decoder.decode(&mut buf).unwrap() {
            Decoded::Data(piece) => data.extend_from_slice(&piece),
            Decoded::End => break,
            Decoded::NeedMore => panic!("chunked body ended early: {framed:?}"),
        }
    }
    assert!(buf.is_empty(), "bytes after the last chunk");
    data
}

const CHUNKED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: test\r\n\r\n";

#[tokio::test]
async fn streamed_body_is_rechunked_and_captured_whole() {
    let (capture, captured) = Capture::oneshot(1024);
    let parts = vec![CHUNKED_HEAD, b"5\r\nhello\r\n", b"6\r\n world\r\n0\r\n\r\n"];
    let outcome = exchange(parts, Some(capture), true).await;
    assert_eq!(outcome.framing, Some(OutFraming::Chunked));
    let body = outcome.client.strip_prefix(b"HEAD\r\n\r\n").expect("the head goes first");
    assert_eq!(dechunk(body), b"hello world");
    let captured = captured.await.expect("a body within the limit is delivered");
    assert_eq!((captured.status, &captured.body[..]), (StatusCode::OK, &b"hello world"[..]));
    assert_eq!(captured.headers["x-kind"], "test");
}

#[tokio::test]
async fn capture_is_dropped_past_its_limit_and_the_client_still_gets_everything() {
    let (capture, captured) = Capture::oneshot(8);
    let parts = vec![CHUNKED_HEAD, b"5\r\nhello\r\n", b"6\r\n world\r\n0\r\n\r\n"];
    let outcome = exchange(parts, Some(capture), true).await;
    assert_eq!(dechunk(&outcome.client[b"HEAD\r\n\r\n".len()..]), b"hello world");
    assert!(captured.await.is_err(), "an 11-byte body must not be captured with an 8-byte limit");
}

#[tokio::test]
async fn unknown_length_for_an_http10_client_ends_by_closing() {
    let parts = vec![b"HTTP/1.1 200 OK\r\n\r\nfirst " as &[u8], b"second"];
    let outcome = exchange(parts, None, false).await;
    assert_eq!(outcome.framing, Some(OutFraming::Close));
    assert_eq!(outcome.client, b"HEAD\r\n\r\nfirst second");
}

#[tokio::test]
async fn small_bodies_come_back_whole_and_captured() {
    let (capture, captured) = Capture::oneshot(1024);
    let parts = vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello" as &[u8], b" you!"];
    let outcome = exchange(parts, Some(capture), true).await;
    assert_eq!(outcome.whole.as_deref(), Some(&b"hello you!"[..]), "a body <= 64 KiB is read whole");
    assert_eq!(&captured.await.unwrap().body[..], b"hello you!");
}
