//! Custom domains. A hostname belongs to at most one app, and never shadows
//! another app's default hostname.

use chrono::Utc;
use paas_types::{CertificateState, Domain, DomainCertificate};
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
    let id = db::apps::add_domain(&mut *tx, app.id, &hostname).await?;
    record(&mut tx, user, app, "domain.add", &hostname).await?;
    let row = db::apps::domain(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The domain as users see it: its URL (https once it has a certificate)
/// and its certificate's state.
pub fn view(row: DomainRow, settings: &Settings) -> Domain {
    let now = Utc::now();
    let expired = row.not_after.is_some_and(|t| t <= now);
    let state = match row.cert_state.as_str() {
        "issued" if expired => CertificateState::Failed,
        "issued" => CertificateState::Issued,
        "failed" => CertificateState::Failed,
        _ if !settings.acme_enabled => CertificateState::Disabled,
        _ => CertificateState::Pending,
    };
    let error = match state {
        CertificateState::Disabled => settings.acme_off_reason.clone(),
        CertificateState::Failed if expired && row.last_error.is_none() => {
            Some("the certificate expired and was not renewed".into())
        }
        _ => row.last_error,
    };
    // An issued certificate's next order is its renewal; a pending one runs now.
    let next_attempt_at = match state {
        CertificateState::Failed => Some(row.next_attempt_at),
        CertificateState::Issued => {
            let renew = row.not_after.map(|t| t - settings.acme_renew_before);
            Some(if row.attempts > 0 { row.next_attempt_at } else { renew.unwrap_or(row.next_attempt_at) })
        }
        CertificateState::Pending | CertificateState::Disabled => None,
    };
    let secure = state == CertificateState::Issued;
    Domain {
        id: row.id,
        url: settings.domain_url(&row.hostname, secure),
        hostname: row.hostname,
        certificate: DomainCertificate {
            state,
            expires_at: row.not_after.filter(|_| row.cert_state == "issued"),
            error,
            next_attempt_at: if settings.acme_enabled { next_attempt_at } else { None },
        },
        created_at: row.created_at,
    }
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
