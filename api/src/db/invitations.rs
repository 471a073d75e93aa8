//! Invitations to join a tenant: single use, expiring, bound to an email;
//! the secret is stored as a SHA-256 hash.

use chrono::{DateTime, Utc};
use paas_types::accounts::InvitationState;
use paas_types::Role;
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub tenant: String,
    pub email: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl InvitationRow {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only admin and member.
        Role::parse(&self.role).unwrap_or(Role::Member)
    }

    /// Accepted and revoked win over expired: they say what happened.
    pub fn state(&self) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.revoked_at.is_some() {
            InvitationState::Revoked
        } else if self.expires_at <= Utc::now() {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }
}

impl From<InvitationRow> for paas_types::accounts::Invitation {
    fn from(row: InvitationRow) -> Self {
        paas_types::accounts::Invitation {
            id: row.id,
            role: row.role(),
            state: row.state(),
            tenant: row.tenant,
            email: row.email,
            invited_by: row.invited_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
        }
    }
}

const SELECT: &str = "SELECT i.id, i.tenant_id, t.name AS tenant, i.email, i.role, u.email AS invited_by,
        i.created_at, i.expires_at, i.accepted_at, i.revoked_at
    FROM invitations i JOIN tenants t ON t.id = i.tenant_id LEFT JOIN users u ON u.id = i.created_by";

/// What a new invitation is.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    pub tenant_id: Uuid,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a [u8],
    pub created_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(db: impl PgExecutor<'_>, new: NewInvitation<'_>) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(new.tenant_id)
    .bind(new.email)
    .bind(new.role.as_str())
    .bind(new.token_hash)
    .bind(new.created_by)
    .bind(new.expires_at)
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.id = $1")).bind(id).fetch_optional(db).await
}

/// The invitation a secret belongs to, locked for the transaction that accepts it.
pub async fn find_by_hash_for_update(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.token_hash = $1 FOR UPDATE OF i"))
        .bind(token_hash)
        .fetch_optional(db)
        .await
}

/// The invitation a secret belongs to (for showing the accept page).
pub async fn find_by_hash(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.token_hash = $1")).bind(token_hash).fetch_optional(db).await
}

/// Invitations of a tenant, newest first.
pub async fn list(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Vec<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.tenant_id = $1 ORDER BY i.created_at DESC"))
        .bind(tenant_id)
        .fetch_all(db)
        .await
}

/// Marks an invitation used by `user_id`; false when it was no longer pending.
pub async fn mark_accepted(db: impl PgExecutor<'_>, id: Uuid, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE invitations SET accepted_at = now(), accepted_by = $2
         WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes a pending invitation of the tenant; false when there is none.
pub async fn revoke(db: impl PgExecutor<'_>, tenant_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at = now()
         WHERE id = $1 AND tenant_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(tenant_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
