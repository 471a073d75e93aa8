//! API tokens: long-lived secrets stored as SHA-256 hashes.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for paas_types::ApiToken {
    fn from(row: TokenRow) -> Self {
        paas_types::ApiToken {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        }
    }
}

const COLUMNS: &str = "id, name, prefix, created_at, expires_at, last_used_at";

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    name: &str,
    token_hash: &[u8],
    prefix: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<TokenRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(prefix)
    .bind(expires_at)
    .fetch_one(db)
    .await
}

/// Live (not revoked, not expired) tokens of a user.
pub async fn list(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
         ORDER BY created_at"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Revokes a token of this user; false when there is no such live token.
pub async fn revoke(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(id)
            .bind(user_id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The user a live token belongs to. `last_used_at` is refreshed at most once
/// a minute, so busy clients do not serialise on the token's row.
pub async fn authenticate(db: &sqlx::PgPool, token_hash: &[u8]) -> Result<Option<Uuid>, sqlx::Error> {
    let found: Option<(Uuid, Uuid, bool)> = sqlx::query_as(
        "SELECT id, user_id, (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
         FROM api_tokens
         WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    let Some((token_id, user_id, stale)) = found else { return Ok(None) };
    if stale {
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1").bind(token_id).execute(db).await?;
    }
    Ok(Some(user_id))
}
