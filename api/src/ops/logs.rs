//! App output: the recent lines, and a stream that follows new ones.

use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::db::logs::LogRow;
use crate::error::ApiResult;

/// How often a follower looks for new lines.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// Most lines one poll reads.
const POLL_BATCH: i64 = 500;

/// The `lines` most recent lines (of one process type, if given), then every
/// new line as it arrives. The stream ends only when dropped.
pub async fn follow(
    db: &PgPool,
    app_id: Uuid,
    process: Option<String>,
    lines: i64,
) -> ApiResult<impl Stream<Item = LogRow> + Send + 'static> {
    let recent = db::logs::tail(db, app_id, process.as_deref(), lines).await?;
    let last_id = recent.last().map(|r| r.id).unwrap_or(0);
    let follow = stream::unfold((db.clone(), last_id), move |(db, last)| {
        let process = process.clone();
        async move {
            loop {
                tokio::time::sleep(POLL_EVERY).await;
                match db::logs::after(&db, app_id, last, process.as_deref(), POLL_BATCH).await {
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
    Ok(stream::iter(recent).chain(follow))
}
