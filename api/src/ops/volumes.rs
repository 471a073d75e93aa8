//! Volumes: create one on a node (the node the app runs on, or the live
//! node with the most room), list them, destroy one. Every change is a new
//! release of the current build, so the app's instances roll over to
//! containers with (or without) the mount, on the volume's node.
//!
//! Docker local volumes have no quota: the size is what the user plans for,
//! compared with the usage the node reports (`hint`), not enforced.

use paas_types::volumes::{mount_problem, parse_size_mb, DEFAULT_SIZE_MB};
use paas_types::{CreateVolumeRequest, NodeState, Role, Volume};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::crypto::Keyring;
use crate::db;
use crate::db::apps::AppRow;
use crate::db::volumes::{NewVolume, VolumeRow};
use crate::error::{ApiError, ApiResult};
use crate::scheduler;
use crate::validate;

/// Most volumes one app may have.
pub const MAX_PER_APP: usize = 5;
/// Most volumes the apps of one tenant may have together.
pub const MAX_PER_TENANT: i64 = 20;

/// The volume as the API shows it, with what is wrong with it, if anything.
pub fn view(row: VolumeRow) -> Volume {
    let hint = hint(&row);
    Volume {
        name: row.name,
        mount: row.mount_path,
        size_mb: row.size_mb,
        node: row.node,
        node_state: row.node_state,
        used_bytes: row.used_bytes,
        hint,
        created_at: row.created_at,
    }
}

fn hint(row: &VolumeRow) -> Option<String> {
    if row.node_state != NodeState::Up {
        return Some(format!(
            "node {} is {}: the app's instances run only on the node that holds their volume, so they wait \
             for it to come back (destroying the volume gives up its data and lets them run elsewhere)",
            row.node,
            row.node_state.as_str()
        ));
    }
    let used = row.used_bytes?;
    let size = i64::from(row.size_mb) << 20;
    (used > size).then(|| {
        format!(
            "holds {} MiB, more than its size of {} MiB; volumes have no hard quota here, so free some space \
             or move the data to a larger volume",
            used >> 20,
            row.size_mb
        )
    })
}

pub async fn list(db: &PgPool, app: &AppRow) -> ApiResult<Vec<Volume>> {
    Ok(db::volumes::list_for_app(db, app.id).await?.into_iter().map(view).collect())
}

/// Checks the request and creates the volume on its node; answers it.
pub async fn create(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    req: &CreateVolumeRequest,
) -> ApiResult<Volume> {
    if !validate::is_app_name(&req.name) {
        return Err(ApiError::validation(format!(
            "volume name {:?} is invalid: 2-30 characters of a-z, 0-9 and single hyphens, starting with a letter",
            req.name
        )));
    }
    if let Some(problem) = mount_problem(&req.mount) {
        return Err(ApiError::validation(problem));
    }
    let size_mb = match &req.size {
        Some(size) => parse_size_mb(size).map_err(|e| ApiError::validation(e.0))?,
        None => DEFAULT_SIZE_MB,
    };
    let mut tx = db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    let existing = db::volumes::list_for_app(&mut *tx, app.id).await?;
    if existing.iter().any(|v| v.name == req.name) {
        return Err(ApiError::Conflict(format!("{} already has a volume named {:?}", app.name, req.name)));
    }
    if let Some(other) = existing.iter().find(|v| overlaps(&v.mount_path, &req.mount)) {
        return Err(ApiError::Conflict(format!(
            "mount path {} overlaps volume {} at {}: choose a path outside it",
            req.mount, other.name, other.mount_path
        )));
    }
    if existing.len() >= MAX_PER_APP {
        return Err(ApiError::validation(format!("an app can have at most {MAX_PER_APP} volumes")));
    }
    if db::volumes::count_for_tenant(&mut *tx, app.tenant_id).await? >= MAX_PER_TENANT {
        return Err(ApiError::validation(format!("a tenant's apps can have at most {MAX_PER_TENANT} volumes")));
    }
    // All of an app's volumes share one node: its instances run there.
    let (node_id, node) = match existing.first() {
        Some(first) => (first.node_id, first.node.clone()),
        None => db::volumes::choose_node(&mut *tx, app.id).await?.ok_or_else(|| {
            ApiError::Conflict("no node is up to hold the volume; start an agent and try again".into())
        })?,
    };
    let id = Uuid::new_v4();
    let docker_name = format!("paas-{node}-{}-{}-{}", app.name, req.name, &id.simple().to_string()[..8]);
    let new = NewVolume {
        id,
        app_id: app.id,
        name: &req.name,
        mount_path: &req.mount,
        size_mb,
        node_id,
        docker_name: &docker_name,
    };
    db::volumes::insert(&mut *tx, &new).await?;
    let release = roll(&mut tx, keys, user, app, &format!("Add volume {} at {}", req.name, req.mount)).await?;
    record(
        &mut tx,
        user,
        app,
        "volume.create",
        json!({
            "volume": req.name, "mount": req.mount, "size_mb": size_mb, "node": node, "release": release,
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(app = %app.name, volume = %req.name, node = %node, "volume created");
    scheduler::reconcile_apps(db, [app.id]).await;
    let row = db::volumes::find(db, app.id, &req.name).await?.ok_or_else(|| ApiError::not_found("volume"))?;
    Ok(view(row))
}

/// Destroys a volume: refused while instances of the app run unless
/// `confirm` names it. The node removes the Docker volume (and its data)
/// once the instances that mount it have stopped.
pub async fn destroy(
    db: &PgPool,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    name: &str,
    confirm: Option<&str>,
) -> ApiResult<()> {
    let Some(volume) = db::volumes::find(db, app.id, name).await? else {
        return Err(ApiError::not_found(format!("volume {name:?}")));
    };
    if app.role() < Role::Admin {
        return Err(ApiError::Forbidden("only owners and admins of the tenant can destroy volumes".into()));
    }
    let running = db::volumes::running_instances(db, app.id).await?;
    if running > 0 && confirm != Some(name) {
        return Err(ApiError::Conflict(format!(
            "{running} instances of {} mount volume {name}; destroying it deletes its data and restarts them \
             without it: confirm with `paas volumes destroy {name} --confirm {name}` (API: ?confirm={name})",
            app.name
        )));
    }
    let mut tx = db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    db::volumes::delete(&mut *tx, volume.id).await?;
    let release = roll(&mut tx, keys, user, app, &format!("Remove volume {name}")).await?;
    record(&mut tx, user, app, "volume.destroy", json!({ "volume": name, "node": volume.node, "release": release }))
        .await?;
    tx.commit().await?;
    tracing::info!(app = %app.name, volume = name, node = %volume.node, "volume destroyed");
    scheduler::reconcile_apps(db, [app.id]).await;
    Ok(())
}

/// Whether two mount paths are the same or one is inside the other.
fn overlaps(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'));
    a == b || inside(a, b) || inside(b, a)
}

/// A new release of the current build and config, so instances restart
/// with the app's volumes as they are now. `None` before the first deploy.
async fn roll(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &Keyring,
    user: &AuthUser,
    app: &AppRow,
    description: &str,
) -> ApiResult<Option<i32>> {
    let Some(build_id) = db::releases::current(&mut **tx, app.id).await?.and_then(|r| r.build_id) else {
        return Ok(None);
    };
    let config = db::apps::config(&mut **tx, keys, app.id).await?;
    Ok(Some(db::releases::create(tx, keys, app.id, Some(build_id), &config, description, Some(user.id)).await?))
}

async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: &AuthUser,
    app: &AppRow,
    action: &'static str,
    data: serde_json::Value,
) -> ApiResult<()> {
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action,
        data,
    };
    db::events::record(&mut **tx, event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::overlaps;

    #[test]
    fn mount_paths_overlap_when_one_contains_the_other() {
        assert!(overlaps("/data", "/data"));
        assert!(overlaps("/data", "/data/x"));
        assert!(overlaps("/app/a/b", "/app/a"));
        assert!(!overlaps("/data", "/data2"));
        assert!(!overlaps("/app/a", "/app/b"));
    }
}
