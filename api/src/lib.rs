//! The PaaS control plane: REST API over Postgres.
//!
//! `app` builds the axum router (handlers in `routes`, SQL in `db`), `serve`
//! runs it; `main.rs` only parses config and calls in here.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
mod extract;
pub mod git;
mod middleware;
mod routes;
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
use crate::middleware::REQUEST_ID;
use crate::state::{AppState, Settings};

/// Builds the application state from config and a connected pool, and
/// starts the background tasks it relies on (route notifications, scheduler).
pub fn start(config: &ServeConfig, db: sqlx::PgPool) -> Result<AppState, config::ConfigError> {
    config.validate()?;
    let (routes_tx, routes_changed) = tokio::sync::watch::channel(0u64);
    tokio::spawn(db::routing::listen(db.clone(), routes_tx));
    let scheduler_config = scheduler::SchedulerConfig {
        node_timeout: std::time::Duration::from_secs(config.node_timeout_secs),
        sweep_every: std::time::Duration::from_secs(config.scheduler_sweep_secs),
    };
    tokio::spawn(scheduler::run(db.clone(), scheduler_config));
    Ok(AppState {
        db,
        routes_changed,
        jwt: Arc::new(JwtKeys::new(&config.jwt_secret()?, config.jwt_ttl_secs)),
        settings: Arc::new(settings(config)),
        git: git::RepoCache::new(config.git_cache_dir()),
        web: Arc::new(web::Web::new(&config.jwt_secret()?, config.cookie_secure)?),
    })
}

fn settings(config: &ServeConfig) -> Settings {
    Settings {
        base_domain: config.base_domain.clone(),
        app_scheme: config.app_scheme.clone(),
        app_port: config.app_port,
        max_json_bytes: config.max_json_bytes,
        max_source_bytes: config.max_source_bytes,
        router_token_hash: config.router_token.as_deref().map(auth::token::hash),
        build_lease_secs: config.build_lease_secs,
    }
}

/// The whole HTTP application: routes, OpenAPI document and middleware.
pub fn app(state: AppState) -> axum::Router {
    let (router, openapi) = routes::router(state.settings.max_source_bytes);
    let openapi = Arc::new(openapi);
    let max_body = state.settings.max_json_bytes;
    router
        .route("/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .merge(web::router())
        .merge(git::router(state.settings.max_source_bytes))
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(TraceLayer::new_for_http().make_span_with(middleware::request_span))
                .layer(axum::middleware::from_fn(middleware::error_envelope))
                .layer(CatchPanicLayer::new()),
        )
}

/// Connects to Postgres, applies migrations and serves until shutdown.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    config.validate()?;
    let db = db::connect(&config).await?;
    db::migrate(&db).await?;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "paas-api listening");
    serve_on(listener, start(&config, db)?, shutdown_signal()).await
}

/// Serves on an already bound listener until `shutdown` completes (used by tests too).
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await?;
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

/// `paas-api create-admin`: a platform administrator with a fresh API token.
pub async fn create_admin(config: &ServeConfig, email: &str, password: String) -> anyhow::Result<String> {
    let db = db::connect(config).await?;
    db::migrate(&db).await?;
    let state = AppState {
        db: db.clone(),
        routes_changed: tokio::sync::watch::channel(0).1,
        // The JWT key is not needed to create a user.
        jwt: Arc::new(JwtKeys::new(b"unused-unused-unused-unused-unused", 60)),
        settings: Arc::new(settings(config)),
        git: git::RepoCache::new(config.git_cache_dir()),
        web: Arc::new(web::Web::new(b"unused-unused-unused-unused-unused", false)?),
    };
    let user = routes::create_admin_user(&state, email, password).await?;
    let (secret, prefix) = auth::token::generate();
    db::tokens::insert(&db, user, "admin (create-admin)", &auth::token::hash(&secret), &prefix, None).await?;
    Ok(secret)
}
