//! Add-ons, their logins, attachments, backups and restores. Every lookup
//! that starts from a user joins memberships: another tenant's add-on is
//! simply not found.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::secrets;
use crate::crypto::Keyring;

/// An add-on as a user of its tenant (or its node) sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AddonRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub name: String,
    pub kind: String,
    pub plan: String,
    pub node_id: Option<Uuid>,
    pub node: Option<String>,
    /// The node's state (`up`, `down`, `draining`).
    pub node_state: Option<String>,
    pub state: String,
    pub state_message: Option<String>,
    /// The agent's own login to the server, sealed; see [`admin_password`].
    pub admin_password_sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// The add-on's admin password, opened.
pub fn admin_password(keys: &Keyring, row: &AddonRow) -> Result<String, sqlx::Error> {
    secrets::open_text(keys, &secrets::addon_admin_purpose(row.id), &row.admin_password_sealed)
}

const SELECT: &str = "
    SELECT ad.id, ad.tenant_id, t.name AS tenant_name, ad.name, ad.kind, ad.plan, ad.node_id, n.name AS node,
           n.state AS node_state, ad.state, ad.state_message, ad.admin_password_sealed, ad.created_at
    FROM addons ad
    JOIN tenants t ON t.id = ad.tenant_id
    LEFT JOIN nodes n ON n.id = ad.node_id";

pub struct NewAddon<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub kind: &'a str,
    pub plan: &'a str,
    pub node_id: Option<Uuid>,
    pub admin_password: &'a str,
}

/// Records an add-on, its admin password sealed under `keys`.
pub async fn insert(db: impl PgExecutor<'_>, keys: &Keyring, new: NewAddon<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO addons (id, tenant_id, name, kind, plan, node_id, admin_password_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.name)
    .bind(new.kind)
    .bind(new.plan)
    .bind(new.node_id)
    .bind(keys.seal(&secrets::addon_admin_purpose(new.id), new.admin_password.as_bytes()))
    .execute(db)
    .await
    .map(|_| ())
}

/// The add-on called `name`, if the user belongs to its tenant.
pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    name: &str,
) -> Result<Option<AddonRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} JOIN memberships m ON m.tenant_id = ad.tenant_id AND m.user_id = $1 WHERE ad.name = $2"
    ))
    .bind(user_id)
    .bind(name)
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<AddonRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE ad.id = $1")).bind(id).fetch_optional(db).await
}

/// Every add-on of the user's tenants, by name.
pub async fn list_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<AddonRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} JOIN memberships m ON m.tenant_id = ad.tenant_id AND m.user_id = $1 ORDER BY ad.name"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The add-ons attached to an app, by name.
pub async fn list_for_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<AddonRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} JOIN addon_attachments at ON at.addon_id = ad.id WHERE at.app_id = $1 ORDER BY ad.name"
    ))
    .bind(app_id)
    .fetch_all(db)
    .await
}

/// Locks the add-on's row: serialises attach, detach, rotation and destroy.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM addons WHERE id = $1 FOR UPDATE").bind(id).execute(&mut **tx).await.map(|_| ())
}

pub async fn set_state(
    db: impl PgExecutor<'_>,
    id: Uuid,
    state: &str,
    message: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE addons SET state = $2, state_message = $3, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(message)
        .execute(db)
        .await
        .map(|_| ())
}

/// Applies a node's report of one of its add-ons (a destroying one keeps
/// its state); returns whether the add-on was destroyed and is now deleted.
pub async fn apply_report(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    id: Uuid,
    state: &str,
    message: Option<&str>,
) -> Result<bool, sqlx::Error> {
    if state == "destroyed" {
        let done = sqlx::query("DELETE FROM addons WHERE id = $1 AND node_id = $2 AND state = 'destroying'")
            .bind(id)
            .bind(node_id)
            .execute(db)
            .await?;
        return Ok(done.rows_affected() == 1);
    }
    sqlx::query(
        "UPDATE addons SET state = $3, state_message = $4, updated_at = now()
         WHERE id = $1 AND node_id = $2 AND state <> 'destroying'
           AND (state IS DISTINCT FROM $3 OR state_message IS DISTINCT FROM $4)",
    )
    .bind(id)
    .bind(node_id)
    .bind(state)
    .bind(message)
    .execute(db)
    .await?;
    Ok(false)
}

/// Gives add-ons no node holds yet to `node_id`.
pub async fn claim_unplaced(db: impl PgExecutor<'_>, node_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE addons SET node_id = $1, updated_at = now() WHERE node_id IS NULL AND state <> 'destroying'",
    )
    .bind(node_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The up node an add-on of an app goes to: one running the app's
/// instances, else the one holding the fewest add-ons.
pub async fn pick_node(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT n.id FROM nodes n
         WHERE n.state = 'up'
         ORDER BY (SELECT count(*) FROM instances i WHERE i.node_id = n.id AND i.app_id = $1
                   AND i.desired_state = 'running') DESC,
                  (SELECT count(*) FROM addons ad WHERE ad.node_id = n.id), n.name
         LIMIT 1",
    )
    .bind(app_id)
    .fetch_optional(db)
    .await
}

/// The add-ons a node holds, every state.
pub async fn on_node(db: impl PgExecutor<'_>, node_id: Uuid) -> Result<Vec<AddonRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE ad.node_id = $1 ORDER BY ad.created_at")).bind(node_id).fetch_all(db).await
}

// === Attachments ===

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub addon_id: Uuid,
    pub app_id: Uuid,
    pub app: String,
    pub var: String,
}

pub async fn attachments(db: impl PgExecutor<'_>, addon_ids: &[Uuid]) -> Result<Vec<AttachmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at.addon_id, at.app_id, a.name AS app, at.var FROM addon_attachments at JOIN apps a ON a.id = at.app_id
         WHERE at.addon_id = ANY($1) ORDER BY a.name",
    )
    .bind(addon_ids)
    .fetch_all(db)
    .await
}

pub async fn attach(db: impl PgExecutor<'_>, addon_id: Uuid, app_id: Uuid, var: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO addon_attachments (addon_id, app_id, var) VALUES ($1, $2, $3)")
        .bind(addon_id)
        .bind(app_id)
        .bind(var)
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn detach(db: impl PgExecutor<'_>, addon_id: Uuid, app_id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM addon_attachments WHERE addon_id = $1 AND app_id = $2")
        .bind(addon_id)
        .bind(app_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Apps in `live` (from [`live_config_values`]) configured with one of
/// `urls` (an add-on's not-yet-dropped logins): old releases draining after a
/// detach or rotation. The configs are sealed, so this compares in Rust.
pub fn apps_using<'a>(live: &'a [(String, Vec<String>)], urls: &[&str]) -> Vec<&'a str> {
    live.iter()
        .filter(|(_, values)| values.iter().any(|v| urls.contains(&v.as_str())))
        .map(|(app, _)| app.as_str())
        .collect()
}

/// The config values of every release an instance still runs with (not
/// stopped or lost), with its app's name. Opening them costs a decryption
/// per release: read once per desired-state answer, shared by its add-ons.
pub async fn live_config_values(db: &PgPool, keys: &Keyring) -> Result<Vec<(String, Vec<String>)>, sqlx::Error> {
    let rows: Vec<(String, Uuid, Vec<u8>)> = sqlx::query_as(
        "SELECT DISTINCT a.name, r.id, r.config_sealed FROM instances i
         JOIN releases r ON r.id = i.release_id JOIN apps a ON a.id = i.app_id
         WHERE i.actual_state NOT IN ('stopped', 'lost')",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(app, release_id, sealed)| {
            let config = secrets::open_map(keys, &secrets::release_config_purpose(release_id), &sealed)?;
            Ok((app, config.into_values().collect()))
        })
        .collect()
}

// === Logins ===

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: Uuid,
    pub generation: i32,
    pub username: String,
    pub password: String,
    pub url: String,
    pub state: String,
}

/// Records a login, its password and URL sealed under `keys`.
pub async fn insert_credential(
    db: impl PgExecutor<'_>,
    keys: &Keyring,
    addon_id: Uuid,
    generation: i32,
    username: &str,
    password: &str,
    url: &str,
) -> Result<(), sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO addon_credentials (id, addon_id, generation, username, password_sealed, url_sealed)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(addon_id)
    .bind(generation)
    .bind(username)
    .bind(keys.seal(&secrets::credential_password_purpose(id), password.as_bytes()))
    .bind(keys.seal(&secrets::credential_url_purpose(id), url.as_bytes()))
    .execute(db)
    .await
    .map(|_| ())
}

/// A login as stored: password and URL sealed.
#[derive(sqlx::FromRow)]
struct SealedCredentialRow {
    id: Uuid,
    generation: i32,
    username: String,
    password_sealed: Vec<u8>,
    url_sealed: Vec<u8>,
    state: String,
}

/// The add-on's logins that are not dropped, newest first, opened.
pub async fn credentials(
    db: impl PgExecutor<'_>,
    keys: &Keyring,
    addon_id: Uuid,
) -> Result<Vec<CredentialRow>, sqlx::Error> {
    let rows: Vec<SealedCredentialRow> = sqlx::query_as(
        "SELECT id, generation, username, password_sealed, url_sealed, state FROM addon_credentials
         WHERE addon_id = $1 AND state <> 'dropped' ORDER BY generation DESC",
    )
    .bind(addon_id)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(CredentialRow {
                password: secrets::open_text(
                    keys,
                    &secrets::credential_password_purpose(row.id),
                    &row.password_sealed,
                )?,
                url: secrets::open_text(keys, &secrets::credential_url_purpose(row.id), &row.url_sealed)?,
                id: row.id,
                generation: row.generation,
                username: row.username,
                state: row.state,
            })
        })
        .collect()
}

/// Marks the active login retiring (rotation).
pub async fn retire_active(db: impl PgExecutor<'_>, addon_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE addon_credentials SET state = 'retiring', retired_at = now() WHERE addon_id = $1 AND state = 'active'",
    )
    .bind(addon_id)
    .execute(db)
    .await
    .map(|_| ())
}

/// Drops retiring logins no running instance is configured with any more
/// (the rollout that replaced them is over); `live` is [`live_config_values`].
pub async fn drop_unused_retiring(
    db: &PgPool,
    keys: &Keyring,
    addon_id: Uuid,
    live: &[(String, Vec<String>)],
) -> Result<u64, sqlx::Error> {
    let retiring: Vec<CredentialRow> =
        credentials(db, keys, addon_id).await?.into_iter().filter(|c| c.state == "retiring").collect();
    if retiring.is_empty() {
        return Ok(0);
    }
    let unused: Vec<Uuid> =
        retiring.iter().filter(|c| !live.iter().any(|(_, values)| values.contains(&c.url))).map(|c| c.id).collect();
    let done = sqlx::query("UPDATE addon_credentials SET state = 'dropped' WHERE id = ANY($1) AND state = 'retiring'")
        .bind(&unused)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

// === Backups and restores ===

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BackupRow {
    pub id: Uuid,
    pub addon_id: Option<Uuid>,
    pub addon_name: String,
    pub trigger: String,
    pub state: String,
    pub blob_id: Option<Uuid>,
    pub size_bytes: Option<i64>,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<BackupRow> for paas_types::addons::AddonBackup {
    fn from(row: BackupRow) -> Self {
        paas_types::addons::AddonBackup {
            id: row.id,
            addon: row.addon_name,
            trigger: row.trigger,
            state: row.state,
            size_bytes: row.size_bytes,
            message: row.message,
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

const BACKUP_COLUMNS: &str =
    "id, addon_id, addon_name, trigger, state, blob_id, size_bytes, message, created_at, finished_at";

pub async fn insert_backup(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    addon_id: Uuid,
    addon_name: &str,
    trigger: &str,
) -> Result<BackupRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO addon_backups (id, tenant_id, addon_id, addon_name, trigger) VALUES ($1, $2, $3, $4, $5)
         RETURNING {BACKUP_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(tenant_id)
    .bind(addon_id)
    .bind(addon_name)
    .bind(trigger)
    .fetch_one(db)
    .await
}

/// Backups of the add-on called `addon_name` in a tenant, newest first.
pub async fn backups(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    addon_name: &str,
) -> Result<Vec<BackupRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BACKUP_COLUMNS} FROM addon_backups WHERE tenant_id = $1 AND addon_name = $2 ORDER BY created_at DESC"
    ))
    .bind(tenant_id)
    .bind(addon_name)
    .fetch_all(db)
    .await
}

pub async fn backup(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<Option<BackupRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {BACKUP_COLUMNS} FROM addon_backups WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Pending captures of an add-on.
pub async fn pending_captures(db: impl PgExecutor<'_>, addon_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM addon_backups WHERE addon_id = $1 AND state = 'pending' ORDER BY created_at")
        .bind(addon_id)
        .fetch_all(db)
        .await
}

/// The pending backup `id` of an add-on held by `node_id`, with its trigger.
pub async fn pending_backup_on_node(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    id: Uuid,
) -> Result<Option<BackupRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BACKUP_COLUMNS} FROM addon_backups b
         WHERE b.id = $2 AND b.state = 'pending'
           AND EXISTS (SELECT 1 FROM addons ad WHERE ad.id = b.addon_id AND ad.node_id = $1)"
    ))
    .bind(node_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn finish_backup(
    db: impl PgExecutor<'_>,
    id: Uuid,
    blob_id: Option<Uuid>,
    size_bytes: Option<i64>,
    message: Option<&str>,
) -> Result<(), sqlx::Error> {
    let state = if blob_id.is_some() { "succeeded" } else { "failed" };
    sqlx::query(
        "UPDATE addon_backups SET state = $2, blob_id = $3, size_bytes = $4, message = $5, finished_at = now()
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(state)
    .bind(blob_id)
    .bind(size_bytes)
    .bind(message)
    .execute(db)
    .await
    .map(|_| ())
}

/// The dump of a succeeded backup.
pub async fn backup_data(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT bl.data FROM addon_backups b JOIN blobs bl ON bl.id = b.blob_id
         WHERE b.id = $2 AND b.tenant_id = $1 AND b.state = 'succeeded'",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The dump a restore job of an add-on on `node_id` reads.
pub async fn restore_data_for_node(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    restore_id: Uuid,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT bl.data FROM addon_restores r JOIN addons ad ON ad.id = r.addon_id
         JOIN addon_backups b ON b.id = r.backup_id JOIN blobs bl ON bl.id = b.blob_id
         WHERE r.id = $2 AND ad.node_id = $1 AND r.state = 'pending'",
    )
    .bind(node_id)
    .bind(restore_id)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RestoreRow {
    pub id: Uuid,
    pub backup_id: Uuid,
    pub state: String,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<RestoreRow> for paas_types::addons::AddonRestore {
    fn from(row: RestoreRow) -> Self {
        paas_types::addons::AddonRestore {
            id: row.id,
            backup_id: row.backup_id,
            state: row.state,
            message: row.message,
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

pub async fn insert_restore(
    db: impl PgExecutor<'_>,
    addon_id: Uuid,
    backup_id: Uuid,
) -> Result<RestoreRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO addon_restores (id, addon_id, backup_id) VALUES ($1, $2, $3)
         RETURNING id, backup_id, state, message, created_at, finished_at",
    )
    .bind(Uuid::new_v4())
    .bind(addon_id)
    .bind(backup_id)
    .fetch_one(db)
    .await
}

pub async fn restore(db: impl PgExecutor<'_>, addon_id: Uuid, id: Uuid) -> Result<Option<RestoreRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, backup_id, state, message, created_at, finished_at FROM addon_restores WHERE addon_id = $1 AND id = $2",
    )
    .bind(addon_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Pending restores of an add-on: (restore, backup).
pub async fn pending_restores(db: impl PgExecutor<'_>, addon_id: Uuid) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, backup_id FROM addon_restores WHERE addon_id = $1 AND state = 'pending' ORDER BY created_at",
    )
    .bind(addon_id)
    .fetch_all(db)
    .await
}

/// Ends a pending restore of an add-on held by `node_id`; false when there is none.
pub async fn finish_restore(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    id: Uuid,
    success: bool,
    message: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE addon_restores r SET state = $3, message = $4, finished_at = now()
         FROM addons ad WHERE ad.id = r.addon_id AND ad.node_id = $2 AND r.id = $1 AND r.state = 'pending'",
    )
    .bind(id)
    .bind(node_id)
    .bind(if success { "succeeded" } else { "failed" })
    .bind(message)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Postgres add-ons that are available and have no backup from the last
/// `hours` hours (taken or pending): due for a scheduled one.
pub async fn due_for_backup(db: impl PgExecutor<'_>, hours: i32) -> Result<Vec<AddonRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE ad.kind = 'postgres' AND ad.state = 'available'
           AND NOT EXISTS (SELECT 1 FROM addon_backups b WHERE b.addon_id = ad.id AND b.state <> 'failed'
                           AND b.created_at > now() - make_interval(hours => $1))"
    ))
    .bind(hours)
    .fetch_all(db)
    .await
}

/// Deletes scheduled backups beyond the newest `keep` of each add-on.
pub async fn prune_scheduled(db: impl PgExecutor<'_>, keep: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM addon_backups WHERE id IN (
            SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id, addon_name ORDER BY created_at DESC) AS n
                            FROM addon_backups WHERE trigger = 'scheduled') ranked
            WHERE n > $1)",
    )
    .bind(keep)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Puts the add-on on another node, waiting to be provisioned there.
pub async fn move_to_node(db: impl PgExecutor<'_>, id: Uuid, node_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE addons SET node_id = $2, state = 'provisioning', state_message = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(node_id)
    .execute(db)
    .await
    .map(|_| ())
}

/// The id of the live node named `name`.
pub async fn live_node(db: impl PgExecutor<'_>, name: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM nodes WHERE name = $1 AND state = 'up'").bind(name).fetch_optional(db).await
}
