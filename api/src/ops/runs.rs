//! One-off processes (`paas run`): start one on the app's current release
//! (validated, placed on a node, audited), the agent's claim of the runs
//! placed on its node, and the end of a run (recorded once, audited).

use std::collections::BTreeMap;
use std::time::Duration;

use paas_types::agent::VolumeMount;
use paas_types::session::{ConsoleRequest, Run, RunJob, RunJobs, RunRequest, SessionTarget};
use paas_types::Size;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{AgentNode, AuthUser};
use crate::crypto::Keyring;
use crate::db;
use crate::db::addons::AddonRow;
use crate::db::apps::AppRow;
use crate::db::runs::RunRow;
use crate::error::{ApiError, ApiResult};
use crate::run_hub::RunHub;
use crate::scheduler::runs::{pick_node, RunRoom};
use crate::state::Settings;

/// Longest command line accepted, in bytes.
const MAX_COMMAND_BYTES: usize = 16 * 1024;
/// Longest a claim waits for a run to be placed on the node.
pub const MAX_CLAIM_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting claim looks at the database (runs placed by another replica).
const CLAIM_POLL: Duration = Duration::from_secs(1);

/// Records a new run of the app's current release on the least loaded
/// live node that has room, and wakes that node's agent.
pub async fn create<S: Send + 'static>(
    db: &PgPool,
    settings: &Settings,
    hub: &RunHub<S>,
    user: &AuthUser,
    app: &AppRow,
    request: &RunRequest,
) -> ApiResult<Run> {
    let command = validate(request)?;
    let size = request.size.unwrap_or(Size::Standard);
    let source = db::runs::source(db, &settings.keys, app.id)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("{} has no release to run yet; deploy it first", app.name)))?;
    let rooms: Vec<RunRoom> = db::runs::node_loads(db, source.build_id)
        .await?
        .into_iter()
        .map(|n| RunRoom { id: n.id, name: n.name, memory_mb: n.memory_mb, used_mb: n.used_mb, has_image: n.has_image })
        .collect();
    // An app with volumes runs where they are.
    let pinned = db::volumes::node_of_app(db, app.id).await?;
    let rooms: Vec<RunRoom> = rooms.into_iter().filter(|room| pinned.is_none_or(|node| node == room.id)).collect();
    if let (Some(node), true) = (pinned, rooms.is_empty()) {
        let name = db::volumes::node_name(db, node).await?;
        return Err(ApiError::Conflict(format!(
            "{}'s volumes are on node {name}, which is down; one-off processes run there: wait for it to come back",
            app.name
        )));
    }
    let node_id = pick_node(&rooms, size).ok_or_else(|| {
        ApiError::Conflict(format!(
            "no live node has room for a {} one-off process; try a smaller --size, or later",
            size.as_str()
        ))
    })?;
    let id = Uuid::new_v4();
    let env = run_env(source.config.clone(), app, source.version, id, size, request);
    let new = db::runs::NewRun {
        id,
        app_id: app.id,
        release_id: source.release_id,
        node_id,
        command: &request.command,
        size,
        detach: request.detach,
        tty: request.tty && !request.detach,
        cols: request.cols,
        rows: request.rows,
        max_secs: settings.run_max_secs,
        env: &env,
        author_id: user.id,
        addon_id: None,
    };
    let audit = json!({
        "run": id, "command": command, "size": size.as_str(), "detach": request.detach,
        "release": source.version, "max_secs": settings.run_max_secs,
    });
    record(db, &settings.keys, hub, app, &new, audit).await
}

/// Records a run on the node holding the add-on whose interactive client
/// it runs (`psql`, `redis-cli`), on behalf of `app`, one of the apps the
/// add-on is attached to (the first one when `request.app` is not given).
pub async fn console<S: Send + 'static>(
    db: &PgPool,
    settings: &Settings,
    hub: &RunHub<S>,
    user: &AuthUser,
    addon: &AddonRow,
    request: &ConsoleRequest,
) -> ApiResult<Run> {
    validate_terminal(request.cols, request.rows, request.term.as_deref())?;
    let attached = db::addons::attachments(db, &[addon.id]).await?;
    let app_name = match &request.app {
        Some(name) => attached.iter().find(|a| &a.app == name).map(|a| a.app.clone()).ok_or_else(|| {
            ApiError::Conflict(format!(
                "{} is not attached to {name}; attach it first (paas addons attach)",
                addon.name
            ))
        })?,
        None => attached.first().map(|a| a.app.clone()).ok_or_else(|| {
            ApiError::Conflict(format!(
                "{} is not attached to any app; attach it first (paas addons attach)",
                addon.name
            ))
        })?,
    };
    let app = crate::ops::apps::app_for_user(db, user.id, &app_name).await?;
    let (Some(node_id), Some("up")) = (addon.node_id, addon.node_state.as_deref()) else {
        return Err(ApiError::Conflict(format!(
            "{} is unavailable: its node {} is not up; wait for it, or restore a backup on another node",
            addon.name,
            addon.node.as_deref().unwrap_or("(none yet)")
        )));
    };
    let release = db::releases::current(db, app.id)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("{} has no release yet", app.name)))?;
    let client = match addon.kind.as_str() {
        "postgres" => "psql",
        _ => "redis-cli",
    };
    let id = Uuid::new_v4();
    let command = vec![client.to_string()];
    let env = BTreeMap::new();
    let new = db::runs::NewRun {
        id,
        app_id: app.id,
        release_id: release.id,
        node_id,
        command: &command,
        size: Size::Small,
        detach: false,
        tty: request.tty,
        cols: request.cols,
        rows: request.rows,
        max_secs: settings.run_max_secs,
        env: &env,
        author_id: user.id,
        addon_id: Some(addon.id),
    };
    let audit = json!({ "run": id, "command": client, "addon": addon.name, "max_secs": settings.run_max_secs });
    record(db, &settings.keys, hub, &app, &new, audit).await
}

/// Inserts the run with its `run.create` event and wakes its node.
async fn record<S: Send + 'static>(
    db: &PgPool,
    keys: &Keyring,
    hub: &RunHub<S>,
    app: &AppRow,
    new: &db::runs::NewRun<'_>,
    audit: serde_json::Value,
) -> ApiResult<Run> {
    let mut tx = db.begin().await?;
    db::runs::insert(&mut *tx, keys, new).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(new.author_id),
        action: "run.create",
        data: audit,
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    hub.wake(new.node_id);
    tracing::info!(run.id = %new.id, app = %app.name, size = new.size.as_str(), detach = new.detach, "one-off process placed");
    let row =
        db::runs::find(db, app.id, new.id).await?.ok_or_else(|| ApiError::not_found(format!("run {}", new.id)))?;
    Ok(row.into())
}

/// The command line as one string, after checking the request.
fn validate(request: &RunRequest) -> ApiResult<String> {
    if request.command.is_empty() || request.command.iter().all(|w| w.trim().is_empty()) {
        return Err(ApiError::validation("give a command to run, like `paas run -- python manage.py migrate`"));
    }
    let command = paas_types::session::shell_line(&request.command);
    if command.len() > MAX_COMMAND_BYTES {
        return Err(ApiError::validation(format!("the command is longer than {MAX_COMMAND_BYTES} bytes")));
    }
    if command.contains('\0') {
        return Err(ApiError::BadRequest("the command contains a NUL byte".into()));
    }
    validate_terminal(request.cols, request.rows, request.term.as_deref())?;
    Ok(command)
}

/// The terminal's size and `TERM`, when given.
fn validate_terminal(cols: Option<u16>, rows: Option<u16>, term: Option<&str>) -> ApiResult<()> {
    for size in [cols, rows].into_iter().flatten() {
        if size == 0 || size > 2000 {
            return Err(ApiError::validation("cols and rows are 1-2000"));
        }
    }
    if let Some(term) = term {
        let fine = !term.is_empty()
            && term.len() <= 64
            && term.bytes().all(|b| b.is_ascii_alphanumeric() || b"-+._".contains(&b));
        if !fine {
            return Err(ApiError::validation("term is 1-64 characters of a-z, 0-9, '-', '+', '.', '_'"));
        }
    }
    Ok(())
}

/// The environment of a run: the release's config and the platform's
/// variables, as the app's processes get them.
fn run_env(
    mut env: BTreeMap<String, String>,
    app: &AppRow,
    release: i32,
    id: Uuid,
    size: Size,
    request: &RunRequest,
) -> BTreeMap<String, String> {
    env.entry("WEB_CONCURRENCY".into()).or_insert_with(|| size.web_concurrency().to_string());
    env.insert("PAAS_APP".into(), app.name.clone());
    env.insert("PAAS_RELEASE".into(), release.to_string());
    env.insert("PAAS_PROCESS_TYPE".into(), "run".into());
    env.insert("PAAS_RUN".into(), id.to_string());
    if request.tty && !request.detach {
        env.insert("TERM".into(), request.term.clone().unwrap_or_else(|| "xterm".into()));
    }
    env
}

/// A run of the app (404 when the app has none of that id).
pub async fn find(db: &PgPool, app: &AppRow, id: Uuid) -> ApiResult<RunRow> {
    db::runs::find(db, app.id, id).await?.ok_or_else(|| ApiError::not_found(format!("run {id}")))
}

/// The runs placed on the node, claimed now; waits up to `wait` for one.
pub async fn claim<S: Send + 'static>(
    db: &PgPool,
    keys: &Keyring,
    hub: &RunHub<S>,
    node: &AgentNode,
    wait: Duration,
) -> ApiResult<RunJobs> {
    let wakeup = hub.wakeup(node.id);
    let deadline = tokio::time::Instant::now() + wait.min(MAX_CLAIM_WAIT);
    loop {
        let claimed = db::runs::claim(db, keys, node.id).await?;
        if !claimed.is_empty() || tokio::time::Instant::now() >= deadline {
            for run in &claimed {
                tracing::info!(run.id = %run.id, node.name = %node.name, "one-off process claimed");
            }
            let mut jobs = Vec::with_capacity(claimed.len());
            for row in claimed {
                let mounts = db::volumes::mounts_of_app(db, row.app_id).await?;
                let mounts = mounts.into_iter().map(|v| VolumeMount { volume: v.docker_name, target: v.mount_path });
                jobs.extend(job(row, mounts.collect()));
            }
            return Ok(RunJobs { jobs });
        }
        let next = (tokio::time::Instant::now() + CLAIM_POLL).min(deadline);
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep_until(next) => {}
        }
    }
}

fn job(row: db::runs::ClaimedRow, mounts: Vec<VolumeMount>) -> Option<RunJob> {
    let small = |v: Option<i32>| v.and_then(|v| u16::try_from(v).ok());
    let target = match (row.addon_id, row.image, row.build_id) {
        (Some(addon_id), _, _) => SessionTarget::AddonConsole { addon_id },
        (None, Some(image), Some(build_id)) => SessionTarget::Container {
            image,
            build_id,
            release: row.release,
            command: paas_types::session::shell_line(&row.command.0),
            env: row.env,
            size: row.size,
            mounts,
        },
        // `create` only places runs of built releases.
        _ => {
            tracing::warn!(run.id = %row.id, "a claimed run has no image; the overdue sweep ends it");
            return None;
        }
    };
    Some(RunJob {
        run_id: row.id,
        app: row.app,
        target,
        tty: row.tty,
        detach: row.detach,
        cols: small(row.cols),
        rows: small(row.rows),
        max_secs: row.max_secs.max(1) as u64,
    })
}

/// Records how a run ended (once: later calls change nothing) with its audit event.
pub async fn finish(db: &PgPool, run: &RunRow, status: Option<i32>, reason: Option<&str>) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    if db::runs::finish(&mut *tx, run.id, status, reason).await? {
        let event = db::events::NewEvent {
            tenant_id: run.tenant_id,
            app: Some((run.app_id, &run.app)),
            actor_id: run.author_id,
            action: "run.finish",
            data: json!({ "run": run.id, "exit_status": status, "reason": reason }),
        };
        db::events::record(&mut *tx, event).await?;
        tracing::info!(run.id = %run.id, exit_status = status, reason, "one-off process ended");
    }
    tx.commit().await?;
    Ok(())
}

/// Stores output lines of a detached run (process type `run` in the app's logs).
pub async fn store_output(db: &PgPool, run: &RunRow, lines: Vec<String>) -> ApiResult<()> {
    let lines: Vec<String> = lines.into_iter().map(|l| l.replace('\0', "").chars().take(8192).collect()).collect();
    db::runs::insert_output(db, run.app_id, run.id, &lines).await?;
    Ok(())
}
