//! Test harness: a stand-in for the API's route-table endpoint, real backend
//! HTTP servers on loopback, a router started on ephemeral ports, and a raw
//! TCP client for byte-exact requests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_router::{Config, Running};
use paas_types::routing::{Backend, RouteApp, RouteTable, StaticBundle};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "router-secret";

// === Fake API ===

/// Serves `GET /v1/router/table` with the long-poll semantics the real API has, and bundle blobs.
pub struct FakeApi {
    pub addr: SocketAddr,
    table: watch::Sender<RouteTable>,
    blobs: Arc<Mutex<HashMap<String, Bytes>>>,
    task: JoinHandle<()>,
}

impl FakeApi {
    pub async fn start(table: RouteTable) -> FakeApi {
        Self::start_on("127.0.0.1:0".parse().unwrap(), table).await
    }

    pub async fn start_on(addr: SocketAddr, table: RouteTable) -> FakeApi {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(table);
        let blobs: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
        let task_blobs = blobs.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (rx, blobs) = (rx.clone(), task_blobs.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| api_request(req, rx.clone(), blobs.clone()));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        FakeApi { addr, table: tx, blobs, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the table; waiting long-polls answer at once.
    pub fn set(&self, table: RouteTable) {
        self.table.send_replace(table);
    }

    /// Stores a blob served at `/v1/router/statics/<id>`; returns that path.
    pub fn put_blob(&self, id: &str, data: Bytes) -> String {
        self.blobs.lock().unwrap().insert(id.to_owned(), data);
        format!("/v1/router/statics/{id}")
    }

    /// Stops answering (the listener closes): "the API is down".
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn api_request(
    req: Request<Incoming>,
    table: watch::Receiver<RouteTable>,
    blobs: Arc<Mutex<HashMap<String, Bytes>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let authorized = req.headers().get("authorization").is_some_and(|v| v == format!("Bearer {TOKEN}").as_str());
    if !authorized {
        return Ok(respond(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    let path = req.uri().path().to_owned();
    if let Some(id) = path.strip_prefix("/v1/router/statics/") {
        let blob = blobs.lock().unwrap().get(id).cloned();
        return Ok(match blob {
            Some(blob) => Response::new(Full::new(blob)),
            None => respond(StatusCode::NOT_FOUND, "no blob"),
        });
    }
    if path != "/v1/router/table" {
        return Ok(respond(StatusCode::NOT_FOUND, "not found"));
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let after: Option<i64> = query.get("after").and_then(|v| v.parse().ok());
    let wait: u64 = query.get("wait").and_then(|v| v.parse().ok()).unwrap_or(0).min(30);
    let mut rx = table.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let current = rx.borrow_and_update().clone();
        if Some(current.version) != after || tokio::time::Instant::now() >= deadline {
            return Ok(Response::new(Full::new(Bytes::from(serde_json::to_vec(&current).unwrap()))));
        }
        let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
    }
}

fn respond(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// One app entry for a table.
pub fn app(name: &str, hostnames: &[&str], backends: &[&TestBackend]) -> RouteApp {
    RouteApp {
        name: name.to_owned(),
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
        release: Some(1),
        backends: backends.iter().map(|b| backend_entry(&b.addr.to_string())).collect(),
        statics: None,
        routes: vec![],
        request_timeout_secs: None,
        cache_purges: vec![],
        https_redirect: false,
        hsts: false,
    }
}

pub fn backend_entry(address: &str) -> Backend {
    Backend { instance_id: uuid::Uuid::new_v4(), address: address.to_owned(), concurrency: None }
}

pub fn table(version: i64, apps: Vec<RouteApp>) -> RouteTable {
    RouteTable { version, apps, certificates: vec![], acme_challenges: vec![] }
}

/// A gzip tarball of `files` (path -> content) and its bundle entry mapping `/static/` to `static/`.
pub fn bundle(api: &FakeApi, id: &str, files: &[(&str, &[u8])]) -> StaticBundle {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        tar.append_data(&mut header, path, *content).unwrap();
    }
    let gz = tar.into_inner().unwrap().finish().unwrap();
    let sha256 = hex::encode(Sha256::digest(&gz));
    let path = api.put_blob(id, Bytes::from(gz));
    StaticBundle {
        release: 1,
        path,
        sha256,
        mappings: vec![paas_types::routing::StaticMapping { url_prefix: "/static/".into(), dir: "static".into() }],
    }
}

// === Backends ===

/// What a backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The request-target as the backend got it (path and query).
    pub target: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A real HTTP/1.1 server on loopback that records requests and answers `<name> <method> <path>`.
/// `GET /sleep/<ms>` answers after that delay; `GET /big/<n>` answers `n` bytes.
pub struct TestBackend {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests being handled now, and the most ever handled at once.
    load: Arc<Load>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Load {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

impl TestBackend {
    /// Concurrent connections with keep-alive, like a threaded server.
    pub async fn start(name: &str) -> TestBackend {
        Self::spawn(name, "127.0.0.1:0".parse().unwrap(), false).await
    }

    /// One connection at a time, no keep-alive: a single sync WSGI worker.
    pub async fn one_worker(name: &str) -> TestBackend {
        Self::spawn(name, "127.0.0.1:0".parse().unwrap(), true).await
    }

    pub async fn start_on(name: &str, addr: SocketAddr) -> TestBackend {
        Self::spawn(name, addr, false).await
    }

    async fn spawn(name: &str, addr: SocketAddr, sequential: bool) -> TestBackend {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let load: Arc<Load> = Arc::default();
        let (task_seen, task_name, task_load) = (seen.clone(), name.to_owned(), load.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (seen, name, load) = (task_seen.clone(), task_name.clone(), task_load.clone());
                let serve = async move {
                    let svc = service_fn(move |req| backend_request(req, name.clone(), seen.clone(), load.clone()));
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder.keep_alive(!sequential);
                    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                };
                if sequential {
                    serve.await;
                } else {
                    tokio::spawn(serve);
                }
            }
        });
        TestBackend { addr, seen, load, task }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The most requests this backend was handling at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.load.max.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn backend_request(
    req: Request<Incoming>,
    name: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    load: Arc<Load>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    use std::sync::atomic::Ordering::SeqCst;
    let now = load.now.fetch_add(1, SeqCst) + 1;
    load.max.fetch_max(now, SeqCst);
    let response = answer(req, name, seen).await;
    load.now.fetch_sub(1, SeqCst);
    response
}

async fn answer(
    req: Request<Incoming>,
    name: String,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path().to_owned();
    seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        target: parts.uri.path_and_query().map_or_else(String::new, |p| p.as_str().to_owned()),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if let Some(ms) = path.strip_prefix("/sleep/").and_then(|ms| ms.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(n) = path.strip_prefix("/big/").and_then(|n| n.parse::<usize>().ok()) {
        return Ok(Response::new(Full::new(Bytes::from(vec![b'x'; n]))));
    }
    let text = format!("{name} {} {path} body={}", parts.method, body.len());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

// === Scripted backends ===

/// One answer of a [`ScriptedBackend`].
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Waits this long before answering.
    pub delay: Duration,
}

impl Scripted {
    /// `200` with `body` and the given headers, at once.
    pub fn ok(body: impl Into<String>, headers: &[(&'static str, &str)]) -> Scripted {
        let headers = headers.iter().map(|(n, v)| (*n, v.to_string())).collect();
        Scripted { status: 200, headers, body: body.into(), delay: Duration::ZERO }
    }
}

type Script = Arc<dyn Fn(&Seen, usize) -> Scripted + Send + Sync>;

/// A real HTTP/1.1 server on loopback whose answers a test writes: `script(request, n)` with `n`
/// the 1-based count of requests it has seen.
pub struct ScriptedBackend {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
    /// Open connections: dropped with the backend, so a dropped backend is really down.
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl ScriptedBackend {
    pub async fn start(script: impl Fn(&Seen, usize) -> Scripted + Send + Sync + 'static) -> ScriptedBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Script = Arc::new(script);
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (task_seen, task_connections) = (seen.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (seen, script) = (task_seen.clone(), script.clone());
                let connection = tokio::spawn(async move {
                    let svc = service_fn(move |req| scripted_request(req, seen.clone(), script.clone()));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
                task_connections.lock().unwrap().push(connection.abort_handle());
            }
        });
        ScriptedBackend { addr, seen, task, connections }
    }

    /// Requests seen so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// This backend's route-table entry.
    pub fn entry(&self) -> Backend {
        backend_entry(&self.addr.to_string())
    }
}

impl Drop for ScriptedBackend {
    fn drop(&mut self) {
        self.task.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

async fn scripted_request(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let request = Seen { method: parts.method.to_string(), target: path.clone(), path, headers: parts.headers, body };
    let answer = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        script(&request, seen.len())
    };
    tokio::time::sleep(answer.delay).await;
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
    for (name, value) in answer.headers {
        response.headers_mut().append(name, value.parse().unwrap());
    }
    Ok(response)
}

// === Router ===

/// Starts a router against `api_url` with state in `state_dir`; `tune` adjusts the config first.
pub async fn router(api_url: &str, state_dir: &Path, tune: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::for_tests(api_url, state_dir.to_owned());
    config.api.router_token = Some(TOKEN.to_owned());
    config.api.poll_wait_secs = 5;
    config.upstream.health_interval_ms = 100;
    config.access_log = false;
    tune(&mut config);
    paas_router::start(config).await.unwrap()
}

/// Waits (bounded) until the router has applied a table with `version`.
pub async fn wait_for_version(router: &Running, version: i64) {
    for _ in 0..100 {
        if router.state.table.load().version == Some(version) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("router never applied table version {version}");
}

// === Raw client ===

/// A parsed response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header value (case-insensitive name), from the raw head.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Sends raw bytes, reads until the server closes (or 10 s), parses the first response.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    parse_answer(&out)
}

/// Parses one response with a Content-Length body.
pub fn parse_answer(mut raw: &[u8]) -> Answer {
    // Skip interim `100 Continue` responses.
    while raw.starts_with(b"HTTP/1.1 100 ") {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("interim head");
        raw = &raw[end + 4..];
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response head in {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let answer = Answer { status, head, body: Vec::new() };
    let len: usize = answer.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let body = raw[split + 4..].iter().take(len).copied().collect();
    Answer { body, ..answer }
}

/// `method path` for `host` with extra header lines (each ending in `\r\n`), no body.
pub async fn request(addr: SocketAddr, method: &str, host: &str, path: &str, extra: &str) -> Answer {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    raw(addr, request.as_bytes()).await
}

/// The router's Prometheus text from its admin port.
pub async fn metrics(router: &Running) -> String {
    get(router.admin_addr, "admin", "/metrics").await.text()
}

/// `GET path` for `host` over a fresh connection that closes after the response.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Answer {
    get_with(addr, host, path, "").await
}

/// Like [`get`] with extra header lines (each ending in `\r\n`).
pub async fn get_with(addr: SocketAddr, host: &str, path: &str, extra: &str) -> Answer {
    request(addr, "GET", host, path, extra).await
}
