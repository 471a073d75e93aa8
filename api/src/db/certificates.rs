//! Certificates of custom domains, their HTTP-01 challenges and the ACME
//! accounts (keys and credentials are stored sealed; see `crate::crypto`).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A certificate that is due: never issued, failed and due for a retry, or
/// within the renewal window of its expiry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueCertificate {
    pub domain_id: Uuid,
    pub hostname: String,
    pub state: String,
    pub not_after: Option<DateTime<Utc>>,
    /// Failed orders in a row before this one.
    pub attempts: i32,
}

/// Claims one due certificate for `lease` (one replica runs an order once).
pub async fn claim_due(
    db: &sqlx::PgPool,
    renew_before: chrono::Duration,
    lease: chrono::Duration,
) -> Result<Option<DueCertificate>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let due: Option<DueCertificate> = sqlx::query_as(
        "SELECT c.domain_id, d.hostname, c.state, c.not_after, c.attempts
         FROM certificates c JOIN domains d ON d.id = c.domain_id
         WHERE (c.leased_until IS NULL OR c.leased_until < now())
           AND (c.next_attempt_at <= now()
                OR (c.state = 'issued' AND c.attempts = 0 AND c.not_after <= now() + $1))
         ORDER BY c.next_attempt_at
         LIMIT 1
         FOR UPDATE OF c SKIP LOCKED",
    )
    .bind(renew_before)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(due) = &due {
        sqlx::query("UPDATE certificates SET leased_until = now() + $2, updated_at = now() WHERE domain_id = $1")
            .bind(due.domain_id)
            .bind(lease)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(due)
}

/// What an order obtained.
pub struct Issued<'a> {
    pub chain_pem: &'a str,
    pub key_sealed: &'a [u8],
    pub not_after: DateTime<Utc>,
    pub serial: &'a str,
    /// When to renew.
    pub renew_at: DateTime<Utc>,
}

/// Stores an issued certificate (the route version moves by trigger).
pub async fn store_issued(db: impl PgExecutor<'_>, domain_id: Uuid, issued: &Issued<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE certificates SET state = 'issued', chain_pem = $2, key_sealed = $3, not_after = $4, serial = $5,
                issued_at = now(), last_error = NULL, attempts = 0, next_attempt_at = $6, leased_until = NULL,
                updated_at = now()
         WHERE domain_id = $1",
    )
    .bind(domain_id)
    .bind(issued.chain_pem)
    .bind(issued.key_sealed)
    .bind(issued.not_after)
    .bind(issued.serial)
    .bind(issued.renew_at)
    .execute(db)
    .await
    .map(|_| ())
}

/// Records a failed order: an issued certificate stays served (a renewal
/// failed), otherwise the state is `failed`; retried at `retry_at`.
pub async fn store_failure(
    db: impl PgExecutor<'_>,
    domain_id: Uuid,
    error: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE certificates SET state = CASE WHEN state = 'issued' THEN 'issued' ELSE 'failed' END,
                last_error = $2, attempts = attempts + 1, next_attempt_at = $3, leased_until = NULL,
                updated_at = now()
         WHERE domain_id = $1",
    )
    .bind(domain_id)
    .bind(error)
    .bind(retry_at)
    .execute(db)
    .await
    .map(|_| ())
}

/// Publishes an HTTP-01 challenge for the routers.
pub async fn add_challenge(
    db: impl PgExecutor<'_>,
    domain_id: Uuid,
    token: &str,
    key_authorization: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO acme_challenges (domain_id, token, key_authorization) VALUES ($1, $2, $3)
         ON CONFLICT (domain_id, token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization",
    )
    .bind(domain_id)
    .bind(token)
    .bind(key_authorization)
    .execute(db)
    .await
    .map(|_| ())
}

/// Withdraws every challenge of the domain (the order is over).
pub async fn remove_challenges(db: impl PgExecutor<'_>, domain_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM acme_challenges WHERE domain_id = $1").bind(domain_id).execute(db).await.map(|_| ())
}

/// The sealed credentials of the ACME account at `directory_url`, if one was made.
pub async fn account(db: impl PgExecutor<'_>, directory_url: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT credentials_sealed FROM acme_accounts WHERE directory_url = $1")
        .bind(directory_url)
        .fetch_optional(db)
        .await
}

/// Stores a new account unless another replica stored one first; answers the one that counts.
pub async fn insert_account(db: &sqlx::PgPool, directory_url: &str, sealed: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
    sqlx::query("INSERT INTO acme_accounts (directory_url, credentials_sealed) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(directory_url)
        .bind(sealed)
        .execute(db)
        .await?;
    sqlx::query_scalar("SELECT credentials_sealed FROM acme_accounts WHERE directory_url = $1")
        .bind(directory_url)
        .fetch_one(db)
        .await
}

/// A certificate the routers may serve (issued, not expired), key still sealed.
#[derive(sqlx::FromRow)]
pub struct Servable {
    pub domain_id: Uuid,
    pub hostname: String,
    pub chain_pem: String,
    pub key_sealed: Vec<u8>,
    pub not_after: DateTime<Utc>,
}

pub async fn servable(db: impl PgExecutor<'_>) -> Result<Vec<Servable>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.domain_id, d.hostname, c.chain_pem, c.key_sealed, c.not_after
         FROM certificates c JOIN domains d ON d.id = c.domain_id
         WHERE c.chain_pem IS NOT NULL AND c.key_sealed IS NOT NULL AND c.not_after > now()
         ORDER BY d.hostname",
    )
    .fetch_all(db)
    .await
}

/// Every published challenge: (hostname, token, key authorization).
pub async fn challenges(db: impl PgExecutor<'_>) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.hostname, ch.token, ch.key_authorization
         FROM acme_challenges ch JOIN domains d ON d.id = ch.domain_id
         ORDER BY d.hostname, ch.token",
    )
    .fetch_all(db)
    .await
}

/// The associated data a certificate key is sealed with: bound to its domain.
pub fn key_purpose(domain_id: Uuid) -> String {
    format!("certificate-key:{domain_id}")
}

/// The associated data an account's credentials are sealed with.
pub fn account_purpose(directory_url: &str) -> String {
    format!("acme-account:{directory_url}")
}
