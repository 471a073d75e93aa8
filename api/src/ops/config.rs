//! Config vars. Every change makes a new release carrying the new config
//! snapshot (and the previous release's build), so instances restart with it.

use std::collections::BTreeMap;

use paas_types::{ConfigPatch, ConfigVars};
use serde_json::json;
use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::crypto::Keyring;
use crate::db;
use crate::db::apps::AppRow;
use crate::error::{ApiError, ApiResult};
use crate::scheduler;
use crate::validate;

/// What a read-only token sees instead of each config value.
pub const HIDDEN_VALUE: &str = "(hidden from read-only tokens)";

/// Config vars as the caller may see them: read tokens get the keys with
/// every value replaced by `HIDDEN_VALUE` (values are secrets: passwords,
/// keys), like Heroku's read-only tokens.
pub fn for_caller(user: &AuthUser, mut vars: ConfigVars) -> ConfigVars {
    if !user.access.sees_secrets() {
        vars.values_mut().for_each(|value| *value = HIDDEN_VALUE.to_string());
    }
    vars
}

/// Most vars one app may have.
pub const MAX_VARS: usize = 500;
/// Largest value of one var.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;

/// The app's config vars, values opened (they are sealed at rest).
pub async fn show_config(db: &PgPool, keys: &Keyring, app: &AppRow) -> ApiResult<ConfigVars> {
    Ok(db::apps::config(db, keys, app.id).await?)
}

/// Validates and applies a patch (a value sets a var, `None` unsets it),
/// records a release and an event in one transaction; answers the new config.
pub async fn change_config(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    patch: ConfigPatch,
) -> ApiResult<ConfigVars> {
    if patch.is_empty() {
        return Err(ApiError::validation("send at least one config var to set or unset"));
    }
    if let Some(bad) = patch.keys().find(|k| !validate::is_config_key(k)) {
        return Err(ApiError::validation(format!(
            "config var name {bad:?} is invalid: use letters, digits and '_', not starting with a digit (max 128)"
        )));
    }
    if patch.values().flatten().any(|v| v.len() > MAX_VALUE_BYTES || v.contains('\0')) {
        return Err(ApiError::validation("config values must be at most 32 KiB and contain no NUL byte"));
    }
    let mut tx = db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    db::apps::patch_config(&mut tx, keys, app.id, &patch).await?;
    let config = db::apps::config(&mut *tx, keys, app.id).await?;
    if config.len() > MAX_VARS {
        return Err(ApiError::validation(format!("an app can have at most {MAX_VARS} config vars")));
    }
    let version = release_config(&mut tx, keys, app.id, &config, &describe(&patch), Some(user.id)).await?;
    let (set, unset) = split_keys(&patch);
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "config.change",
        // Names only: values may be secrets.
        data: json!({ "set": set, "unset": unset, "release": version }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    scheduler::reconcile_apps(db, [app.id]).await;
    Ok(config)
}

/// Records the next release of the app: the current build with `config`
/// (the app's vars after a change). The caller's transaction holds the app's
/// lock and writes the event; the scheduler rolls it out after the commit.
/// Add-on attachments and credential changes release through here too.
pub async fn release_config(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &Keyring,
    app_id: uuid::Uuid,
    config: &ConfigVars,
    description: &str,
    author_id: Option<uuid::Uuid>,
) -> ApiResult<i32> {
    let build_id = db::releases::current(&mut **tx, app_id).await?.and_then(|r| r.build_id);
    Ok(db::releases::create(tx, keys, app_id, build_id, config, description, author_id).await?)
}

/// Sets one var.
pub async fn set_var(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    key: &str,
    value: &str,
) -> ApiResult<ConfigVars> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ApiError::validation("give the config var a name, e.g. DATABASE_URL"));
    }
    change_config(db, keys, user, app, BTreeMap::from([(key.to_string(), Some(value.to_string()))])).await
}

/// Unsets one var; 404 when the app has no such var.
pub async fn unset_var(db: &PgPool, keys: &Keyring, user: &AuthUser, app: &AppRow, key: &str) -> ApiResult<ConfigVars> {
    if !db::apps::config_keys(db, app.id).await?.iter().any(|k| k == key) {
        return Err(ApiError::not_found(format!("config var {key:?}")));
    }
    change_config(db, keys, user, app, BTreeMap::from([(key.to_string(), None)])).await
}

/// "Set A, B; unset C".
fn describe(patch: &ConfigPatch) -> String {
    let (set, unset) = split_keys(patch);
    match (set.is_empty(), unset.is_empty()) {
        (false, true) => format!("Set {}", set.join(", ")),
        (true, false) => format!("Unset {}", unset.join(", ")),
        _ => format!("Set {}; unset {}", set.join(", "), unset.join(", ")),
    }
}

/// The names a patch sets and the names it unsets.
fn split_keys(patch: &ConfigPatch) -> (Vec<&str>, Vec<&str>) {
    let set = patch.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k.as_str()).collect();
    let unset = patch.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.as_str()).collect();
    (set, unset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_what_changed() {
        let patch: ConfigPatch = [("A".to_string(), Some("1".to_string())), ("B".to_string(), None)].into();
        assert_eq!(describe(&patch), "Set A; unset B");
        let only_set: ConfigPatch = [("A".to_string(), Some("1".to_string()))].into();
        assert_eq!(describe(&only_set), "Set A");
    }
}
