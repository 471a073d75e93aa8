//! Rollback: a new release from an old one's build and config.

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::crypto::Keyring;
use crate::db;
use crate::db::apps::AppRow;
use crate::db::releases::ReleaseRow;
use crate::error::{ApiError, ApiResult};
use crate::scheduler;

/// Creates release N+1 as a copy of release `version` (build and config),
/// restores the config vars to that snapshot, and rolls it out.
pub async fn rollback(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    version: i32,
) -> ApiResult<ReleaseRow> {
    let target = db::releases::find(db, app.id, version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("release v{version}")))?;
    let Some(build_id) = target.build_id else {
        return Err(ApiError::Conflict(format!(
            "release v{version} has no build to return to (it only changed config before the first deploy)"
        )));
    };
    let mut tx = db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    let snapshot = db::releases::config(&mut *tx, keys, target.id).await?;
    // The config vars go back to the snapshot too, so later releases start from it.
    let current = db::apps::config_keys(&mut *tx, app.id).await?;
    let mut patch: BTreeMap<String, Option<String>> =
        current.into_iter().filter(|k| !snapshot.contains_key(k)).map(|k| (k, None)).collect();
    patch.extend(snapshot.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
    db::apps::patch_config(&mut tx, keys, app.id, &patch).await?;
    let description = format!("Rollback to v{version}");
    let new_version =
        db::releases::create(&mut tx, keys, app.id, Some(build_id), &snapshot, &description, Some(user.id)).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "release.rollback",
        data: serde_json::json!({ "to": version, "release": new_version }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    scheduler::reconcile_apps(db, [app.id]).await;
    db::releases::find(db, app.id, new_version).await?.ok_or_else(|| ApiError::not_found("release"))
}
