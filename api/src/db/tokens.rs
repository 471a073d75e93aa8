//! API tokens: long-lived secrets stored as SHA-256 hashes, each with a
//! scope and optionally the one app it is limited to.

use chrono::{DateTime, Utc};
use paas_types::TokenScope;
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scope: TokenScope,
    /// Name of the app it is limited to.
    pub app: Option<String>,
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
            scope: row.scope,
            app: row.app,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// A token to insert.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub user_id: Uuid,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub prefix: &'a str,
    pub scope: TokenScope,
    pub app_id: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "t.id, t.name, t.prefix, t.scope, a.name AS app, t.created_at, t.expires_at, t.last_used_at";

pub async fn insert(db: impl PgExecutor<'_>, token: NewToken<'_>) -> Result<TokenRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH t AS (
             INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scope, app_id, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *
         )
         SELECT {COLUMNS} FROM t LEFT JOIN apps a ON a.id = t.app_id"
    ))
    .bind(Uuid::new_v4())
    .bind(token.user_id)
    .bind(token.name)
    .bind(token.token_hash)
    .bind(token.prefix)
    .bind(token.scope)
    .bind(token.app_id)
    .bind(token.expires_at)
    .fetch_one(db)
    .await
}

/// Live (not revoked, not expired) tokens of a user.
pub async fn list(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens t LEFT JOIN apps a ON a.id = t.app_id
         WHERE t.user_id = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
         ORDER BY t.created_at"
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

/// Who a live token belongs to and what it may do.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenGrant {
    pub id: Uuid,
    pub user_id: Uuid,
    pub scope: TokenScope,
    pub app_id: Option<Uuid>,
    pub app_name: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether `last_used_at` is older than a minute (or unset).
    pub stale: bool,
}

/// The grant of a live token. `last_used_at` is refreshed at most once a
/// minute, so busy clients do not serialise on the token's row.
pub async fn authenticate(db: &sqlx::PgPool, token_hash: &[u8]) -> Result<Option<TokenGrant>, sqlx::Error> {
    let found: Option<TokenGrant> = sqlx::query_as(
        "SELECT t.id, t.user_id, t.scope, t.app_id, a.name AS app_name, t.expires_at,
                (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale
         FROM api_tokens t LEFT JOIN apps a ON a.id = t.app_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    let Some(grant) = found else { return Ok(None) };
    if grant.stale {
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1").bind(grant.id).execute(db).await?;
    }
    Ok(Some(grant))
}
