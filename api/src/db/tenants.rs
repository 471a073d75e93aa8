//! Tenants and their memberships (who belongs, with which role).

use chrono::{DateTime, Utc};
use paas_types::Role;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A tenant together with the role of the user it was looked up for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl TenantRow {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only the three known roles.
        Role::parse(&self.role).unwrap_or(Role::Member)
    }
}

impl From<TenantRow> for paas_types::Tenant {
    fn from(row: TenantRow) -> Self {
        paas_types::Tenant { id: row.id, role: row.role(), name: row.name, created_at: row.created_at }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl From<MemberRow> for paas_types::Member {
    fn from(row: MemberRow) -> Self {
        paas_types::Member {
            user_id: row.user_id,
            role: Role::parse(&row.role).unwrap_or(Role::Member),
            email: row.email,
            created_at: row.created_at,
        }
    }
}

pub async fn insert(db: impl PgExecutor<'_>, name: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING id")
        .bind(Uuid::new_v4())
        .bind(name)
        .fetch_one(db)
        .await
}

pub async fn name_taken(db: impl PgExecutor<'_>, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = $1)").bind(name).fetch_one(db).await
}

pub async fn add_member(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)")
        .bind(tenant_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(db)
        .await
        .map(|_| ())
}

/// Tenants the user belongs to, with the user's role in each.
pub async fn list_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<TenantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.name, m.role, t.created_at
         FROM tenants t JOIN memberships m ON m.tenant_id = t.id
         WHERE m.user_id = $1 ORDER BY t.name",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// A tenant by name, only if the user belongs to it.
pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    name: &str,
) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.name, m.role, t.created_at
         FROM tenants t JOIN memberships m ON m.tenant_id = t.id
         WHERE m.user_id = $1 AND t.name = $2",
    )
    .bind(user_id)
    .bind(name)
    .fetch_optional(db)
    .await
}

pub async fn list_members(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.email, m.role, m.created_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.tenant_id = $1 ORDER BY u.email",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await
}

pub async fn member_role(db: impl PgExecutor<'_>, tenant_id: Uuid, user_id: Uuid) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

pub async fn remove_member(db: impl PgExecutor<'_>, tenant_id: Uuid, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Number of owners, locking the tenant's owner rows so two concurrent
/// removals cannot both see "another owner remains".
pub async fn count_owners_for_update(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<i64, sqlx::Error> {
    let owners: Vec<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM memberships WHERE tenant_id = $1 AND role = 'owner' FOR UPDATE")
            .bind(tenant_id)
            .fetch_all(db)
            .await?;
    Ok(owners.len() as i64)
}
