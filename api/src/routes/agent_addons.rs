//! The agent protocol's add-on jobs: a node uploads the dumps it captured
//! and reads the ones it restores. Authenticated by node tokens; a node
//! only sees jobs of add-ons it holds.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use paas_types::addons::AddonJobResult;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath};
use crate::auth::AgentNode;
use crate::error::ApiResult;
use crate::ops::addons::backups;
use crate::state::AppState;

/// Stores the dump of a pending backup (`pg_dump -Fc` output).
#[utoipa::path(put, path = "/v1/agent/backups/{id}", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = super::params::Tarball, content_type = "application/octet-stream"),
    responses((status = 204), (status = 404, body = paas_types::ErrorBody)))]
pub async fn upload_backup(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    backups::store_capture(&state.db, &node, id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records that a pending backup could not be taken.
#[utoipa::path(post, path = "/v1/agent/backups/{id}/fail", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AddonJobResult,
    responses((status = 204), (status = 404, body = paas_types::ErrorBody)))]
pub async fn fail_backup(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(result): ApiJson<AddonJobResult>,
) -> ApiResult<StatusCode> {
    let message = result.message.unwrap_or_else(|| "the node gave no reason".into());
    backups::fail_capture(&state.db, &node, id, &message).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The dump a pending restore loads.
#[utoipa::path(get, path = "/v1/agent/restores/{id}/source", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = super::params::Tarball),
              (status = 404, body = paas_types::ErrorBody)))]
pub async fn restore_source(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data = backups::restore_source(&state.db, &node, id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], data))
}

/// Ends a restore.
#[utoipa::path(post, path = "/v1/agent/restores/{id}/finish", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AddonJobResult,
    responses((status = 204), (status = 404, body = paas_types::ErrorBody)))]
pub async fn finish_restore(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(result): ApiJson<AddonJobResult>,
) -> ApiResult<StatusCode> {
    backups::finish_restore(&state.db, &node, id, result.success, result.message.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
