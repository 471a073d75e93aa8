//! The node agent: registers its node, heartbeats, builds images from queued
//! builds, and runs the node's share of app instances on the Docker engine.
//!
//! Five independent loops share one API client: heartbeat, reconcile,
//! builds, log shipping, and `paas run` sessions (`session`). Stopping the agent leaves containers running;
//! the next agent adopts them.
//!
//! Modules, bottom to top (`addons`: add-on servers, converged in the reconcile pass): `config` (flags and env), `errors` (one-line
//! error chains), `client` (the typed API client, set up for the agent),
//! `detect` (what kind of app a source tree is), `docker` (the engine, with
//! `docker::policy`, the one container security policy), `health` (web
//! health checks), `supervisor` (reading supervisord's program state), `build` (unpack, image recipe, output streaming),
//! `reconcile` (converging containers and volumes on the desired state), `node`
//! (registration and heartbeats). This file runs the loops.

pub mod addons;
pub mod build;
pub mod client;
pub mod config;
pub mod detect;
pub mod docker;
pub mod errors;
pub mod health;
pub mod node;
pub mod reconcile;
pub mod session;
pub mod supervisor;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{AgentClient, ClientError};
use crate::config::Config;
use crate::docker::Engine;

/// Runs the agent until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let engine = Engine::connect(&config.node_name, &config.node_address).await?;
    let engine = engine.with_runtime(config.sandbox().runtime).await?;
    if let Some(runtime) = &config.runtime {
        tracing::info!(runtime = %runtime, "app containers run under a non-default runtime");
    }
    let api = Arc::new(client::connect(&config.api_url)?);
    register_with_retry(&api, &config, false).await?;
    match engine.remove_leftover_jobs().await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed build containers a previous run left behind"),
        Err(error) => tracing::warn!(error = %errors::error_chain(&error), "cannot remove leftover build containers"),
    }
    let (log_tx, log_rx) = mpsc::channel(10_000);
    let settings = Arc::new(build::BuildSettings {
        base_image: config.base_image.clone(),
        ca_bundle: match &config.build_ca_bundle {
            Some(path) => Some(std::fs::read(path)?),
            None => None,
        },
        pip_index_url: config.build_pip_index_url.clone(),
        https_proxy: config.build_https_proxy.clone(),
        installer: config.python_installer,
        cache_dir: build::prepare_cache_dir(&config.build_cache_dir)?,
        timeout: Duration::from_secs(config.build_timeout_secs),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(heartbeat_loop(api.clone(), config.clone()));
    tasks.spawn(reconcile::ship_logs(api.clone(), log_rx));
    tasks.spawn(reconcile_loop(api.clone(), engine.clone(), config.clone(), log_tx, settings.clone()));
    tasks.spawn(session::claim_loop(api.clone(), engine.clone(), settings.clone()));
    if config.builds {
        tasks.spawn(build_loop(api.clone(), engine.clone(), settings));
    }
    tracing::info!(node = %config.node_name, api = %config.api_url, "paas-agent running");
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("stopping; containers keep running"),
        _ = tasks.join_next() => anyhow::bail!("an agent loop stopped unexpectedly"),
    }
    Ok(())
}

/// Registers (or loads the saved token), retrying while the API is unreachable.
async fn register_with_retry(api: &AgentClient, config: &Config, force: bool) -> anyhow::Result<()> {
    let mut backoff = Duration::from_millis(500);
    loop {
        match node::ensure_registered(api, config, force).await {
            Ok(()) => return Ok(()),
            Err(node::IdentityError::Register(ClientError::Unreachable { source: error, .. })) => {
                tracing::warn!(error = %error, "API unreachable; retrying registration");
            }
            Err(other) => return Err(other.into()),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn heartbeat_loop(api: Arc<AgentClient>, config: Config) {
    let mut tick = tokio::time::interval(config.heartbeat_every());
    loop {
        tick.tick().await;
        match api.heartbeat().await {
            Ok(()) => {}
            Err(error) if client::is_unauthorized(&error) => {
                tracing::warn!(error = %error, "node token refused; registering again");
                if let Err(error) = register_with_retry(&api, &config, true).await {
                    tracing::error!(error = %error, "cannot register again");
                }
            }
            Err(error) => tracing::warn!(error = %error, "heartbeat failed"),
        }
    }
}

async fn reconcile_loop(
    api: Arc<AgentClient>,
    engine: Engine,
    config: Config,
    log_tx: mpsc::Sender<paas_types::agent::ShippedLine>,
    settings: Arc<build::BuildSettings>,
) {
    let drain = Duration::from_secs(config.drain_secs);
    let grace = Duration::from_secs(config.stop_grace_secs);
    let mut reconciler = reconcile::Reconciler::new(api, engine, &config.node_address, drain, grace, log_tx, settings);
    let mut tick = tokio::time::interval(config.reconcile_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = reconciler.pass().await {
            tracing::warn!(error = %error, "reconcile pass failed; retrying");
        }
    }
}

async fn build_loop(api: Arc<AgentClient>, engine: Engine, settings: Arc<build::BuildSettings>) {
    loop {
        match api.claim_build().await {
            Ok(Some(job)) => {
                let build_id = job.build_id;
                tracing::info!(build.id = %build_id, app = %job.app, "building");
                if let Err(error) = build::run(api.clone(), engine.clone(), &settings, job).await {
                    tracing::warn!(build.id = %build_id, error = %error, "cannot report the build result");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(error = %error, "cannot claim builds"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term => {} }
}

/// Installs the log subscriber.
pub fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "pretty" { builder.try_init() } else { builder.json().flatten_event(true).try_init() };
}
