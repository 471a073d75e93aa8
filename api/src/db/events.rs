//! The audit log: one row per change, readable by the tenant's members.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

/// What to record: who did what to which app of which tenant.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub tenant_id: Uuid,
    pub app: Option<(Uuid, &'a str)>,
    pub actor_id: Option<Uuid>,
    pub action: &'a str,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub tenant: String,
    pub app: Option<String>,
    pub actor: Option<String>,
    pub action: String,
    pub data: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<EventRow> for paas_types::Event {
    fn from(row: EventRow) -> Self {
        paas_types::Event {
            id: row.id,
            tenant: row.tenant,
            app: row.app,
            actor: row.actor,
            action: row.action,
            data: row.data.0,
            created_at: row.created_at,
        }
    }
}

pub async fn record(db: impl PgExecutor<'_>, event: NewEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (tenant_id, app_id, app_name, actor_id, action, data) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.tenant_id)
    .bind(event.app.map(|(id, _)| id))
    .bind(event.app.map(|(_, name)| name))
    .bind(event.actor_id)
    .bind(event.action)
    .bind(Json(event.data))
    .execute(db)
    .await
    .map(|_| ())
}

/// Events of the user's tenants, newest first, optionally of one app id,
/// older than `before` (an event id) when paging.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    app_id: Option<Uuid>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.id, t.name AS tenant, e.app_name AS app, u.email AS actor, e.action, e.data, e.created_at
         FROM events e
         JOIN tenants t ON t.id = e.tenant_id
         JOIN memberships m ON m.tenant_id = e.tenant_id AND m.user_id = $1
         LEFT JOIN users u ON u.id = e.actor_id
         WHERE ($2::uuid IS NULL OR e.app_id = $2) AND ($3::bigint IS NULL OR e.id < $3)
         ORDER BY e.id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(app_id)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

// === Events about a user (no tenant) ===

/// Records an event about `user_id` itself (a login, a lockout, an API
/// token): it belongs to no tenant and only that user reads it.
pub async fn record_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    action: &str,
    data: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO events (user_id, actor_id, action, data) VALUES ($1, $1, $2, $3)")
        .bind(user_id)
        .bind(action)
        .bind(Json(data))
        .execute(db)
        .await
        .map(|_| ())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountEventRow {
    pub id: i64,
    pub action: String,
    pub data: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<AccountEventRow> for paas_types::accounts::AccountEvent {
    fn from(row: AccountEventRow) -> Self {
        paas_types::accounts::AccountEvent {
            id: row.id,
            action: row.action,
            data: row.data.0,
            created_at: row.created_at,
        }
    }
}

/// Events about the user's own account, newest first, older than `before` when paging.
pub async fn list_for_account(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AccountEventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, action, data, created_at FROM events
         WHERE user_id = $1 AND tenant_id IS NULL AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}
