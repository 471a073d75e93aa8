//! `paas run` sessions on this node: a long poll claims the runs the API
//! placed here; each gets its own task that opens the session's WebSocket
//! to the API, starts the process (rebuilding a missing image first), and
//! pumps bytes both ways until the process exits, the other side goes away
//! or the run's maximum duration passes. The process never outlives its
//! session: any ending removes its container.
//!
//! Framing (see `paas_types::session`): binary frames are a channel byte
//! and bytes, text frames JSON control messages.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use paas_types::client::socket::{Message, SessionSocket};
use paas_types::session::{self, Control, RunJob, SessionTarget};
use tokio::io::AsyncWriteExt;

use crate::addons::shell::{shell_command, ShellCommand};
use crate::build::BuildSettings;
use crate::client::AgentClient;
use crate::docker::session::{RunSpec, SessionIo, SessionProcess};
use crate::docker::Engine;
use crate::errors::error_chain;

/// How long one claim waits for a run (the API holds it at most 30 s).
const CLAIM_WAIT: Duration = Duration::from_secs(25);
/// Longest wait for the session's WebSocket.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
/// Exit status reported for a process the platform killed.
const KILLED: i32 = 137;
/// Signals a user may send to a run's process.
const SIGNALS: &[&str] = &["INT", "TERM", "HUP", "QUIT", "KILL"];

/// Claims runs for this node and starts a session for each, forever.
pub async fn claim_loop(api: Arc<AgentClient>, engine: Engine, settings: Arc<BuildSettings>) {
    loop {
        match api.claim_runs(CLAIM_WAIT).await {
            Ok(claimed) => {
                for job in claimed.jobs {
                    let (api, engine, settings) = (api.clone(), engine.clone(), settings.clone());
                    tokio::spawn(async move { serve(&api, &engine, &settings, job).await });
                }
            }
            Err(error) => {
                tracing::debug!(error = %error, "cannot claim runs");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// One session, from connecting to the removal of its process.
async fn serve(api: &AgentClient, engine: &Engine, settings: &BuildSettings, job: RunJob) {
    let run_id = job.run_id;
    let Some(token) = api.node_token() else { return };
    let path = AgentClient::run_attach_path(run_id);
    let socket = match api.connection().socket(&path, &token, CONNECT_LIMIT).await {
        Ok(socket) => socket,
        Err(error) => {
            tracing::warn!(run.id = %run_id, error = %error_chain(&error), "cannot open the run's session");
            return;
        }
    };
    let mut socket = socket;
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(job.max_secs);
    let (process, io) = match start(api, engine, settings, &job, &mut socket).await {
        Ok(started) => started,
        Err(message) => {
            tracing::warn!(run.id = %run_id, message, "cannot start the run");
            let exit =
                Control::Exit { status: 255, reason: Some(session::REASON_FAILED.into()), message: Some(message) };
            let _ = socket.send(Message::text(exit.to_json())).await;
            let _ = socket.close(None).await;
            return;
        }
    };
    tracing::info!(run.id = %run_id, app = %job.app, tty = job.tty, "run started");
    let exit = pump(engine, &process, io, &mut socket, job.tty, deadline).await;
    engine.end_session(&process).await;
    if let Some(exit) = exit {
        tracing::info!(run.id = %run_id, exit = ?exit, secs = started.elapsed().as_secs(), "run ended");
        let _ = socket.send(Message::text(exit.to_json())).await;
    } else {
        tracing::info!(run.id = %run_id, "the session's other side went away; run removed");
    }
    let _ = socket.close(None).await;
}

/// Starts the job's process, telling the user what takes time.
async fn start(
    api: &AgentClient,
    engine: &Engine,
    settings: &BuildSettings,
    job: &RunJob,
    socket: &mut SessionSocket,
) -> Result<(SessionProcess, SessionIo), String> {
    let started = match &job.target {
        SessionTarget::Container { image, build_id, release, command, env, size, mounts } => {
            if !engine.image_exists(image).await {
                let status =
                    Control::Status { message: format!("Rebuilding the image of v{release} on this node ...") };
                let _ = socket.send(Message::text(status.to_json())).await;
                crate::build::rebuild_image(api, engine, settings, *build_id, image, env)
                    .await
                    .map_err(|e| format!("cannot rebuild the image: {}", error_chain(&e)))?;
            }
            let spec = RunSpec {
                run_id: job.run_id,
                app: &job.app,
                image,
                command,
                env,
                size: *size,
                tty: job.tty,
                stdin: !job.detach,
                mounts,
            };
            engine.start_run(&spec).await
        }
        SessionTarget::Exec { container, command } => engine.start_exec(container, command, job.tty).await,
        SessionTarget::AddonConsole { addon_id } => {
            let shell = addon_shell(api, engine, *addon_id).await?;
            engine.start_exec_as(&shell.container, &shell.cmd, Some(&shell.user), shell.env, job.tty).await
        }
    };
    let (process, io) = started.map_err(|e| format!("cannot start the process: {}", error_chain(&e)))?;
    if let (true, Some(cols), Some(rows)) = (job.tty, job.cols, job.rows) {
        resize(engine, &process, cols, rows).await;
    }
    Ok((process, io))
}

/// The client command of an add-on this node holds, from the node's
/// desired state (which carries the logins).
async fn addon_shell(api: &AgentClient, engine: &Engine, addon_id: uuid::Uuid) -> Result<ShellCommand, String> {
    let desired = api.desired().await.map_err(|e| format!("cannot read this node's add-ons: {}", error_chain(&e)))?;
    let addon = desired
        .addons
        .iter()
        .find(|a| a.id == addon_id)
        .ok_or_else(|| "the add-on is not on this node (any more)".to_string())?;
    shell_command(engine.node(), addon).ok_or_else(|| "the add-on has no login yet; try again in a moment".to_string())
}

/// The docker CLI retries too: a just-started process may not have its terminal yet.
async fn resize(engine: &Engine, process: &SessionProcess, cols: u16, rows: u16) {
    for attempt in 0..5 {
        match engine.resize_session(process, cols, rows).await {
            Ok(()) => return,
            Err(error) if attempt == 4 => tracing::debug!(error = %error_chain(&error), "cannot resize the terminal"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Moves bytes until the process ends (its exit), the user goes away
/// (`None`: nobody to tell), or the deadline passes (killed).
async fn pump(
    engine: &Engine,
    process: &SessionProcess,
    io: SessionIo,
    socket: &mut SessionSocket,
    tty: bool,
    deadline: tokio::time::Instant,
) -> Option<Control> {
    let SessionIo { mut output, mut input } = io;
    let mut input_open = true;
    let ended = loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(chunk)) => {
                    use bollard::container::LogOutput;
                    let (channel, bytes) = match chunk {
                        LogOutput::StdErr { message } if !tty => (session::STDERR, message),
                        LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message } => {
                            (session::STDOUT, message)
                        }
                        LogOutput::StdIn { .. } => continue,
                    };
                    if socket.send(Message::binary(session::frame(channel, &bytes))).await.is_err() {
                        break None;
                    }
                }
                Some(Err(error)) => {
                    tracing::debug!(error = %error, "the process's output broke off");
                    break Some(());
                }
                None => break Some(()),
            },
            message = socket.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Some((session::STDIN, payload)) = session::unframe(&bytes) {
                        if input_open && (input.write_all(payload).await.is_err() || input.flush().await.is_err()) {
                            input_open = false;
                        }
                    }
                }
                Some(Ok(Message::Text(text))) => match Control::from_json(text.as_str()) {
                    Some(Control::Resize { cols, rows }) if tty => resize(engine, process, cols, rows).await,
                    Some(Control::Signal { signal }) if SIGNALS.contains(&signal.as_str()) => {
                        if let Err(error) = engine.signal_session(process, &format!("SIG{signal}")).await {
                            tracing::debug!(error = %error_chain(&error), "cannot signal the process");
                        }
                    }
                    Some(Control::Eof) if input_open => {
                        input_open = false;
                        let _ = input.shutdown().await;
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Some(Control::Exit {
                    status: KILLED,
                    reason: Some(session::REASON_MAX_DURATION.into()),
                    message: Some("the process ran longer than the platform's maximum for one-off processes and was killed".into()),
                });
            }
        }
    };
    ended?;
    let status = match engine.session_exit(process).await {
        Ok(code) => i32::try_from(code).unwrap_or(255),
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "cannot read the run's exit status");
            255
        }
    };
    Some(Control::Exit { status, reason: None, message: None })
}
