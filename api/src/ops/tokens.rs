//! The caller's long-lived API tokens: create (secret shown once), revoke.

use paas_types::CreatedToken;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{token, AuthUser};
use crate::db;
use crate::error::{ApiError, ApiResult};

/// Longest lifetime of a token, in days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// Creates a token named `name` that expires after `expires_in_days` (never when `None`).
pub async fn create_token(
    db: &PgPool,
    user: &AuthUser,
    name: &str,
    expires_in_days: Option<u32>,
) -> ApiResult<CreatedToken> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("token name must be 1-100 characters"));
    }
    let expires_at = match expires_in_days {
        None => None,
        Some(days @ 1..=MAX_EXPIRY_DAYS) => Some(chrono::Utc::now() + chrono::Duration::days(i64::from(days))),
        Some(_) => {
            return Err(ApiError::validation(format!("expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}")))
        }
    };
    let (secret, prefix) = token::generate();
    let mut tx = db.begin().await?;
    let row = db::tokens::insert(&mut *tx, user.id, name, &token::hash(&secret), &prefix, expires_at).await?;
    let data = json!({ "token": row.id, "name": row.name, "prefix": row.prefix, "expires_at": row.expires_at });
    db::events::record_for_user(&mut *tx, user.id, "token.create", data).await?;
    tx.commit().await?;
    Ok(CreatedToken { token: secret, info: row.into() })
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
