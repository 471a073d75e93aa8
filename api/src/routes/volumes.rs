//! Volumes of an app: create (on the node the app runs on, or the live node
//! with the most room), list, destroy.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{CreateVolumeRequest, Volume};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DestroyVolumeQuery {
    /// The volume's name again: required while instances of the app run.
    #[param(nullable = false, max_length = 30)]
    confirm: Option<String>,
}

/// The app's volumes, with their nodes.
#[utoipa::path(get, path = "/v1/apps/{app}/volumes", tag = "volumes", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<Volume>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_volumes(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Volume>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::volumes::list(&state.db, &app).await?))
}

/// Creates a volume on one node and mounts it into every process of the app
/// (a new release); the app's instances then run on that node.
#[utoipa::path(post, path = "/v1/apps/{app}/volumes", tag = "volumes", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = CreateVolumeRequest,
    responses((status = 201, body = Volume), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_volume(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(req): ApiJson<CreateVolumeRequest>,
) -> ApiResult<(StatusCode, ApiJson<Volume>)> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    let volume = ops::volumes::create(&state.db, &state.settings.keys, &user, &app, &req).await?;
    Ok((StatusCode::CREATED, ApiJson(volume)))
}

/// Destroys a volume and its data (a new release without the mount).
/// Refused (409) while instances of the app run, unless `confirm` names it.
#[utoipa::path(delete, path = "/v1/apps/{app}/volumes/{volume}", tag = "volumes", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("volume" = String, Path, description = "volume name"),
           DestroyVolumeQuery),
    responses((status = 204), (status = 403, body = paas_types::ErrorBody), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody)))]
pub async fn destroy_volume(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, volume)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DestroyVolumeQuery>,
) -> ApiResult<StatusCode> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    ops::volumes::destroy(&state.db, &state.settings.keys, &user, &app, &volume, query.confirm.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
