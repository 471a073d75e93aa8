//! The scheduler: turns formation x current release into instances placed on
//! live nodes, and keeps doing so as nodes come and go.
//!
//! `reconcile_app` is idempotent: it compares what should run with what the
//! instances table says and changes only the difference. It runs right after
//! every change that matters (scale, release, agent report) and in a
//! periodic sweep, so a lost trigger only delays convergence.
//!
//! Rollouts: instances of the current release (and current size) are "new";
//! the others are "old" and are stopped only once every new instance of
//! their process type is running (health-checked), so a release that never
//! becomes healthy leaves the previous one serving.

use std::collections::BTreeMap;
use std::time::Duration;

use paas_types::Size;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::db;

/// Advisory lock key serialising placements.
const PLACEMENT_LOCK: i64 = 0x7061_6173_706c_6163;

/// Timing of the background loop.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// A node without heartbeat for this long is down; its instances move.
    pub node_timeout: Duration,
    /// Period of the full sweep over all apps.
    pub sweep_every: Duration,
}

#[derive(Debug, sqlx::FromRow)]
struct InstanceState {
    id: Uuid,
    release_id: Uuid,
    process_type: String,
    actual_state: String,
    size: String,
}

#[derive(Debug, sqlx::FromRow)]
struct NodeLoad {
    id: Uuid,
    memory_mb: i32,
    used_mb: i64,
    app_instances: i64,
}

/// Brings one app's instances in line with its formation and current release.
#[tracing::instrument(skip_all, fields(app.id = %app_id))]
pub async fn reconcile_app(db: &PgPool, app_id: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE").bind(app_id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Ok(());
    }
    let release: Option<(Uuid, Json<BTreeMap<String, String>>)> = sqlx::query_as(
        "SELECT r.id, b.process_types FROM releases r JOIN builds b ON b.id = r.build_id
         WHERE r.app_id = $1 AND b.status = 'succeeded' ORDER BY r.version DESC LIMIT 1",
    )
    .bind(app_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((release_id, Json(process_types))) = release else {
        return tx.commit().await;
    };
    let formation = db::apps::formation(&mut *tx, app_id).await?;
    let instances: Vec<InstanceState> = sqlx::query_as(
        "SELECT id, release_id, process_type, actual_state, size FROM instances
         WHERE app_id = $1 AND desired_state = 'running' ORDER BY created_at",
    )
    .bind(app_id)
    .fetch_all(&mut *tx)
    .await?;

    let mut to_stop = Vec::new();
    for row in &formation {
        let quantity = if process_types.contains_key(&row.process_type) { row.quantity as usize } else { 0 };
        let (new, old): (Vec<&InstanceState>, Vec<&InstanceState>) = instances
            .iter()
            .filter(|i| i.process_type == row.process_type)
            .partition(|i| i.release_id == release_id && i.size == row.size);
        if new.len() < quantity {
            let size = Size::parse(&row.size).unwrap_or(Size::Standard);
            for _ in new.len()..quantity {
                place(&mut tx, app_id, release_id, &row.process_type, size).await?;
            }
        }
        // Too many: stop the extra ones, those not yet running first, then the newest.
        let mut surplus: Vec<&&InstanceState> = new.iter().rev().collect();
        surplus.sort_by_key(|i| i.actual_state == "running");
        to_stop.extend(surplus.iter().take(new.len().saturating_sub(quantity)).map(|i| i.id));
        let new_running = new.iter().filter(|i| i.actual_state == "running").count();
        if quantity == 0 || new_running >= quantity {
            to_stop.extend(old.iter().map(|i| i.id));
        }
    }
    // Process types no longer in the formation stop.
    to_stop
        .extend(instances.iter().filter(|i| !formation.iter().any(|f| f.process_type == i.process_type)).map(|i| i.id));
    if !to_stop.is_empty() {
        sqlx::query("UPDATE instances SET desired_state = 'stopped', updated_at = now() WHERE id = ANY($1)")
            .bind(&to_stop)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Creates one instance on the live node with room that runs the fewest of
/// this app's instances (then the least loaded): an app spreads across nodes.
async fn place(
    tx: &mut Transaction<'_, Postgres>,
    app_id: Uuid,
    release_id: Uuid,
    process_type: &str,
    size: Size,
) -> Result<bool, sqlx::Error> {
    // Placements read node load and then add to it: one at a time across
    // all apps and API replicas, so two cannot fill the same room.
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PLACEMENT_LOCK).execute(&mut **tx).await?;
    let node: Option<NodeLoad> = sqlx::query_as(
        "SELECT n.id, n.memory_mb,
                coalesce(sum(CASE i.size WHEN 'small' THEN 256 WHEN 'large' THEN 1024 ELSE 512 END), 0)::bigint AS used_mb,
                count(i.id) FILTER (WHERE i.app_id = $1) AS app_instances
         FROM nodes n LEFT JOIN instances i ON i.node_id = n.id AND i.desired_state = 'running'
         WHERE n.state = 'up'
         GROUP BY n.id
         HAVING n.memory_mb - coalesce(sum(CASE i.size WHEN 'small' THEN 256 WHEN 'large' THEN 1024 ELSE 512 END), 0) >= $2
         ORDER BY app_instances, used_mb, n.name
         LIMIT 1",
    )
    .bind(app_id)
    .bind(size.memory_mb())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(node) = node else {
        tracing::warn!(process_type, "no live node has room for another instance");
        return Ok(false);
    };
    tracing::debug!(node.id = %node.id, node.memory_mb = node.memory_mb, node.used_mb = node.used_mb, node.app_instances = node.app_instances, "placing instance");
    sqlx::query(
        "INSERT INTO instances (id, app_id, release_id, process_type, node_id, size) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::new_v4())
    .bind(app_id)
    .bind(release_id)
    .bind(process_type)
    .bind(node.id)
    .bind(size.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Reconciles a set of apps, logging (not propagating) failures.
pub async fn reconcile_apps(db: &PgPool, apps: impl IntoIterator<Item = Uuid>) {
    let mut apps: Vec<Uuid> = apps.into_iter().collect();
    apps.sort();
    apps.dedup();
    for app_id in apps {
        if let Err(error) = reconcile_app(db, app_id).await {
            tracing::warn!(app.id = %app_id, error = &error as &dyn std::error::Error, "reconcile failed");
        }
    }
}

/// The background loop: node liveness every second, abandoned builds, and a
/// periodic sweep over every app. Runs until the process ends.
pub async fn run(db: PgPool, config: SchedulerConfig) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Since when the control plane has worked without a failed step.
    let mut healthy_since = tokio::time::Instant::now();
    let mut last_sweep = healthy_since;
    loop {
        tick.tick().await;
        // After a control-plane outage (this process starting, or the
        // database failing) every heartbeat looks stale: give the agents one
        // timeout to check in before declaring their nodes lost.
        let judge_nodes = healthy_since.elapsed() >= config.node_timeout;
        if let Err(error) = step(&db, &config, &mut last_sweep, judge_nodes).await {
            healthy_since = tokio::time::Instant::now();
            tracing::warn!(error = &error as &dyn std::error::Error, "scheduler step failed; retrying");
        }
    }
}

async fn step(
    db: &PgPool,
    config: &SchedulerConfig,
    last_sweep: &mut tokio::time::Instant,
    judge_nodes: bool,
) -> Result<(), sqlx::Error> {
    let lost = if judge_nodes {
        db::nodes::mark_stale_down(db, config.node_timeout.as_secs() as i64).await?
    } else {
        Vec::new()
    };
    if !lost.is_empty() {
        tracing::warn!(instances = lost.len(), "nodes stopped heartbeating; rescheduling their instances");
        reconcile_apps(db, lost).await;
    }
    let failed = db::builds::fail_abandoned(db).await?;
    reconcile_apps(db, failed).await;
    if last_sweep.elapsed() >= config.sweep_every {
        *last_sweep = tokio::time::Instant::now();
        let apps: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM apps").fetch_all(db).await?;
        reconcile_apps(db, apps).await;
        db::instances::delete_old_stopped(db).await?;
        db::builds::delete_unreferenced_blobs(db).await?;
        db::logs::prune(db).await?;
    }
    Ok(())
}
