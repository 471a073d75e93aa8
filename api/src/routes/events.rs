//! The audit log, per app, across the caller's tenants, and of the caller's
//! own account (logins, lockouts, API tokens).

use axum::extract::State;
use paas_types::accounts::AccountEvent;
use paas_types::Event;
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::params::page_limit;
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events older than this event id (for paging).
    #[param(nullable = false)]
    before: Option<i64>,
    /// Page size, 1-500 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Events of one app, newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/events", tag = "events", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ListEventsQuery),
    responses((status = 200, body = Vec<Event>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_app_events(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> ApiResult<ApiJson<Vec<Event>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let limit = page_limit(query.limit, 100, 500)?;
    let rows = db::events::list_for_user(&state.db, user.id, Some(app.id), query.before, limit).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Events of all the caller's tenants, newest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])), params(ListEventsQuery),
    responses((status = 200, body = Vec<Event>)))]
pub async fn list_events(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> ApiResult<ApiJson<Vec<Event>>> {
    let limit = page_limit(query.limit, 100, 500)?;
    let rows = db::events::list_for_user(&state.db, user.id, None, query.before, limit).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Events about the caller's own account (logins, lockouts, API tokens), newest first.
#[utoipa::path(get, path = "/v1/me/events", tag = "events", security(("bearer" = [])), params(ListEventsQuery),
    responses((status = 200, body = Vec<AccountEvent>), (status = 401, body = paas_types::ErrorBody)))]
pub async fn list_account_events(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> ApiResult<ApiJson<Vec<AccountEvent>>> {
    let limit = page_limit(query.limit, 100, 500)?;
    let rows = db::events::list_for_account(&state.db, user.id, query.before, limit).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}
