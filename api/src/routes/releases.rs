//! Releases of an app, newest first.

use axum::extract::State;
use paas_types::{Release, ReleaseDetail};
use serde::Deserialize;

use super::{app_for_user, page_limit};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListReleasesQuery {
    /// Page size, 1-500 (default 50).
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
    let app = app_for_user(&state, user.id, &app).await?;
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
    let app = app_for_user(&state, user.id, &app).await?;
    let row = db::releases::find(&state.db, app.id, version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("release v{version}")))?;
    let config = row.config.0.clone();
    Ok(ApiJson(ReleaseDetail { release: row.into(), config }))
}

/// Makes a new release from an old one: same build, same config snapshot.
#[utoipa::path(post, path = "/v1/apps/{app}/releases/{version}/rollback", tag = "releases", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("version" = i32, Path, description = "release to return to")),
    responses((status = 201, body = Release), (status = 404, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn rollback_release(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, version)): ApiPath<(String, i32)>,
) -> ApiResult<(axum::http::StatusCode, ApiJson<Release>)> {
    let app = app_for_user(&state, user.id, &app).await?;
    let new_version = rollback(&state, &user, &app, version).await?;
    let row =
        db::releases::find(&state.db, app.id, new_version).await?.ok_or_else(|| ApiError::not_found("release"))?;
    Ok((axum::http::StatusCode::CREATED, ApiJson(row.into())))
}

/// Creates release N+1 as a copy of release `version` (build and config),
/// restores the config vars to that snapshot, and rolls it out. Also used
/// by the dashboard.
pub(crate) async fn rollback(
    state: &AppState,
    user: &AuthUser,
    app: &db::apps::AppRow,
    version: i32,
) -> ApiResult<i32> {
    let target = db::releases::find(&state.db, app.id, version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("release v{version}")))?;
    let Some(build_id) = target.build_id else {
        return Err(ApiError::validation(format!("release v{version} has no build to return to")));
    };
    let mut tx = state.db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    // The config vars go back to the snapshot too, so later releases start from it.
    let current = db::apps::config(&mut *tx, app.id).await?;
    let mut patch: std::collections::BTreeMap<String, Option<String>> =
        current.keys().filter(|k| !target.config.0.contains_key(*k)).map(|k| (k.clone(), None)).collect();
    patch.extend(target.config.0.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
    db::apps::patch_config(&mut tx, app.id, &patch).await?;
    let description = format!("Rollback to v{version}");
    let new_version =
        db::releases::create(&mut tx, app.id, Some(build_id), &target.config.0, &description, Some(user.id)).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "release.rollback",
        data: serde_json::json!({ "to": version, "release": new_version }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    crate::scheduler::reconcile_apps(&state.db, [app.id]).await;
    Ok(new_version)
}
