//! Apps: create, list, show, update, delete.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{App, AppList, CreateAppRequest, UpdateAppRequest};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::params::page_limit;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAppsQuery {
    /// Only apps of this tenant.
    #[param(nullable = false)]
    tenant: Option<String>,
    /// Start after this app name (from `next_after`).
    #[param(nullable = false)]
    after: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Apps of the caller's tenants, by name, one page at a time.
#[utoipa::path(get, path = "/v1/apps", tag = "apps", security(("bearer" = [])), params(ListAppsQuery),
    responses((status = 200, body = AppList), (status = 401, body = paas_types::ErrorBody)))]
pub async fn list_apps(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListAppsQuery>,
) -> ApiResult<ApiJson<AppList>> {
    let limit = page_limit(query.limit, 100, 1000)?;
    let (rows, next_after) =
        ops::apps::list_apps(&state.db, &user, query.tenant.as_deref(), query.after.as_deref(), limit).await?;
    let apps = rows.into_iter().map(|r| ops::apps::view(r, &state.settings)).collect();
    Ok(ApiJson(AppList { apps, next_after }))
}

/// Creates an app in one of the caller's tenants.
#[utoipa::path(post, path = "/v1/apps", tag = "apps", security(("bearer" = [])), request_body = CreateAppRequest,
    responses((status = 201, body = App), (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateAppRequest>,
) -> ApiResult<(StatusCode, ApiJson<App>)> {
    let row = ops::apps::create_app(&state.db, &state.settings, &user, &req).await?;
    Ok((StatusCode::CREATED, ApiJson(ops::apps::view(row, &state.settings))))
}

/// One app.
#[utoipa::path(get, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = App), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<App>> {
    let row = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::apps::view(row, &state.settings)))
}

/// Changes the app's settings: `{"request_timeout_secs": 60}` (1-3600; the
/// router answers 504 when the app has not started its response by then).
#[utoipa::path(patch, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = UpdateAppRequest,
    responses((status = 200, body = App), (status = 404, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn update_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateAppRequest>,
) -> ApiResult<ApiJson<App>> {
    let row = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let row = ops::apps::update_app(&state.db, &user, &row, &req).await?;
    Ok(ApiJson(ops::apps::view(row, &state.settings)))
}

/// Deletes an app with its config, domains, releases and instances (owners and admins).
#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 204), (status = 403, body = paas_types::ErrorBody), (status = 404, body = paas_types::ErrorBody)))]
pub async fn delete_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let row = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    ops::apps::delete_app(&state.db, &user, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}
