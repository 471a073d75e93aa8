//! HTTP/2 over TLS: a TLS listener set up here (ALPN `h2`, a certificate made for the test)
//! hands each connection to `paas_router::h2::serve` with the router's real `Proxy`, route
//! table and instances. Clients: the h2 crate, hand-written frames for what a correct client
//! cannot send, and `curl --http2`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use paas_router::proxy::Proxy;
use paas_router::server::conn::ConnSettings;
use paas_router::server::handler::ConnInfo;
use paas_router::Running;
use paas_types::routing::RouteApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{client::TlsStream, TlsAcceptor, TlsConnector};

use crate::support::*;

const HOST: &str = "h2.test";
const MIB: usize = 1024 * 1024;

// === Harness: the router's proxy behind a TLS listener that speaks only h2 ===

struct H2Router {
    addr: SocketAddr,
    router: Running,
    cert: CertificateDer<'static>,
    cert_pem: String,
    _api: FakeApi,
    _dir: tempfile::TempDir,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for H2Router {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl H2Router {
    async fn start(apps: Vec<RouteApp>, api: FakeApi, tune: impl FnOnce(&mut paas_router::Config)) -> H2Router {
        api.set(table(1, apps));
        let dir = tempfile::tempdir().unwrap();
        let router = router(&api.url(), dir.path(), tune).await;
        wait_for_version(&router, 1).await;
        let certified = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        // As the router's HTTPS listener will: h2 first, HTTP/1.1 for clients without it.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = Arc::new(Proxy::new(router.state.clone()));
        let settings = Arc::new(ConnSettings { limits: router.state.config.limits.clone(), access_log: false });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else { return };
                let (acceptor, proxy, settings, shutdown) =
                    (acceptor.clone(), proxy.clone(), settings.clone(), shutdown_rx.clone());
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await else {
                        return;
                    };
                    let conn = ConnInfo { peer, tls: true };
                    if tls.get_ref().1.alpn_protocol() == Some(&b"h2"[..]) {
                        paas_router::h2::serve(proxy, tls, conn, settings, shutdown).await;
                    } else {
                        paas_router::server::conn::serve(proxy, tls, conn, settings, shutdown).await;
                    }
                });
            }
        });
        let cert_pem = certified.cert.pem();
        H2Router { addr, router, cert, cert_pem, _api: api, _dir: dir, shutdown, task }
    }

    fn authority(&self) -> String {
        format!("{HOST}:{}", self.addr.port())
    }

    async fn tls(&self) -> TlsStream<TcpStream> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let connector = TlsConnector::from(Arc::new(config));
        let tls = connector.connect(ServerName::try_from(HOST).unwrap(), tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        tls
    }

    /// An h2-crate client connection.
    async fn client(&self) -> h2::client::SendRequest<Bytes> {
        let (client, connection) = h2::client::handshake(self.tls().await).await.unwrap();
        tokio::spawn(connection);
        client
    }

    fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(format!("https://{}{path}", self.authority()))
    }
}

/// Waits until the connection takes another stream.
async fn ready(client: &mut h2::client::SendRequest<Bytes>) {
    std::future::poll_fn(|cx| client.poll_ready(cx)).await.unwrap();
}

/// Sends `request` with `body` and reads the whole answer (bounded).
async fn fetch(
    client: &mut h2::client::SendRequest<Bytes>,
    request: Request<()>,
    body: Option<Bytes>,
) -> (http::response::Parts, Bytes) {
    let exchange = async {
        ready(client).await;
        let (response, mut send) = client.send_request(request, body.is_none()).unwrap();
        if let Some(body) = body {
            send.send_data(body, true).unwrap();
        }
        let (parts, mut recv) = response.await.unwrap().into_parts();
        let mut out = BytesMut::new();
        while let Some(data) = recv.data().await {
            let data = data.unwrap();
            let _ = recv.flow_control().release_capacity(data.len());
            out.extend_from_slice(&data);
        }
        (parts, out.freeze())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.expect("an answer within 10 s")
}

// === A hand-written instance: exact timing of big and streamed bodies ===

#[derive(Default)]
struct InstanceLog {
    /// When the response to `/big` had been written whole.
    big_done: Option<Instant>,
    paths: Vec<String>,
}

/// `/big`: 32 MiB with a Content-Length, written in 1 MiB pieces 10 ms apart; `/sse`: five
/// events 300 ms apart (chunked `text/event-stream`); anything else: `ok`.
async fn instance() -> (SocketAddr, Arc<Mutex<InstanceLog>>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Arc<Mutex<InstanceLog>> = Arc::default();
    let task_log = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(instance_conn(stream, task_log.clone()));
        }
    });
    (addr, log, task)
}

async fn instance_conn(mut stream: TcpStream, log: Arc<Mutex<InstanceLog>>) {
    let mut buf = Vec::new();
    for _ in 0..1000 {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        log.lock().unwrap().paths.push(path.clone());
        let written = match path.as_str() {
            "/big" => {
                let piece = vec![b'b'; MIB];
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", 32 * MIB);
                let mut result = stream.write_all(head.as_bytes()).await;
                for _ in 0..32 {
                    if result.is_ok() {
                        result = stream.write_all(&piece).await;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                log.lock().unwrap().big_done = Some(Instant::now());
                result
            }
            "/sse" => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
                let mut result = stream.write_all(head.as_bytes()).await;
                for i in 0..5 {
                    let event = format!("data: {i}\n\n");
                    if result.is_ok() {
                        result = stream.write_all(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes()).await;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                if result.is_ok() {
                    result = stream.write_all(b"0\r\n\r\n").await;
                }
                result
            }
            _ => stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await,
        };
        if written.is_err() {
            return;
        }
    }
}

fn app_on(addr: SocketAddr) -> RouteApp {
    let mut web = app("web", &[HOST], &[]);
    web.backends = vec![backend_entry(&addr.to_string())];
    web
}

// === Hand-written frames: what no well-behaved client sends ===

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const PROTOCOL_ERROR: u32 = 1;
const CANCEL: u32 = 8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HPACK integer with a 7-bit prefix (RFC 7541 5.1), first byte's high bit clear.
fn hpack_int(out: &mut Vec<u8>, mut n: usize) {
    if n < 127 {
        out.push(n as u8);
        return;
    }
    out.push(127);
    n -= 127;
    while n >= 128 {
        out.push((n % 128 + 128) as u8);
        n /= 128;
    }
    out.push(n as u8);
}

/// A header block of literal fields without indexing, names and values raw (no Huffman), so
/// any byte can be put in a value.
fn block(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0);
        hpack_int(&mut out, name.len());
        out.extend_from_slice(name.as_bytes());
        hpack_int(&mut out, value.len());
        out.extend_from_slice(value);
    }
    out
}

#[derive(Debug)]
struct Frame {
    kind: u8,
    stream: u32,
    payload: Bytes,
}

/// What became of a stream, as the client sees it.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// HEADERS; the status when it is one of HPACK's static-table entries (200, 400, ...).
    Answered(Option<u16>),
    Reset(u32),
    GoAway(u32),
    Closed,
}

struct RawConn {
    tls: TlsStream<TcpStream>,
    buf: BytesMut,
}

impl RawConn {
    /// Preface and SETTINGS exchanged; the server's settings acknowledged.
    async fn open(env: &H2Router) -> RawConn {
        let mut conn = RawConn { tls: env.tls().await, buf: BytesMut::new() };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        conn.tls.write_all(&hello).await.unwrap();
        for _ in 0..10 {
            let frame = conn.next_frame(Duration::from_secs(5)).await.expect("server SETTINGS");
            if frame.kind == SETTINGS && frame.payload.len() % 6 == 0 && !frame.payload.is_empty() {
                break;
            }
        }
        conn.send(&frame(SETTINGS, 1, 0, &[])).await;
        conn
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    async fn next_frame(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.buf.len() >= 9 {
                let len = (usize::from(self.buf[0]) << 16) | (usize::from(self.buf[1]) << 8) | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let head = self.buf.split_to(9);
                    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
                    return Some(Frame { kind: head[3], stream, payload: self.buf.split_to(len).freeze() });
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.tls.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Reads until `stream` is answered or reset, or the connection goes away (bounded).
    async fn fate(&mut self, stream: u32) -> Fate {
        for _ in 0..1000 {
            let Some(frame) = self.next_frame(Duration::from_secs(5)).await else { return Fate::Closed };
            let code = |p: &Bytes, at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
            match frame.kind {
                HEADERS if frame.stream == stream => return Fate::Answered(static_status(&frame.payload)),
                RST_STREAM if frame.stream == stream => return Fate::Reset(code(&frame.payload, 0)),
                GOAWAY => return Fate::GoAway(code(&frame.payload, 4)),
                _ => {}
            }
        }
        Fate::Closed
    }

    /// A GET or POST whose fields follow the pseudo-header fields.
    fn headers(&self, stream: u32, method: &str, path: &str, fields: &[(&str, &[u8])], end: bool) -> Vec<u8> {
        let mut all: Vec<(&str, &[u8])> =
            vec![(":method", method.as_bytes()), (":scheme", b"https"), (":path", path.as_bytes())];
        all.push((":authority", HOST.as_bytes()));
        all.extend_from_slice(fields);
        frame(HEADERS, END_HEADERS | if end { END_STREAM } else { 0 }, stream, &block(&all))
    }
}

/// `:status` when the block starts with an indexed static-table status (RFC 7541 appendix A).
fn static_status(block: &[u8]) -> Option<u16> {
    match block.first()? {
        0x88 => Some(200),
        0x89 => Some(204),
        0x8a => Some(206),
        0x8b => Some(304),
        0x8c => Some(400),
        0x8d => Some(404),
        0x8e => Some(500),
        _ => None,
    }
}

// === Tests ===

#[tokio::test]
async fn get_and_post_reach_the_instance_as_http11_with_the_headers_http1_sends() {
    let backend = TestBackend::start("web").await;
    let env =
        H2Router::start(vec![app("web", &[HOST], &[&backend])], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut client = env.client().await;

    let request = env.request(Method::GET, "/a?b=1").header("x-custom", "1").header("x_sneaky", "2").body(()).unwrap();
    let (parts, body) = fetch(&mut client, request, None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "web GET /a body=0");
    assert_eq!(parts.headers["content-length"], "17");
    assert!(parts.headers.contains_key("date") && parts.headers.contains_key("x-request-id"));
    let mut many = env.request(Method::GET, "/many-headers");
    for i in 0..101 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let (parts, _) = fetch(&mut client, many.body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "--max-headers holds on h2 too");
    let request = env.request(Method::POST, "/p").header("content-type", "text/plain").body(()).unwrap();
    let (parts, body) = fetch(&mut client, request, Some(Bytes::from_static(b"0123456789"))).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "web POST /p body=10");

    // The same GET over HTTP/1.1 on the router's own listener, for comparison.
    let extra = "x-custom: 1\r\nx_sneaky: 2\r\n";
    let http1 = get_with(env.router.addr, &env.authority(), "/a?b=1", extra).await;
    assert_eq!(http1.status, 200);
    let seen = backend.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (over_h2, post, over_h1) = (&seen[0], &seen[1], &seen[2]);
    assert_eq!((over_h2.method.as_str(), over_h2.target.as_str()), ("GET", "/a?b=1"));
    assert_eq!(over_h2.headers["host"], env.authority().as_str(), "Host from :authority");
    assert!(over_h2.headers.get("x_sneaky").is_none());
    assert_eq!(over_h2.headers["x-custom"], "1");
    // Same header names, same values except what is per request or per connection.
    let names = |s: &Seen| {
        let mut names: Vec<String> = s.headers.keys().map(|k| k.to_string()).collect();
        names.retain(|n| n != "connection");
        names.sort();
        names
    };
    assert_eq!(names(over_h2), names(over_h1), "h2 {:?} vs h1 {:?}", over_h2.headers, over_h1.headers);
    for name in ["host", "x-custom", "x-forwarded-for", "x-forwarded-host"] {
        assert_eq!(over_h2.headers.get(name), over_h1.headers.get(name), "{name}");
    }
    assert_eq!(post.body, "0123456789");
    assert_eq!(post.headers["content-length"], "10");
    assert_eq!(post.headers["content-type"], "text/plain");
    assert!(post.headers.get("te").is_none() && post.headers.get("transfer-encoding").is_none());
}

#[tokio::test]
async fn a_large_response_streams_and_frees_the_instance_before_the_client_has_read_it() {
    let (addr, log, _task) = instance().await;
    let env = H2Router::start(vec![app_on(addr)], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut client = env.client().await;
    ready(&mut client).await;
    let started = Instant::now();
    let (response, _) = client.send_request(env.request(Method::GET, "/big").body(()).unwrap(), true).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], (32 * MIB).to_string().as_str());
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.data()).await.unwrap().unwrap().unwrap();
    let first_byte = started.elapsed();
    let mut read = first.len();
    // The client holds back (no window given back): the router reads the instance ahead anyway.
    let mut freed = None;
    for _ in 0..100 {
        if let Some(done) = log.lock().unwrap().big_done {
            freed = Some(done);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let freed = freed.expect("the instance wrote its whole body while the client was not reading");
    assert!(read < 32 * MIB / 4, "the client had read only {read} bytes when the instance was done");
    let instance_time = freed - started;
    assert!(
        first_byte < instance_time / 2,
        "first byte after {first_byte:?}, while the instance took {instance_time:?}"
    );
    let _ = body.flow_control().release_capacity(first.len());
    let rest = async {
        while let Some(data) = body.data().await {
            let data = data.unwrap();
            let _ = body.flow_control().release_capacity(data.len());
            assert!(data.iter().all(|b| *b == b'b'));
            read += data.len();
        }
    };
    tokio::time::timeout(Duration::from_secs(20), rest).await.expect("the rest within 20 s");
    assert_eq!(read, 32 * MIB);
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one() {
    let (addr, _log, _task) = instance().await;
    let env = H2Router::start(vec![app_on(addr)], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut client = env.client().await;
    ready(&mut client).await;
    let (response, _) = client.send_request(env.request(Method::GET, "/sse").body(()).unwrap(), true).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response).await.unwrap().unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().get("content-length").is_none());
    let started = Instant::now();
    let mut body = response.into_body();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    let events = async {
        while let Some(data) = body.data().await {
            let data = data.unwrap();
            let _ = body.flow_control().release_capacity(data.len());
            arrivals.push(started.elapsed());
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(10), events).await.expect("all events within 10 s");
    assert_eq!(text, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n", "no chunked framing on h2");
    assert!(arrivals.len() >= 5, "one DATA frame per event at least: {arrivals:?}");
    // Events are 300 ms apart at the instance: they must not be held back and sent together.
    let spread = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(spread >= Duration::from_millis(900), "events arrived together: {arrivals:?}");
}

#[tokio::test]
async fn static_files_are_served_from_memory_and_disk() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(0, vec![])).await;
    let css: &[u8] = b"body { color: #333; }\n";
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut web = app("web", &[HOST], &[&backend]);
    web.statics = Some(bundle(&api, "blob-h2", &[("static/app.css", css), ("static/data.bin", &big)]));
    // A small memory budget: the large file is read from disk per request.
    let env = H2Router::start(vec![web], api, |c| c.statics.static_memory_bytes = 100_000).await;
    let mut client = env.client().await;
    let (parts, body) = fetch(&mut client, env.request(Method::GET, "/static/app.css").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, css);
    assert_eq!(parts.headers["content-type"], "text/css; charset=utf-8");
    let (parts, body) = fetch(&mut client, env.request(Method::GET, "/static/data.bin").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers["content-length"], big.len().to_string().as_str());
    assert!(body == big, "{} bytes, expected {}", body.len(), big.len());
    let (parts, body) = fetch(&mut client, env.request(Method::HEAD, "/static/data.bin").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers["content-length"], big.len().to_string().as_str());
    assert!(body.is_empty());
    let etag = parts.headers["etag"].clone();
    let request = env.request(Method::GET, "/static/data.bin").header("if-none-match", etag).body(()).unwrap();
    let (parts, body) = fetch(&mut client, request, None).await;
    assert_eq!(parts.status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty() && parts.headers.get("content-length").is_none());
    assert!(backend.seen().is_empty(), "statics never reach the instance");
}

#[tokio::test]
async fn malformed_requests_are_refused_before_any_instance_sees_them() {
    let backend = TestBackend::start("web").await;
    let env =
        H2Router::start(vec![app("web", &[HOST], &[&backend])], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let bad_values: [&[u8]; 3] = [b"a\rb", b"a\nb", b"a\0b"];
    for value in bad_values {
        let mut conn = RawConn::open(&env).await;
        conn.send(&conn.headers(1, "GET", "/bad-value", &[("x-a", value)], true)).await;
        // The h2 crate cannot decode such a field: a connection error.
        assert_eq!(conn.fate(1).await, Fate::GoAway(PROTOCOL_ERROR), "{value:?}");
    }
    let connection_specific: [(&str, &[u8]); 6] = [
        ("connection", b"keep-alive"),
        ("keep-alive", b"timeout=5"),
        ("proxy-connection", b"keep-alive"),
        ("transfer-encoding", b"chunked"),
        ("upgrade", b"websocket"),
        ("te", b"gzip"),
    ];
    for field in connection_specific {
        let mut conn = RawConn::open(&env).await;
        conn.send(&conn.headers(1, "GET", "/connection-specific", &[field], true)).await;
        assert_eq!(conn.fate(1).await, Fate::Reset(PROTOCOL_ERROR), "{field:?}");
    }
    // Content-Length 10, then 20 bytes of DATA; then 5 bytes and the end of the stream.
    for len in [20, 5] {
        let mut conn = RawConn::open(&env).await;
        let mut bytes = conn.headers(1, "POST", "/length-mismatch", &[("content-length", b"10")], false);
        bytes.extend(frame(DATA, END_STREAM, 1, &vec![b'x'; len]));
        conn.send(&bytes).await;
        assert_eq!(conn.fate(1).await, Fate::Reset(PROTOCOL_ERROR), "DATA of {len} for a length of 10");
    }
    // The same in two DATA frames, the second past the length.
    let mut conn = RawConn::open(&env).await;
    let mut bytes = conn.headers(1, "POST", "/length-mismatch", &[("content-length", b"10")], false);
    bytes.extend(frame(DATA, 0, 1, &[b'x'; 8]));
    bytes.extend(frame(DATA, END_STREAM, 1, &[b'x'; 8]));
    conn.send(&bytes).await;
    assert_eq!(conn.fate(1).await, Fate::Reset(PROTOCOL_ERROR));
    // The router's own rules: Host against :authority, GET with a body.
    let mut conn = RawConn::open(&env).await;
    conn.send(&conn.headers(1, "GET", "/other-host", &[("host", b"other.test")], true)).await;
    assert_eq!(conn.fate(1).await, Fate::Answered(Some(400)));
    let mut bytes = conn.headers(3, "GET", "/get-body", &[], false);
    bytes.extend(frame(DATA, END_STREAM, 3, b"hello"));
    conn.send(&bytes).await;
    assert_eq!(conn.fate(3).await, Fate::Answered(Some(400)), "GET with a body");
    // The connection still serves a good request after the bad ones.
    conn.send(&conn.headers(5, "GET", "/fine", &[], true)).await;
    assert_eq!(conn.fate(5).await, Fate::Answered(Some(200)));
    let paths: Vec<String> = backend.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/fine"], "only the good request reached the instance");
}

#[tokio::test]
async fn a_reset_stream_drops_its_request_and_frees_the_instance() {
    let backend = TestBackend::start("web").await;
    let mut web = app("web", &[HOST], &[&backend]);
    web.backends[0].concurrency = Some(1);
    let env = H2Router::start(vec![web], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut client = env.client().await;
    ready(&mut client).await;
    let (response, stream) =
        client.send_request(env.request(Method::GET, "/sleep/5000").body(()).unwrap(), true).unwrap();
    for _ in 0..100 {
        if !backend.seen().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(backend.seen().len(), 1, "the slow request reached the instance");
    // Dropping both halves resets the stream (RST_STREAM CANCEL).
    drop((response, stream));
    let started = Instant::now();
    let (parts, body) = fetch(&mut client, env.request(Method::GET, "/next").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK, "{body:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the only worker slot was still held by the reset request: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_is_cut_off_and_does_not_stall_other_connections() {
    let backend = TestBackend::start("web").await;
    let env =
        H2Router::start(vec![app("web", &[HOST], &[&backend])], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut probe = env.client().await;
    // Warm up: the probe's connection and the instance pool are ready before the flood.
    fetch(&mut probe, env.request(Method::GET, "/probe").body(()).unwrap(), None).await;

    // 5,000 HEADERS + RST_STREAM pairs; each connection the router cuts off is replaced by a new
    // one until all are sent (bounded: 100 connections, 20 s).
    let flood_env = Arc::new(env);
    let env = flood_env.clone();
    let flooding = tokio::spawn(async move {
        let (mut sent, mut connections, mut goaways) = (0u32, 0u32, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(20);
        while sent < 5000 && connections < 100 && Instant::now() < deadline {
            let mut flood = RawConn::open(&flood_env).await;
            connections += 1;
            let mut stream = 1u32;
            while sent < 5000 {
                let mut batch = Vec::new();
                for _ in 0..100 {
                    batch.extend(flood.headers(stream, "GET", "/flood", &[], true));
                    batch.extend(frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes()));
                    stream += 2;
                }
                let write = tokio::time::timeout(Duration::from_secs(5), flood.tls.write_all(&batch)).await;
                if !matches!(write, Ok(Ok(()))) {
                    break;
                }
                sent += 100;
            }
            let mut goaway = None;
            for _ in 0..100_000 {
                match flood.next_frame(Duration::from_secs(2)).await {
                    Some(f) if f.kind == GOAWAY => {
                        goaway = Some(u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]]));
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            goaways.push(goaway);
        }
        (sent, connections, goaways)
    });
    let mut latencies = Vec::new();
    while !flooding.is_finished() && latencies.len() < 10_000 {
        let started = Instant::now();
        let (parts, _) = fetch(&mut probe, env.request(Method::GET, "/probe").body(()).unwrap(), None).await;
        assert_eq!(parts.status, StatusCode::OK);
        latencies.push(started.elapsed());
    }
    let (sent, connections, goaways) = tokio::time::timeout(Duration::from_secs(30), flooding).await.unwrap().unwrap();
    let worst = latencies.iter().max().copied().unwrap_or_default();
    let flooded = backend.seen().iter().filter(|s| s.path == "/flood").count();
    eprintln!(
        "flood: {sent} pairs over {connections} connections, GOAWAYs {goaways:?}, {flooded} reached the instance; \
         probe: {} requests, worst {worst:?}",
        latencies.len()
    );
    assert_eq!(sent, 5000);
    assert!(goaways.iter().all(|g| *g == Some(ENHANCE_YOUR_CALM)), "every flooding connection is told to calm down");
    assert!(flooded <= 20, "{flooded} flood requests reached the instance");
    assert!(latencies.len() >= 3, "the probe ran during the flood: {latencies:?}");
    assert!(worst < Duration::from_secs(1), "another connection's request took {worst:?} during the flood");
    // And the router still serves new connections afterwards.
    let mut after = env.client().await;
    let (parts, _) = fetch(&mut after, env.request(Method::GET, "/after").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_cancels_most_accepted_streams_gets_goaway() {
    let backend = TestBackend::start("web").await;
    let env =
        H2Router::start(vec![app("web", &[HOST], &[&backend])], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut conn = RawConn::open(&env).await;
    // Waves of 50 requests that reach the instance (it sleeps), then are all reset.
    let mut stream = 1u32;
    let mut fate = None;
    'waves: for wave in 1..=4usize {
        let first = stream;
        let mut bytes = Vec::new();
        for _ in 0..50 {
            bytes.extend(conn.headers(stream, "GET", "/sleep/3000", &[], true));
            stream += 2;
        }
        conn.send(&bytes).await;
        for _ in 0..200 {
            if backend.seen().len() >= wave * 50 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut resets = Vec::new();
        for id in (first..stream).step_by(2) {
            resets.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
        }
        if tokio::time::timeout(Duration::from_secs(5), conn.tls.write_all(&resets)).await.is_err() {
            break 'waves;
        }
        while let Some(f) = conn.next_frame(Duration::from_millis(300)).await {
            if f.kind == GOAWAY {
                fate = Some(u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]]));
                break 'waves;
            }
        }
    }
    assert_eq!(fate, Some(ENHANCE_YOUR_CALM), "more than 100 cancelled streams and none completed");
}

#[tokio::test]
async fn curl_speaks_http2_through_alpn() {
    let backend = TestBackend::start("web").await;
    let env =
        H2Router::start(vec![app("web", &[HOST], &[&backend])], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("cert.pem");
    std::fs::write(&ca, &env.cert_pem).unwrap();
    let resolve = format!("{HOST}:{}:127.0.0.1", env.addr.port());
    let url = format!("https://{}/hello", env.authority());
    let run = |extra: &[&str]| {
        let mut command = tokio::process::Command::new("curl");
        command.args(["-sS", "--http2", "--max-time", "10", "--cacert"]).arg(&ca);
        command.args(["--resolve", &resolve, "-w", "\n%{http_version} %{http_code}"]).args(extra).arg(&url);
        command
    };
    let out = run(&[]).output().await.expect("curl is installed (Debian package curl)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text, "web GET /hello body=0\n2 200");
    let out = run(&["--data-binary", "twelve bytes"]).output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "web POST /hello body=12\n2 200");
    assert_eq!(backend.seen().len(), 2);
}

#[tokio::test]
async fn connection_specific_response_fields_never_reach_an_http2_client() {
    let backend = ScriptedBackend::start(|_, _| {
        Scripted::ok(
            "hello",
            &[
                ("connection", "x-per-hop"),
                ("x-per-hop", "1"),
                ("keep-alive", "timeout=5"),
                ("upgrade", "h2c"),
                ("x-kept", "yes"),
            ],
        )
    })
    .await;
    let mut web = app("web", &[HOST], &[]);
    web.backends = vec![backend.entry()];
    let env = H2Router::start(vec![web], FakeApi::start(table(0, vec![])).await, |_| {}).await;
    let mut client = env.client().await;
    // The h2 crate's client treats any of those fields as a malformed response.
    let (parts, body) = fetch(&mut client, env.request(Method::GET, "/").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "hello");
    assert_eq!(parts.headers["x-kept"], "yes");
    for name in ["connection", "x-per-hop", "keep-alive", "upgrade", "transfer-encoding"] {
        assert!(parts.headers.get(name).is_none(), "{name}");
    }
    let (parts, _) = fetch(&mut client, env.request(Method::HEAD, "/").body(()).unwrap(), None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers["content-length"], "5", "HEAD keeps the length the instance declared");
}

#[tokio::test]
async fn idle_connections_close_and_shutdown_lets_open_streams_finish() {
    let backend = TestBackend::start("web").await;
    let apps = vec![app("web", &[HOST], &[&backend])];
    let env =
        H2Router::start(apps, FakeApi::start(table(0, vec![])).await, |c| c.limits.keepalive_timeout_secs = 1).await;
    let mut idle = RawConn::open(&env).await;
    let started = Instant::now();
    assert_eq!(idle.fate(1).await, Fate::GoAway(0), "an idle connection is closed with GOAWAY NO_ERROR");
    assert!(started.elapsed() < Duration::from_secs(3), "after the keep-alive timeout: {:?}", started.elapsed());

    let mut busy = RawConn::open(&env).await;
    busy.send(&busy.headers(1, "GET", "/sleep/500", &[], true)).await;
    for _ in 0..100 {
        if backend.seen().iter().any(|s| s.path == "/sleep/500") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.shutdown.send_replace(true);
    let (mut goaway, mut answered) = (None, None);
    for _ in 0..100 {
        let Some(frame) = busy.next_frame(Duration::from_secs(5)).await else { break };
        match frame.kind {
            GOAWAY => {
                goaway =
                    Some(u32::from_be_bytes([frame.payload[4], frame.payload[5], frame.payload[6], frame.payload[7]]))
            }
            HEADERS if frame.stream == 1 => answered = static_status(&frame.payload),
            DATA if frame.stream == 1 && frame.payload.ends_with(b"/sleep/500 body=0") => break,
            _ => {}
        }
    }
    assert_eq!(goaway, Some(0), "shutdown sends GOAWAY NO_ERROR");
    assert_eq!(answered, Some(200), "the open stream still gets its answer");
}

// === Benchmark (bench/tls/h2_assets.sh runs it; not part of the suite) ===

/// A page and its 20 assets, fetched by one `curl --parallel` per page load (a fresh TLS
/// connection each time, as a first visit): over HTTP/2 (one connection, multiplexed) and over
/// HTTP/1.1 (six connections, as browsers open). Prints each protocol's median and the ratio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/tls/h2_assets.sh"]
async fn bench_h2_vs_http1_page_with_twenty_assets() {
    let rounds: usize = std::env::var("PAAS_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(0, vec![])).await;
    let assets: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("static/asset{i}.js"), vec![b'a' + (i % 26) as u8; 8 * 1024 + i as usize * 1024]))
        .collect();
    let mut files: Vec<(&str, &[u8])> = assets.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    let page = b"<html>twenty assets</html>".repeat(200);
    files.push(("static/index.html", &page));
    let mut web = app("web", &[HOST], &[&backend]);
    web.statics = Some(bundle(&api, "bench-assets", &files));
    let env = H2Router::start(vec![web], api, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("cert.pem");
    std::fs::write(&ca, &env.cert_pem).unwrap();
    let resolve = format!("{HOST}:{}:127.0.0.1", env.addr.port());
    let mut urls = vec![format!("https://{}/static/index.html", env.authority())];
    urls.extend((0..20).map(|i| format!("https://{}/static/asset{i}.js", env.authority())));
    let load = |protocol: &str| {
        let mut command = std::process::Command::new("curl");
        command.args(["-sS", "--fail", "--max-time", "20", "--parallel", "--cacert"]).arg(&ca);
        command.args(["--resolve", &resolve, "-o", "/dev/null", "-w", "%{http_version}\\n"]);
        match protocol {
            "h2" => command.args(["--http2", "--parallel-max", "20"]),
            _ => command.args(["--http1.1", "--parallel-max", "6"]),
        };
        for _ in 1..urls.len() {
            command.args(["-o", "/dev/null"]);
        }
        command.args(&urls);
        let started = Instant::now();
        let out = command.output().expect("curl is installed");
        let elapsed = started.elapsed();
        assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
        let versions = String::from_utf8_lossy(&out.stdout).into_owned();
        let want = if protocol == "h2" { "2" } else { "1.1" };
        assert_eq!(versions.lines().filter(|v| *v == want).count(), 21, "{protocol}: {versions}");
        elapsed
    };
    let (mut h2_times, mut h1_times) = (Vec::new(), Vec::new());
    // Alternating, after one warm-up each, so neither protocol gets the warmer machine.
    tokio::task::block_in_place(|| (load("h2"), load("http1.1")));
    for _ in 0..rounds {
        h2_times.push(tokio::task::block_in_place(|| load("h2")));
        h1_times.push(tokio::task::block_in_place(|| load("http1.1")));
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (h2, h1) = (median(&mut h2_times), median(&mut h1_times));
    println!("page + 20 static assets, fresh TLS connection(s) per load, {rounds} loads each:");
    println!("  HTTP/2   (1 connection, multiplexed): median {:.1} ms", h2.as_secs_f64() * 1000.0);
    println!("  HTTP/1.1 (6 connections):             median {:.1} ms", h1.as_secs_f64() * 1000.0);
    println!("  h2 / HTTP/1.1 time ratio: {:.2}", h2.as_secs_f64() / h1.as_secs_f64());
}
