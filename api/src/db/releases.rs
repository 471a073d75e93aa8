//! Releases: numbered, immutable pairs of a build and a config snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_types::ReleaseStatus;
use sqlx::types::Json;
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use super::secrets;
use crate::crypto::Keyring;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    pub id: Uuid,
    pub version: i32,
    pub build_id: Option<Uuid>,
    pub description: String,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    pub current: bool,
    pub status: ReleaseStatus,
    pub failure: Option<String>,
}

impl From<ReleaseRow> for paas_types::Release {
    fn from(row: ReleaseRow) -> Self {
        paas_types::Release {
            id: row.id,
            version: row.version,
            build_id: row.build_id,
            description: row.description,
            author: row.author,
            created_at: row.created_at,
            current: row.current,
            status: row.status,
            failure: row.failure,
        }
    }
}

const SELECT: &str = "
    SELECT r.id, r.version, r.build_id, r.description, u.email AS author, r.created_at,
           r.version = (SELECT max(version) FROM releases WHERE app_id = r.app_id) AS current,
           r.status, r.failure
    FROM releases r LEFT JOIN users u ON u.id = r.author_id";

/// Creates the next release of an app. The caller holds the app's lock
/// (`apps::lock`), which makes the version numbers gapless and unique.
pub async fn create(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keyring,
    app_id: Uuid,
    build_id: Option<Uuid>,
    config: &BTreeMap<String, String>,
    description: &str,
    author_id: Option<Uuid>,
) -> Result<i32, sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query_scalar(
        "INSERT INTO releases (id, app_id, version, build_id, config_sealed, description, author_id)
         SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6 FROM releases WHERE app_id = $2
         RETURNING version",
    )
    .bind(id)
    .bind(app_id)
    .bind(build_id)
    .bind(secrets::seal_map(keys, &secrets::release_config_purpose(id), config))
    .bind(description)
    .bind(author_id)
    .fetch_one(&mut **tx)
    .await
}

/// The config snapshot of a release, opened.
pub async fn config(
    db: impl PgExecutor<'_>,
    keys: &Keyring,
    release_id: Uuid,
) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT config_sealed FROM releases WHERE id = $1").bind(release_id).fetch_one(db).await?;
    secrets::open_map(keys, &secrets::release_config_purpose(release_id), &sealed)
}

/// The app's latest release, if any.
pub async fn current(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Option<ReleaseRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE r.app_id = $1 ORDER BY r.version DESC LIMIT 1"))
        .bind(app_id)
        .fetch_optional(db)
        .await
}

/// Releases, newest first.
pub async fn list(db: impl PgExecutor<'_>, app_id: Uuid, limit: i64) -> Result<Vec<ReleaseRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE r.app_id = $1 ORDER BY r.version DESC LIMIT $2"))
        .bind(app_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

pub async fn find(db: impl PgExecutor<'_>, app_id: Uuid, version: i32) -> Result<Option<ReleaseRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE r.app_id = $1 AND r.version = $2"))
        .bind(app_id)
        .bind(version)
        .fetch_optional(db)
        .await
}

/// The release the scheduler rolls out.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeployableRow {
    pub id: Uuid,
    pub version: i32,
    pub status: ReleaseStatus,
    pub created_at: DateTime<Utc>,
    /// Process types its build defines (name -> command).
    pub process_types: Json<BTreeMap<String, String>>,
}

/// The newest release whose build succeeded and that has not failed: what
/// the scheduler rolls out (so a failed release hands back to the one before).
pub async fn deployable(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Option<DeployableRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.version, r.status, r.created_at, b.process_types
         FROM releases r JOIN builds b ON b.id = r.build_id
         WHERE r.app_id = $1 AND b.status = 'succeeded' AND r.status <> 'failed'
         ORDER BY r.version DESC LIMIT 1",
    )
    .bind(app_id)
    .fetch_optional(db)
    .await
}

/// Ends a pending release: `promoted` or `failed` (with why). Returns
/// whether it was still pending.
pub async fn settle(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: ReleaseStatus,
    failure: Option<&str>,
) -> Result<bool, sqlx::Error> {
    sqlx::query("UPDATE releases SET status = $2, failure = $3 WHERE id = $1 AND status = 'pending'")
        .bind(id)
        .bind(status)
        .bind(failure)
        .execute(db)
        .await
        .map(|done| done.rows_affected() == 1)
}

/// Pending releases older than a promoted `version` never took over: failed.
pub async fn supersede_older(db: impl PgExecutor<'_>, app_id: Uuid, version: i32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE releases SET status = 'failed', failure = 'superseded by v' || $2::text || ' before it was healthy'
         WHERE app_id = $1 AND version < $2 AND status = 'pending'",
    )
    .bind(app_id)
    .bind(version)
    .execute(db)
    .await
    .map(|_| ())
}

/// Apps with a pending release that can roll out: the scheduler looks at
/// them every second (a settle period ends without any report changing).
pub async fn apps_with_pending(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT r.app_id FROM releases r JOIN builds b ON b.id = r.build_id
         WHERE r.status = 'pending' AND b.status = 'succeeded'",
    )
    .fetch_all(db)
    .await
}

/// A release's status and failure, by version.
pub async fn status(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    version: i32,
) -> Result<Option<(ReleaseStatus, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT status, failure FROM releases WHERE app_id = $1 AND version = $2")
        .bind(app_id)
        .bind(version)
        .fetch_optional(db)
        .await
}
