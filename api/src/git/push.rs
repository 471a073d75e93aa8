//! One push: `git receive-pack` under a per-app lock; its pre-receive hook
//! asks (through a FIFO) for a build of the pushed `main`, and the build's
//! output is written back (through another FIFO) for git to relay as
//! `remote:` lines. The hook exits non-zero when the build fails or the new
//! release is not promoted (a process type crashed or never got healthy),
//! so the push is rejected and the running release stays. Afterwards the
//! repository is saved to Postgres.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use paas_types::BuildStatus;
use sqlx::{Connection, PgConnection};

use super::error::GitError;
use super::service::spawn_service;
use super::state::GitState;

use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;
use crate::ops;
use crate::ops::rollouts::RolloutOutcome;

/// Longest a push waits for its build.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Longest a push waits for another push to the same app to finish.
const LOCK_WAIT: Duration = Duration::from_secs(60);
/// Longest a push waits for the new release to be promoted or fail
/// (a little longer than the scheduler gives it).
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(crate::scheduler::promotion::TIMEOUT.as_secs() + 10);

/// Starts receive-pack for a push and returns its (streaming) response body.
pub async fn start(state: GitState, user: AuthUser, app: db::apps::AppRow, input: Vec<u8>) -> Result<Body, GitError> {
    // One push per app at a time, across API replicas. The lock lives on a
    // connection of its own (not the pool's): whatever happens to this push,
    // dropping the connection releases it.
    let mut lock = PgConnection::connect_with(&state.db.connect_options()).await.map_err(ApiError::from)?;
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        if db::git::try_lock_push(&mut lock, app.id).await.map_err(ApiError::from)? {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(GitError::Busy);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let dir = state.repos.checkout(&state.db, app.id).await?;
    let channel = tempfile::tempdir()?;
    for fifo in ["request", "output"] {
        let status = Command::new("mkfifo").arg(channel.path().join(fifo)).status().await?;
        if !status.success() {
            return Err(GitError::Io(std::io::Error::other("mkfifo failed")));
        }
    }
    let (mut child, stdout) =
        spawn_service("receive-pack", &dir, &[("PAAS_HOOK_DIR", channel.path().as_os_str())], input)?;
    tokio::spawn(async move {
        let queued = QueuedBuild::default();
        let hook =
            tokio::spawn(serve_hook(state.clone(), user, app.clone(), channel.path().to_path_buf(), queued.clone()));
        let status = child.wait().await;
        // The hook is done by now if it ran at all; if it never ran, stop waiting for it.
        hook.abort();
        if !matches!(status, Ok(s) if s.success()) {
            // The push failed or its client went away: a build it queued must not release.
            let build = *queued.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(build) = build {
                if let Err(error) = db::builds::cancel(&state.db, build, "the git push was interrupted").await {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "cannot cancel the build of an interrupted push"
                    );
                }
            }
        }
        if matches!(status, Ok(s) if s.success()) {
            if let Err(error) = state.repos.save(&state.db, app.id, &dir).await {
                tracing::error!(app = %app.name, error = &error as &dyn std::error::Error, "cannot save pushed history");
            }
        }
        let _ = lock.close().await;
        drop(channel);
    });
    Ok(Body::from_stream(ReaderStream::new(stdout)))
}

/// The build a push queued, shared with the task that watches the push.
type QueuedBuild = std::sync::Arc<std::sync::Mutex<Option<Uuid>>>;

/// Answers the pre-receive hook: builds the pushed commit and streams the
/// output; leaves the exit status for the hook in `status`.
async fn serve_hook(state: GitState, user: AuthUser, app: db::apps::AppRow, channel: PathBuf, queued: QueuedBuild) {
    let request = match read_request(&channel).await {
        Ok(Some(sha)) => sha,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(error = %error, "cannot read the git hook request");
            return;
        }
    };
    let _ = tokio::fs::write(channel.join("status"), "1").await;
    let mut output = match pipe::OpenOptions::new().read_write(true).open_sender(channel.join("output")) {
        Ok(sender) => sender,
        Err(error) => {
            tracing::warn!(error = %error, "cannot open the git hook output");
            return;
        }
    };
    let ok = deploy(&state, &user, &app, &channel, &request, &mut output, &queued).await;
    let _ = tokio::fs::write(channel.join("status"), if ok { "0" } else { "1" }).await;
    let _ = output.flush().await;
}

async fn read_request(channel: &Path) -> std::io::Result<Option<String>> {
    // Read-write so the open never blocks and no EOF comes before the hook writes.
    let receiver = pipe::OpenOptions::new().read_write(true).open_receiver(channel.join("request"))?;
    let mut line = String::new();
    BufReader::new(receiver).read_line(&mut line).await?;
    let line = line.trim();
    Ok((line.len() == 40 && line.bytes().all(|b| b.is_ascii_hexdigit())).then(|| line.to_string()))
}

/// Queues the build, relays its log, waits for the release to come up.
/// Returns whether the push should be accepted.
async fn deploy(
    state: &GitState,
    user: &AuthUser,
    app: &db::apps::AppRow,
    channel: &Path,
    sha: &str,
    out: &mut pipe::Sender,
    queued: &QueuedBuild,
) -> bool {
    let source = match tokio::fs::read(channel.join("source.tar.gz")).await {
        Ok(source) => source,
        Err(_) => {
            let _ = out.write_all(b" !     Cannot read the pushed source\n").await;
            return false;
        }
    };
    let _ = out.write_all(format!("-----> Building {} ({})\n", app.name, &sha[..8]).as_bytes()).await;
    let build = match ops::builds::queue_build(&state.db, user, app, &source, Some(sha)).await {
        Ok(build) => {
            *queued.lock().unwrap_or_else(|e| e.into_inner()) = Some(build.id);
            build
        }
        Err(error) => {
            let _ = out.write_all(format!(" !     {error}\n").as_bytes()).await;
            return false;
        }
    };
    let Some(status) = relay_build_log(state, build.id, out).await else {
        let _ = out.write_all(b" !     Timed out waiting for the build\n").await;
        return false;
    };
    if status != BuildStatus::Succeeded {
        let _ = out.write_all(b" !     Push rejected: the build failed; the running release is unchanged\n").await;
        return false;
    }
    let release = db::builds::find(&state.db, app.id, build.id).await.ok().flatten().and_then(|b| b.release);
    let Some(release) = release else {
        let _ = out.write_all(b" !     The build made no release\n").await;
        return false;
    };
    let _ = out.write_all(format!("-----> Released v{release}\n").as_bytes()).await;
    let _ = out.write_all(b"-----> Waiting for every process type to become healthy\n").await;
    let web_url = state.settings.app_url(&app.hostname);
    let outcome = match ops::rollouts::wait_for_outcome(&state.db, app.id, release, LAUNCH_TIMEOUT).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(app = %app.name, error = %error, "cannot follow the rollout");
            RolloutOutcome::Pending
        }
    };
    let (text, accepted) = outcome_text(&outcome, &web_url, release);
    let _ = out.write_all(text.as_bytes()).await;
    accepted
}

/// What the push says about the rollout, and whether it is accepted (not
/// when the release failed: the previous release serves).
fn outcome_text(outcome: &RolloutOutcome, web_url: &str, release: i32) -> (String, bool) {
    match outcome {
        RolloutOutcome::Promoted { warnings } => {
            let mut text = format!("-----> {web_url} deployed (v{release} is serving)\n");
            for warning in warnings {
                text.push_str(&format!(" !     Warning: {warning}\n"));
            }
            (text, true)
        }
        RolloutOutcome::Failed { why, serving, crashed } => {
            let serving = match serving {
                Some(v) => format!("v{v} keeps serving"),
                None => "no earlier release to serve".to_string(),
            };
            let mut text = format!(" !     Push rejected: v{release} failed: {why}; {serving}\n");
            for instance in crashed {
                if let Some(hint) = instance.hint() {
                    text.push_str(&format!(" !     {hint}\n"));
                }
                if let Some(status) = instance.exit_status {
                    text.push_str(&format!(" !     {} exit status: {status}\n", instance.process_type));
                }
                for line in instance.last_output.0.iter().rev().take(10).rev() {
                    text.push_str(&format!(" !       {line}\n"));
                }
            }
            (text, false)
        }
        RolloutOutcome::Pending => (
            format!(
                "-----> {web_url}: v{release} released, but not every process type is healthy yet; see `paas ps` and `paas logs`\n"
            ),
            true,
        ),
    }
}

/// Streams the build log to `out` until the build ends; returns its status.
async fn relay_build_log(state: &GitState, build: Uuid, out: &mut pipe::Sender) -> Option<BuildStatus> {
    let mut offset = 0i32;
    let deadline = tokio::time::Instant::now() + BUILD_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some((text, status))) = db::builds::log_from(&state.db, build, offset).await {
            if !text.is_empty() {
                offset += text.chars().count() as i32;
                let _ = out.write_all(text.as_bytes()).await;
            }
            if status.is_finished() {
                return Some(status);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::{ActualState, InstanceGoal};
    use sqlx::types::Json;

    fn crashed_worker() -> db::instances::InstanceRow {
        db::instances::InstanceRow {
            id: Uuid::nil(),
            process_type: "worker".into(),
            release: 3,
            node: None,
            desired_state: InstanceGoal::Stopped,
            actual_state: ActualState::Crashed,
            address: None,
            restarts: 2,
            exit_status: Some(1),
            last_output: Json(vec!["worker: cannot reach the queue".into()]),
            http_status: None,
            hostname: "shop.paas.test".into(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_push_says_how_the_rollout_ended() {
        let url = "http://shop.paas.test/";
        let warned = RolloutOutcome::Promoted { warnings: vec!["add shop.paas.test to ALLOWED_HOSTS".into()] };
        let failed = RolloutOutcome::Failed {
            why: "the worker process crashed".into(),
            serving: Some(2),
            crashed: vec![crashed_worker()],
        };
        // (outcome, accepted, lines the output must hold)
        let cases: [(RolloutOutcome, bool, &[&str]); 4] = [
            (
                RolloutOutcome::Promoted { warnings: vec![] },
                true,
                &["-----> http://shop.paas.test/ deployed (v3 is serving)"],
            ),
            (warned, true, &["deployed (v3 is serving)", " !     Warning: add shop.paas.test to ALLOWED_HOSTS"]),
            (
                failed,
                false,
                &[
                    " !     Push rejected: v3 failed: the worker process crashed; v2 keeps serving",
                    " !     worker exit status: 1",
                    " !       worker: cannot reach the queue",
                ],
            ),
            (RolloutOutcome::Pending, true, &["not every process type is healthy yet"]),
        ];
        for (outcome, accepted, lines) in cases {
            let (text, ok) = outcome_text(&outcome, url, 3);
            assert_eq!(ok, accepted, "{text}");
            for line in lines {
                assert!(text.contains(line), "missing {line:?} in:\n{text}");
            }
        }
    }
}
