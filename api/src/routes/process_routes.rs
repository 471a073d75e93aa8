//! Paths to other process types: the app's routes in force, and the
//! CLI-set layer that overrides paas.json per prefix.

use axum::extract::State;
use paas_types::process_routes::{PathRoute, RoutesPatch};

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// The app's routes in force, longest prefix first: the newest release's
/// paas.json routes under those set with `paas routes set`.
#[utoipa::path(get, path = "/v1/apps/{app}/routes", tag = "routes", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<PathRoute>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_routes(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<PathRoute>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::process_routes::list(&state.db, &app).await?))
}

/// Sets (`"/ws/": "async"`) and unsets (`"/ws/": null`) CLI-set routes; a
/// CLI-set route wins over paas.json's for its prefix. Answers the routes in force.
#[utoipa::path(patch, path = "/v1/apps/{app}/routes", tag = "routes", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    request_body(content = BTreeMap<String, Option<String>>,
        description = "URL prefix -> process type (sets), or null (drops the CLI-set route)"),
    responses((status = 200, body = Vec<PathRoute>),
              (status = 404, body = paas_types::ErrorBody,
               description = "No such app, or a prefix to unset was not set with `paas routes set`."),
              (status = 409, body = paas_types::ErrorBody,
               description = "The app's state refuses a valid patch: no release yet, a process type its \
                              Procfile lacks, a paas.json route to unset, more than 50 routes."),
              (status = 422, body = paas_types::ErrorBody,
               description = "A prefix or process type breaks the rules of the schema (or names `web`).")))]
pub async fn update_routes(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(patch): ApiJson<RoutesPatch>,
) -> ApiResult<ApiJson<Vec<PathRoute>>> {
    let app = ops::apps::app_for_user(&state.db, user.id, &app).await?;
    Ok(ApiJson(ops::process_routes::change(&state.db, &user, &app, &patch).await?))
}
