//! Instances: the scheduler's decisions (desired) and the agents' reports (actual).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use paas_types::{ActualState, InstanceGoal, Size};
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::secrets;
use crate::crypto::Keyring;

/// An instance as the app's users see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstanceRow {
    pub id: Uuid,
    pub process_type: String,
    pub release: i32,
    pub node: Option<String>,
    pub desired_state: InstanceGoal,
    pub actual_state: ActualState,
    pub address: Option<String>,
    pub restarts: i32,
    pub exit_status: Option<i32>,
    pub last_output: Json<Vec<String>>,
    pub http_status: Option<i32>,
    /// The app's hostname (health checks send it as `Host`).
    pub hostname: String,
    pub updated_at: DateTime<Utc>,
}

impl InstanceRow {
    /// What is wrong with the instance and how to fix it, if anything.
    pub fn hint(&self) -> Option<String> {
        crate::hints::instance_hint(&crate::hints::InstanceFacts {
            process_type: &self.process_type,
            state: self.actual_state,
            restarts: self.restarts,
            exit_status: self.exit_status,
            http_status: self.http_status,
            hostname: &self.hostname,
        })
    }
}

impl From<InstanceRow> for paas_types::Instance {
    fn from(row: InstanceRow) -> Self {
        let hint = row.hint();
        paas_types::Instance {
            id: row.id,
            process_type: row.process_type,
            release: row.release,
            node: row.node,
            desired_state: row.desired_state,
            state: row.actual_state,
            address: row.address,
            restarts: row.restarts,
            exit_status: row.exit_status,
            last_output: row.last_output.0,
            http_status: row.http_status,
            hint,
            updated_at: row.updated_at,
        }
    }
}

pub async fn list_for_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.id, i.process_type, r.version AS release, n.name AS node, i.desired_state, i.actual_state,
                i.address, i.restarts, i.exit_status, i.last_output, i.http_status, a.hostname, i.updated_at
         FROM instances i JOIN releases r ON r.id = i.release_id JOIN apps a ON a.id = i.app_id
              LEFT JOIN nodes n ON n.id = i.node_id
         WHERE i.app_id = $1 ORDER BY i.process_type, i.created_at",
    )
    .bind(app_id)
    .fetch_all(db)
    .await
}

/// What a node should run, with everything the agent needs to run it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DesiredRow {
    pub id: Uuid,
    pub app: String,
    pub hostname: String,
    pub release: i32,
    pub process_type: String,
    pub image: String,
    pub build_id: Uuid,
    /// The release's config snapshot, opened.
    #[sqlx(skip)]
    pub config: BTreeMap<String, String>,
    release_id: Uuid,
    config_sealed: Vec<u8>,
    pub size: Size,
    /// `web`, or a process type a route in force for its release points at.
    pub serves_http: bool,
}

/// What the node should run, each with its release's config (opened once per release).
pub async fn desired_for_node(
    db: impl PgExecutor<'_>,
    keys: &Keyring,
    node_id: Uuid,
) -> Result<Vec<DesiredRow>, sqlx::Error> {
    let mut rows: Vec<DesiredRow> = sqlx::query_as(
        "SELECT i.id, a.name AS app, a.hostname, r.version AS release, i.process_type, b.image_ref AS image,
                b.id AS build_id, r.id AS release_id, r.config_sealed, i.size,
                (i.process_type = 'web' OR EXISTS (SELECT 1 FROM effective_routes(i.app_id, b.routes) e
                                                    WHERE e.process_type = i.process_type)) AS serves_http
         FROM instances i
         JOIN apps a ON a.id = i.app_id
         JOIN releases r ON r.id = i.release_id
         JOIN builds b ON b.id = r.build_id
         WHERE i.node_id = $1 AND i.desired_state = 'running' AND b.image_ref IS NOT NULL
         ORDER BY i.created_at",
    )
    .bind(node_id)
    .fetch_all(db)
    .await?;
    let mut opened: HashMap<Uuid, BTreeMap<String, String>> = HashMap::new();
    for row in &mut rows {
        row.config = match opened.entry(row.release_id) {
            Entry::Occupied(known) => known.get().clone(),
            Entry::Vacant(new) => {
                let purpose = secrets::release_config_purpose(row.release_id);
                new.insert(secrets::open_map(keys, &purpose, &row.config_sealed)?).clone()
            }
        };
    }
    Ok(rows)
}

/// Applies one agent report line to an instance of that node; returns the
/// app id when the state changed (so the scheduler looks at the app again).
pub async fn apply_report(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    report: &paas_types::agent::InstanceReport,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH old AS (SELECT actual_state FROM instances WHERE id = $1 AND node_id = $2)
         UPDATE instances i SET actual_state = $3, address = $4, container_id = $5, restarts = $6,
                exit_status = coalesce($7, i.exit_status), http_status = $8,
                last_output = CASE WHEN $3 = 'crashed' THEN $9 ELSE i.last_output END,
                -- Running since: cleared whenever it stops running, so a
                -- settle period counts from the last (re)start.
                ready_at = CASE WHEN $3 = 'running' THEN coalesce(i.ready_at, now()) END,
                updated_at = now()
         FROM old
         WHERE i.id = $1 AND i.node_id = $2
         RETURNING CASE WHEN old.actual_state IS DISTINCT FROM $3 THEN i.app_id END",
    )
    .bind(report.instance_id)
    .bind(node_id)
    .bind(report.state)
    .bind(&report.address)
    .bind(&report.container_id)
    .bind(report.restarts)
    .bind(report.exit_status)
    .bind(report.http_status)
    .bind(Json(&report.last_output))
    .fetch_optional(db)
    .await
    .map(Option::flatten)
}

/// Instances of a node the agent no longer runs (not in its report) while
/// they should be stopped: they are stopped now.
pub async fn mark_unreported_stopped(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    reported: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instances SET actual_state = 'stopped', updated_at = now()
         WHERE node_id = $1 AND desired_state = 'stopped' AND actual_state NOT IN ('stopped', 'lost')
           AND NOT (id = ANY($2))",
    )
    .bind(node_id)
    .bind(reported)
    .execute(db)
    .await
    .map(|_| ())
}

/// Forgets instances that have been stopped for a while.
pub async fn delete_old_stopped(db: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM instances WHERE desired_state = 'stopped' AND actual_state IN ('stopped', 'lost')
         AND updated_at < now() - interval '10 minutes'",
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// An instance as the scheduler weighs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduledRow {
    pub id: Uuid,
    pub release_id: Uuid,
    pub process_type: String,
    pub actual_state: ActualState,
    pub size: Size,
    pub restarts: i32,
    /// Running since (cleared when it stops running).
    pub ready_at: Option<DateTime<Utc>>,
    /// The node it is placed on.
    pub node_id: Option<Uuid>,
}

/// The app's instances the scheduler wants running, oldest first.
pub async fn wanted_for_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<ScheduledRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, release_id, process_type, actual_state, size, restarts, ready_at, node_id FROM instances
         WHERE app_id = $1 AND desired_state = 'running' ORDER BY created_at",
    )
    .bind(app_id)
    .fetch_all(db)
    .await
}

/// Tells the instances' agents to stop them.
pub async fn stop(db: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE instances SET desired_state = 'stopped', updated_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(db)
        .await
        .map(|_| ())
}
