//! The route table for routers, long-polled by version.

use std::time::Duration;

use paas_types::routing::RouteTable;

use crate::db;
use crate::error::ApiResult;
use crate::state::AppState;

/// Longest a long poll may wait.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// The whole route table; with `after`, waits up to `wait` for a version
/// other than `after` and answers the table as it then is.
pub async fn wait_for_table(state: &AppState, after: Option<i64>, wait: Duration) -> ApiResult<RouteTable> {
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    let mut changed = state.routes_changed.clone();
    loop {
        let version = db::routing::version(&state.db).await?;
        if after != Some(version) || tokio::time::Instant::now() >= deadline {
            return Ok(db::routing::table(&state.db, &state.settings.keys).await?);
        }
        // Woken by a notification, or re-check each second in case one was missed.
        let nap = Duration::from_secs(1).min(deadline - tokio::time::Instant::now());
        let _ = tokio::time::timeout(nap, changed.changed()).await;
    }
}
