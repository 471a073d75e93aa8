//! Placement: the nodes that can take instances, what already runs on
//! them, and new instances. Placements are serialised by an advisory lock
//! so two reconciles (in any API replica) cannot fill the same room.

use paas_types::{NodeState, Size};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// Advisory lock key serialising placements.
const PLACEMENT_LOCK: i64 = 0x7061_6173_706c_6163;

/// A node with its capacity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeCapacityRow {
    pub id: Uuid,
    pub name: String,
    pub memory_mb: i32,
    pub state: NodeState,
}

/// An instance some node is asked to run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlacedRow {
    pub node_id: Uuid,
    pub app_id: Uuid,
    pub size: Size,
}

/// Takes the placement lock until the transaction ends.
pub async fn lock(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PLACEMENT_LOCK).execute(&mut **tx).await.map(|_| ())
}

/// Every node with its capacity and state.
pub async fn nodes(db: impl PgExecutor<'_>) -> Result<Vec<NodeCapacityRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, memory_mb, state FROM nodes ORDER BY name").fetch_all(db).await
}

/// Every instance wanted running on some node.
pub async fn placed(db: impl PgExecutor<'_>) -> Result<Vec<PlacedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT node_id, app_id, size FROM instances WHERE desired_state = 'running' AND node_id IS NOT NULL",
    )
    .fetch_all(db)
    .await
}

/// A new instance on a node.
pub async fn insert_instance(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    release_id: Uuid,
    process_type: &str,
    node_id: Uuid,
    size: Size,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO instances (id, app_id, release_id, process_type, node_id, size) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(app_id)
    .bind(release_id)
    .bind(process_type)
    .bind(node_id)
    .bind(size)
    .execute(db)
    .await?;
    Ok(id)
}
