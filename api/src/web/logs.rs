//! Live logs of an app: the page shows the recent lines, and a little script
//! follows `/apps/{app}/logs/stream`, the API's SSE stream authenticated by
//! the session cookie (EventSource cannot send an `Authorization` header).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::apps::app_page;
use super::error::WebError;
use super::page::WebState;
use super::session::WebUser;
use crate::db;
use crate::log_stream::{self, LogsQuery};
use crate::ops;

/// Lines the page starts with.
const RECENT_LINES: i64 = 200;

pub(crate) async fn show_logs(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "logs").await?;
    let lines: Vec<_> = db::logs::tail(&state.db, row.id, None, RECENT_LINES)
        .await?
        .into_iter()
        .map(|l| json!({ "id": l.id, "at": l.created_at.format("%H:%M:%S").to_string(), "process_type": l.process_type, "line": l.line }))
        .collect();
    let last_id = lines.last().map(|l| l["id"].clone()).unwrap_or(json!(0));
    context.insert("lines", &lines);
    context.insert("last_id", &last_id);
    state.web.render(StatusCode::OK, "app/logs.html", &context)
}

/// The API's log stream (`GET /v1/apps/{app}/logs/stream`) for the session's user.
pub(crate) async fn stream_logs(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, WebError> {
    let row = ops::apps::app_for_user(&state.db, user.user.id, &app).await?;
    Ok(log_stream::follow(&state.db, &row, query).await?.into_response())
}
