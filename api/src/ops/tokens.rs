//! The caller's long-lived API tokens: create (secret shown once), revoke.

use chrono::{DateTime, Utc};
use paas_types::{CreateTokenRequest, CreatedToken, TokenScope};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::scope::AppLimit;
use crate::auth::{token, AuthUser};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;

/// Longest lifetime of a token, in days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// Creates a token as `req` asks (scope `admin` and no app when unsaid),
/// never with a right the caller's own credential lacks.
pub async fn create_token(db: &PgPool, user: &AuthUser, req: &CreateTokenRequest) -> ApiResult<CreatedToken> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("token name must be 1-100 characters"));
    }
    let expires_at = expiry(req.expires_in_days, req.expires_in_hours)?;
    let scope = req.scope.unwrap_or(TokenScope::Admin);
    let app = match req.app.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            let row = ops::apps::app_for_user(db, user.id, name).await?;
            Some(AppLimit { id: row.id, name: row.name })
        }
    };
    user.access.may_mint(scope, app.as_ref(), expires_at)?;
    let (secret, prefix) = token::generate();
    let new = db::tokens::NewToken {
        user_id: user.id,
        name,
        token_hash: &token::hash(&secret),
        prefix: &prefix,
        scope,
        app_id: app.as_ref().map(|a| a.id),
        expires_at,
    };
    let mut tx = db.begin().await?;
    let row = db::tokens::insert(&mut *tx, new).await?;
    let data = json!({
        "token": row.id, "name": row.name, "prefix": row.prefix, "expires_at": row.expires_at,
        "scope": scope, "app": app.as_ref().map(|a| a.name.clone()),
    });
    db::events::record_for_user(&mut *tx, user.id, "token.create", data).await?;
    tx.commit().await?;
    Ok(CreatedToken { token: secret, info: row.into() })
}

/// When a token asked to live `days` or `hours` (at most one of them) expires.
fn expiry(days: Option<u32>, hours: Option<u32>) -> ApiResult<Option<DateTime<Utc>>> {
    let max_hours = MAX_EXPIRY_DAYS * 24;
    let lifetime = match (days, hours) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ApiError::validation("give expires_in_days or expires_in_hours, not both"));
        }
        (Some(days @ 1..=MAX_EXPIRY_DAYS), None) => chrono::Duration::days(i64::from(days)),
        (None, Some(hours)) if (1..=max_hours).contains(&hours) => chrono::Duration::hours(i64::from(hours)),
        (Some(_), None) => {
            return Err(ApiError::validation(format!("expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}")));
        }
        (None, Some(_)) => {
            return Err(ApiError::validation(format!("expires_in_hours must be between 1 and {max_hours}")));
        }
    };
    Ok(Some(Utc::now() + lifetime))
}

/// Revokes one of the caller's tokens; it stops working at once.
pub async fn revoke_token(db: &PgPool, user: &AuthUser, id: Uuid) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    if !db::tokens::revoke(&mut *tx, user.id, id).await? {
        return Err(ApiError::not_found("token"));
    }
    db::events::record_for_user(&mut *tx, user.id, "token.revoke", json!({ "token": id })).await?;
    tx.commit().await?;
    Ok(())
}
