//! Formation: how many processes of each type an app runs, and their size.

use axum::extract::State;
use paas_types::{FormationChange, FormationPatch, ProcessFormation};

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// The app's formation.
#[utoipa::path(get, path = "/v1/apps/{app}/formation", tag = "formation", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<ProcessFormation>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_formation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<ProcessFormation>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let rows = db::apps::formation(&state.db, app.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Scales process types: `{"web": 3, "worker": {"quantity": 1, "size": "small"}}`.
#[utoipa::path(patch, path = "/v1/apps/{app}/formation", tag = "formation", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    request_body(content = BTreeMap<String, FormationChange>, description = "process type -> quantity, or {quantity, size}"),
    responses((status = 200, body = Vec<ProcessFormation>), (status = 404, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn update_formation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(patch): ApiJson<FormationPatch>,
) -> ApiResult<ApiJson<Vec<ProcessFormation>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::formation::scale(&state.db, &user, &app, &patch).await?))
}
