//! Add-ons: Postgres databases and Redis servers held by one node, attached
//! to apps of their tenant as `<ALIAS>_URL` config vars. Every attach,
//! detach and credential change is a release made through
//! [`config::release_config`], so the normal rollout restarts the app's
//! instances with the new URL (old ones keep theirs while they drain, and
//! a retired login is dropped only once none of them is left).
//!
//! `plan` is the table of plans; `node` is the agent's side (desired state,
//! reports); `backups` captures, restores and the daily schedule.

pub mod backups;
pub mod node;
pub mod plan;

use std::collections::BTreeMap;

use paas_types::addons::{Addon, AddonAttachment, AddonKind, AddonState, CreateAddonRequest};
use paas_types::Role;
use rand::RngCore;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::crypto::Keyring;
use crate::db;
use crate::db::addons::{AddonRow, AttachmentRow};
use crate::db::apps::AppRow;
use crate::error::{ApiError, ApiResult};
use crate::ops::config::release_config;
use crate::scheduler;

/// Port of every Postgres server apps dial.
pub const POSTGRES_PORT: u16 = 5432;
/// Port of every Redis server.
pub const REDIS_PORT: u16 = 6379;

/// The add-on `name` if the user belongs to its tenant; otherwise 404,
/// exactly as for an add-on that does not exist.
pub async fn addon_for_user(db: &PgPool, user_id: Uuid, name: &str) -> ApiResult<AddonRow> {
    db::addons::find_for_user(db, user_id, name).await?.ok_or_else(|| ApiError::not_found(format!("add-on {name:?}")))
}

pub fn kind_of(row: &AddonRow) -> AddonKind {
    // The CHECK constraint admits only the known kinds.
    AddonKind::parse(&row.kind).unwrap_or(AddonKind::Postgres)
}

/// What users see of the add-on's state: a stored state, or `unavailable`
/// while the node holding its data is down.
pub fn state_of(row: &AddonRow) -> AddonState {
    let stored = AddonState::parse(&row.state).unwrap_or(AddonState::Failed);
    match (stored, row.node_state.as_deref()) {
        (AddonState::Destroying, _) => stored,
        (_, Some("down")) => AddonState::Unavailable,
        _ => stored,
    }
}

/// The add-ons as the API shows them; `with_url` adds the URL apps get.
pub async fn views(db: &PgPool, keys: &Keyring, rows: Vec<AddonRow>, with_url: bool) -> ApiResult<Vec<Addon>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attachments = db::addons::attachments(db, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let url = if with_url { active_url(db, keys, row.id).await? } else { None };
        let state = state_of(&row);
        let message = match state {
            AddonState::Unavailable => Some(format!(
                "node {} holding its data is down; it comes back with the node",
                row.node.as_deref().unwrap_or("?")
            )),
            _ => row.state_message.clone(),
        };
        out.push(Addon {
            id: row.id,
            kind: kind_of(&row),
            attachments: attachments
                .iter()
                .filter(|a| a.addon_id == row.id)
                .map(|a| AddonAttachment { app: a.app.clone(), var: a.var.clone() })
                .collect(),
            name: row.name,
            tenant: row.tenant_name,
            plan: row.plan,
            state,
            message,
            node: row.node,
            url,
            created_at: row.created_at,
        });
    }
    Ok(out)
}

pub async fn view(db: &PgPool, keys: &Keyring, row: AddonRow, with_url: bool) -> ApiResult<Addon> {
    let mut views = views(db, keys, vec![row], with_url).await?;
    views.pop().ok_or_else(|| ApiError::not_found("add-on"))
}

async fn active_url(db: &PgPool, keys: &Keyring, addon_id: Uuid) -> ApiResult<Option<String>> {
    let credentials = db::addons::credentials(db, keys, addon_id).await?;
    Ok(credentials.into_iter().find(|c| c.state == "active").map(|c| c.url))
}

/// Creates an add-on of the app's tenant and attaches it to the app.
pub async fn create(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    req: &CreateAddonRequest,
) -> ApiResult<Addon> {
    let plan = plan::find(req.kind, req.plan.as_deref()).ok_or_else(|| {
        let names: Vec<&str> = plan::plans(req.kind).iter().map(|p| p.name).collect();
        ApiError::validation(format!(
            "{} has no plan {:?}; choose one of: {}",
            req.kind.as_str(),
            req.plan.as_deref().unwrap_or_default(),
            names.join(", ")
        ))
    })?;
    let var = attachment_var(req.kind, req.alias.as_deref())?;
    let id = Uuid::new_v4();
    let name = format!("{}-{}", req.kind.as_str(), &id.simple().to_string()[..8]);
    let node_id = db::addons::pick_node(db, app.id).await?;
    let mut tx = db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    ensure_var_free(&mut tx, app, &var).await?;
    let new = db::addons::NewAddon {
        id,
        tenant_id: app.tenant_id,
        name: &name,
        kind: req.kind.as_str(),
        plan: plan.name,
        node_id,
        admin_password: &secret(),
    };
    db::addons::insert(&mut *tx, keys, new).await?;
    let login = login_for(req.kind, &name, 1);
    db::addons::insert_credential(&mut *tx, keys, id, 1, &login.username, &login.password, &login.url).await?;
    db::addons::attach(&mut *tx, id, app.id, &var).await?;
    let version =
        set_var(&mut tx, keys, user, app.id, &var, Some(&login.url), &format!("Attach {name} as {var}")).await?;
    record(
        &mut tx,
        user,
        app.tenant_id,
        Some((app.id, &app.name)),
        "addon.create",
        json!({
            "addon": name, "kind": req.kind.as_str(), "plan": plan.name, "var": var, "release": version,
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(addon = %name, kind = req.kind.as_str(), plan = plan.name, app = %app.name, "add-on created");
    scheduler::reconcile_apps(db, [app.id]).await;
    let row = db::addons::find(db, id).await?.ok_or_else(|| ApiError::not_found("add-on"))?;
    view(db, keys, row, true).await
}

/// Attaches the add-on to another app of its tenant.
pub async fn attach(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    addon: &AddonRow,
    app: &AppRow,
    alias: Option<&str>,
) -> ApiResult<Addon> {
    if app.tenant_id != addon.tenant_id {
        // Apps of another tenant the user also belongs to: still not this add-on's.
        return Err(ApiError::validation(format!(
            "{} belongs to tenant {}, {} to {}: add-ons attach only to apps of their tenant",
            addon.name, addon.tenant_name, app.name, app.tenant_name
        )));
    }
    refuse_if_destroying(addon)?;
    let var = attachment_var(kind_of(addon), alias)?;
    let mut tx = db.begin().await?;
    db::addons::lock(&mut tx, addon.id).await?;
    db::apps::lock(&mut tx, app.id).await?;
    let attached = db::addons::attachments(&mut *tx, &[addon.id]).await?;
    if attached.iter().any(|a| a.app_id == app.id) {
        return Err(ApiError::Conflict(format!("{} is already attached to {}", addon.name, app.name)));
    }
    ensure_var_free(&mut tx, app, &var).await?;
    let url = active_url_tx(&mut tx, keys, addon.id).await?;
    db::addons::attach(&mut *tx, addon.id, app.id, &var).await?;
    let version =
        set_var(&mut tx, keys, user, app.id, &var, Some(&url), &format!("Attach {} as {var}", addon.name)).await?;
    record(
        &mut tx,
        user,
        app.tenant_id,
        Some((app.id, &app.name)),
        "addon.attach",
        json!({
            "addon": addon.name, "var": var, "release": version,
        }),
    )
    .await?;
    tx.commit().await?;
    scheduler::reconcile_apps(db, [app.id]).await;
    view(db, keys, reload(db, addon.id).await?, true).await
}

/// Detaches the add-on from an app: its var is unset in a new release.
pub async fn detach(db: &PgPool, keys: &Keyring, user: &AuthUser, addon: &AddonRow, app: &AppRow) -> ApiResult<Addon> {
    let mut tx = db.begin().await?;
    db::addons::lock(&mut tx, addon.id).await?;
    let attached = db::addons::attachments(&mut *tx, &[addon.id]).await?;
    let Some(attachment) = attached.into_iter().find(|a| a.app_id == app.id) else {
        return Err(ApiError::not_found(format!("attachment of {} to {}", addon.name, app.name)));
    };
    detach_in(&mut tx, keys, user, addon, &attachment).await?;
    tx.commit().await?;
    scheduler::reconcile_apps(db, [app.id]).await;
    view(db, keys, reload(db, addon.id).await?, true).await
}

async fn detach_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &Keyring,
    user: &AuthUser,
    addon: &AddonRow,
    attachment: &AttachmentRow,
) -> ApiResult<()> {
    db::apps::lock(tx, attachment.app_id).await?;
    db::addons::detach(&mut **tx, addon.id, attachment.app_id).await?;
    let description = format!("Detach {} ({})", addon.name, attachment.var);
    let version = set_var(tx, keys, user, attachment.app_id, &attachment.var, None, &description).await?;
    record(
        tx,
        user,
        addon.tenant_id,
        Some((attachment.app_id, &attachment.app)),
        "addon.detach",
        json!({
            "addon": addon.name, "var": attachment.var, "release": version,
        }),
    )
    .await
}

/// Destroys the add-on: refused while attached unless `confirm` is its
/// name (then it is detached everywhere first). Postgres takes a final
/// backup before its node removes the data.
pub async fn destroy(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    addon: &AddonRow,
    confirm: Option<&str>,
) -> ApiResult<Addon> {
    let role = db::tenants::find_for_user(db, user.id, &addon.tenant_name).await?.map(|t| t.role());
    if role < Some(Role::Admin) {
        return Err(ApiError::Forbidden("only owners and admins of the tenant can destroy add-ons".into()));
    }
    refuse_if_destroying(addon)?;
    let mut tx = db.begin().await?;
    db::addons::lock(&mut tx, addon.id).await?;
    let attached = db::addons::attachments(&mut *tx, &[addon.id]).await?;
    if !attached.is_empty() && confirm != Some(addon.name.as_str()) {
        let apps: Vec<&str> = attached.iter().map(|a| a.app.as_str()).collect();
        return Err(ApiError::Conflict(format!(
            "{} is attached to {}; detach it first, or confirm with `--confirm {}` to detach and destroy it",
            addon.name,
            apps.join(", "),
            addon.name
        )));
    }
    for attachment in &attached {
        detach_in(&mut tx, keys, user, addon, attachment).await?;
    }
    let final_backup = kind_of(addon) == AddonKind::Postgres && addon.node_id.is_some() && addon.state == "available";
    if addon.node_id.is_none() {
        // No node ever created it: nothing to remove anywhere.
        sqlx::query("DELETE FROM addons WHERE id = $1").bind(addon.id).execute(&mut *tx).await?;
    } else {
        if final_backup {
            db::addons::insert_backup(&mut *tx, addon.tenant_id, addon.id, &addon.name, "final").await?;
        }
        db::addons::set_state(&mut *tx, addon.id, "destroying", None).await?;
    }
    record(
        &mut tx,
        user,
        addon.tenant_id,
        None,
        "addon.destroy",
        json!({ "addon": addon.name, "final_backup": final_backup }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(addon = %addon.name, final_backup, "add-on destroy requested");
    scheduler::reconcile_apps(db, attached.iter().map(|a| a.app_id)).await;
    let mut gone = addon.clone();
    gone.state = "destroying".into();
    view(db, keys, gone, false).await.map(|mut v| {
        v.attachments.clear();
        v
    })
}

/// Gives the add-on a new login (a new password; for Postgres a new role),
/// releases every attached app with the new URL, and retires the old login:
/// it is dropped once no running instance uses it.
pub async fn rotate_credentials(db: &PgPool, keys: &Keyring, user: &AuthUser, addon: &AddonRow) -> ApiResult<Addon> {
    refuse_if_destroying(addon)?;
    let mut tx = db.begin().await?;
    db::addons::lock(&mut tx, addon.id).await?;
    let generation = next_generation(&mut tx, addon.id).await?;
    let login = login_for(kind_of(addon), &addon.name, generation);
    db::addons::retire_active(&mut *tx, addon.id).await?;
    db::addons::insert_credential(&mut *tx, keys, addon.id, generation, &login.username, &login.password, &login.url)
        .await?;
    let attached = db::addons::attachments(&mut *tx, &[addon.id]).await?;
    for attachment in &attached {
        db::apps::lock(&mut tx, attachment.app_id).await?;
        let description = format!("Rotate the credentials of {} ({})", addon.name, attachment.var);
        set_var(&mut tx, keys, user, attachment.app_id, &attachment.var, Some(&login.url), &description).await?;
    }
    record(
        &mut tx,
        user,
        addon.tenant_id,
        None,
        "addon.credentials.rotate",
        json!({
            "addon": addon.name, "generation": generation, "apps": attached.iter().map(|a| &a.app).collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(addon = %addon.name, generation, "add-on credentials rotated");
    scheduler::reconcile_apps(db, attached.iter().map(|a| a.app_id)).await;
    view(db, keys, reload(db, addon.id).await?, true).await
}

async fn next_generation(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, addon_id: Uuid) -> ApiResult<i32> {
    let max: Option<i32> = sqlx::query_scalar("SELECT max(generation) FROM addon_credentials WHERE addon_id = $1")
        .bind(addon_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(max.unwrap_or(0) + 1)
}

fn refuse_if_destroying(addon: &AddonRow) -> ApiResult<()> {
    if addon.state == "destroying" {
        return Err(ApiError::Conflict(format!("{} is being destroyed", addon.name)));
    }
    Ok(())
}

async fn reload(db: &PgPool, id: Uuid) -> ApiResult<AddonRow> {
    db::addons::find(db, id).await?.ok_or_else(|| ApiError::not_found("add-on"))
}

async fn active_url_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &Keyring,
    addon_id: Uuid,
) -> ApiResult<String> {
    let credentials = db::addons::credentials(&mut **tx, keys, addon_id).await?;
    credentials
        .into_iter()
        .find(|c| c.state == "active")
        .map(|c| c.url)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("add-on {addon_id} has no active login")))
}

/// `<ALIAS>_URL` from an alias given as `DATABASE`, `database` or `DATABASE_URL`.
pub fn attachment_var(kind: AddonKind, alias: Option<&str>) -> ApiResult<String> {
    let alias = alias.unwrap_or(kind.default_alias()).trim().to_ascii_uppercase().replace('-', "_");
    let alias = alias.strip_suffix("_URL").unwrap_or(&alias).to_string();
    let valid = alias.len() <= 56
        && alias.starts_with(|c: char| c.is_ascii_uppercase())
        && alias.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ApiError::validation(format!(
            "add-on alias {alias:?} is invalid: use letters, digits and '_', starting with a letter (max 56), e.g. --as CACHE"
        )));
    }
    Ok(format!("{alias}_URL"))
}

/// Refuses to overwrite a config var the app already has.
async fn ensure_var_free(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, app: &AppRow, var: &str) -> ApiResult<()> {
    if db::apps::config_keys(&mut **tx, app.id).await?.iter().any(|k| k == var) {
        return Err(ApiError::Conflict(format!(
            "{} already has {var} set; attach with another alias (--as) or unset it first",
            app.name
        )));
    }
    Ok(())
}

/// Sets (or unsets) one var of an app and records the release.
async fn set_var(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &Keyring,
    user: &AuthUser,
    app_id: Uuid,
    var: &str,
    value: Option<&str>,
    description: &str,
) -> ApiResult<i32> {
    let patch = BTreeMap::from([(var.to_string(), value.map(str::to_string))]);
    db::apps::patch_config(tx, keys, app_id, &patch).await?;
    let config = db::apps::config(&mut **tx, keys, app_id).await?;
    release_config(tx, keys, app_id, &config, description, Some(user.id)).await
}

async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: &AuthUser,
    tenant_id: Uuid,
    app: Option<(Uuid, &str)>,
    action: &'static str,
    data: serde_json::Value,
) -> ApiResult<()> {
    let event = db::events::NewEvent { tenant_id, app, actor_id: Some(user.id), action, data };
    Ok(db::events::record(&mut **tx, event).await?)
}

/// A login and the URL apps get for it.
struct Login {
    username: String,
    password: String,
    url: String,
}

/// Postgres: role `<database>_g<N>` (the database is the add-on's name with
/// `_`); Redis: the `default` user with another password.
fn login_for(kind: AddonKind, name: &str, generation: i32) -> Login {
    let password = secret();
    match kind {
        AddonKind::Postgres => {
            let database = database_name(name);
            let username = format!("{database}_g{generation}");
            let url = format!("postgresql://{username}:{password}@{name}:{POSTGRES_PORT}/{database}");
            Login { username, password, url }
        }
        AddonKind::Redis => {
            let url = format!("redis://:{password}@{name}:{REDIS_PORT}/0");
            Login { username: "default".into(), password, url }
        }
    }
}

/// The Postgres database (and owner role) of an add-on.
pub fn database_name(addon: &str) -> String {
    addon.replace('-', "_")
}

/// 32 random characters of a-z, 0-9: safe in URLs and shell words.
fn secret() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_become_url_vars() {
        assert_eq!(attachment_var(AddonKind::Postgres, None).unwrap(), "DATABASE_URL");
        assert_eq!(attachment_var(AddonKind::Redis, None).unwrap(), "REDIS_URL");
        assert_eq!(attachment_var(AddonKind::Redis, Some("cache")).unwrap(), "CACHE_URL");
        assert_eq!(attachment_var(AddonKind::Redis, Some("CACHE_URL")).unwrap(), "CACHE_URL");
        for bad in ["", "1DB", "DB URL", "ÉCOLE"] {
            assert!(attachment_var(AddonKind::Postgres, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_use_the_schemes_clients_accept() {
        let pg = login_for(AddonKind::Postgres, "postgres-1a2b3c4d", 2);
        assert_eq!(pg.username, "postgres_1a2b3c4d_g2");
        assert!(pg.url.starts_with("postgresql://postgres_1a2b3c4d_g2:"), "{}", pg.url);
        assert!(pg.url.ends_with("@postgres-1a2b3c4d:5432/postgres_1a2b3c4d"), "{}", pg.url);
        let redis = login_for(AddonKind::Redis, "redis-1a2b3c4d", 1);
        assert!(redis.url.starts_with("redis://:") && redis.url.ends_with("@redis-1a2b3c4d:6379/0"), "{}", redis.url);
        assert_ne!(secret(), secret());
        assert_eq!(secret().len(), 32);
    }
}
