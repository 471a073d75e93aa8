//! The PaaS control plane: REST API, dashboard and git endpoint over Postgres.
//!
//! Layers, bottom to top (a module only uses those below it):
//!
//! | layer | modules | job |
//! | --- | --- | --- |
//! | base | `config`, `error`, `validate`, `telemetry`, `hints`, `crypto`, `client_ip` | settings from env/flags, `ApiError` and its one HTTP mapping, name rules, logs, what-is-wrong hints, encryption at rest, client addresses behind trusted proxies |
//! | storage | `db` | every SQL statement, one file per entity |
//! | state | `state`, `auth`, `run_hub` | pool + keys + settings (`AppState`); passwords, tokens, JWTs, the credential extractors; where `paas run` sockets meet |
//! | decisions | `scheduler`, `acme` | formation x release -> instances on nodes (`scheduler::plan` is pure); certificate orders for custom domains |
//! | operations | `ops` | every domain action (create app, queue build, scale, ...) |
//! | shared surface parts | `middleware`, `log_stream` | request ids, error envelope; log following as SSE |
//! | surfaces | `routes` (JSON `/v1`), `web` (HTML dashboard), `git` (smart HTTP) | parse input, call `ops`, render; never call each other |
//!
//! `start` builds the state and starts the background tasks, `app` joins the
//! three surfaces into one axum router, `serve` runs it; `main.rs` only
//! parses config and calls in here.

pub mod acme;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod git;
pub mod hints;
mod log_stream;
mod middleware;
pub mod ops;
mod routes;
pub mod run_hub;
pub mod scheduler;
pub mod state;
pub mod telemetry;
pub mod validate;
pub mod web;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Json;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::jwt::JwtKeys;
use crate::config::ServeConfig;
use crate::git::{GitState, RepoCache};
use crate::middleware::REQUEST_ID;
use crate::state::{AppState, Settings};
use crate::web::{Web, WebState};

/// Everything the three surfaces serve from: the core state, the
/// dashboard's templates and keys, and the git repository cache.
#[derive(Clone)]
pub struct Server {
    pub core: AppState,
    web: Arc<Web>,
    repos: RepoCache,
}

/// Builds the server state from config and a connected pool, and starts the
/// background tasks it relies on (route notifications, scheduler).
pub fn start(config: &ServeConfig, db: sqlx::PgPool) -> Result<Server, config::ConfigError> {
    config.validate()?;
    let (routes_tx, routes_changed) = tokio::sync::watch::channel(0u64);
    tokio::spawn(db::routing::listen(db.clone(), routes_tx));
    let scheduler_config = scheduler::SchedulerConfig {
        node_timeout: std::time::Duration::from_secs(config.node_timeout_secs),
        sweep_every: std::time::Duration::from_secs(config.scheduler_sweep_secs),
    };
    tokio::spawn(scheduler::run(db.clone(), scheduler_config));
    tokio::spawn(ops::addons::backups::schedule(db.clone(), std::time::Duration::from_secs(600)));
    match config.tls.acme_off_reason() {
        None => {
            let worker = acme::Worker::new(&config.tls, db.clone())?;
            tokio::spawn(worker.run());
        }
        Some(reason) if config.tls.acme_enabled() => tracing::error!("ACME is not started: {reason}"),
        Some(reason) => tracing::info!("{reason}"),
    }
    let core = AppState {
        db,
        routes_changed,
        jwt: Arc::new(JwtKeys::new(&config.jwt_secret()?, config.jwt_ttl_secs)),
        settings: Arc::new(settings(config)?),
        runs: Arc::default(),
    };
    Ok(Server {
        core,
        web: Arc::new(Web::new(&config.jwt_secret()?, config.cookie_secure)?),
        repos: RepoCache::new(config.git_cache_dir()),
    })
}

fn settings(config: &ServeConfig) -> Result<Settings, config::ConfigError> {
    Ok(Settings {
        base_domain: config.base_domain.clone(),
        app_scheme: config.app_scheme.clone(),
        app_port: config.app_port,
        max_json_bytes: config.max_json_bytes,
        max_source_bytes: config.max_source_bytes,
        router_token_hash: config.router_token.as_deref().map(auth::token::hash),
        build_lease_secs: config.build_lease_secs,
        run_max_secs: config.run_max_secs.clamp(1, i64::MAX as u64) as i64,
        run_claim_wait: std::time::Duration::from_secs(config.run_claim_wait_secs),
        acme_enabled: config.tls.acme_off_reason().is_none(),
        acme_off_reason: config.tls.acme_off_reason(),
        acme_renew_before: chrono::Duration::days(i64::from(config.tls.acme_renew_days)),
        app_https_port: config.tls.app_https_port,
        keys: config.tls.keyring()?,
        signup: config.accounts.signup,
        throttle: auth::throttle::ThrottlePolicy::from_config(&config.accounts),
    })
}

/// The whole HTTP application: the JSON API with its OpenAPI document, the
/// dashboard and the git endpoint, under the shared middleware.
pub fn app(server: Server) -> axum::Router {
    let settings = server.core.settings.clone();
    let (api, openapi) = routes::router(settings.max_source_bytes, &settings.base_domain);
    let openapi = Arc::new(openapi);
    let api = api
        .route("/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .with_state(server.core.clone());
    let dashboard = web::router().with_state(WebState { core: server.core.clone(), web: server.web });
    let git = git::router(settings.max_source_bytes).with_state(GitState { core: server.core, repos: server.repos });
    api.merge(dashboard).merge(git).layer(DefaultBodyLimit::max(settings.max_json_bytes)).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TraceLayer::new_for_http().make_span_with(middleware::request_span))
            .layer(axum::middleware::from_fn(middleware::error_envelope))
            .layer(CatchPanicLayer::new()),
    )
}

/// Connects to Postgres, applies migrations, seals what is still plain and
/// serves until shutdown.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    config.validate()?;
    let db = db::connect(&config).await?;
    prepare_database(&config, &db).await?;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "paas-api listening");
    serve_on(listener, start(&config, db)?, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes (used by tests too).
pub async fn serve_on(
    listener: TcpListener,
    server: Server,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The peer address feeds the login throttle (`auth::throttle::ClientAddr`).
    let app = app(server).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Applies pending migrations, then seals secrets a database from before
/// sealing holds in plain text (and clears them), before anything reads them.
/// Returns how many rows were sealed.
pub async fn prepare_database(config: &ServeConfig, db: &sqlx::PgPool) -> anyhow::Result<u64> {
    let keys = config.tls.keyring()?;
    db::migrate(db).await?;
    let sealed = db::secrets::seal_plaintext(db, &keys).await?;
    if sealed > 0 {
        tracing::info!(rows = sealed, key.id = %keys.current_id(), "secrets stored in plain text sealed under the secret key");
    }
    Ok(sealed)
}

/// `paas-api rotate-secret-key`: reseals every sealed value under the current
/// key (values under a previous key, or in the format before key ids) and
/// says, per column, how many it resealed and how many were already current.
pub async fn rotate_secret_key(config: &ServeConfig) -> anyhow::Result<String> {
    use std::fmt::Write;
    let keys = config.tls.keyring()?;
    let db = db::connect(config).await?;
    prepare_database(config, &db).await?;
    let counts = db::secrets::reseal_all(&db, &keys).await?;
    let resealed: u64 = counts.iter().map(|c| c.resealed).sum();
    let mut report = format!("current key {}; resealed {resealed} value(s)\n", keys.current_id());
    for c in &counts {
        let _ = writeln!(report, "  {:<40} resealed {:>6}  already current {:>6}", c.column, c.resealed, c.current);
    }
    let previous = keys.previous_ids();
    if !previous.is_empty() {
        let _ = writeln!(
            report,
            "nothing is sealed under {} any more: remove PAAS_SECRET_KEY_PREVIOUS and restart",
            previous.join(", ")
        );
    }
    Ok(report)
}

/// `paas-api create-admin`: a platform administrator with a fresh API token.
pub async fn create_admin(config: &ServeConfig, email: &str, password: String) -> anyhow::Result<String> {
    let db = db::connect(config).await?;
    db::migrate(&db).await?;
    let user = ops::users::create_admin(&db, email, password).await?;
    let (secret, prefix) = auth::token::generate();
    let token = db::tokens::NewToken {
        user_id: user.id,
        name: "admin (create-admin)",
        token_hash: &auth::token::hash(&secret),
        prefix: &prefix,
        scope: paas_types::TokenScope::Admin,
        app_id: None,
        expires_at: None,
    };
    db::tokens::insert(&db, token).await?;
    Ok(secret)
}
