//! The front-end cache of an app's routers.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{CachePurgeRecord, PurgeCacheRequest};

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// Drops the app's cached responses (one path, or everything) from every router; they apply it
/// within a second or so.
#[utoipa::path(post, path = "/v1/apps/{app}/cache/purge", tag = "cache", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = PurgeCacheRequest,
    responses((status = 202, body = CachePurgeRecord), (status = 404, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn purge_cache(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(req): ApiJson<PurgeCacheRequest>,
) -> ApiResult<(StatusCode, ApiJson<CachePurgeRecord>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let row = ops::cache::purge(&state.db, &user, &app, req.path.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(row.into())))
}
