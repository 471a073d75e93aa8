//! Responses are relayed as they arrive: the first byte is not held back for the whole
//! body, events go out one by one, any size goes through (spooled, then back-pressure),
//! and the instance's connection is pooled while a slow client is still reading.
//!
//! The instance here is a hand-written HTTP/1.1 server on loopback so framing, timing
//! and bodies (generated on the fly, never stored) are exact.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::*;

const MIB: u64 = 1024 * 1024;

// === A hand-written instance ===

/// What the instance did, per request path.
#[derive(Debug, Default)]
struct Log {
    /// `(path, peer port)` in arrival order: equal ports mean one reused connection.
    requests: Vec<(String, u16)>,
    /// Body bytes written so far, by path.
    written: HashMap<String, u64>,
    /// Paths whose response was written completely.
    finished: Vec<String>,
}

/// Serves, with keep-alive:
/// `/bytes/<n>` (Content-Length, `n` pattern bytes), `/chunked/<n>` (chunked), `/accel/<n>`
/// (Content-Length plus `X-Accel-Buffering: no`), `/sse/event-stream` and `/sse/accel` (five
/// events 300 ms apart; chunked, resp. close-delimited), `/status/204`, `/stall` (ten bytes of
/// the body, then nothing), `/fast`.
struct Instance {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Instance {
    async fn start() -> Instance {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Log>> = Arc::default();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { return };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, peer.port(), task_log.clone()));
            }
        });
        Instance { addr, log, task }
    }

    fn log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.lock().unwrap())
    }

    /// Waits (up to 3 s) until the response to a path starting with `prefix` was written whole.
    async fn wait_finished(&self, prefix: &str) -> bool {
        for _ in 0..60 {
            if self.log(|l| l.finished.iter().any(|p| p.starts_with(prefix))) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// `pattern(i)` is the byte at offset `i` of every generated body.
fn pattern(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// 251 KiB of pattern: a whole number of periods, so writing it repeatedly continues the pattern.
fn pattern_block() -> Vec<u8> {
    (0..251 * 1024).map(pattern).collect()
}

async fn serve(mut stream: TcpStream, port: u16, log: Arc<Mutex<Log>>) {
    let block = pattern_block();
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_until_blank_line(&mut stream, &mut buf).await else { return };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut words = head.split(' ');
        let (method, path) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
        log.lock().unwrap().requests.push((path.clone(), port));
        let keep = respond(&mut stream, &method, &path, &block, &log).await;
        if !matches!(keep, Ok(true)) {
            return;
        }
        log.lock().unwrap().finished.push(path);
    }
}

/// Reads until `buf` holds a complete head; returns its length (`None`: the peer left).
async fn read_until_blank_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Writes one response; `Ok(false)` when the connection must close after it.
async fn respond(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    block: &[u8],
    log: &Mutex<Log>,
) -> std::io::Result<bool> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (kind, arg) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let n: u64 = arg.parse().unwrap_or(0);
    let body = method != "HEAD";
    match kind {
        "bytes" | "accel" => {
            let accel = if kind == "accel" { "X-Accel-Buffering: no\r\n" } else { "" };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n{accel}Content-Type: application/octet-stream\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            if body {
                write_pattern(stream, path, n, block, log, false).await?;
            }
        }
        "chunked" => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await?;
            write_pattern(stream, path, n, block, log, true).await?;
            stream.write_all(b"0\r\n\r\n").await?;
        }
        "sse" => {
            let (headers, chunked) = match arg {
                "accel" => ("Content-Type: text/plain\r\nX-Accel-Buffering: no\r\nConnection: close\r\n", false),
                _ => (
                    "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n",
                    true,
                ),
            };
            stream.write_all(format!("HTTP/1.1 200 OK\r\n{headers}\r\n").as_bytes()).await?;
            for i in 0..5 {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let event = format!("data: event {i}\n\n");
                let framed = if chunked { format!("{:x}\r\n{event}\r\n", event.len()) } else { event };
                stream.write_all(framed.as_bytes()).await?;
            }
            if !chunked {
                return Ok(false);
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
        "status" => stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await?,
        "stall" => {
            // Ten bytes of a hundred thousand, then silence.
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789").await?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(false);
        }
        _ => stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await?,
    }
    Ok(true)
}

/// Writes `n` pattern bytes (as chunks when `chunked`), noting progress in the log.
async fn write_pattern(
    stream: &mut TcpStream,
    path: &str,
    n: u64,
    block: &[u8],
    log: &Mutex<Log>,
    chunked: bool,
) -> std::io::Result<()> {
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        if chunked {
            stream.write_all(format!("{take:x}\r\n").as_bytes()).await?;
        }
        stream.write_all(&block[..take]).await?;
        if chunked {
            stream.write_all(b"\r\n").await?;
        }
        left -= take as u64;
        *log.lock().unwrap().written.entry(path.to_owned()).or_default() = n - left;
    }
    Ok(())
}

// === Client side ===

/// A router in front of `instance` as app `web` at `web.test`.
async fn setup(
    instance: &Instance,
    tune: impl FnOnce(&mut paas_router::Config),
) -> (FakeApi, tempfile::TempDir, paas_router::Running) {
    let mut entry = app("web", &["web.test"], &[]);
    entry.backends.push(backend_entry(&instance.addr.to_string()));
    let api = FakeApi::start(table(1, vec![entry])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), tune).await;
    wait_for_version(&router, 1).await;
    (api, dir, router)
}

/// Sends `GET path` and returns the connection once the first response byte arrived, the
/// time that took, and the bytes read so far.
async fn first_byte(addr: SocketAddr, host: &str, path: &str) -> (TcpStream, Duration, Vec<u8>) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await.unwrap().unwrap();
    assert!(n > 0, "closed before the first byte");
    buf.truncate(n);
    (stream, started.elapsed(), buf)
}

/// Reads to the end, returning how many bytes came (bounded by `limit` in time).
async fn count_to_end(stream: &mut TcpStream, limit: Duration) -> u64 {
    let mut buf = vec![0u8; 1024 * 1024];
    let mut total = 0u64;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) => return total,
            Ok(Ok(n)) => total += n as u64,
            Ok(Err(e)) => panic!("read failed after {total} bytes: {e}"),
            Err(_) => panic!("not done within {limit:?} ({total} bytes)"),
        }
    }
}

/// Splits a response at its blank line: (head text, body bytes so far).
fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head in the first read") + 4;
    (String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase(), &raw[end..])
}

/// Resident memory of this test process (the router runs in it), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

// === Tests ===

#[tokio::test]
async fn time_to_first_byte_of_a_large_download_matches_direct() {
    const SIZE: u64 = 200 * MIB;
    let instance = Instance::start().await;
    let (_api, _dir, router) = setup(&instance, |_| {}).await;
    let path = format!("/bytes/{SIZE}");

    let (direct, direct_ttfb, _) = first_byte(instance.addr, "web.test", &path).await;
    drop(direct);
    let (mut proxied, ttfb, first) = first_byte(router.addr, "web.test", &path).await;
    let started = Instant::now();
    let (head, body) = split_head(&first);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {SIZE}")), "the instance's length is kept: {head}");
    let rest = count_to_end(&mut proxied, Duration::from_secs(60)).await;
    let download = ttfb + started.elapsed();
    assert_eq!(body.len() as u64 + rest, SIZE);
    assert!(ttfb < direct_ttfb + Duration::from_millis(50), "router {ttfb:?} vs direct {direct_ttfb:?}");
    assert!(ttfb * 10 < download, "first byte after {ttfb:?} of a {download:?} download");
    eprintln!("200 MiB: first byte direct {direct_ttfb:?}, through the router {ttfb:?}; whole download {download:?}");
    router.shutdown().await;
}

/// Reads `stream` until it ends, noting when each `data: event <i>` line arrived.
async fn event_arrivals(mut stream: TcpStream, mut seen: Vec<u8>, started: Instant) -> (String, Vec<Duration>) {
    let mut arrivals = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(i) = (arrivals.len() < 5).then(|| format!("data: event {}\n", arrivals.len())) {
            if !seen.windows(i.len()).any(|w| w == i.as_bytes()) {
                break;
            }
            arrivals.push(started.elapsed());
        }
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("stream stalled") {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    (split_head(&seen).0, arrivals)
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one() {
    let instance = Instance::start().await;
    // A stream outlives the response timeout: that bounds only the time to the head.
    let (_api, _dir, router) = setup(&instance, |c| c.upstream.response_timeout_secs = 1).await;
    for kind in ["event-stream", "accel"] {
        let started = Instant::now();
        let (stream, _, first) = first_byte(router.addr, "web.test", &format!("/sse/{kind}")).await;
        let (head, arrivals) = event_arrivals(stream, first, started).await;
        assert_eq!(arrivals.len(), 5, "{kind}: all five events arrive ({head})");
        assert!(arrivals[0] < Duration::from_millis(250), "{kind}: first event after {:?}", arrivals[0]);
        for pair in arrivals.windows(2) {
            assert!(pair[1] - pair[0] > Duration::from_millis(150), "{kind}: events bunched up: {arrivals:?}");
        }
        assert!(head.contains("transfer-encoding: chunked"), "{kind}: {head}");
        assert!(!head.contains("x-accel-buffering"), "{kind}: the proxy's header is not passed on: {head}");
    }
    router.shutdown().await;
}

#[tokio::test]
async fn x_accel_buffering_no_reads_no_further_ahead_than_the_client() {
    const SIZE: u64 = 64 * MIB;
    let instance = Instance::start().await;
    let (_api, _dir, router) = setup(&instance, |_| {}).await;
    // Both clients read the head and then nothing for a while.
    let (mut buffered, _, first) = first_byte(router.addr, "web.test", &format!("/bytes/{SIZE}")).await;
    let (mut unbuffered, _, first_unbuffered) = first_byte(router.addr, "web.test", &format!("/accel/{SIZE}")).await;
    assert!(instance.wait_finished("/bytes/").await, "a buffered response is read whole ahead of an idle client");
    let ahead = instance.log(|l| l.written.get(&format!("/accel/{SIZE}")).copied().unwrap_or(0));
    assert!(ahead < SIZE / 2, "an unbuffered response was read {ahead} bytes ahead of its idle client");
    eprintln!(
        "64 MiB to an idle client: buffered read whole, unbuffered {} MiB ahead (socket buffers included)",
        ahead / MIB
    );
    let got = split_head(&first).1.len() as u64 + count_to_end(&mut buffered, Duration::from_secs(30)).await;
    assert_eq!(got, SIZE);
    let got =
        split_head(&first_unbuffered).1.len() as u64 + count_to_end(&mut unbuffered, Duration::from_secs(30)).await;
    assert_eq!(got, SIZE);
    router.shutdown().await;
}

#[tokio::test]
async fn three_gigabytes_stream_through_with_bounded_memory() {
    const SIZE: u64 = 3_000_000_000;
    let instance = Instance::start().await;
    // A small spill file so the client's pause fills it and back-pressure holds the rest.
    let (_api, _dir, router) = setup(&instance, |c| c.upstream.response_file_bytes = 64 * MIB).await;
    let before = rss();
    let (mut stream, _, first) = first_byte(router.addr, "web.test", &format!("/bytes/{SIZE}")).await;
    let (head, body) = split_head(&first);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let written = instance.log(|l| l.written.values().copied().max().unwrap_or(0));
    assert!(written < SIZE / 4, "back-pressure: the instance got {written} bytes ahead");
    eprintln!(
        "3 GB, client paused 1 s: the instance got {} MiB ahead (1 MiB memory + 64 MiB file spool)",
        written / MIB
    );
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss()));
    let sampled = peak.clone();
    let sampler = tokio::spawn(async move {
        for _ in 0..1200 {
            sampled.fetch_max(rss(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let started = Instant::now();
    let total = body.len() as u64 + count_to_end(&mut stream, Duration::from_secs(60)).await;
    let took = started.elapsed();
    sampler.abort();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed).max(rss());
    assert_eq!(total, SIZE, "every byte arrives");
    let grown = peak.saturating_sub(before);
    assert!(grown < 256 * MIB, "memory grew by {grown} bytes for a {SIZE}-byte response");
    eprintln!(
        "3 GB through the router in {took:?} ({:.0} MB/s); RSS grew {} MiB",
        SIZE as f64 / took.as_secs_f64() / 1e6,
        grown / MIB
    );
    router.shutdown().await;
}

#[tokio::test]
async fn the_instance_connection_is_pooled_while_a_slow_client_still_reads() {
    const SIZE: u64 = 5 * MIB;
    let instance = Instance::start().await;
    let (_api, _dir, router) = setup(&instance, |_| {}).await;
    let path = format!("/bytes/{SIZE}");
    let (mut lazy, _, first) = first_byte(router.addr, "web.test", &path).await;
    assert!(instance.wait_finished(&path).await, "the instance finished writing while the client read nothing");
    // The router still has to read those last bytes off the socket before it pools the
    // connection; under load (CI builds beside it) that can take a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Still reading: only the first read is in. Another request reuses the instance's connection.
    assert!((first.len() as u64) < SIZE / 4);
    let answer = get(router.addr, "web.test", "/fast").await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "ok"));
    let requests = instance.log(|l| l.requests.clone());
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].1, requests[1].1, "/fast went over the pooled connection: {requests:?}");
    let total = split_head(&first).1.len() as u64 + count_to_end(&mut lazy, Duration::from_secs(20)).await;
    assert_eq!(total, SIZE);
    router.shutdown().await;
}

/// Reads one response off a keep-alive connection: (lowercased head, body), following
/// Content-Length, chunked framing, or (`until_close`) the end of the connection.
async fn read_one(stream: &mut TcpStream, buf: &mut Vec<u8>, head_request: bool) -> (String, Vec<u8>) {
    let end = tokio::time::timeout(Duration::from_secs(10), read_until_blank_line(stream, buf))
        .await
        .unwrap()
        .expect("a head");
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    buf.drain(..end);
    let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned));
    let mut fill = async |buf: &mut Vec<u8>| {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.unwrap().unwrap();
        buf.extend_from_slice(&chunk[..n]);
        n
    };
    let bodiless = head_request || head.starts_with("http/1.1 204") || head.starts_with("http/1.1 304");
    let mut body = Vec::new();
    if bodiless {
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().unwrap();
        while buf.len() < len {
            assert!(fill(buf).await > 0, "closed mid-body");
        }
        body = buf.drain(..len).collect();
    } else if header("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                assert!(fill(buf).await > 0, "closed mid-chunk");
            };
            let size = usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
            while buf.len() < line_end + 2 + size + 2 {
                assert!(fill(buf).await > 0, "closed mid-chunk");
            }
            body.extend_from_slice(&buf[line_end + 2..line_end + 2 + size]);
            assert_eq!(&buf[line_end + 2 + size..line_end + 4 + size], b"\r\n");
            buf.drain(..line_end + 4 + size);
            if size == 0 {
                break;
            }
        }
    } else {
        while fill(buf).await > 0 {}
        body = std::mem::take(buf);
    }
    (head, body)
}

fn is_pattern(body: &[u8]) -> bool {
    body.iter().enumerate().all(|(i, b)| *b == pattern(i as u64))
}

#[tokio::test]
async fn framing_to_the_client_follows_the_instance_and_the_client_version() {
    let instance = Instance::start().await;
    // Tiny spool: the chunked body spills to the file on its way.
    let (_api, _dir, router) = setup(&instance, |c| c.upstream.response_memory_bytes = 16 * 1024).await;
    let mut conn = TcpStream::connect(router.addr).await.unwrap();
    let mut buf = Vec::new();
    let requests = "GET /chunked/3000000 HTTP/1.1\r\nHost: web.test\r\n\r\n\
                    GET /bytes/300000 HTTP/1.1\r\nHost: web.test\r\n\r\n\
                    HEAD /bytes/300000 HTTP/1.1\r\nHost: web.test\r\n\r\n\
                    GET /status/204 HTTP/1.1\r\nHost: web.test\r\n\r\n\
                    GET /fast HTTP/1.1\r\nHost: web.test\r\n\r\n";
    // One request at a time on one keep-alive connection.
    let mut expect = Vec::new();
    for request in requests.split_inclusive("\r\n\r\n") {
        conn.write_all(request.as_bytes()).await.unwrap();
        let response = read_one(&mut conn, &mut buf, request.starts_with("HEAD")).await;
        expect.push(response);
    }
    let (head, body) = &expect[0];
    assert!(head.contains("transfer-encoding: chunked") && !head.contains("content-length"), "{head}");
    assert!(head.contains("connection: keep-alive"), "{head}");
    assert!(body.len() == 3_000_000 && is_pattern(body), "chunked body intact ({} bytes)", body.len());
    let (head, body) = &expect[1];
    assert!(head.contains("content-length: 300000"), "{head}");
    assert!(body.len() == 300_000 && is_pattern(body));
    let (head, body) = &expect[2];
    assert!(head.contains("content-length: 300000") && body.is_empty(), "HEAD keeps the declared length: {head}");
    let (head, body) = &expect[3];
    assert!(head.starts_with("http/1.1 204") && !head.contains("content-length") && body.is_empty(), "{head}");
    assert_eq!(expect[4].1, b"ok");
    assert_eq!(instance.log(|l| l.requests.len()), 5);

    // HTTP/1.0 has no chunked framing: the body ends with the connection.
    let mut old = TcpStream::connect(router.addr).await.unwrap();
    old.write_all(b"GET /chunked/200000 HTTP/1.0\r\nHost: web.test\r\nConnection: keep-alive\r\n\r\n").await.unwrap();
    let (head, body) = read_one(&mut old, &mut Vec::new(), false).await;
    assert!(!head.contains("transfer-encoding") && !head.contains("content-length"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(body.len() == 200_000 && is_pattern(&body));
    router.shutdown().await;
}

#[tokio::test]
async fn no_route_table_yet_is_503_with_retry_after_and_unknown_hosts_stay_404_after() {
    let backend = TestBackend::start("web").await;
    // The API is not there yet (a reserved, closed port).
    let api_addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let router = router(&format!("http://{api_addr}"), dir.path(), |_| {}).await;
    let answer = get(router.addr, "web.test", "/").await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after").as_deref(), Some("5"));
    assert!(answer.text().contains("has not loaded its routes yet"), "{}", answer.text());
    assert!(backend.seen().is_empty());

    let api = FakeApi::start_on(api_addr, table(4, vec![app("web", &["web.test"], &[&backend])])).await;
    for _ in 0..250 {
        if router.state.table.load().version == Some(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(router.state.table.load().version, Some(4), "the table never loaded");
    assert_eq!(get(router.addr, "web.test", "/").await.status, 200);
    let unknown = get(router.addr, "nobody.test", "/").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.header("retry-after").is_none());
    router.shutdown().await;
    api.stop();
}

/// Reads until the connection ends or fails; returns the bytes and when that happened.
async fn read_until_cut(stream: &mut TcpStream, limit: Duration) -> (u64, Duration) {
    let started = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await.expect("never cut off") {
            Ok(0) | Err(_) => return (total, started.elapsed()),
            Ok(n) => total += n as u64,
        }
    }
}

#[tokio::test]
async fn a_silent_instance_and_a_client_that_stops_reading_are_each_cut_off() {
    let instance = Instance::start().await;
    let (_api, _dir, router) = setup(&instance, |c| {
        c.upstream.read_timeout_secs = 1;
        c.limits.client_send_timeout_secs = 1;
    })
    .await;
    // The instance goes quiet mid-body: after the idle timeout the client's connection closes.
    let (mut stalled, _, first) = first_byte(router.addr, "web.test", "/stall").await;
    let (more, after) = read_until_cut(&mut stalled, Duration::from_secs(5)).await;
    assert_eq!(split_head(&first).1.len() as u64 + more, 10, "only what the instance sent");
    assert!(after >= Duration::from_millis(800) && after < Duration::from_secs(3), "cut after {after:?}");

    // A client that reads nothing of a large response is dropped after the send timeout.
    const SIZE: u64 = 256 * MIB;
    let (mut idle, _, _) = first_byte(router.addr, "web.test", &format!("/bytes/{SIZE}")).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (got, _) = read_until_cut(&mut idle, Duration::from_secs(10)).await;
    assert!(got < SIZE / 2, "an idle client was kept: {got} bytes still came");
    router.shutdown().await;
}
