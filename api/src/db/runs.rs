//! One-off processes (`paas run`): what to run, where, and how it ended.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_types::Size;
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::secrets;
use crate::crypto::Keyring;

/// What a new run of an app starts from: its current release.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunSourceRow {
    pub release_id: Uuid,
    pub version: i32,
    pub build_id: Uuid,
    pub image: String,
    /// The release's config snapshot, opened.
    #[sqlx(skip)]
    pub config: BTreeMap<String, String>,
    config_sealed: Vec<u8>,
}

/// The release the app's processes run (the newest deployable one).
pub async fn source(
    db: impl PgExecutor<'_>,
    keys: &Keyring,
    app_id: Uuid,
) -> Result<Option<RunSourceRow>, sqlx::Error> {
    let row: Option<RunSourceRow> = sqlx::query_as(
        "SELECT r.id AS release_id, r.version, b.id AS build_id, b.image_ref AS image, r.config_sealed
         FROM releases r JOIN builds b ON b.id = r.build_id
         WHERE r.app_id = $1 AND b.status = 'succeeded' AND b.image_ref IS NOT NULL AND r.status <> 'failed'
         ORDER BY r.version DESC LIMIT 1",
    )
    .bind(app_id)
    .fetch_optional(db)
    .await?;
    row.map(|mut row| {
        row.config = secrets::open_map(keys, &secrets::release_config_purpose(row.release_id), &row.config_sealed)?;
        Ok(row)
    })
    .transpose()
}

/// Live nodes with what they are asked to run (instances and runs), in MiB,
/// and whether they have run or built `build_id` (so they hold its image).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeLoadRow {
    pub id: Uuid,
    pub name: String,
    pub memory_mb: i32,
    pub used_mb: i64,
    pub has_image: bool,
}

pub async fn node_loads(db: impl PgExecutor<'_>, build_id: Uuid) -> Result<Vec<NodeLoadRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.id, n.name, n.memory_mb,
                coalesce((SELECT sum(CASE i.size WHEN 'small' THEN 256 WHEN 'large' THEN 1024 ELSE 512 END)
                          FROM instances i WHERE i.node_id = n.id AND i.desired_state = 'running'), 0)
              + coalesce((SELECT sum(CASE u.size WHEN 'small' THEN 256 WHEN 'large' THEN 1024 ELSE 512 END)
                          FROM runs u WHERE u.node_id = n.id AND u.state <> 'exited'), 0) AS used_mb,
                (EXISTS (SELECT 1 FROM instances i JOIN releases r ON r.id = i.release_id
                         WHERE i.node_id = n.id AND r.build_id = $1 AND i.actual_state = 'running')
                 OR EXISTS (SELECT 1 FROM builds b WHERE b.id = $1 AND b.claimed_by = n.id)) AS has_image
         FROM nodes n WHERE n.state = 'up' ORDER BY n.name",
    )
    .bind(build_id)
    .fetch_all(db)
    .await
}

/// A run to record.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub id: Uuid,
    pub app_id: Uuid,
    pub release_id: Uuid,
    pub node_id: Uuid,
    pub command: &'a [String],
    pub size: Size,
    pub detach: bool,
    pub tty: bool,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    pub max_secs: i64,
    pub env: &'a BTreeMap<String, String>,
    pub author_id: Uuid,
    /// The add-on whose interactive client this run is (`paas pg psql`).
    pub addon_id: Option<Uuid>,
}

/// Records a run, its environment sealed under `keys`.
pub async fn insert(db: impl PgExecutor<'_>, keys: &Keyring, run: &NewRun<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO runs (id, app_id, release_id, node_id, command, size, detach, tty, cols, rows, max_secs, env, env_sealed,
                           author_id, addon_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}'::jsonb, $12, $13, $14)",
    )
    .bind(run.id)
    .bind(run.app_id)
    .bind(run.release_id)
    .bind(run.node_id)
    .bind(Json(run.command))
    .bind(run.size)
    .bind(run.detach)
    .bind(run.tty)
    .bind(run.cols.map(i32::from))
    .bind(run.rows.map(i32::from))
    .bind(run.max_secs)
    .bind(secrets::seal_map(keys, &secrets::run_env_purpose(run.id), run.env))
    .bind(run.author_id)
    .bind(run.addon_id)
    .execute(db)
    .await
    .map(|_| ())
}

/// A run as its app's users see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app: String,
    pub tenant_id: Uuid,
    pub release: i32,
    pub command: Json<Vec<String>>,
    pub size: Size,
    pub detach: bool,
    pub tty: bool,
    pub node: Option<String>,
    pub state: String,
    pub exit_status: Option<i32>,
    pub max_secs: i64,
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<RunRow> for paas_types::session::Run {
    fn from(row: RunRow) -> Self {
        paas_types::session::Run {
            id: row.id,
            app: row.app,
            release: row.release,
            command: row.command.0,
            size: row.size,
            detach: row.detach,
            tty: row.tty,
            node: row.node,
            state: row.state,
            exit_status: row.exit_status,
            max_secs: row.max_secs,
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

const SELECT: &str = "
    SELECT u.id, u.app_id, a.name AS app, a.tenant_id, r.version AS release, u.command, u.size, u.detach, u.tty,
           n.name AS node, u.state, u.exit_status, u.max_secs, u.author_id, u.created_at, u.finished_at
    FROM runs u JOIN apps a ON a.id = u.app_id JOIN releases r ON r.id = u.release_id
         LEFT JOIN nodes n ON n.id = u.node_id";

/// A run of the app.
pub async fn find(db: impl PgExecutor<'_>, app_id: Uuid, id: Uuid) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE u.app_id = $1 AND u.id = $2"))
        .bind(app_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A run placed on the node.
pub async fn find_for_node(db: impl PgExecutor<'_>, node_id: Uuid, id: Uuid) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE u.node_id = $1 AND u.id = $2"))
        .bind(node_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A claimed run with what the agent needs to start it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app: String,
    pub release: i32,
    /// `None` only for an add-on console (its release may have no build yet).
    pub image: Option<String>,
    pub build_id: Option<Uuid>,
    pub addon_id: Option<Uuid>,
    pub command: Json<Vec<String>>,
    /// The run's environment, opened.
    #[sqlx(skip)]
    pub env: BTreeMap<String, String>,
    env_sealed: Vec<u8>,
    pub size: Size,
    pub tty: bool,
    pub detach: bool,
    pub cols: Option<i32>,
    pub rows: Option<i32>,
    pub max_secs: i64,
}

/// Marks the node's pending runs as running and returns them.
pub async fn claim(db: impl PgExecutor<'_>, keys: &Keyring, node_id: Uuid) -> Result<Vec<ClaimedRow>, sqlx::Error> {
    let rows: Vec<ClaimedRow> = sqlx::query_as(
        "WITH claimed AS (
             UPDATE runs SET state = 'running', claimed_at = now()
             WHERE node_id = $1 AND state = 'pending' RETURNING *)
         SELECT c.id, c.app_id, a.name AS app, r.version AS release, b.image_ref AS image, b.id AS build_id, c.addon_id,
                c.command, c.env_sealed, c.size, c.tty, c.detach, c.cols, c.rows, c.max_secs
         FROM claimed c JOIN apps a ON a.id = c.app_id JOIN releases r ON r.id = c.release_id
              LEFT JOIN builds b ON b.id = r.build_id
         ORDER BY c.created_at",
    )
    .bind(node_id)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|mut row| {
            row.env = secrets::open_map(keys, &secrets::run_env_purpose(row.id), &row.env_sealed)?;
            Ok(row)
        })
        .collect()
}

/// Records the end of a run, once; returns whether this call ended it.
pub async fn finish(
    db: impl PgExecutor<'_>,
    id: Uuid,
    exit_status: Option<i32>,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE runs SET state = 'exited', exit_status = $2, reason = $3, finished_at = now()
         WHERE id = $1 AND state <> 'exited'",
    )
    .bind(id)
    .bind(exit_status)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Runs that should have ended long ago (a node or API lost mid-run): ended
/// now, so they stop counting against their node. Returns their ids.
pub async fn expire_overdue(db: impl PgExecutor<'_>, grace_secs: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE runs SET state = 'exited', reason = 'lost', finished_at = now()
         WHERE state <> 'exited' AND created_at < now() - make_interval(secs => max_secs + $1)
         RETURNING id",
    )
    .bind(grace_secs as f64)
    .fetch_all(db)
    .await
}

/// Stores output lines of a detached run under process type `run`.
pub async fn insert_output(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    run_id: Uuid,
    lines: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO app_logs (app_id, instance_id, process_type, line)
         SELECT $1, $2, 'run', l.line FROM unnest($3::text[]) WITH ORDINALITY AS l(line, n) ORDER BY l.n",
    )
    .bind(app_id)
    .bind(run_id)
    .bind(lines)
    .execute(db)
    .await
    .map(|_| ())
}
