//! Custom domains. A hostname belongs to at most one app, and never shadows
//! another app's default hostname.

use serde_json::json;
use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::db;
use crate::db::apps::{AppRow, DomainRow};
use crate::error::{ApiError, ApiResult};
use crate::state::Settings;
use crate::validate;

/// Adds a custom domain; the routers send its traffic to the app.
pub async fn add_domain(
    db: &PgPool,
    settings: &Settings,
    user: &AuthUser,
    app: &AppRow,
    hostname: &str,
) -> ApiResult<DomainRow> {
    let typed = hostname;
    let hostname = typed.trim().trim_end_matches('.').to_ascii_lowercase();
    if !validate::is_hostname(&hostname) {
        return Err(ApiError::validation(format!("{typed:?} is not a valid hostname")));
    }
    if hostname == settings.base_domain || hostname.ends_with(&format!(".{}", settings.base_domain)) {
        return Err(ApiError::validation("hostnames under the platform's base domain are reserved for apps"));
    }
    if db::apps::hostname_taken(db, &hostname).await? {
        return Err(ApiError::Conflict("this hostname is already in use by an app".into()));
    }
    let mut tx = db.begin().await?;
    let row = db::apps::add_domain(&mut *tx, app.id, &hostname).await?;
    record(&mut tx, user, app, "domain.add", &hostname).await?;
    tx.commit().await?;
    Ok(row)
}

/// Removes a custom domain; 404 when the app has no such domain.
pub async fn remove_domain(db: &PgPool, user: &AuthUser, app: &AppRow, hostname: &str) -> ApiResult<()> {
    let hostname = hostname.to_ascii_lowercase();
    let mut tx = db.begin().await?;
    if !db::apps::remove_domain(&mut *tx, app.id, &hostname).await? {
        return Err(ApiError::not_found(format!("domain {hostname:?}")));
    }
    record(&mut tx, user, app, "domain.remove", &hostname).await?;
    tx.commit().await?;
    Ok(())
}

async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: &AuthUser,
    app: &AppRow,
    action: &'static str,
    hostname: &str,
) -> ApiResult<()> {
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action,
        data: json!({ "hostname": hostname }),
    };
    db::events::record(&mut **tx, event).await?;
    Ok(())
}
