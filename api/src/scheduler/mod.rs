//! The scheduler: turns formation x current release into instances placed on
//! live nodes, and keeps doing so as nodes come and go.
//!
//! `reconcile_app` is idempotent: it reads what should run and what the
//! instances table says, asks the pure `plan` for the difference, and writes
//! it. It runs right after every change that matters (scale, release, agent
//! report) and in a periodic sweep, so a lost trigger only delays
//! convergence. The rules of the decision are in `plan`; whether a pending
//! release takes over (or fails, handing back to the one before) is
//! `promotion`.

pub mod plan;
pub mod promotion;
pub mod runs;

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use paas_types::ReleaseStatus;

use crate::db;
use plan::Rollout;
use promotion::Verdict;

/// Timing of the background loop.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// A node without heartbeat for this long is down; its instances move.
    pub node_timeout: Duration,
    /// Period of the full sweep over all apps.
    pub sweep_every: Duration,
}

/// Brings one app's instances in line with its formation and current release.
#[tracing::instrument(skip_all, fields(app.id = %app_id))]
pub async fn reconcile_app(db: &PgPool, app_id: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if !db::apps::lock_if_exists(&mut tx, app_id).await? {
        return Ok(());
    }
    let formation = db::apps::formation(&mut *tx, app_id).await?;
    let instances = db::instances::wanted_for_app(&mut *tx, app_id).await?;
    let Some(rollout) = judge_release(&mut tx, app_id, &formation, &instances).await? else {
        // Nothing deployable (any more): a failed first release stops too.
        let ids: Vec<Uuid> = instances.iter().map(|i| i.id).collect();
        if !ids.is_empty() {
            db::instances::stop(&mut *tx, &ids).await?;
        }
        return tx.commit().await;
    };
    let release_id = rollout.release_id;
    // An app with volumes runs on their node only.
    let pin = db::volumes::node_of_app(&mut *tx, app_id).await?;
    let mut decision = plan::plan(&formation, &rollout, &instances, &[], pin);
    if !decision.unplaced.is_empty() {
        // Starts need the nodes' room: read it under the placement lock,
        // which holds until commit, so no other placement races this one.
        db::placement::lock(&mut tx).await?;
        let nodes = db::placement::nodes(&mut *tx).await?;
        let placed = db::placement::placed(&mut *tx).await?;
        decision = plan::plan(&formation, &rollout, &instances, &plan::rooms(app_id, &nodes, &placed), pin);
    }
    for start in &decision.start {
        tracing::debug!(node.id = %start.node_id, process_type = %start.process_type, "placing instance");
        db::placement::insert_instance(&mut *tx, app_id, release_id, &start.process_type, start.node_id, start.size)
            .await?;
    }
    for (process_type, size) in &decision.unplaced {
        match pin {
            Some(node) => tracing::warn!(process_type, size = %size.as_str(), node.id = %node,
                "the node holding the app's volumes is down or full; the instance waits for it"),
            None => tracing::warn!(process_type, size = %size.as_str(), "no live node has room for another instance"),
        }
    }
    if !decision.stop.is_empty() {
        db::instances::stop(&mut *tx, &decision.stop).await?;
    }
    tx.commit().await
}

/// The release to roll out: the newest deployable one, promoted or failed
/// here when its instances have shown how they do. A failed release hands
/// over to the one before it.
async fn judge_release(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    app_id: Uuid,
    formation: &[db::apps::FormationRow],
    instances: &[db::instances::ScheduledRow],
) -> Result<Option<Rollout>, sqlx::Error> {
    loop {
        let Some(release) = db::releases::deployable(&mut **tx, app_id).await? else {
            return Ok(None);
        };
        let process_types = release.process_types.0;
        if release.status != ReleaseStatus::Pending {
            return Ok(Some(Rollout { release_id: release.id, process_types, promoted: true }));
        }
        let types: Vec<String> = process_types.keys().cloned().collect();
        let candidate =
            promotion::Candidate { release_id: release.id, created_at: release.created_at, process_types: &types };
        match promotion::decide(&candidate, formation, instances, chrono::Utc::now()) {
            Verdict::Wait => return Ok(Some(Rollout { release_id: release.id, process_types, promoted: false })),
            Verdict::Promote => {
                db::releases::settle(&mut **tx, release.id, ReleaseStatus::Promoted, None).await?;
                db::releases::supersede_older(&mut **tx, app_id, release.version).await?;
                tracing::info!(release = release.version, "release promoted: every process type is healthy");
                return Ok(Some(Rollout { release_id: release.id, process_types, promoted: true }));
            }
            Verdict::Fail(why) => {
                db::releases::settle(&mut **tx, release.id, ReleaseStatus::Failed, Some(&why)).await?;
                tracing::warn!(release = release.version, why, "release failed; the previous release serves");
            }
        }
    }
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
    // A settle period or a release's timeout ends without any report changing.
    let pending = db::releases::apps_with_pending(db).await?;
    reconcile_apps(db, pending).await;
    if last_sweep.elapsed() >= config.sweep_every {
        *last_sweep = tokio::time::Instant::now();
        let apps = db::apps::all_ids(db).await?;
        reconcile_apps(db, apps).await;
        db::instances::delete_old_stopped(db).await?;
        db::builds::delete_unreferenced_blobs(db).await?;
        db::logs::prune(db).await?;
        let lost_runs = db::runs::expire_overdue(db, 60).await?;
        if !lost_runs.is_empty() {
            tracing::warn!(runs = lost_runs.len(), "one-off processes outlived their maximum; marked ended");
        }
    }
    Ok(())
}
