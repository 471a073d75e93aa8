//! Apps: create, list, show, delete.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{App, AppList, CreateAppRequest, Role};
use serde::Deserialize;
use serde_json::json;

use super::{app_for_user, page_limit};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::{AppState, Settings};
use crate::validate;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListAppsQuery {
    /// Only apps of this tenant.
    tenant: Option<String>,
    /// Start after this app name (from `next_after`).
    after: Option<String>,
    /// Page size, 1-1000 (default 100).
    limit: Option<i64>,
}

pub(crate) fn to_dto(row: db::apps::AppRow, settings: &Settings) -> App {
    App {
        web_url: settings.app_url(&row.hostname),
        id: row.id,
        name: row.name,
        tenant: row.tenant_name,
        hostname: row.hostname,
        current_release: row.current_release,
        created_at: row.created_at,
    }
}

/// Apps of the caller's tenants, by name, one page at a time.
#[utoipa::path(get, path = "/v1/apps", tag = "apps", security(("bearer" = [])), params(ListAppsQuery),
    responses((status = 200, body = AppList), (status = 401, body = paas_types::ErrorBody)))]
pub async fn list_apps(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListAppsQuery>,
) -> ApiResult<ApiJson<AppList>> {
    let limit = page_limit(query.limit, 100, 1000)?;
    // One extra row tells whether another page follows.
    let mut rows =
        db::apps::list_for_user(&state.db, user.id, query.tenant.as_deref(), query.after.as_deref(), limit + 1).await?;
    let next_after = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.name.clone())
    } else {
        None
    };
    let apps = rows.into_iter().map(|r| to_dto(r, &state.settings)).collect();
    Ok(ApiJson(AppList { apps, next_after }))
}

/// Creates an app in one of the caller's tenants.
#[utoipa::path(post, path = "/v1/apps", tag = "apps", security(("bearer" = [])), request_body = CreateAppRequest,
    responses((status = 201, body = App), (status = 409, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateAppRequest>,
) -> ApiResult<(StatusCode, ApiJson<App>)> {
    if !validate::is_app_name(&req.name) {
        return Err(ApiError::validation(
            "app names are 2-30 characters of a-z, 0-9 and single hyphens, starting with a letter and not ending with a hyphen",
        ));
    }
    let tenant = pick_tenant(&state, &user, req.tenant.as_deref()).await?;
    let hostname = state.settings.app_hostname(&req.name);
    if db::apps::hostname_taken(&state.db, &hostname).await? {
        return Err(ApiError::Conflict("an app with this name already exists".into()));
    }
    let mut tx = state.db.begin().await?;
    let app_id = db::apps::insert(&mut *tx, tenant.id, &req.name, &hostname).await?;
    // A new app runs one web process once it has a release.
    db::apps::upsert_formation(&mut *tx, app_id, "web", Some(1), None).await?;
    let event = db::events::NewEvent {
        tenant_id: tenant.id,
        app: Some((app_id, &req.name)),
        actor_id: Some(user.id),
        action: "app.create",
        data: json!({}),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    let row = app_for_user(&state, user.id, &req.name).await?;
    Ok((StatusCode::CREATED, ApiJson(to_dto(row, &state.settings))))
}

/// One app.
#[utoipa::path(get, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = App), (status = 404, body = paas_types::ErrorBody)))]
pub async fn show_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<App>> {
    let row = app_for_user(&state, user.id, &app).await?;
    Ok(ApiJson(to_dto(row, &state.settings)))
}

/// Deletes an app with its config, domains, releases and instances (owners and admins).
#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 204), (status = 403, body = paas_types::ErrorBody), (status = 404, body = paas_types::ErrorBody)))]
pub async fn delete_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let row = app_for_user(&state, user.id, &app).await?;
    if row.role() < Role::Admin {
        return Err(ApiError::Forbidden("only owners and admins of the tenant can delete apps".into()));
    }
    let mut tx = state.db.begin().await?;
    db::apps::delete(&mut *tx, row.id).await?;
    let event = db::events::NewEvent {
        tenant_id: row.tenant_id,
        app: Some((row.id, &row.name)),
        actor_id: Some(user.id),
        action: "app.delete",
        data: json!({}),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant a new app goes to: the named one, or the caller's only one.
async fn pick_tenant(state: &AppState, user: &AuthUser, name: Option<&str>) -> ApiResult<db::tenants::TenantRow> {
    if let Some(name) = name {
        return db::tenants::find_for_user(&state.db, user.id, name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("tenant {name:?}")));
    }
    let mut tenants = db::tenants::list_for_user(&state.db, user.id).await?;
    match tenants.len() {
        1 => Ok(tenants.remove(0)),
        0 => Err(ApiError::validation("you belong to no tenant; ask an owner to add you to one")),
        _ => Err(ApiError::validation("you belong to several tenants; say which with `tenant`")),
    }
}
