//! Instances of an app (`ps`) and their output (logs, tail and live).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use futures::stream::Stream;
use paas_types::{Instance, LogLine};

use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::log_stream::{self, LogsQuery};
use crate::ops;
use crate::state::AppState;

/// The app's instances with their desired and actual state.
#[utoipa::path(get, path = "/v1/apps/{app}/instances", tag = "instances", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<Instance>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_instances(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Instance>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let rows = db::instances::list_for_app(&state.db, app.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Recent output lines of the app's processes, oldest first.
#[utoipa::path(get, path = "/v1/apps/{app}/logs", tag = "instances", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), LogsQuery),
    responses((status = 200, body = Vec<LogLine>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_logs(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> ApiResult<ApiJson<Vec<LogLine>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let rows = db::logs::tail(&state.db, app.id, query.process.as_deref(), query.line_count()?).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Follows the app's output as server-sent events (`data:` is a LogLine),
/// starting with the recent lines.
#[utoipa::path(get, path = "/v1/apps/{app}/logs/stream", tag = "instances", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), LogsQuery),
    responses((status = 200, content_type = "text/event-stream", body = LogLine), (status = 404, body = paas_types::ErrorBody)))]
pub async fn stream_logs(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    log_stream::follow(&state.db, &app, query).await
}
