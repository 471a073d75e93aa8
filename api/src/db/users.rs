//! Users: accounts that log in and belong to tenants.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for paas_types::User {
    fn from(row: UserRow) -> Self {
        paas_types::User { id: row.id, email: row.email, is_admin: row.is_admin, created_at: row.created_at }
    }
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO users (id, email, password_hash, is_admin) VALUES ($1, $2, $3, $4)
         RETURNING id, email, password_hash, is_admin, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(password_hash)
    .bind(is_admin)
    .fetch_one(db)
    .await
}

pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, password_hash, is_admin, created_at FROM users WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, password_hash, is_admin, created_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}
