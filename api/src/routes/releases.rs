//! Releases of an app, newest first.

use axum::extract::State;
use paas_types::{Release, ReleaseDetail};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::params::page_limit;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListReleasesQuery {
    /// Page size, 1-500 (default 50).
    #[param(nullable = false, minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// The app's releases, newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/releases", tag = "releases", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ListReleasesQuery),
    responses((status = 200, body = Vec<Release>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_releases(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListReleasesQuery>,
) -> ApiResult<ApiJson<Vec<Release>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let limit = page_limit(query.limit, 50, 500)?;
    let rows = db::releases::list(&state.db, app.id, limit).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// One release with its config snapshot.
#[utoipa::path(get, path = "/v1/apps/{app}/releases/{version}", tag = "releases", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("version" = i32, Path)),
    responses((status = 200, body = ReleaseDetail), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_release(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, version)): ApiPath<(String, i32)>,
) -> ApiResult<ApiJson<ReleaseDetail>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let row = db::releases::find(&state.db, app.id, version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("release v{version}")))?;
    let config = ops::config::for_caller(&user, db::releases::config(&state.db, &state.settings.keys, row.id).await?);
    Ok(ApiJson(ReleaseDetail { release: row.into(), config }))
}

/// Makes a new release from an old one: same build, same config snapshot.
#[utoipa::path(post, path = "/v1/apps/{app}/releases/{version}/rollback", tag = "releases", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("version" = i32, Path, description = "release to return to")),
    responses((status = 201, body = Release), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn rollback_release(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, version)): ApiPath<(String, i32)>,
) -> ApiResult<(axum::http::StatusCode, ApiJson<Release>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let row = ops::releases::rollback(&state.db, &state.settings.keys, &user, &app, version).await?;
    Ok((axum::http::StatusCode::CREATED, ApiJson(row.into())))
}
