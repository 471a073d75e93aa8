//! Paths to other process types: the CLI-set layer (`app_routes`) and the
//! routes in force, merged with the release's paas.json routes by the
//! database's `effective_routes` (migration 0010), the one place the
//! precedence rule lives.

use std::collections::{BTreeMap, HashMap};

use paas_types::process_routes::{PathRoute, RouteSource};
use paas_types::routing::{Backend, ProcessRoute};
use sqlx::types::Json;
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// What the release a route listing reads declares: its process types and paas.json routes.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ReleaseFacts {
    pub process_types: Json<BTreeMap<String, String>>,
    pub routes: Json<BTreeMap<String, String>>,
}

/// The newest release that has not failed (what the scheduler rolls out), if any.
pub async fn release_facts(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Option<ReleaseFacts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.process_types, b.routes FROM releases r JOIN builds b ON b.id = r.build_id
         WHERE r.app_id = $1 AND r.status <> 'failed' ORDER BY r.version DESC LIMIT 1",
    )
    .bind(app_id)
    .fetch_optional(db)
    .await
}

/// The routes in force with `manifest` as the release's paas.json routes, longest prefix first.
pub async fn effective(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    manifest: &BTreeMap<String, String>,
) -> Result<Vec<PathRoute>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT prefix, process_type, source FROM effective_routes($1, $2)
         ORDER BY length(prefix) DESC, prefix",
    )
    .bind(app_id)
    .bind(Json(manifest))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(prefix, process_type, source)| {
            let source = if source == "cli" { RouteSource::Cli } else { RouteSource::PaasJson };
            PathRoute { prefix, process_type, source }
        })
        .collect())
}

/// Sets the CLI-set route of `prefix`.
pub async fn set(
    tx: &mut Transaction<'_, Postgres>,
    app_id: Uuid,
    prefix: &str,
    process_type: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO app_routes (app_id, prefix, process_type) VALUES ($1, $2, $3)
         ON CONFLICT (app_id, prefix) DO UPDATE SET process_type = EXCLUDED.process_type, updated_at = now()",
    )
    .bind(app_id)
    .bind(prefix)
    .bind(process_type)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Drops the CLI-set route of `prefix`; whether there was one.
pub async fn unset(tx: &mut Transaction<'_, Postgres>, app_id: Uuid, prefix: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM app_routes WHERE app_id = $1 AND prefix = $2")
        .bind(app_id)
        .bind(prefix)
        .execute(&mut **tx)
        .await
        .map(|done| done.rows_affected() == 1)
}

// === The route table's share ===

/// Backends of routed process types, by app and process type.
pub type RoutedBackends = HashMap<(Uuid, String), Vec<Backend>>;

/// Every healthy instance of a process type other than `web` that reported
/// an address (agents report one only for types a route points at), by the
/// same rules as web backends: wanted and running, on a node that is up.
pub async fn routed_backends(db: impl PgExecutor<'_>) -> Result<RoutedBackends, sqlx::Error> {
    let rows: Vec<(Uuid, String, Uuid, String)> = sqlx::query_as(
        "SELECT i.app_id, i.process_type, i.id, i.address FROM instances i JOIN nodes n ON n.id = i.node_id
         WHERE i.process_type <> 'web' AND i.desired_state = 'running' AND i.actual_state = 'running'
           AND i.address IS NOT NULL AND n.state = 'up'
         ORDER BY i.created_at",
    )
    .fetch_all(db)
    .await?;
    let mut by_type = RoutedBackends::new();
    for (app_id, process_type, instance_id, address) in rows {
        by_type.entry((app_id, process_type)).or_default().push(Backend { instance_id, address, concurrency: None });
    }
    Ok(by_type)
}

/// An app's routes in force (prefix -> process type) as the table lists
/// them: longest prefix first, each with its process type's backends.
pub fn table_routes(app_id: Uuid, routes: BTreeMap<String, String>, backends: &RoutedBackends) -> Vec<ProcessRoute> {
    let mut routes: Vec<ProcessRoute> = routes
        .into_iter()
        .map(|(prefix, process_type)| {
            let backends = backends.get(&(app_id, process_type.clone())).cloned().unwrap_or_default();
            ProcessRoute { prefix, process_type, backends }
        })
        .collect();
    routes.sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then_with(|| a.prefix.cmp(&b.prefix)));
    routes
}
