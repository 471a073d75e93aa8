//! Instances of an app (`ps`) and their output (logs, tail and live).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use paas_types::{Instance, LogLine};
use serde::Deserialize;

use super::{app_for_user, page_limit};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
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
    let app = app_for_user(&state, user.id, &app).await?;
    let rows = db::instances::list_for_app(&state.db, app.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogsQuery {
    /// Only lines of this process type.
    process: Option<String>,
    /// How many recent lines, 1-5000 (default 100).
    lines: Option<i64>,
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
    let app = app_for_user(&state, user.id, &app).await?;
    let limit = page_limit(query.lines, 100, 5000)?;
    let rows = db::logs::tail(&state.db, app.id, query.process.as_deref(), limit).await?;
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
    let app = app_for_user(&state, user.id, &app).await?;
    let limit = page_limit(query.lines, 100, 5000)?;
    let recent = db::logs::tail(&state.db, app.id, query.process.as_deref(), limit).await?;
    let last_id = recent.last().map(|r| r.id).unwrap_or(0);
    let first = stream::iter(recent);
    // Poll for newer lines; a dropped client ends the stream.
    let follow = stream::unfold((state.db.clone(), last_id), move |(db, last)| {
        let process = query.process.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                match db::logs::after(&db, app.id, last, process.as_deref(), 500).await {
                    Ok(rows) if !rows.is_empty() => {
                        let next = rows.last().map(|r| r.id).unwrap_or(last);
                        return Some((stream::iter(rows), (db, next)));
                    }
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!(error = &error as &dyn std::error::Error, "log stream poll failed");
                        continue;
                    }
                }
            }
        }
    })
    .flatten();
    let events = first.chain(follow).map(|row| {
        let line: LogLine = row.into();
        Ok(SseEvent::default().json_data(&line).unwrap_or_else(|_| SseEvent::default().data(line.line)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
