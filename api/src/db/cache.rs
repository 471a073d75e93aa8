//! Front-end cache purges: recorded per app, carried in the route table for an hour.

use chrono::{DateTime, Utc};
use paas_types::routing::CachePurge;
use uuid::Uuid;

use sqlx::PgExecutor;

/// How long a purge stays in the route table: longer than any router goes without a table.
pub const KEPT_FOR: &str = "1 hour";
/// Most purges of one app in the route table (the newest kept).
pub const MAX_PER_APP: i64 = 100;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PurgeRow {
    pub seq: i64,
    pub app_id: Uuid,
    pub path: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PurgeRow> for paas_types::CachePurgeRecord {
    fn from(row: PurgeRow) -> Self {
        paas_types::CachePurgeRecord { seq: row.seq, path: row.path, created_at: row.created_at }
    }
}

/// Locks the app's row so its purges commit in `seq` order (routers skip a `seq` lower than one
/// they applied, so a purge must never become visible after a later one of the same app).
pub async fn lock_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE").bind(app_id).execute(db).await?;
    Ok(())
}

pub async fn insert(db: impl PgExecutor<'_>, app_id: Uuid, path: Option<&str>) -> Result<PurgeRow, sqlx::Error> {
    sqlx::query_as("INSERT INTO cache_purges (app_id, path) VALUES ($1, $2) RETURNING seq, app_id, path, created_at")
        .bind(app_id)
        .bind(path)
        .fetch_one(db)
        .await
}

/// Deletes purges no route table carries any more.
pub async fn prune(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(&format!("DELETE FROM cache_purges WHERE created_at < now() - interval '{KEPT_FOR}'"))
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Every app's recent purges, oldest first, at most [`MAX_PER_APP`] per app (the newest).
pub async fn recent(db: impl PgExecutor<'_>) -> Result<Vec<(Uuid, CachePurge)>, sqlx::Error> {
    let rows: Vec<(Uuid, i64, Option<String>)> = sqlx::query_as(&format!(
        "SELECT app_id, seq, path FROM (
             SELECT app_id, seq, path, row_number() OVER (PARTITION BY app_id ORDER BY seq DESC) AS newest
             FROM cache_purges WHERE created_at >= now() - interval '{KEPT_FOR}'
         ) p
         WHERE newest <= $1 ORDER BY seq"
    ))
    .bind(MAX_PER_APP)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(app, seq, path)| (app, CachePurge { seq, path })).collect())
}
