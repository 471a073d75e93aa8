//! Apps: the lookup every app-scoped action starts from, create, list, update, delete.

use paas_types::{App, CreateAppRequest, Role, UpdateAppRequest, REQUEST_TIMEOUT_SECS};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db;
use crate::db::apps::AppRow;
use crate::db::tenants::TenantRow;
use crate::error::{ApiError, ApiResult};
use crate::state::Settings;
use crate::validate;

/// The app `name` if the user belongs to its tenant; otherwise 404, exactly
/// as for an app that does not exist.
pub async fn app_for_user(db: &PgPool, user_id: Uuid, name: &str) -> ApiResult<AppRow> {
    db::apps::find_for_user(db, user_id, name).await?.ok_or_else(|| ApiError::not_found(format!("app {name:?}")))
}

/// The app as the API shows it.
pub fn view(row: AppRow, settings: &Settings) -> App {
    App {
        web_url: settings.app_url(&row.hostname),
        id: row.id,
        name: row.name,
        tenant: row.tenant_name,
        hostname: row.hostname,
        current_release: row.current_release,
        request_timeout_secs: u32::try_from(row.request_timeout_secs).unwrap_or_default(),
        https_redirect: row.https_redirect,
        hsts: row.hsts,
        created_at: row.created_at,
    }
}

/// One page of the user's apps by name, after `after`; the second value is
/// the name to continue after when another page follows.
pub async fn list_apps(
    db: &PgPool,
    user: &AuthUser,
    tenant: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<(Vec<AppRow>, Option<String>)> {
    // One extra row tells whether another page follows. A token limited to
    // one app lists that app only.
    let only = user.access.app.as_ref().map(|a| a.id);
    let mut rows = db::apps::list_for_user(db, user.id, tenant, after, only, limit + 1).await?;
    let next_after = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.name.clone())
    } else {
        None
    };
    Ok((rows, next_after))
}

/// Creates an app in one of the caller's tenants, with one web process in
/// its formation (it runs once the app has a release).
pub async fn create_app(
    db: &PgPool,
    settings: &Settings,
    user: &AuthUser,
    req: &CreateAppRequest,
) -> ApiResult<AppRow> {
    if !validate::is_app_name(&req.name) {
        return Err(ApiError::validation(
            "app names are 2-30 characters of a-z, 0-9 and single hyphens, starting with a letter and not ending with a hyphen",
        ));
    }
    let tenant = pick_tenant(db, user, req.tenant.as_deref()).await?;
    let hostname = settings.app_hostname(&req.name);
    if db::apps::hostname_taken(db, &hostname).await? {
        return Err(ApiError::Conflict("an app with this name already exists".into()));
    }
    let mut tx = db.begin().await?;
    let app_id = db::apps::insert(&mut *tx, tenant.id, &req.name, &hostname).await?;
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
    app_for_user(db, user.id, &req.name).await
}

/// Changes an app's settings (any member of its tenant); answers the app as it is now.
pub async fn update_app(db: &PgPool, user: &AuthUser, app: &AppRow, req: &UpdateAppRequest) -> ApiResult<AppRow> {
    if req.request_timeout_secs.is_none() && req.https_redirect.is_none() && req.hsts.is_none() {
        return Err(ApiError::validation(
            "name a setting to change, e.g. {\"request_timeout_secs\": 60} or {\"https_redirect\": false}",
        ));
    }
    if let Some(secs) = req.request_timeout_secs.filter(|s| !REQUEST_TIMEOUT_SECS.contains(s)) {
        return Err(ApiError::validation(format!(
            "request_timeout_secs must be between {} and {} seconds (got {secs})",
            REQUEST_TIMEOUT_SECS.start(),
            REQUEST_TIMEOUT_SECS.end()
        )));
    }
    let mut tx = db.begin().await?;
    let secs = req.request_timeout_secs.map(|s| s as i32);
    db::apps::update_settings(&mut *tx, app.id, secs, req.https_redirect, req.hsts).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "app.update",
        data: json!(req),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    app_for_user(db, user.id, &app.name).await
}

/// Deletes an app with its config, domains, releases and instances (owners and admins).
pub async fn delete_app(db: &PgPool, user: &AuthUser, app: &AppRow) -> ApiResult<()> {
    if app.role() < Role::Admin {
        return Err(ApiError::Forbidden("only owners and admins of the tenant can delete apps".into()));
    }
    let mut tx = db.begin().await?;
    db::apps::delete(&mut *tx, app.id).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "app.delete",
        data: json!({}),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant a new app goes to: the named one, or the caller's only one.
async fn pick_tenant(db: &PgPool, user: &AuthUser, name: Option<&str>) -> ApiResult<TenantRow> {
    if let Some(name) = name {
        return db::tenants::find_for_user(db, user.id, name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("tenant {name:?}")));
    }
    let mut tenants = db::tenants::list_for_user(db, user.id).await?;
    match tenants.len() {
        1 => Ok(tenants.remove(0)),
        0 => Err(ApiError::validation("you belong to no tenant; ask an owner to add you to one")),
        _ => Err(ApiError::validation("you belong to several tenants; say which with `tenant`")),
    }
}
