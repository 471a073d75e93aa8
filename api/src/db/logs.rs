//! Recent output of app processes, shipped by agents.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub process_type: String,
    pub instance_id: Option<Uuid>,
    pub line: String,
}

impl From<LogRow> for paas_types::LogLine {
    fn from(row: LogRow) -> Self {
        paas_types::LogLine {
            id: row.id,
            at: row.created_at,
            process_type: row.process_type,
            instance_id: row.instance_id,
            line: row.line,
        }
    }
}

/// Stores lines of instances that run on this node (others are dropped).
pub async fn insert_batch(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    instance_ids: &[Uuid],
    lines: &[String],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO app_logs (app_id, instance_id, process_type, line)
         SELECT i.app_id, i.id, i.process_type, l.line
         FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS l(instance_id, line, n)
         JOIN instances i ON i.id = l.instance_id AND i.node_id = $1
         ORDER BY l.n",
    )
    .bind(node_id)
    .bind(instance_ids)
    .bind(lines)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Lines of an app after id `after` (oldest first), optionally of one process type.
pub async fn after(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    after: i64,
    process_type: Option<&str>,
    limit: i64,
) -> Result<Vec<LogRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, created_at, process_type, instance_id, line FROM app_logs
         WHERE app_id = $1 AND id > $2 AND ($3::text IS NULL OR process_type = $3)
         ORDER BY id LIMIT $4",
    )
    .bind(app_id)
    .bind(after)
    .bind(process_type)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The newest `limit` lines, returned oldest first.
pub async fn tail(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    process_type: Option<&str>,
    limit: i64,
) -> Result<Vec<LogRow>, sqlx::Error> {
    let mut rows: Vec<LogRow> = sqlx::query_as(
        "SELECT id, created_at, process_type, instance_id, line FROM app_logs
         WHERE app_id = $1 AND ($2::text IS NULL OR process_type = $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(app_id)
    .bind(process_type)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// Keeps a day of logs.
pub async fn prune(db: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM app_logs WHERE created_at < now() - interval '1 day'").execute(db).await.map(|_| ())
}
