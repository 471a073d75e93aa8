//! Volumes: named volumes of an app, each on one node. All of an app's
//! volumes live on the same node; its instances and the builds that run
//! its release command go there.

use chrono::{DateTime, Utc};
use paas_types::NodeState;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A volume with its node, as the app's users see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VolumeRow {
    pub id: Uuid,
    pub name: String,
    pub mount_path: String,
    pub size_mb: i32,
    pub node_id: Uuid,
    pub node: String,
    pub node_state: NodeState,
    pub docker_name: String,
    pub used_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "
    SELECT v.id, v.name, v.mount_path, v.size_mb, v.node_id, n.name AS node, n.state AS node_state,
           v.docker_name, v.used_bytes, v.created_at
    FROM volumes v JOIN nodes n ON n.id = v.node_id";

pub async fn list_for_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<VolumeRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE v.app_id = $1 ORDER BY v.name")).bind(app_id).fetch_all(db).await
}

pub async fn find(db: impl PgExecutor<'_>, app_id: Uuid, name: &str) -> Result<Option<VolumeRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE v.app_id = $1 AND v.name = $2"))
        .bind(app_id)
        .bind(name)
        .fetch_optional(db)
        .await
}

/// A new volume row.
pub struct NewVolume<'a> {
    pub id: Uuid,
    pub app_id: Uuid,
    pub name: &'a str,
    pub mount_path: &'a str,
    pub size_mb: i32,
    pub node_id: Uuid,
    pub docker_name: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, volume: &NewVolume<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO volumes (id, app_id, name, mount_path, size_mb, node_id, docker_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(volume.id)
    .bind(volume.app_id)
    .bind(volume.name)
    .bind(volume.mount_path)
    .bind(volume.size_mb)
    .bind(volume.node_id)
    .bind(volume.docker_name)
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM volumes WHERE id = $1").bind(id).execute(db).await.map(|_| ())
}

/// How many volumes the tenant's apps have.
pub async fn count_for_tenant(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM volumes v JOIN apps a ON a.id = v.app_id WHERE a.tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(db)
        .await
}

/// The node holding the app's volumes, if it has any.
pub async fn node_of_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT node_id FROM volumes WHERE app_id = $1 LIMIT 1").bind(app_id).fetch_optional(db).await
}

/// The node for an app's first volume: the live node running most of the
/// app's instances, else the live node with the most free memory (then by
/// name). `None` when no node is up.
pub async fn choose_node(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.id, n.name FROM nodes n
         LEFT JOIN instances i ON i.node_id = n.id AND i.desired_state = 'running'
         WHERE n.state = 'up'
         GROUP BY n.id, n.name, n.memory_mb
         ORDER BY count(*) FILTER (WHERE i.app_id = $1) DESC,
                  n.memory_mb - coalesce(sum(CASE i.size WHEN 'small' THEN 256 WHEN 'large' THEN 1024
                                                         WHEN 'standard' THEN 512 END), 0) DESC,
                  n.name
         LIMIT 1",
    )
    .bind(app_id)
    .fetch_optional(db)
    .await
}

/// The node's name.
pub async fn node_name(db: impl PgExecutor<'_>, node_id: Uuid) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM nodes WHERE id = $1").bind(node_id).fetch_one(db).await
}

/// A volume a node must hold, or mount into an app's containers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeVolumeRow {
    pub app_id: Uuid,
    pub app: String,
    pub name: String,
    pub mount_path: String,
    pub docker_name: String,
}

const SELECT_MOUNTS: &str = "
    SELECT v.app_id, a.name AS app, v.name, v.mount_path, v.docker_name
    FROM volumes v JOIN apps a ON a.id = v.app_id";

/// Every volume whose data is on the node.
pub async fn for_node(db: impl PgExecutor<'_>, node_id: Uuid) -> Result<Vec<NodeVolumeRow>, sqlx::Error> {
    let sql = format!("{SELECT_MOUNTS} WHERE v.node_id = $1 ORDER BY a.name, v.mount_path");
    sqlx::query_as(&sql).bind(node_id).fetch_all(db).await
}

/// The app's volumes as mounts.
pub async fn mounts_of_app(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<NodeVolumeRow>, sqlx::Error> {
    let sql = format!("{SELECT_MOUNTS} WHERE v.app_id = $1 ORDER BY v.mount_path");
    sqlx::query_as(&sql).bind(app_id).fetch_all(db).await
}

/// Records what the node measured its volumes to hold.
pub async fn record_usage(
    db: impl PgExecutor<'_>,
    node_id: Uuid,
    names: &[String],
    bytes: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE volumes v SET used_bytes = u.bytes, used_at = now()
         FROM unnest($2::text[], $3::bigint[]) AS u(name, bytes)
         WHERE v.node_id = $1 AND v.docker_name = u.name",
    )
    .bind(node_id)
    .bind(names)
    .bind(bytes)
    .execute(db)
    .await
    .map(|_| ())
}

/// How many of the app's instances are wanted running.
pub async fn running_instances(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM instances WHERE app_id = $1 AND desired_state = 'running'")
        .bind(app_id)
        .fetch_one(db)
        .await
}
