//! One-off processes (`paas run`): the REST request and answer, the job an
//! agent claims, and the framing of the session's byte stream.
//!
//! A session is two WebSockets the API pairs: the CLI's
//! (`/v1/apps/{app}/runs/{id}/attach`) and the agent's
//! (`/v1/agent/runs/{id}/attach`). Frames pass through unchanged:
//!
//! - **binary** frames carry bytes; the first byte is the channel
//!   ([`STDIN`], [`STDOUT`], [`STDERR`]), the rest the payload. With a TTY
//!   everything the process writes arrives on [`STDOUT`].
//! - **text** frames carry one JSON [`Control`] message: `resize`,
//!   `signal`, `eof` (towards the process), `status` and `exit` (from it).
//!
//! The agent sends exactly one `exit` and then closes; a side that goes
//! away ends the session (the agent kills the process).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::Size;

/// Channel byte of what the user types (CLI -> process).
pub const STDIN: u8 = 0;
/// Channel byte of the process's standard output (and of everything, with a TTY).
pub const STDOUT: u8 = 1;
/// Channel byte of the process's standard error (without a TTY).
pub const STDERR: u8 = 2;

/// A binary frame: `channel` then `payload`.
pub fn frame(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(payload.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(payload);
    bytes
}

/// The channel and payload of a binary frame; `None` when it is empty.
pub fn unframe(bytes: &[u8]) -> Option<(u8, &[u8])> {
    bytes.split_first().map(|(channel, payload)| (*channel, payload))
}

/// A control message (a text frame of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// The terminal's new size (CLI -> process).
    Resize { cols: u16, rows: u16 },
    /// A signal for the process, like `INT` (CLI -> process, without a TTY;
    /// with one, Ctrl-C is the byte 0x03 the terminal turns into SIGINT).
    Signal { signal: String },
    /// Standard input ended (CLI -> process).
    Eof,
    /// What the platform is doing before the process starts (process -> CLI).
    Status { message: String },
    /// The process ended (process -> CLI): its exit status, and why the
    /// platform ended it when it did (`max_duration`, `disconnected`, `failed`).
    Exit {
        status: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// For people: what went wrong, when something did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

impl Control {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("control messages serialize")
    }

    pub fn from_json(text: &str) -> Option<Control> {
        serde_json::from_str(text).ok()
    }
}

/// The shell line a run's command becomes (run by `bash -c`): one word is
/// taken as a shell line as it is (`paas run 'echo $HOME && ls'`); several
/// are each quoted, so they arrive as typed (`paas run -- python -c "print(1)"`).
pub fn shell_line(command: &[String]) -> String {
    match command {
        [line] => line.clone(),
        words => words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" "),
    }
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `reason` of an [`Control::Exit`] when the run hit the platform's limit.
pub const REASON_MAX_DURATION: &str = "max_duration";
/// `reason` when the other side went away.
pub const REASON_DISCONNECTED: &str = "disconnected";
/// `reason` when the process could not start.
pub const REASON_FAILED: &str = "failed";

/// `POST /v1/apps/{app}/runs`: run a command in a new container of the
/// app's current release.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The command and its arguments, run by `bash -c`: a single word is a
    /// shell line (`$VARS`, `&&` work); several are passed as they are.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub command: Vec<String>,
    /// Container size (default `standard`).
    #[serde(default)]
    pub size: Option<Size>,
    /// Run in the background; the output goes to the app's logs (`process_type` `run`).
    #[serde(default)]
    pub detach: bool,
    /// Give the process a pseudo-terminal (the CLI asks for one when its own
    /// standard input and output are terminals).
    #[serde(default)]
    pub tty: bool,
    /// The terminal's size, with `tty`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2000))]
    pub cols: Option<u16>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2000))]
    pub rows: Option<u16>,
    /// `TERM` of the terminal, with `tty`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9+._-]{1,64}$"))]
    pub term: Option<String>,
}

/// A one-off process as the API tracks it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Run {
    pub id: Uuid,
    pub app: String,
    /// Release version it runs.
    pub release: i32,
    pub command: Vec<String>,
    pub size: Size,
    pub detach: bool,
    pub tty: bool,
    /// Node it runs on.
    pub node: Option<String>,
    /// `pending` (waiting for its node), `running`, `exited`.
    pub state: String,
    pub exit_status: Option<i32>,
    /// Seconds after which the platform kills it.
    pub max_secs: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a node is asked to run: a session's target and its terminal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunJob {
    pub run_id: Uuid,
    pub app: String,
    pub target: SessionTarget,
    pub tty: bool,
    /// No terminal is attached: nothing comes on stdin; the output goes to the app's logs.
    #[serde(default)]
    pub detach: bool,
    #[serde(default)]
    pub cols: Option<u16>,
    #[serde(default)]
    pub rows: Option<u16>,
    /// Seconds after which the agent kills the process.
    pub max_secs: u64,
}

/// Where a session's process runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionTarget {
    /// A new container of a release, confined at `size`, on the app's network.
    Container {
        image: String,
        /// The build that made `image`: a node without it rebuilds it from this build's source.
        build_id: Uuid,
        release: i32,
        /// Run by `bash -c`.
        command: String,
        /// The app's config plus the platform's variables, as its processes get them.
        env: BTreeMap<String, String>,
        size: Size,
        /// The app's volumes (the run is placed on their node).
        #[serde(default)]
        mounts: Vec<crate::agent::VolumeMount>,
    },
    /// A command exec'd in a running container of this node, as that
    /// container's user.
    Exec { container: String, command: Vec<String> },
    /// The interactive client of an add-on this node holds (`psql`,
    /// `redis-cli`): the agent takes the container, login and command from
    /// its own desired state, so no password travels with the job.
    AddonConsole { addon_id: Uuid },
}

/// `POST /v1/addons/{addon}/console`: an interactive client session with
/// the add-on (`paas pg psql`, `paas redis cli`), logged in as its apps are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsoleRequest {
    /// The attached app the session is recorded on (its runs and audit log);
    /// default: the first app the add-on is attached to.
    #[serde(default)]
    pub app: Option<String>,
    /// As in [`RunRequest`].
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2000))]
    pub cols: Option<u16>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2000))]
    pub rows: Option<u16>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9+._-]{1,64}$"))]
    pub term: Option<String>,
}

/// Answer of `POST /v1/agent/runs/claim`: sessions this node should start now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunJobs {
    pub jobs: Vec<RunJob>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_have_a_type_tag() {
        assert_eq!(Control::Resize { cols: 80, rows: 24 }.to_json(), r#"{"type":"resize","cols":80,"rows":24}"#);
        assert_eq!(Control::Eof.to_json(), r#"{"type":"eof"}"#);
        let exit = Control::from_json(r#"{"type":"exit","status":3}"#).unwrap();
        assert_eq!(exit, Control::Exit { status: 3, reason: None, message: None });
        assert_eq!(Control::from_json("not json"), None);
    }

    #[test]
    fn several_words_are_quoted_and_one_is_a_shell_line() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(shell_line(&words(&["echo $HOME && ls"])), "echo $HOME && ls");
        assert_eq!(shell_line(&words(&["python", "manage.py", "migrate"])), "python manage.py migrate");
        assert_eq!(shell_line(&words(&["python", "-c", "print('a b')"])), r#"python -c 'print('\''a b'\'')'"#);
        assert_eq!(shell_line(&words(&["echo", ""])), "echo ''");
    }

    #[test]
    fn frames_carry_their_channel() {
        assert_eq!(frame(STDERR, b"x"), vec![2, b'x']);
        assert_eq!(unframe(&[1, b'a', b'b']), Some((STDOUT, &b"ab"[..])));
        assert_eq!(unframe(&[]), None);
    }
}
