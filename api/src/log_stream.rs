//! Following an app's output as server-sent events: the query both the JSON
//! API (`/v1/apps/{app}/logs/stream`) and the dashboard (`/apps/{app}/logs/stream`)
//! take, and the event stream they answer (`data:` is a `LogLine`).

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{Stream, StreamExt};
use paas_types::LogLine;
use serde::Deserialize;
use sqlx::PgPool;

use crate::db::apps::AppRow;
use crate::error::{ApiError, ApiResult};
use crate::ops;

/// Recent lines a request may ask for.
pub const MAX_LINES: i64 = 5000;
/// Recent lines when the request does not say.
pub const DEFAULT_LINES: i64 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Only lines of this process type.
    #[param(nullable = false)]
    pub process: Option<String>,
    /// How many recent lines, 1-5000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 5000)]
    pub lines: Option<i64>,
}

impl LogsQuery {
    /// The number of recent lines asked for; outside 1-5000 is a 422.
    pub fn line_count(&self) -> ApiResult<i64> {
        match self.lines {
            None => Ok(DEFAULT_LINES),
            Some(n) if (1..=MAX_LINES).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::validation(format!("lines must be between 1 and {MAX_LINES}"))),
        }
    }
}

/// The app's recent lines, then new ones as they come, as SSE.
pub async fn follow(
    db: &PgPool,
    app: &AppRow,
    query: LogsQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static>> {
    let lines = query.line_count()?;
    let rows = ops::logs::follow(db, app.id, query.process, lines).await?;
    let events = rows.map(|row| {
        let line: LogLine = row.into();
        Ok(Event::default().json_data(&line).unwrap_or_else(|_| Event::default().data(line.line)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
