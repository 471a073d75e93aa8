//! Builds of an app: upload a source tarball (a deploy without git), list, show with log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{Build, BuildDetail};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{app_for_user, page_limit};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CreateBuildQuery {
    /// Free-form version of the source (a git commit, say), shown in listings.
    version: Option<String>,
}

/// Queues a build of a gzip-compressed tarball of the app's source.
#[utoipa::path(post, path = "/v1/apps/{app}/builds", tag = "builds", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), CreateBuildQuery),
    request_body(content = super::Tarball, content_type = "application/gzip", description = "tar.gz of the source tree"),
    responses((status = 202, body = Build), (status = 404, body = paas_types::ErrorBody),
              (status = 413, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_build(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiQuery(query): ApiQuery<CreateBuildQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, ApiJson<Build>)> {
    let app = app_for_user(&state, user.id, &app).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(queue_build(&state, &user, &app, &body, query.version.as_deref()).await?)))
}

/// Stores a source tarball and queues its build (also used by git pushes).
pub(crate) async fn queue_build(
    state: &AppState,
    user: &AuthUser,
    app: &db::apps::AppRow,
    source: &[u8],
    version: Option<&str>,
) -> ApiResult<Build> {
    if source.len() < 2 || source[..2] != [0x1f, 0x8b] {
        return Err(ApiError::validation("send the source as a gzip-compressed tarball (tar czf - .)"));
    }
    if version.is_some_and(|v| v.len() > 100) {
        return Err(ApiError::validation("version is at most 100 characters"));
    }
    let mut tx = state.db.begin().await?;
    let blob = db::builds::insert_blob(&mut *tx, source).await?;
    let build_id = db::builds::insert(&mut *tx, app.id, blob, version, Some(user.id)).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "build.create",
        data: json!({ "build": build_id, "bytes": source.len(), "version": version }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    let row = db::builds::find(&state.db, app.id, build_id).await?.ok_or_else(|| ApiError::not_found("build"))?;
    Ok(row.into())
}

/// The app's builds, newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/builds", tag = "builds", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<Build>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_builds(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Build>>> {
    let app = app_for_user(&state, user.id, &app).await?;
    let rows = db::builds::list(&state.db, app.id, page_limit(None, 50, 50)?).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// One build with its output.
#[utoipa::path(get, path = "/v1/apps/{app}/builds/{id}", tag = "builds", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("id" = Uuid, Path)),
    responses((status = 200, body = BuildDetail), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_build(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<BuildDetail>> {
    let app = app_for_user(&state, user.id, &app).await?;
    let row =
        db::builds::find(&state.db, app.id, id).await?.ok_or_else(|| ApiError::not_found(format!("build {id}")))?;
    let (log, _) = db::builds::log_from(&state.db, id, 0).await?.unwrap_or_default();
    Ok(ApiJson(BuildDetail { build: row.into(), log }))
}
