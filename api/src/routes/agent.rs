//! The agent protocol: registration, heartbeats, desired state, reports,
//! the build queue and log shipping. Authenticated by node tokens.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use paas_types::agent::{
    BuildJob, BuildLogLines, BuildResult, DesiredState, LogBatch, NodeRegistered, NodeReport, RegisterNode,
};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath};
use crate::auth::{AgentNode, JoinCredential};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::state::AppState;

/// Registers (or re-registers) a node; authenticated with a join token.
#[utoipa::path(post, path = "/v1/agent/register", tag = "agent", security(("bearer" = [])), request_body = RegisterNode,
    responses((status = 200, body = NodeRegistered), (status = 401, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn register_node(
    State(state): State<AppState>,
    _join: JoinCredential,
    ApiJson(req): ApiJson<RegisterNode>,
) -> ApiResult<ApiJson<NodeRegistered>> {
    let registered = ops::nodes::register_node(&state.db, &req).await?;
    Ok(ApiJson(registered))
}

/// Records that the node is alive.
#[utoipa::path(post, path = "/v1/agent/heartbeat", tag = "agent", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn heartbeat(State(state): State<AppState>, node: AgentNode) -> ApiResult<StatusCode> {
    ops::nodes::heartbeat(&state.db, &node).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything this node should run.
#[utoipa::path(get, path = "/v1/agent/desired", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = DesiredState), (status = 401, body = paas_types::ErrorBody)))]
pub async fn desired_state(State(state): State<AppState>, node: AgentNode) -> ApiResult<ApiJson<DesiredState>> {
    Ok(ApiJson(ops::nodes::desired_state(&state.db, &state.settings.keys, &node).await?))
}

/// The node's view of its instances; the scheduler reacts to changes.
#[utoipa::path(post, path = "/v1/agent/report", tag = "agent", security(("bearer" = [])), request_body = NodeReport,
    responses((status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn report_instances(
    State(state): State<AppState>,
    node: AgentNode,
    ApiJson(report): ApiJson<NodeReport>,
) -> ApiResult<StatusCode> {
    ops::nodes::report_instances(&state.db, &node, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Claims the next queued build, if any (204 when the queue is empty).
#[utoipa::path(post, path = "/v1/agent/builds/claim", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = BuildJob), (status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn claim_build(State(state): State<AppState>, node: AgentNode) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    match ops::builds::claim_build(&state.db, &state.settings, &node).await? {
        Some(job) => Ok(ApiJson(job).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// The source tarball of a build this node holds.
#[utoipa::path(get, path = "/v1/agent/builds/{id}/source", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/gzip", body = super::params::Tarball), (status = 404, body = paas_types::ErrorBody)))]
pub async fn build_source(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data = db::builds::claimed_source(&state.db, id, node.id).await?.ok_or_else(|| ApiError::not_found("build"))?;
    Ok((super::params::GZIP, data))
}

/// The source of a succeeded build, for a node that must rebuild its image
/// (images are node-local when no registry is configured).
#[utoipa::path(get, path = "/v1/agent/sources/{id}", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/gzip", body = super::params::Tarball), (status = 404, body = paas_types::ErrorBody)))]
pub async fn built_source(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data =
        db::builds::succeeded_source(&state.db, id, node.id).await?.ok_or_else(|| ApiError::not_found("build"))?;
    Ok((super::params::GZIP, data))
}

/// Appends build output and renews the lease (409: the lease was lost).
#[utoipa::path(post, path = "/v1/agent/builds/{id}/log", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BuildLogLines,
    responses((status = 204), (status = 409, body = paas_types::ErrorBody)))]
pub async fn append_build_log(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(lines): ApiJson<BuildLogLines>,
) -> ApiResult<StatusCode> {
    ops::builds::append_log(&state.db, &state.settings, &node, id, &lines.lines).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stores the build's static bundle (a gzip tarball).
#[utoipa::path(put, path = "/v1/agent/builds/{id}/static", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = super::params::Tarball, content_type = "application/gzip"),
    responses((status = 204), (status = 409, body = paas_types::ErrorBody)))]
pub async fn upload_static_bundle(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    ops::builds::store_static_bundle(&state.db, &node, id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a build. Success makes a release with the app's current config.
#[utoipa::path(post, path = "/v1/agent/builds/{id}/finish", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BuildResult,
    responses((status = 204), (status = 409, body = paas_types::ErrorBody)))]
pub async fn finish_build(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(result): ApiJson<BuildResult>,
) -> ApiResult<StatusCode> {
    ops::builds::finish_build(&state.db, &state.settings.keys, &node, id, &result).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Output lines of this node's instances.
#[utoipa::path(post, path = "/v1/agent/logs", tag = "agent", security(("bearer" = [])), request_body = LogBatch,
    responses((status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn ship_logs(
    State(state): State<AppState>,
    node: AgentNode,
    ApiJson(batch): ApiJson<LogBatch>,
) -> ApiResult<StatusCode> {
    ops::nodes::ship_logs(&state.db, &node, batch.lines).await?;
    Ok(StatusCode::NO_CONTENT)
}
