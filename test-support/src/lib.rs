//! Test helpers shared by the workspace's integration tests.
//!
//! - [`PgCluster`]: one throwaway Postgres cluster per test process, made
//!   with `initdb` and `pg_ctl` (as the `postgres` user when run as root) on a
//!   free loopback port, stopped and deleted when the process exits.
//! - [`TestApi`]: the real API, on its own fresh database, serving HTTP on
//!   127.0.0.1 with an ephemeral port. It hands out the typed clients of
//!   `paas_types::client` ([`TestApi::rest`], [`TestApi::router`]) and keeps
//!   raw calls ([`TestApi::call`]) for tests of statuses and error bodies.
//! - [`node::FakeNode`]: a scripted node speaking the agent protocol, no Docker.

pub mod agent;
pub mod node;
mod pg;

use std::net::SocketAddr;

use paas_types::client::{Connection, RestClient, RouterClient};
use paas_types::{App, ConfigPatch, CreateAppRequest, FormationChange, FormationPatch, Session, SignupRequest};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use pg::PgCluster;

/// Secret the test API signs JWTs with (tests forge tokens with it and others).
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// The operator key the test API seals secrets at rest with (64 hex digits).
pub const SECRET_KEY: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";
/// The keyring of [`SECRET_KEY`], for tests that seal or open rows themselves.
pub fn keyring() -> api::crypto::Keyring {
    api::crypto::Keyring::new(api::crypto::SecretKey::parse(SECRET_KEY).expect("a valid test key"), Vec::new())
}

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
    /// The typed client's connection to this API (no proxy).
    pub connection: Connection,
    /// Its HTTP client, for requests that are not API calls.
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A connection to a test API at `url`, ignoring proxy settings (loopback);
/// any request is cut off after two minutes, so a stuck API fails a test
/// instead of hanging it.
fn connect(url: &str) -> Connection {
    Connection::builder(url).no_proxy().timeout(std::time::Duration::from_secs(120)).build().expect("http client")
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
            run_max_secs: 3600,
            run_claim_wait_secs: 30,
            node_timeout_secs: 15,
            scheduler_sweep_secs: 2,
            git_cache_dir: None,
            db_max_connections: 10,
            db_acquire_timeout_secs: 5,
            log_format: "pretty".into(),
            cookie_secure: false,
            tls: api::config::TlsConfig { secret_key: Some(SECRET_KEY.into()), ..api::config::TlsConfig::acme_off() },
            // Open sign-up: tests create their users with `TestApi::signup`;
            // tests of the other policies set `config.accounts.signup` themselves.
            accounts: api::config::AccountsConfig::with_signup(api::config::SignupPolicy::Open),
        };
        // Every test client is 127.0.0.1, and many tests send bad credentials on
        // purpose (forged JWTs, revoked tokens, schemathesis): the per-address
        // throttle would lock them out of their own API. Throttle tests lower it.
        config.accounts.login_throttle_address_free_attempts = 10_000;
        adjust(&mut config);
        let db = api::db::connect(&config).await.expect("connect to test database");
        api::prepare_database(&config, &db).await.expect("apply migrations and seal");
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
        let url = format!("http://{addr}");
        let connection = connect(&url);
        // The database the API runs on (a caller may have pointed it at an existing one).
        let database_url = config.database_url.clone();
        TestApi { addr, url, db, database_url, http: connection.http().clone(), connection, shutdown: Some(tx) }
    }

    /// A handle on an API running elsewhere (a subprocess), for its helpers.
    pub async fn attach(url: &str, database_url: &str) -> TestApi {
        let connection = connect(url);
        TestApi {
            addr: url.trim_start_matches("http://").parse().expect("http://ip:port"),
            url: url.to_string(),
            db: sqlx::PgPool::connect(database_url).await.expect("connect to the test database"),
            database_url: database_url.to_string(),
            http: connection.http().clone(),
            connection,
            shutdown: None,
        }
    }

    /// The typed REST client with a user's `token`.
    pub fn rest(&self, token: &str) -> RestClient {
        RestClient::new(self.connection.clone(), Some(token.to_string()))
    }

    /// The typed route-table client with the test router token.
    pub fn router(&self) -> RouterClient {
        RouterClient::new(self.connection.clone(), Some(ROUTER_TOKEN.to_string()))
    }

    /// Sends a request with an optional bearer token and JSON body; returns
    /// the status and the body parsed as JSON (`Value::Null` when empty).
    #[must_use = "assert on the status, or use the typed client (`rest`) for a setup step"]
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.connection, method, path, token, body).await
    }

    #[must_use = "assert on the status, or use the typed client (`rest`) for a setup step"]
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    #[must_use = "assert on the status, or use the typed client (`rest`) for a setup step"]
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    #[must_use = "assert on the status, or use the typed client (`rest`) for a setup step"]
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    #[must_use = "assert on the status, or use the typed client (`rest`) for a setup step"]
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a user (tenant derived from the email) and returns its session token.
    pub async fn signup(&self, email: &str) -> String {
        let request = SignupRequest {
            email: email.into(),
            password: "correct horse battery".into(),
            tenant: None,
            invitation: None,
        };
        let (status, value) = self.call(Method::POST, "/v1/auth/signup", None, Some(json_of(&request))).await;
        assert_eq!(status, StatusCode::CREATED, "signup of {email} failed: {value}");
        decode::<Session>(&value).token
    }

    /// Creates an app and asserts success.
    pub async fn create_app(&self, token: &str, name: &str) -> App {
        let request = CreateAppRequest { name: name.into(), tenant: None };
        let (status, value) = self.post("/v1/apps", token, json_of(&request)).await;
        assert_eq!(status, StatusCode::CREATED, "creating app {name} failed: {value}");
        decode(&value)
    }

    /// Makes the user `email` a platform administrator (that user only).
    pub async fn make_admin(&self, email: &str) {
        let done = sqlx::query("UPDATE users SET is_admin = true WHERE email = $1")
            .bind(email)
            .execute(&self.db)
            .await
            .expect("update the user");
        assert_eq!(done.rows_affected(), 1, "no user {email}");
    }

    /// Signs up `email` as a platform administrator; returns its session token.
    pub async fn admin(&self, email: &str) -> String {
        let token = self.signup(email).await;
        self.make_admin(email).await;
        token
    }
}

/// A raw call to the API: the status and the body as JSON (`Value::Null` when empty).
pub(crate) async fn call(
    connection: &Connection,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = connection.request(method, path, token);
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

/// A formation patch: `[("web", 3)]`.
pub fn scale(changes: &[(&str, i64)]) -> FormationPatch {
    changes.iter().map(|(process, quantity)| (process.to_string(), FormationChange::Quantity(*quantity))).collect()
}

/// A config patch setting `vars`: `[("GREETING", "hello")]`.
pub fn set_vars(vars: &[(&str, &str)]) -> ConfigPatch {
    vars.iter().map(|(key, value)| (key.to_string(), Some(value.to_string()))).collect()
}

/// A JSON body decoded as the `paas-types` struct the API documents for it.
pub fn decode<T: DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("the body is not a {}: {e}: {value}", std::any::type_name::<T>()))
}

/// A request struct as the JSON value raw calls send.
pub fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("wire types serialise")
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
    #[must_use = "assert on the status, or use the typed client (`rest`) for a setup step"]
    pub async fn upload_build(&self, token: &str, app: &str, source: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .connection
            .request(Method::POST, &format!("/v1/apps/{app}/builds"), Some(token))
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
