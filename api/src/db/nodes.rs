//! Nodes: the hosts agents run on.

use chrono::{DateTime, Utc};
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
    pub state: String,
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
