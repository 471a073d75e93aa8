//! Nodes: the hosts agents run on.

use chrono::{DateTime, Utc};
use paas_types::NodeState;
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeRow {
    pub id: Uuid,
    pub name: String,
    pub address: String,
    pub cpu_millis: i32,
    pub memory_mb: i32,
    pub labels: Json<serde_json::Value>,
    pub state: NodeState,
    pub last_heartbeat_at: DateTime<Utc>,
    pub instances: i64,
}

impl From<NodeRow> for paas_types::Node {
    fn from(row: NodeRow) -> Self {
        paas_types::Node {
            id: row.id,
            name: row.name,
            address: row.address,
            cpu_millis: row.cpu_millis,
            memory_mb: row.memory_mb,
            labels: row.labels.0,
            state: row.state,
            last_heartbeat_at: row.last_heartbeat_at,
            instances: row.instances,
        }
    }
}

pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<NodeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.id, n.name, n.address, n.cpu_millis, n.memory_mb, n.labels, n.state, n.last_heartbeat_at,
                (SELECT count(*) FROM instances i WHERE i.node_id = n.id AND i.desired_state = 'running') AS instances
         FROM nodes n ORDER BY n.name",
    )
    .fetch_all(db)
    .await
}

/// Registers a node, or re-registers one with the same name (new token) if
/// that node has stopped heartbeating: a join token cannot take over a live
/// node. `None` when the name belongs to a live node.
pub async fn register(
    db: impl PgExecutor<'_>,
    req: &paas_types::agent::RegisterNode,
    token_hash: &[u8],
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO nodes (id, name, address, cpu_millis, memory_mb, labels, token_hash, state, last_heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'up', now())
         ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, cpu_millis = EXCLUDED.cpu_millis,
             memory_mb = EXCLUDED.memory_mb, labels = EXCLUDED.labels, token_hash = EXCLUDED.token_hash,
             state = 'up', last_heartbeat_at = now()
         WHERE nodes.state = 'down' OR nodes.last_heartbeat_at < now() - interval '30 seconds'
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(&req.name)
    .bind(&req.address)
    .bind(req.cpu_millis)
    .bind(req.memory_mb)
    .bind(Json(&req.labels))
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// The node a node token belongs to.
pub async fn authenticate(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM nodes WHERE token_hash = $1").bind(token_hash).fetch_optional(db).await
}

/// Records a heartbeat; a node that was down is up again. Returns whether it was down.
pub async fn heartbeat(db: impl PgExecutor<'_>, node_id: Uuid) -> Result<bool, sqlx::Error> {
    let was_down: Option<bool> = sqlx::query_scalar(
        "UPDATE nodes n SET last_heartbeat_at = now(), state = CASE WHEN n.state = 'down' THEN 'up' ELSE n.state END
         FROM (SELECT state FROM nodes WHERE id = $1) old
         WHERE n.id = $1 RETURNING old.state = 'down'",
    )
    .bind(node_id)
    .fetch_optional(db)
    .await?;
    Ok(was_down.unwrap_or(false))
}

/// Marks nodes whose heartbeats stopped as down and their instances as
/// lost (to be replaced). Returns the affected app ids.
pub async fn mark_stale_down(db: impl PgExecutor<'_>, timeout_secs: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH down AS (
             UPDATE nodes SET state = 'down'
             WHERE state <> 'down' AND last_heartbeat_at < now() - make_interval(secs => $1)
             RETURNING id
         )
         UPDATE instances SET actual_state = 'lost', desired_state = 'stopped', updated_at = now()
         WHERE node_id IN (SELECT id FROM down) AND desired_state = 'running'
         RETURNING app_id",
    )
    .bind(timeout_secs as f64)
    .fetch_all(db)
    .await
}

pub async fn insert_join_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    created_by: Uuid,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO node_join_tokens (id, token_hash, created_by) VALUES ($1, $2, $3) RETURNING id")
        .bind(Uuid::new_v4())
        .bind(token_hash)
        .bind(created_by)
        .fetch_one(db)
        .await
}

pub async fn join_token_valid(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
    // Join tokens are for adding nodes now, not forever: a day.
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM node_join_tokens
                        WHERE token_hash = $1 AND revoked_at IS NULL AND created_at > now() - interval '1 day')",
    )
    .bind(token_hash)
    .fetch_one(db)
    .await
}
