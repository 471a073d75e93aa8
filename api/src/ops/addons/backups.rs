//! Postgres backups: `pg_dump -Fc` run by the node next to the server (so
//! client and server versions match), stored as blobs in the platform's
//! database; captures on demand, daily on a schedule (keeping the newest
//! `SCHEDULED_KEPT`), and a final one before destroy. Restores load a
//! backup back into its add-on (`pg_restore --clean`).

use std::time::Duration;

use paas_types::addons::{AddonBackup, AddonKind, AddonRestore};
use sqlx::PgPool;
use uuid::Uuid;

use super::kind_of;
use crate::auth::{AgentNode, AuthUser};
use crate::db;
use crate::db::addons::AddonRow;
use crate::error::{ApiError, ApiResult};

/// Hours between scheduled backups of an add-on.
pub const SCHEDULE_HOURS: i32 = 24;
/// Scheduled backups kept per add-on.
pub const SCHEDULED_KEPT: i64 = 7;
/// Largest dump accepted from a node.
pub const MAX_BACKUP_BYTES: usize = 1024 * 1024 * 1024;

fn postgres_only(addon: &AddonRow) -> ApiResult<()> {
    if kind_of(addon) != AddonKind::Postgres {
        return Err(ApiError::validation(format!(
            "{} is not a Postgres add-on; only Postgres has backups",
            addon.name
        )));
    }
    Ok(())
}

/// Queues a manual backup; the add-on's node takes it.
pub async fn capture(db: &PgPool, user: &AuthUser, addon: &AddonRow) -> ApiResult<AddonBackup> {
    postgres_only(addon)?;
    if addon.state != "available" {
        return Err(ApiError::Conflict(format!(
            "{} is {}; backups are taken of available add-ons",
            addon.name, addon.state
        )));
    }
    let row = db::addons::insert_backup(db, addon.tenant_id, addon.id, &addon.name, "manual").await?;
    let event = db::events::NewEvent {
        tenant_id: addon.tenant_id,
        app: None,
        actor_id: Some(user.id),
        action: "addon.backup.capture",
        data: serde_json::json!({ "addon": addon.name, "backup": row.id }),
    };
    db::events::record(db, event).await?;
    Ok(row.into())
}

pub async fn list(db: &PgPool, addon: &AddonRow) -> ApiResult<Vec<AddonBackup>> {
    postgres_only(addon)?;
    Ok(db::addons::backups(db, addon.tenant_id, &addon.name).await?.into_iter().map(Into::into).collect())
}

pub async fn show(db: &PgPool, addon: &AddonRow, id: Uuid) -> ApiResult<AddonBackup> {
    find(db, addon, id).await.map(Into::into)
}

async fn find(db: &PgPool, addon: &AddonRow, id: Uuid) -> ApiResult<db::addons::BackupRow> {
    db::addons::backup(db, addon.tenant_id, id)
        .await?
        .filter(|b| b.addon_name == addon.name)
        .ok_or_else(|| ApiError::not_found(format!("backup {id}")))
}

/// The dump of a succeeded backup.
pub async fn download(db: &PgPool, addon: &AddonRow, id: Uuid) -> ApiResult<Vec<u8>> {
    let backup = find(db, addon, id).await?;
    if backup.state != "succeeded" {
        return Err(ApiError::Conflict(format!(
            "backup {id} is {}; only succeeded backups can be downloaded",
            backup.state
        )));
    }
    db::addons::backup_data(db, addon.tenant_id, id).await?.ok_or_else(|| ApiError::not_found(format!("backup {id}")))
}

/// Queues a restore of one of the add-on's backups into it.
pub async fn restore(db: &PgPool, user: &AuthUser, addon: &AddonRow, backup_id: Uuid) -> ApiResult<AddonRestore> {
    postgres_only(addon)?;
    let backup = find(db, addon, backup_id).await?;
    if backup.state != "succeeded" {
        return Err(ApiError::Conflict(format!("backup {backup_id} is {}; restore a succeeded one", backup.state)));
    }
    if addon.state != "available" {
        return Err(ApiError::Conflict(format!(
            "{} is {}; restores go into available add-ons",
            addon.name, addon.state
        )));
    }
    let row = db::addons::insert_restore(db, addon.id, backup_id).await?;
    let event = db::events::NewEvent {
        tenant_id: addon.tenant_id,
        app: None,
        actor_id: Some(user.id),
        action: "addon.backup.restore",
        data: serde_json::json!({ "addon": addon.name, "backup": backup_id, "restore": row.id }),
    };
    db::events::record(db, event).await?;
    Ok(row.into())
}

/// Brings a Postgres add-on whose node is down up on the live node `node`
/// from its newest succeeded backup: the add-on moves there (same name,
/// logins and URL, so its apps need no new release), is provisioned, and
/// the backup is restored into it. What was written after that backup stays
/// on the old node's volume, which is left alone.
pub async fn restore_to_node(db: &PgPool, user: &AuthUser, addon: &AddonRow, node: &str) -> ApiResult<AddonRestore> {
    postgres_only(addon)?;
    if addon.node_state.as_deref() == Some("up") {
        return Err(ApiError::Conflict(format!(
            "{}'s node {} is up: restore a backup in place with `paas pg backups restore`",
            addon.name,
            addon.node.as_deref().unwrap_or_default()
        )));
    }
    let target = db::addons::live_node(db, node)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("no live node is named {node:?}; `paas nodes` lists them")))?;
    let backup = db::addons::backups(db, addon.tenant_id, &addon.name)
        .await?
        .into_iter()
        .find(|b| b.state == "succeeded")
        .ok_or_else(|| ApiError::Conflict(format!("{} has no succeeded backup to bring up elsewhere", addon.name)))?;
    let mut tx = db.begin().await?;
    db::addons::lock(&mut tx, addon.id).await?;
    db::addons::move_to_node(&mut *tx, addon.id, target).await?;
    let row = db::addons::insert_restore(&mut *tx, addon.id, backup.id).await?;
    let event = db::events::NewEvent {
        tenant_id: addon.tenant_id,
        app: None,
        actor_id: Some(user.id),
        action: "addon.restore_to_node",
        data: serde_json::json!({
            "addon": addon.name, "from": addon.node, "to": node, "backup": backup.id, "restore": row.id,
        }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    tracing::info!(addon = %addon.name, to = node, backup.id = %backup.id, "add-on moved to another node from its backup");
    Ok(row.into())
}

pub async fn show_restore(db: &PgPool, addon: &AddonRow, id: Uuid) -> ApiResult<AddonRestore> {
    db::addons::restore(db, addon.id, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found(format!("restore {id}")))
}

// === Agent side ===

/// Stores a dump a node captured for one of its pending backups.
pub async fn store_capture(db: &PgPool, node: &AgentNode, id: Uuid, dump: &[u8]) -> ApiResult<()> {
    let backup = db::addons::pending_backup_on_node(db, node.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("pending backup {id}")))?;
    let mut tx = db.begin().await?;
    let blob = db::builds::insert_blob(&mut *tx, dump).await?;
    db::addons::finish_backup(&mut *tx, id, Some(blob), Some(dump.len() as i64), None).await?;
    tx.commit().await?;
    tracing::info!(backup.id = %id, addon = %backup.addon_name, bytes = dump.len(), "backup stored");
    Ok(())
}

/// Records that a node could not capture a backup. A failed final backup
/// stops the destroy: the add-on is available again, saying why.
pub async fn fail_capture(db: &PgPool, node: &AgentNode, id: Uuid, message: &str) -> ApiResult<()> {
    let backup = db::addons::pending_backup_on_node(db, node.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("pending backup {id}")))?;
    db::addons::finish_backup(db, id, None, None, Some(message)).await?;
    tracing::warn!(backup.id = %id, addon = %backup.addon_name, message, "backup failed");
    if let (Some(addon_id), "final") = (backup.addon_id, backup.trigger.as_str()) {
        let why = format!("destroy stopped: the final backup failed ({message}); destroy it again to retry");
        db::addons::set_state(db, addon_id, "available", Some(&why)).await?;
    }
    Ok(())
}

/// The dump a node's pending restore loads.
pub async fn restore_source(db: &PgPool, node: &AgentNode, restore_id: Uuid) -> ApiResult<Vec<u8>> {
    db::addons::restore_data_for_node(db, node.id, restore_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("pending restore {restore_id}")))
}

pub async fn finish_restore(
    db: &PgPool,
    node: &AgentNode,
    id: Uuid,
    success: bool,
    message: Option<&str>,
) -> ApiResult<()> {
    if !db::addons::finish_restore(db, node.id, id, success, message).await? {
        return Err(ApiError::not_found(format!("pending restore {id}")));
    }
    tracing::info!(restore.id = %id, success, "restore finished");
    Ok(())
}

/// Takes a scheduled backup of every available Postgres add-on without one
/// in the last day, and prunes old scheduled ones. Runs until the process ends.
pub async fn schedule(db: PgPool, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = schedule_pass(&db).await {
            tracing::warn!(error = %error, "backup schedule pass failed");
        }
    }
}

/// One pass of the schedule: a backup for each available Postgres add-on
/// without one in the last `SCHEDULE_HOURS`, then the pruning.
pub async fn schedule_pass(db: &PgPool) -> Result<(), sqlx::Error> {
    for addon in db::addons::due_for_backup(db, SCHEDULE_HOURS).await? {
        db::addons::insert_backup(db, addon.tenant_id, addon.id, &addon.name, "scheduled").await?;
        tracing::info!(addon = %addon.name, "scheduled backup queued");
    }
    let pruned = db::addons::prune_scheduled(db, SCHEDULED_KEPT).await?;
    if pruned > 0 {
        tracing::info!(pruned, "old scheduled backups deleted");
    }
    Ok(())
}
