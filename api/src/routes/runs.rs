//! One-off processes (`paas run`): start one, read it, attach a terminal
//! (WebSocket), and the agent's side: claim (long poll) and stream (WebSocket).

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use paas_types::session::{ConsoleRequest, Run, RunJobs, RunRequest};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::run_relay;
use crate::auth::{AgentNode, AuthUser};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::run_hub::{Arrival, Side};
use crate::state::AppState;

/// How long one side of a session waits for the other to connect.
const PAIRING_LIMIT: Duration = Duration::from_secs(60);

/// Starts a command in a new container of the app's current release, with
/// its config, on a live node; attach to it at `.../runs/{id}/attach`.
#[utoipa::path(post, path = "/v1/apps/{app}/runs", tag = "runs", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = RunRequest,
    responses((status = 201, body = Run), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_run(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(request): ApiJson<RunRequest>,
) -> ApiResult<(StatusCode, ApiJson<Run>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let run = ops::runs::create(&state.db, &state.settings, &state.runs, &user, &app, &request).await?;
    Ok((StatusCode::CREATED, ApiJson(run)))
}

/// An interactive client session with an add-on (`psql`, `redis-cli`)
/// logged in as its apps are, recorded as a run of an attached app; attach
/// to it at `/v1/apps/{app}/runs/{id}/attach` like any run.
#[utoipa::path(post, path = "/v1/addons/{addon}/console", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")), request_body = ConsoleRequest,
    responses((status = 201, body = Run), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_console(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
    ApiJson(request): ApiJson<ConsoleRequest>,
) -> ApiResult<(StatusCode, ApiJson<Run>)> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    let run = ops::runs::console(&state.db, &state.settings, &state.runs, &user, &addon, &request).await?;
    Ok((StatusCode::CREATED, ApiJson(run)))
}

/// One run of the app: its state and, once ended, exit status.
#[utoipa::path(get, path = "/v1/apps/{app}/runs/{id}", tag = "runs", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("id" = Uuid, Path)),
    responses((status = 200, body = Run), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_run(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Run>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::runs::find(&state.db, &app, id).await?.into()))
}

/// The run's terminal as a WebSocket: binary frames are bytes with a
/// channel byte first (0 stdin, 1 stdout, 2 stderr); text frames JSON
/// control (`resize`, `signal`, `eof`; from the process `status`, `exit`).
#[utoipa::path(get, path = "/v1/apps/{app}/runs/{id}/attach", tag = "runs", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("id" = Uuid, Path)),
    responses((status = 101, description = "WebSocket of the session"), (status = 400, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody)))]
pub async fn attach_run(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, id)): ApiPath<(String, Uuid)>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let run = ops::runs::find(&state.db, &app, id).await?;
    if run.detach {
        return Err(ApiError::Conflict("a detached run has no terminal; its output is in `paas logs`".into()));
    }
    if run.state == "exited" {
        return Err(ApiError::Conflict("this run has ended; start another".into()));
    }
    let upgrade = upgrade.map_err(|_| ApiError::BadRequest("connect with a WebSocket upgrade".into()))?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        let (db, hub) = (state.db.clone(), state.runs.clone());
        let expired_run = run.clone();
        let expired_db = db.clone();
        let expired = move |socket| run_relay::peer_never_came(expired_db, expired_run, socket, "node");
        if let Arrival::Paired { user, agent } = hub.arrive(run.id, Side::User, socket, PAIRING_LIMIT, expired) {
            run_relay::relay(db, run, user, agent).await;
        }
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// Seconds to wait for a run to be placed on the node, 0-30 (default 25).
    #[param(nullable = false, minimum = 0, maximum = 30)]
    pub wait_secs: Option<u64>,
}

/// Claims the runs placed on this node, waiting up to `wait_secs` for one (a long poll).
#[utoipa::path(post, path = "/v1/agent/runs/claim", tag = "agent", security(("bearer" = [])), params(ClaimQuery),
    responses((status = 200, body = RunJobs), (status = 401, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn claim_runs(
    State(state): State<AppState>,
    node: AgentNode,
    ApiQuery(query): ApiQuery<ClaimQuery>,
) -> ApiResult<ApiJson<RunJobs>> {
    let wait = query.wait_secs.unwrap_or(25);
    if wait > ops::runs::MAX_CLAIM_WAIT.as_secs() {
        return Err(ApiError::validation("wait_secs is 0-30"));
    }
    let wait = Duration::from_secs(wait).min(state.settings.run_claim_wait);
    Ok(ApiJson(ops::runs::claim(&state.db, &state.settings.keys, &state.runs, &node, wait).await?))
}

/// The agent's end of a run's session (same framing as the user's).
#[utoipa::path(get, path = "/v1/agent/runs/{id}/attach", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 101, description = "WebSocket of the session"), (status = 400, body = paas_types::ErrorBody),
              (status = 401, body = paas_types::ErrorBody), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody)))]
pub async fn agent_attach_run(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let run = db::runs::find_for_node(&state.db, node.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id}")))?;
    if run.state == "exited" {
        return Err(ApiError::Conflict("this run has ended".into()));
    }
    let upgrade = upgrade.map_err(|_| ApiError::BadRequest("connect with a WebSocket upgrade".into()))?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        let (db, hub) = (state.db.clone(), state.runs.clone());
        if run.detach {
            return run_relay::capture(db, run, socket).await;
        }
        let expired_run = run.clone();
        let expired_db = db.clone();
        let expired = move |socket| run_relay::peer_never_came(expired_db, expired_run, socket, "terminal");
        if let Arrival::Paired { user, agent } = hub.arrive(run.id, Side::Agent, socket, PAIRING_LIMIT, expired) {
            run_relay::relay(db, run, user, agent).await;
        }
    }))
}
