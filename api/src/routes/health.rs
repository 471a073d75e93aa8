//! Liveness and readiness: answers 200 when the database answers.

use axum::extract::State;
use axum::Json;
use paas_types::Health;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Health of the API and its database (no auth).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = paas_types::ErrorBody)))]
pub async fn health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    crate::db::ping(&state.db).await.map_err(ApiError::Unavailable)?;
    Ok(Json(Health { status: "ok".into(), database: "ok".into() }))
}
