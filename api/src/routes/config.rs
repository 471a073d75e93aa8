//! Config vars: read, set, unset. Every change makes a new release carrying
//! the new config snapshot (and the previous release's build).

use std::collections::BTreeMap;

use axum::extract::State;
use paas_types::{ConfigPatch, ConfigVars};
use serde_json::json;

use super::app_for_user;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate;

/// Most vars one app may have.
const MAX_VARS: usize = 500;

/// The app's config vars.
#[utoipa::path(get, path = "/v1/apps/{app}/config", tag = "config", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_config(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<ConfigVars>> {
    let app = app_for_user(&state, user.id, &app).await?;
    Ok(ApiJson(db::apps::config(&state.db, app.id).await?))
}

/// Sets (string value) and unsets (`null`) config vars; answers the new config.
#[utoipa::path(patch, path = "/v1/apps/{app}/config", tag = "config", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    request_body(content = BTreeMap<String, Option<String>>, description = "a string sets a var, null unsets it"),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn update_config(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(patch): ApiJson<ConfigPatch>,
) -> ApiResult<ApiJson<ConfigVars>> {
    let app = app_for_user(&state, user.id, &app).await?;
    Ok(ApiJson(change_config(&state, &user, &app, patch).await?))
}

/// Unsets one config var.
#[utoipa::path(delete, path = "/v1/apps/{app}/config/{key}", tag = "config", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("key" = String, Path)),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn unset_config_var(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, key)): ApiPath<(String, String)>,
) -> ApiResult<ApiJson<ConfigVars>> {
    let app = app_for_user(&state, user.id, &app).await?;
    if !db::apps::config(&state.db, app.id).await?.contains_key(&key) {
        return Err(ApiError::not_found(format!("config var {key:?}")));
    }
    let patch = BTreeMap::from([(key, None)]);
    Ok(ApiJson(change_config(&state, &user, &app, patch).await?))
}

/// Validates and applies a patch, records a release and an event, all in one
/// transaction. Also used by the dashboard.
pub(crate) async fn change_config(
    state: &AppState,
    user: &AuthUser,
    app: &db::apps::AppRow,
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
    if patch.values().flatten().any(|v| v.len() > 32 * 1024 || v.contains('\0')) {
        return Err(ApiError::validation("config values must be at most 32 KiB and contain no NUL byte"));
    }
    let mut tx = state.db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    db::apps::patch_config(&mut tx, app.id, &patch).await?;
    let config = db::apps::config(&mut *tx, app.id).await?;
    if config.len() > MAX_VARS {
        return Err(ApiError::validation(format!("an app can have at most {MAX_VARS} config vars")));
    }
    let build_id = db::releases::current(&mut *tx, app.id).await?.and_then(|r| r.build_id);
    let description = describe(&patch);
    let version = db::releases::create(&mut tx, app.id, build_id, &config, &description, Some(user.id)).await?;
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
    // A new release: instances restart with the new environment.
    crate::scheduler::reconcile_apps(&state.db, [app.id]).await;
    Ok(config)
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
