//! Builds and the blobs they carry (source tarballs, static bundles). The
//! build queue is this table: agents claim rows with `FOR UPDATE SKIP
//! LOCKED` and hold a lease they renew while working; an expired lease puts
//! the build back up for grabs.

use chrono::{DateTime, Utc};
use paas_types::BuildStatus;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

/// How many agents may try a build before it is failed.
pub const MAX_ATTEMPTS: i32 = 3;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BuildRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub status: BuildStatus,
    pub source_blob_id: Option<Uuid>,
    pub source_version: Option<String>,
    pub image_ref: Option<String>,
    pub error: Option<String>,
    pub release: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<BuildRow> for paas_types::Build {
    fn from(row: BuildRow) -> Self {
        paas_types::Build {
            id: row.id,
            status: row.status,
            source_version: row.source_version,
            image: row.image_ref,
            release: row.release,
            error: row.error,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

const SELECT: &str = "
    SELECT b.id, b.app_id, b.status, b.source_blob_id, b.source_version, b.image_ref, b.error,
           (SELECT min(r.version) FROM releases r WHERE r.build_id = b.id) AS release,
           b.created_at, b.started_at, b.finished_at
    FROM builds b";

/// Stores a blob and returns its id.
pub async fn insert_blob(db: impl PgExecutor<'_>, data: &[u8]) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO blobs (id, sha256, size_bytes, data) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(Uuid::new_v4())
        .bind(Sha256::digest(data).to_vec())
        .bind(data.len() as i64)
        .bind(data)
        .fetch_one(db)
        .await
}

pub async fn blob(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT data FROM blobs WHERE id = $1").bind(id).fetch_optional(db).await
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    source_blob_id: Uuid,
    source_version: Option<&str>,
    author_id: Option<Uuid>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO builds (id, app_id, source_blob_id, source_version, author_id) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(app_id)
    .bind(source_blob_id)
    .bind(source_version)
    .bind(author_id)
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, app_id: Uuid, id: Uuid) -> Result<Option<BuildRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE b.app_id = $1 AND b.id = $2"))
        .bind(app_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn list(db: impl PgExecutor<'_>, app_id: Uuid, limit: i64) -> Result<Vec<BuildRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE b.app_id = $1 ORDER BY b.created_at DESC LIMIT $2"))
        .bind(app_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// The build's log from byte `offset` on (for following a build).
pub async fn log_from(
    db: impl PgExecutor<'_>,
    id: Uuid,
    offset: i32,
) -> Result<Option<(String, BuildStatus)>, sqlx::Error> {
    sqlx::query_as("SELECT substr(log, $2 + 1), status FROM builds WHERE id = $1")
        .bind(id)
        .bind(offset)
        .fetch_optional(db)
        .await
}

/// Claims the oldest claimable build for a node: queued, or building with an
/// expired lease (its agent died). A build of an app with volumes is only
/// claimed by their node. Returns (build id, app name).
pub async fn claim(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    lease_secs: i64,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "WITH next AS (
             SELECT id FROM builds
             WHERE (status = 'queued' OR (status = 'building' AND lease_expires_at < now()))
               AND attempts < $3
               -- An app with volumes runs its release command on their node.
               AND NOT EXISTS (SELECT 1 FROM volumes v WHERE v.app_id = builds.app_id AND v.node_id <> $1)
             ORDER BY created_at
             FOR UPDATE SKIP LOCKED
             LIMIT 1
         )
         UPDATE builds b SET status = 'building', claimed_by = $1, attempts = b.attempts + 1,
                lease_expires_at = now() + make_interval(secs => $2),
                started_at = coalesce(b.started_at, now()),
                log = CASE WHEN b.attempts > 0 THEN b.log || E'-----> Retrying the build (its previous agent stopped answering)\n' ELSE b.log END
         FROM next, apps a
         WHERE b.id = next.id AND a.id = b.app_id
         RETURNING b.id, a.name",
    )
    .bind(node_id)
    .bind(lease_secs as f64)
    .bind(MAX_ATTEMPTS)
    .fetch_optional(db)
    .await
}

/// Builds whose agents died too often: failed for good. Returns their apps.
pub async fn fail_abandoned(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE builds SET status = 'failed', finished_at = now(),
                error = 'the build was abandoned by its agent too many times',
                log = log || E'-----> Build abandoned: no agent finished it\n'
         WHERE status = 'building' AND lease_expires_at < now() AND attempts >= $1
         RETURNING app_id",
    )
    .bind(MAX_ATTEMPTS)
    .fetch_all(db)
    .await
}

/// Appends log lines and renews the lease; false if this node no longer holds it.
pub async fn append_log(
    db: impl PgExecutor<'_>,
    id: Uuid,
    node_id: Uuid,
    text: &str,
    lease_secs: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE builds SET log = CASE
                    WHEN length(log) > 2000000 THEN log
                    WHEN length(log) + length($3) > 2000000 THEN log || E'-----> Build output truncated at 2 MB\n'
                    ELSE log || $3 END,
                lease_expires_at = now() + make_interval(secs => $4)
         WHERE id = $1 AND claimed_by = $2 AND status = 'building'",
    )
    .bind(id)
    .bind(node_id)
    .bind(text)
    .bind(lease_secs as f64)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The source blob of a build claimed by this node.
pub async fn claimed_source(db: impl PgExecutor<'_>, id: Uuid, node_id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT bl.data FROM builds b JOIN blobs bl ON bl.id = b.source_blob_id
         WHERE b.id = $1 AND b.claimed_by = $2 AND b.status = 'building'",
    )
    .bind(id)
    .bind(node_id)
    .fetch_optional(db)
    .await
}

/// Fails a build that has not finished yet (its agent's next report gets 409).
pub async fn cancel(db: impl PgExecutor<'_>, id: Uuid, reason: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE builds SET status = 'failed', error = $2, finished_at = now(), lease_expires_at = NULL,
                log = log || '-----> Cancelled: ' || $2 || E'\n'
         WHERE id = $1 AND status IN ('queued', 'building')",
    )
    .bind(id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes blobs nothing refers to any more (sources and bundles of deleted
/// apps, replaced git bundles), once they are an hour old.
pub async fn delete_unreferenced_blobs(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM blobs bl WHERE bl.created_at < now() - interval '1 hour'
           AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.source_blob_id = bl.id OR b.static_blob_id = bl.id)
           AND NOT EXISTS (SELECT 1 FROM apps a WHERE a.git_bundle_blob_id = bl.id)
           AND NOT EXISTS (SELECT 1 FROM addon_backups ab WHERE ab.blob_id = bl.id)",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The source of a succeeded build (any node may rebuild its image).
pub async fn succeeded_source(
    db: impl PgExecutor<'_>,
    id: Uuid,
    node_id: Uuid,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    // Only for a node that is to run an instance (or a one-off run) of a release of this build.
    sqlx::query_scalar(
        "SELECT bl.data FROM builds b JOIN blobs bl ON bl.id = b.source_blob_id
         WHERE b.id = $1 AND b.status = 'succeeded'
           AND (EXISTS (SELECT 1 FROM instances i JOIN releases r ON r.id = i.release_id
                        WHERE r.build_id = b.id AND i.node_id = $2 AND i.desired_state = 'running')
                OR EXISTS (SELECT 1 FROM runs u JOIN releases r ON r.id = u.release_id
                           WHERE r.build_id = b.id AND u.node_id = $2 AND u.state <> 'exited'))",
    )
    .bind(id)
    .bind(node_id)
    .fetch_optional(db)
    .await
}

pub async fn set_static(db: impl PgExecutor<'_>, id: Uuid, node_id: Uuid, blob_id: Uuid) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE builds SET static_blob_id = $3 WHERE id = $1 AND claimed_by = $2 AND status = 'building'")
            .bind(id)
            .bind(node_id)
            .bind(blob_id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the end of a build this node holds; returns its app id.
pub async fn finish(
    db: impl PgExecutor<'_>,
    id: Uuid,
    node_id: Uuid,
    result: &paas_types::agent::BuildResult,
) -> Result<Option<Uuid>, sqlx::Error> {
    let status = if result.success { BuildStatus::Succeeded } else { BuildStatus::Failed };
    sqlx::query_scalar(
        "UPDATE builds SET status = $3, image_ref = $4, process_types = $5, static_mappings = $6,
                release_command = $7, error = $8, routes = $9, finished_at = now(), lease_expires_at = NULL
         WHERE id = $1 AND claimed_by = $2 AND status = 'building'
         RETURNING app_id",
    )
    .bind(id)
    .bind(node_id)
    .bind(status)
    .bind(&result.image)
    .bind(Json(&result.process_types))
    .bind(Json(&result.static_mappings))
    .bind(&result.release_command)
    .bind(&result.error)
    .bind(Json(&result.routes))
    .fetch_optional(db)
    .await
}

/// The app a build belongs to.
pub async fn app_of(db: impl PgExecutor<'_>, id: Uuid) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("SELECT app_id FROM builds WHERE id = $1").bind(id).fetch_one(db).await
}

/// Who queued a build (none for builds made by the platform).
pub async fn author(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT author_id FROM builds WHERE id = $1").bind(id).fetch_one(db).await
}
