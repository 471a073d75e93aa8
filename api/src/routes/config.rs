//! Config vars: read, set, unset. Every change makes a new release carrying
//! the new config snapshot (and the previous release's build).

use axum::extract::State;
use paas_types::{ConfigPatch, ConfigVars};

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// The app's config vars.
#[utoipa::path(get, path = "/v1/apps/{app}/config", tag = "config", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_config(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<ConfigVars>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::config::for_caller(&user, ops::config::show_config(&state.db, &state.settings.keys, &app).await?)))
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
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::config::change_config(&state.db, &state.settings.keys, &user, &app, patch).await?))
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
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::config::unset_var(&state.db, &state.settings.keys, &user, &app, &key).await?))
}
