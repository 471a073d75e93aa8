//! Builds of an app: upload a source tarball (a deploy without git), list, show with log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{Build, BuildDetail};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::params::page_limit;
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateBuildQuery {
    /// Free-form version of the source (a git commit, say), shown in listings.
    #[param(nullable = false, max_length = 100)]
    version: Option<String>,
}

/// Queues a build of a gzip-compressed tarball of the app's source.
#[utoipa::path(post, path = "/v1/apps/{app}/builds", tag = "builds", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), CreateBuildQuery),
    request_body(content = super::params::Tarball, content_type = "application/gzip", description = "tar.gz of the source tree"),
    responses((status = 202, body = Build), (status = 404, body = paas_types::ErrorBody),
              (status = 413, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_build(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiQuery(query): ApiQuery<CreateBuildQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, ApiJson<Build>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let build = ops::builds::queue_build(&state.db, &user, &app, &body, query.version.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(build)))
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
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
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
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::builds::build_detail(&state.db, &app, id).await?))
}
