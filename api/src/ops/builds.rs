//! Builds: queue a source tarball (API upload or git push), and the agent's
//! side of the build queue: claim, log, static bundle, finish. A finished
//! successful build becomes a release with the app's current config.

use paas_types::agent::{BuildJob, BuildResult, VolumeMount};
use paas_types::{Build, BuildDetail};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{AgentNode, AuthUser};
use crate::crypto::Keyring;
use crate::db;
use crate::db::apps::AppRow;
use crate::error::{ApiError, ApiResult};
use crate::scheduler;
use crate::state::Settings;

/// Stores a gzip tarball of the app's source and queues its build.
pub async fn queue_build(
    db: &PgPool,
    user: &AuthUser,
    app: &AppRow,
    source: &[u8],
    version: Option<&str>,
) -> ApiResult<Build> {
    if source.len() < 2 || source[..2] != [0x1f, 0x8b] {
        return Err(ApiError::validation("send the source as a gzip-compressed tarball (tar czf - .)"));
    }
    if version.is_some_and(|v| v.len() > 100) {
        return Err(ApiError::validation("version is at most 100 characters"));
    }
    let mut tx = db.begin().await?;
    let blob = db::builds::insert_blob(&mut *tx, source).await?;
    let build_id = db::builds::insert(&mut *tx, app.id, blob, version, Some(user.id)).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "build.create",
        data: json!({ "build": build_id, "bytes": source.len(), "version": version }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    let row = db::builds::find(db, app.id, build_id).await?.ok_or_else(|| ApiError::not_found("build"))?;
    Ok(row.into())
}

/// One build of the app with its output so far.
pub async fn build_detail(db: &PgPool, app: &AppRow, id: Uuid) -> ApiResult<BuildDetail> {
    let row = db::builds::find(db, app.id, id).await?.ok_or_else(|| ApiError::not_found(format!("build {id}")))?;
    let log = db::builds::log_from(db, id, 0).await?.map(|(log, _)| log).unwrap_or_default();
    Ok(BuildDetail { build: row.into(), log })
}

/// Gives the node the next queued build, if any, under a lease.
pub async fn claim_build(db: &PgPool, settings: &Settings, node: &AgentNode) -> ApiResult<Option<BuildJob>> {
    let lease_secs = settings.build_lease_secs;
    let Some((build_id, app)) = db::builds::claim(db, node.id, lease_secs).await? else {
        return Ok(None);
    };
    tracing::info!(build.id = %build_id, node.name = %node.name, "build claimed");
    let app_id = db::builds::app_of(db, build_id).await?;
    let env = db::apps::config(db, &settings.keys, app_id).await?;
    // The claim only hands an app with volumes to their node: mount them.
    let volumes = db::volumes::mounts_of_app(db, app_id).await?;
    let mounts = volumes.into_iter().map(|v| VolumeMount { volume: v.docker_name, target: v.mount_path }).collect();
    Ok(Some(BuildJob { build_id, app, lease_secs, env, mounts }))
}

/// Appends output lines of a build the node holds and renews its lease.
pub async fn append_log(
    db: &PgPool,
    settings: &Settings,
    node: &AgentNode,
    id: Uuid,
    lines: &[String],
) -> ApiResult<()> {
    let mut text = String::new();
    for line in lines {
        // Postgres text cannot hold NUL bytes.
        text.push_str(&line.trim_end_matches('\n').replace('\0', ""));
        text.push('\n');
    }
    if db::builds::append_log(db, id, node.id, &text, settings.build_lease_secs).await? {
        Ok(())
    } else {
        Err(lost_lease())
    }
}

/// Stores the static bundle (gzip tarball) of a build the node holds.
pub async fn store_static_bundle(db: &PgPool, node: &AgentNode, id: Uuid, bundle: &[u8]) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let blob = db::builds::insert_blob(&mut *tx, bundle).await?;
    if !db::builds::set_static(&mut *tx, id, node.id, blob).await? {
        return Err(lost_lease());
    }
    tx.commit().await?;
    Ok(())
}

/// Ends a build the node holds. Success adds the build's new process types
/// to the formation and makes a release with the app's current config.
pub async fn finish_build(
    db: &PgPool,
    keys: &Keyring,
    node: &AgentNode,
    id: Uuid,
    result: &BuildResult,
) -> ApiResult<()> {
    if result.success && result.image.is_none() {
        return Err(ApiError::validation("a successful build needs an image"));
    }
    // The agent checked paas.json against the Procfile; the shape is checked here too.
    for (prefix, process_type) in &result.routes {
        crate::ops::process_routes::check_shape(prefix, Some(process_type))?;
    }
    let mut tx = db.begin().await?;
    let app_id = db::builds::finish(&mut *tx, id, node.id, result).await?.ok_or_else(lost_lease)?;
    if result.success {
        db::apps::lock(&mut tx, app_id).await?;
        db::apps::add_process_types(&mut tx, app_id, result.process_types.keys().map(String::as_str)).await?;
        let config = db::apps::config(&mut *tx, keys, app_id).await?;
        let author = db::builds::author(&mut *tx, id).await?;
        let description = format!("Deploy build {}", &id.simple().to_string()[..8]);
        let version = db::releases::create(&mut tx, keys, app_id, Some(id), &config, &description, author).await?;
        let (tenant_id, name) = db::apps::owner_and_name(&mut *tx, app_id).await?;
        let event = db::events::NewEvent {
            tenant_id,
            app: Some((app_id, &name)),
            actor_id: author,
            action: "release.create",
            data: json!({ "version": version, "build": id }),
        };
        db::events::record(&mut *tx, event).await?;
    }
    tx.commit().await?;
    tracing::info!(build.id = %id, success = result.success, "build finished");
    scheduler::reconcile_apps(db, [app_id]).await;
    Ok(())
}

fn lost_lease() -> ApiError {
    ApiError::Conflict("this node no longer holds the build".into())
}
