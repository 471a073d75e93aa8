//! Test helpers shared by the workspace's integration tests.
//!
//! - [`PgCluster`]: one throwaway Postgres cluster per test process, made
//!   with `initdb` and `pg_ctl` (as the `postgres` user when run as root) on a
//!   free loopback port, stopped and deleted when the process exits.
//! - [`TestApi`]: the real API, on its own fresh database, serving HTTP on
//!   127.0.0.1 with an ephemeral port, plus a small client for driving it.

pub mod agent;
mod pg;

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use pg::PgCluster;

/// Secret the test API signs JWTs with (tests forge tokens with it and others).
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// Token routers present to the test API.
pub const ROUTER_TOKEN: &str = "test-router-token";
/// Base domain of apps in tests.
pub const BASE_DOMAIN: &str = "paas.test";

/// A running API server on a fresh database.
pub struct TestApi {
    pub addr: SocketAddr,
    pub url: String,
    pub db: sqlx::PgPool,
    pub database_url: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApi {
    /// Starts the API with default test settings.
    pub async fn start() -> TestApi {
        Self::start_with(|_| {}).await
    }

    /// Starts the API after letting the caller adjust its config.
    pub async fn start_with(adjust: impl FnOnce(&mut api::config::ServeConfig)) -> TestApi {
        let database_url = PgCluster::shared().create_database().await;
        let mut config = api::config::ServeConfig {
            database_url: database_url.clone(),
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            jwt_secret: Some(JWT_SECRET.into()),
            jwt_secret_file: None,
            jwt_ttl_secs: 3600,
            base_domain: BASE_DOMAIN.into(),
            app_scheme: "http".into(),
            app_port: None,
            max_json_bytes: 64 * 1024,
            max_source_bytes: 20 * 1024 * 1024,
            router_token: Some(ROUTER_TOKEN.into()),
            build_lease_secs: 60,
            node_timeout_secs: 15,
            scheduler_sweep_secs: 2,
            git_cache_dir: None,
            db_max_connections: 10,
            db_acquire_timeout_secs: 5,
            log_format: "pretty".into(),
            cookie_secure: false,
        };
        adjust(&mut config);
        let db = api::db::connect(&config).await.expect("connect to test database");
        api::db::migrate(&db).await.expect("apply migrations");
        let state = api::start(&config, db.clone()).expect("valid test config");
        let listener = TcpListener::bind(config.listen).await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(err) = api::serve_on(listener, state, shutdown).await {
                eprintln!("test API stopped with an error: {err:#}");
            }
        });
        TestApi {
            addr,
            url: format!("http://{addr}"),
            db,
            database_url,
            http: reqwest::Client::builder().no_proxy().build().expect("http client"),
            shutdown: Some(tx),
        }
    }

    /// A handle on an API running elsewhere (a subprocess), for its helpers.
    pub async fn attach(url: &str, database_url: &str) -> TestApi {
        TestApi {
            addr: url.trim_start_matches("http://").parse().expect("http://ip:port"),
            url: url.to_string(),
            db: sqlx::PgPool::connect(database_url).await.expect("connect to the test database"),
            database_url: database_url.to_string(),
            http: reqwest::Client::builder().no_proxy().build().expect("http client"),
            shutdown: None,
        }
    }

    /// Sends a request with an optional bearer token and JSON body; returns
    /// the status and the body parsed as JSON (`Value::Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the test API");
        let status = response.status();
        let bytes = response.bytes().await.expect("read body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{status} body is not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a user (tenant derived from the email) and returns its session token.
    pub async fn signup(&self, email: &str) -> String {
        let body = serde_json::json!({ "email": email, "password": "correct horse battery" });
        let (status, value) = self.call(Method::POST, "/v1/auth/signup", None, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "signup of {email} failed: {value}");
        value["token"].as_str().expect("session token").to_string()
    }

    /// Creates an app and asserts success.
    pub async fn create_app(&self, token: &str, name: &str) -> Value {
        let (status, value) = self.post("/v1/apps", token, serde_json::json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "creating app {name} failed: {value}");
        value
    }
}

/// A gzip-compressed tarball of the files `(path, contents)`, as `paas deploy` sends.
pub fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, contents.as_bytes()).expect("append to tarball");
    }
    builder.into_inner().and_then(|gz| gz.finish()).expect("finish tarball")
}

/// A gzip-compressed tarball of a directory tree (fixture apps).
pub fn tarball_of_dir(dir: &std::path::Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    builder.append_dir_all(".", dir).expect("tar the directory");
    builder.into_inner().and_then(|gz| gz.finish()).expect("finish tarball")
}

impl TestApi {
    /// Uploads a source tarball as a new build of `app`; returns the build.
    pub async fn upload_build(&self, token: &str, app: &str, source: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/v1/apps/{app}/builds", self.url))
            .bearer_auth(token)
            .header("content-type", "application/gzip")
            .body(source)
            .send()
            .await
            .expect("upload reaches the test API");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
