//! Custom domains of an app. A hostname belongs to at most one app, and
//! never shadows another app's default hostname.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{AddDomainRequest, Domain};

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// The app's custom domains.
#[utoipa::path(get, path = "/v1/apps/{app}/domains", tag = "domains", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<Domain>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_domains(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Domain>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let rows = db::apps::domains(&state.db, app.id).await?;
    Ok(ApiJson(rows.into_iter().map(|r| ops::domains::view(r, &state.settings)).collect()))
}

/// Adds a custom domain; the router sends its traffic to the app.
#[utoipa::path(post, path = "/v1/apps/{app}/domains", tag = "domains", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = AddDomainRequest,
    responses((status = 201, body = Domain), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn add_domain(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(req): ApiJson<AddDomainRequest>,
) -> ApiResult<(StatusCode, ApiJson<Domain>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let row = ops::domains::add_domain(&state.db, &state.settings, &user, &app, &req.hostname).await?;
    Ok((StatusCode::CREATED, ApiJson(ops::domains::view(row, &state.settings))))
}

/// Removes a custom domain.
#[utoipa::path(delete, path = "/v1/apps/{app}/domains/{hostname}", tag = "domains", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("hostname" = String, Path)),
    responses((status = 204), (status = 404, body = paas_types::ErrorBody)))]
pub async fn remove_domain(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, hostname)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    ops::domains::remove_domain(&state.db, &user, &app, &hostname).await?;
    Ok(StatusCode::NO_CONTENT)
}
