//! The byte stream of a `paas run` session: frames pass unchanged between
//! the user's and the agent's WebSocket (see `paas_types::session` for the
//! framing); the agent's `exit` ends the run. Detached runs have only the
//! agent's socket: their output becomes app log lines (process type `run`).
//! Every session ends by the run's maximum duration (plus a grace for the
//! agent to report its kill) at the latest.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use paas_types::session::{self, Control};
use sqlx::PgPool;

use crate::db::runs::RunRow;
use crate::ops;

/// Time the agent has, after the maximum duration, to report its kill.
const GRACE: Duration = Duration::from_secs(30);
/// Longest output line kept from a detached run, in bytes (longer lines are split).
const MAX_LINE: usize = 8192;
/// Most log lines written per insert.
const FLUSH_LINES: usize = 200;

/// How a session ended.
enum Ending {
    Exited { status: i32, reason: Option<String> },
    AgentGone,
    UserGone,
    Overdue,
}

fn max_duration(run: &RunRow) -> Duration {
    Duration::from_secs(run.max_secs.max(1) as u64) + GRACE
}

/// Relays between the user's and the agent's socket until the run ends or
/// either side goes away; records the end.
pub async fn relay(db: PgPool, run: RunRow, user: WebSocket, agent: WebSocket) {
    let (mut user_tx, mut user_rx) = user.split();
    let (mut agent_tx, mut agent_rx) = agent.split();
    let deadline = tokio::time::sleep(max_duration(&run));
    tokio::pin!(deadline);
    let ending = loop {
        tokio::select! {
            message = agent_rx.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if user_tx.send(Message::Binary(bytes)).await.is_err() {
                        break Ending::UserGone;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    let control = Control::from_json(text.as_str());
                    let sent = user_tx.send(Message::Text(text)).await;
                    if let Some(Control::Exit { status, reason, .. }) = control {
                        break Ending::Exited { status, reason };
                    }
                    if sent.is_err() {
                        break Ending::UserGone;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Ending::AgentGone,
                Some(Ok(_)) => {}
            },
            message = user_rx.next() => match message {
                Some(Ok(message @ (Message::Binary(_) | Message::Text(_)))) => {
                    if agent_tx.send(message).await.is_err() {
                        break Ending::AgentGone;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Ending::UserGone,
                Some(Ok(_)) => {}
            },
            _ = &mut deadline => break Ending::Overdue,
        }
    };
    let (status, reason, tell_user) = match ending {
        Ending::Exited { status, reason } => (Some(status), reason, None),
        Ending::AgentGone => (
            None,
            Some(session::REASON_DISCONNECTED.to_string()),
            Some("lost the connection to the node running the process".to_string()),
        ),
        Ending::UserGone => (None, Some(session::REASON_DISCONNECTED.to_string()), None),
        Ending::Overdue => (
            Some(137),
            Some(session::REASON_MAX_DURATION.to_string()),
            Some(format!("the process ran longer than the maximum of {} s and was stopped", run.max_secs)),
        ),
    };
    if let Some(message) = tell_user {
        let exit = Control::Exit { status: status.unwrap_or(255), reason: reason.clone(), message: Some(message) };
        let _ = user_tx.send(Message::Text(exit.to_json().into())).await;
    }
    let _ = user_tx.send(Message::Close(None)).await;
    let _ = agent_tx.send(Message::Close(None)).await;
    record_end(&db, &run, status, reason.as_deref()).await;
}

/// A parked socket whose peer never came: it is told, and the run ends.
pub fn peer_never_came(db: PgPool, run: RunRow, mut socket: WebSocket, who: &'static str) {
    tokio::spawn(async move {
        let exit = Control::Exit {
            status: 255,
            reason: Some(session::REASON_FAILED.into()),
            message: Some(format!("the {who} did not connect in time; try again")),
        };
        let _ = socket.send(Message::Text(exit.to_json().into())).await;
        let _ = socket.send(Message::Close(None)).await;
        record_end(&db, &run, None, Some(session::REASON_FAILED)).await;
    });
}

/// Reads a detached run's output into the app's logs until it exits.
pub async fn capture(db: PgPool, run: RunRow, agent: WebSocket) {
    let (mut agent_tx, mut agent_rx) = agent.split();
    let deadline = tokio::time::sleep(max_duration(&run));
    tokio::pin!(deadline);
    let mut lines = Lines::default();
    let (status, reason) = loop {
        tokio::select! {
            message = agent_rx.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Some((session::STDOUT | session::STDERR, payload)) = session::unframe(&bytes) {
                        lines.push(payload);
                        if lines.complete.len() >= FLUSH_LINES {
                            store(&db, &run, lines.take()).await;
                        }
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    if let Some(Control::Exit { status, reason, .. }) = Control::from_json(text.as_str()) {
                        break (Some(status), reason);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    break (None, Some(session::REASON_DISCONNECTED.to_string()));
                }
                Some(Ok(_)) => {}
            },
            // Lines appear in `paas logs` while the run goes on.
            _ = tokio::time::sleep(Duration::from_millis(500)), if !lines.complete.is_empty() => {
                store(&db, &run, lines.take()).await;
            }
            _ = &mut deadline => break (Some(137), Some(session::REASON_MAX_DURATION.to_string())),
        }
    };
    let mut rest = lines.take();
    rest.extend(lines.finish());
    store(&db, &run, rest).await;
    let _ = agent_tx.send(Message::Close(None)).await;
    record_end(&db, &run, status, reason.as_deref()).await;
}

async fn store(db: &PgPool, run: &RunRow, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    if let Err(error) = ops::runs::store_output(db, run, lines).await {
        tracing::warn!(run.id = %run.id, error = %error, "cannot store a detached run's output");
    }
}

async fn record_end(db: &PgPool, run: &RunRow, status: Option<i32>, reason: Option<&str>) {
    if let Err(error) = ops::runs::finish(db, run, status, reason).await {
        tracing::warn!(run.id = %run.id, error = %error, "cannot record the end of a run");
    }
}

/// Output bytes cut into lines (`\r\n` and `\n`), long lines split.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    complete: Vec<String>,
}

impl Lines {
    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.end_line();
            } else {
                self.partial.push(byte);
                if self.partial.len() >= MAX_LINE {
                    self.end_line();
                }
            }
        }
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.partial).trim_end_matches('\r').to_string();
        self.complete.push(line);
        self.partial.clear();
    }

    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.complete)
    }

    fn finish(&mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            self.end_line();
        }
        self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_into_lines() {
        let mut lines = Lines::default();
        lines.push(b"one\r\ntw");
        lines.push(b"o\nthree");
        assert_eq!(lines.take(), vec!["one", "two"]);
        assert_eq!(lines.finish(), vec!["three"]);
        lines.push(&vec![b'x'; MAX_LINE + 1]);
        assert_eq!(lines.finish().iter().map(String::len).collect::<Vec<_>>(), vec![MAX_LINE, 1]);
    }
}
