//! Helper processes for `bench/router/run.sh` (loopback only):
//!
//! - `bench_support hello <addr>`: a keep-alive hello-world HTTP server (the proxied backend);
//!   `/cached` answers the same text with `Cache-Control: public, max-age=3600` (the front-end
//!   cache round), `/big/<MiB>` answers that many MiB of one shared buffer (time to first byte);
//! - `bench_support api <addr> <table.json> <blob-dir>`: the API's route-table endpoint with
//!   long-poll semantics, plus `/v1/router/statics/<name>` served from `<blob-dir>/<name>`.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match args.get(1).map(String::as_str) {
        Some("hello") => runtime.block_on(hello(&args[2])),
        Some("api") => runtime.block_on(api(&args[2], PathBuf::from(&args[3]), PathBuf::from(&args[4]))),
        _ => anyhow::bail!("usage: bench_support hello <addr> | api <addr> <table.json> <blob-dir>"),
    }
}

async fn hello(addr: &str) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(|req: Request<Incoming>| async move { Ok::<_, Infallible>(hello_response(&req)) });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

fn hello_response(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    static BIG: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    let path = req.uri().path();
    if let Some(mib) = path.strip_prefix("/big/").and_then(|n| n.parse::<usize>().ok()) {
        let big = BIG.get_or_init(|| Bytes::from(vec![b'x'; 1 << 30]));
        return Response::new(Full::new(big.slice(..(mib << 20).min(big.len()))));
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, world!\n")));
    if path == "/cached" {
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=3600"));
    }
    response
}

async fn api(addr: &str, table: PathBuf, blobs: PathBuf) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let (table, blobs) = (table.clone(), blobs.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| api_request(req, table.clone(), blobs.clone()));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

async fn api_request(
    req: Request<Incoming>,
    table: PathBuf,
    blobs: PathBuf,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let body = if let Some(name) = path.strip_prefix("/v1/router/statics/") {
        std::fs::read(blobs.join(name.replace(['/', '\\'], ""))).ok()
    } else if path == "/v1/router/table" {
        let text = std::fs::read(&table).unwrap_or_default();
        let version = serde_json::from_slice::<serde_json::Value>(&text).ok().and_then(|v| v["version"].as_i64());
        let query = req.uri().query().unwrap_or("");
        let after = query.split('&').find_map(|kv| kv.strip_prefix("after=")).and_then(|v| v.parse::<i64>().ok());
        let wait = query.split('&').find_map(|kv| kv.strip_prefix("wait=")).and_then(|v| v.parse().ok()).unwrap_or(0);
        if after.is_some() && after == version {
            // Unchanged: hold the poll, as the real API does.
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        Some(text)
    } else {
        None
    };
    Ok(match body {
        Some(body) => Response::new(Full::new(Bytes::from(body))),
        None => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}
