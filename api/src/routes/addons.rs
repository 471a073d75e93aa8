//! Add-ons: create (attached to an app), list, show, destroy, attach,
//! detach, credential rotation, backups and restores. An add-on of another
//! tenant answers exactly like a missing one.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::addons::{
    Addon, AddonBackup, AddonRestore, AttachAddonRequest, CreateAddonRequest, RestoreToNodeRequest,
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::ops::addons::backups;
use crate::state::AppState;

/// Add-ons of every tenant the caller belongs to (URLs are not listed).
#[utoipa::path(get, path = "/v1/addons", tag = "addons", security(("bearer" = [])),
    responses((status = 200, body = Vec<Addon>), (status = 401, body = paas_types::ErrorBody)))]
pub async fn list_addons(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Vec<Addon>>> {
    let rows = db::addons::list_for_user(&state.db, user.id).await?;
    Ok(ApiJson(ops::addons::views(&state.db, &state.settings.keys, rows, false).await?))
}

/// Add-ons attached to the app (URLs are not listed).
#[utoipa::path(get, path = "/v1/apps/{app}/addons", tag = "addons", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<Addon>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_app_addons(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Addon>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let rows = db::addons::list_for_app(&state.db, app.id).await?;
    Ok(ApiJson(ops::addons::views(&state.db, &state.settings.keys, rows, false).await?))
}

/// Creates an add-on of the app's tenant and attaches it to the app: a new
/// release sets `<ALIAS>_URL` (default `DATABASE_URL` / `REDIS_URL`).
#[utoipa::path(post, path = "/v1/apps/{app}/addons", tag = "addons", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = CreateAddonRequest,
    responses((status = 201, body = Addon), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_addon(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(req): ApiJson<CreateAddonRequest>,
) -> ApiResult<(StatusCode, ApiJson<Addon>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok((StatusCode::CREATED, ApiJson(ops::addons::create(&state.db, &state.settings.keys, &user, &app, &req).await?)))
}

/// One add-on with its URL (password included).
#[utoipa::path(get, path = "/v1/addons/{addon}", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")),
    responses((status = 200, body = Addon), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_addon(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
) -> ApiResult<ApiJson<Addon>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    // The URL carries the password: not for read-only tokens.
    Ok(ApiJson(ops::addons::view(&state.db, &state.settings.keys, addon, user.access.sees_secrets()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DestroyQuery {
    /// The add-on's name: destroys it even while attached (detaching it first).
    #[param(nullable = false)]
    confirm: Option<String>,
}

/// Destroys an add-on and its data (Postgres: after a final backup).
/// Refused (409) while attached, unless `confirm` names it.
#[utoipa::path(delete, path = "/v1/addons/{addon}", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name"), DestroyQuery),
    responses((status = 202, body = Addon), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody)))]
pub async fn destroy_addon(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
    ApiQuery(query): ApiQuery<DestroyQuery>,
) -> ApiResult<(StatusCode, ApiJson<Addon>)> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    let gone = ops::addons::destroy(&state.db, &state.settings.keys, &user, &addon, query.confirm.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(gone)))
}

/// Attaches the add-on to another app of its tenant (a new release of that app).
#[utoipa::path(post, path = "/v1/addons/{addon}/attachments", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")), request_body = AttachAddonRequest,
    responses((status = 200, body = Addon), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn attach_addon(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
    ApiJson(req): ApiJson<AttachAddonRequest>,
) -> ApiResult<ApiJson<Addon>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    let app = ops::apps::app_for_user(&state.db, user.id, &req.app).await?;
    Ok(ApiJson(ops::addons::attach(&state.db, &state.settings.keys, &user, &addon, &app, req.alias.as_deref()).await?))
}

/// Detaches the add-on from an app (a new release unsets its var).
#[utoipa::path(delete, path = "/v1/addons/{addon}/attachments/{attached}", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name"), ("attached" = String, Path, description = "app name")),
    responses((status = 200, body = Addon), (status = 404, body = paas_types::ErrorBody)))]
pub async fn detach_addon(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((addon, app)): ApiPath<(String, String)>,
) -> ApiResult<ApiJson<Addon>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::addons::detach(&state.db, &state.settings.keys, &user, &addon, &app).await?))
}

/// A new login for the add-on; every attached app gets a release with the
/// new URL, and the old login is dropped once none of their instances uses it.
#[utoipa::path(post, path = "/v1/addons/{addon}/credentials/rotate", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")),
    responses((status = 200, body = Addon), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody)))]
pub async fn rotate_credentials(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
) -> ApiResult<ApiJson<Addon>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    Ok(ApiJson(ops::addons::rotate_credentials(&state.db, &state.settings.keys, &user, &addon).await?))
}

/// Backups of a Postgres add-on (kept after it is destroyed), newest first.
#[utoipa::path(get, path = "/v1/addons/{addon}/backups", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")),
    responses((status = 200, body = Vec<AddonBackup>), (status = 404, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn list_backups(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<AddonBackup>>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    Ok(ApiJson(backups::list(&state.db, &addon).await?))
}

/// Queues a backup (`pg_dump -Fc` on the add-on's node); poll it until `succeeded`.
#[utoipa::path(post, path = "/v1/addons/{addon}/backups", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")),
    responses((status = 202, body = AddonBackup), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn capture_backup(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
) -> ApiResult<(StatusCode, ApiJson<AddonBackup>)> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(backups::capture(&state.db, &user, &addon).await?)))
}

/// One backup.
#[utoipa::path(get, path = "/v1/addons/{addon}/backups/{backup}", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name"), ("backup" = Uuid, Path)),
    responses((status = 200, body = AddonBackup), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_backup(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((addon, backup)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<AddonBackup>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    Ok(ApiJson(backups::show(&state.db, &addon, backup).await?))
}

/// The backup's dump (`pg_dump -Fc` custom format, for `pg_restore`).
#[utoipa::path(get, path = "/v1/addons/{addon}/backups/{backup}/download", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name"), ("backup" = Uuid, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = super::params::Tarball),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody)))]
pub async fn download_backup(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((addon, backup)): ApiPath<(String, Uuid)>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    let data = backups::download(&state.db, &addon, backup).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], data))
}

/// Restores a backup into its add-on (replacing what is there); poll the restore.
#[utoipa::path(post, path = "/v1/addons/{addon}/backups/{backup}/restore", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name"), ("backup" = Uuid, Path)),
    responses((status = 202, body = AddonRestore), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn restore_backup(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((addon, backup)): ApiPath<(String, Uuid)>,
) -> ApiResult<(StatusCode, ApiJson<AddonRestore>)> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(backups::restore(&state.db, &user, &addon, backup).await?)))
}

/// One restore.
/// Brings a Postgres add-on whose node is down up on another node from its
/// newest backup (same name, logins and URL); follow the returned restore.
#[utoipa::path(post, path = "/v1/addons/{addon}/restore-to-node", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name")), request_body = RestoreToNodeRequest,
    responses((status = 202, body = AddonRestore), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn restore_to_node(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(addon): ApiPath<String>,
    ApiJson(request): ApiJson<RestoreToNodeRequest>,
) -> ApiResult<(StatusCode, ApiJson<AddonRestore>)> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    let restore = ops::addons::backups::restore_to_node(&state.db, &user, &addon, &request.node).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(restore)))
}

#[utoipa::path(get, path = "/v1/addons/{addon}/restores/{restore}", tag = "addons", security(("bearer" = [])),
    params(("addon" = String, Path, description = "add-on name"), ("restore" = Uuid, Path)),
    responses((status = 200, body = AddonRestore), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_restore(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((addon, restore)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<AddonRestore>> {
    let addon = ops::addons::addon_for_user(&state.db, user.id, &addon).await?;
    Ok(ApiJson(backups::show_restore(&state.db, &addon, restore).await?))
}
