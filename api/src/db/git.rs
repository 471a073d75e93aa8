//! Pushed git history: one `git bundle` blob per app, versioned so each API
//! replica knows when its local copy is stale; and the per-app push lock.

use sqlx::{PgConnection, PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// The stored history's version and bundle blob (none before the first push).
pub async fn bundle(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<(i64, Option<Uuid>), sqlx::Error> {
    sqlx::query_as("SELECT git_version, git_bundle_blob_id FROM apps WHERE id = $1").bind(app_id).fetch_one(db).await
}

/// Points the app at a new bundle blob, deletes the old one, and returns
/// the new version.
pub async fn replace_bundle(tx: &mut Transaction<'_, Postgres>, app_id: Uuid, blob: Uuid) -> Result<i64, sqlx::Error> {
    let (version, old): (i64, Option<Uuid>) = sqlx::query_as(
        "UPDATE apps a SET git_bundle_blob_id = $2, git_version = a.git_version + 1
         FROM (SELECT git_bundle_blob_id FROM apps WHERE id = $1 FOR UPDATE) old
         WHERE a.id = $1 RETURNING a.git_version, old.git_bundle_blob_id",
    )
    .bind(app_id)
    .bind(blob)
    .fetch_one(&mut **tx)
    .await?;
    if let Some(old) = old {
        sqlx::query("DELETE FROM blobs WHERE id = $1").bind(old).execute(&mut **tx).await?;
    }
    Ok(version)
}

/// Tries to take the app's push lock on `conn` (a session-level advisory
/// lock: it lasts until released or the connection closes).
pub async fn try_lock_push(conn: &mut PgConnection, app_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(push_lock_key(app_id)).fetch_one(conn).await
}

fn push_lock_key(app_id: Uuid) -> i64 {
    let bytes = app_id.as_bytes();
    i64::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
}
