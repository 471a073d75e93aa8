//! What supervisord (PID 1 of every app container) says about its program:
//! read over its XML-RPC socket by a small Python script run with Docker
//! exec, parsed here, and turned into an instance state. Restarts are the
//! program's spawns this agent saw after the first one, so a process that
//! exits and comes back counts, even though the container never stopped.

use paas_types::ActualState;
use serde::Deserialize;

/// supervisord's socket inside the container (see the generated config in
/// `build::recipe`).
pub const SOCKET: &str = "/tmp/supervisor.sock";

/// Prints `supervisor.getAllProcessInfo()` as JSON. Uses the supervisor
/// package's own transport, as `supervisorctl` does.
pub const STATUS_SCRIPT: &str = "import json\n\
from xmlrpc.client import ServerProxy\n\
from supervisor.xmlrpc import SupervisorTransport\n\
t = SupervisorTransport(None, None, 'unix:///tmp/supervisor.sock')\n\
print(json.dumps(ServerProxy('http://127.0.0.1', transport=t).supervisor.getAllProcessInfo()))\n";

/// The status output was not what supervisord sends.
#[derive(Debug, thiserror::Error)]
#[error("unreadable supervisord status {output:?}")]
pub struct StatusError {
    /// The first characters of what the script printed.
    pub output: String,
    #[source]
    pub source: serde_json::Error,
}

/// One program as supervisord reports it (the fields we use of `getProcessInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProgramInfo {
    pub name: String,
    /// `STOPPED`, `STARTING`, `RUNNING`, `BACKOFF`, `STOPPING`, `EXITED`, `FATAL`, `UNKNOWN`.
    pub statename: String,
    /// Unix time of the last spawn (0 when never started).
    pub start: i64,
    /// The last exit status; supervisord resets it to 0 on each spawn.
    pub exitstatus: i32,
}

impl ProgramInfo {
    /// Whether the program is down after exiting on its own (a crash loop
    /// in `BACKOFF`, given up in `FATAL`, or `EXITED`).
    pub fn has_exited(&self) -> bool {
        matches!(self.statename.as_str(), "BACKOFF" | "FATAL" | "EXITED")
    }
}

/// Parses the status script's output: the programs, in supervisord's order.
pub fn parse_status(output: &str) -> Result<Vec<ProgramInfo>, StatusError> {
    serde_json::from_str(output.trim())
        .map_err(|source| StatusError { output: output.chars().take(200).collect(), source })
}

/// The exit status in the last `exited: <program> (exit status N; ...)`
/// line supervisord logged, if any.
pub fn exit_status_in_log(lines: &[String], program: &str) -> Option<i32> {
    let marker = format!("exited: {program} (exit status ");
    lines.iter().rev().find_map(|line| {
        let rest = &line[line.find(&marker)? + marker.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    })
}

/// What the agent remembers of one instance's program between passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramTrack {
    /// `start` of the last spawn seen.
    pub last_start: i64,
    pub restarts: i32,
    pub exit_status: Option<i32>,
    /// Exited since it last ran: a `STARTING` in between is a crash loop.
    pub failing: bool,
}

impl ProgramTrack {
    /// Takes in one status reading and returns the instance's state
    /// (`running` for a web process means "up"; its HTTP check comes after).
    pub fn observe(&mut self, info: &ProgramInfo) -> ActualState {
        if self.last_start != 0 && info.start != 0 && info.start != self.last_start {
            // Spawned again: it exited in between.
            self.restarts += 1;
            self.failing = true;
        }
        if info.start != 0 {
            self.last_start = info.start;
        }
        if info.has_exited() {
            self.failing = true;
            self.exit_status = Some(info.exitstatus);
        }
        match info.statename.as_str() {
            "RUNNING" => {
                self.failing = false;
                ActualState::Running
            }
            "BACKOFF" | "FATAL" | "EXITED" => ActualState::Crashed,
            "STARTING" if self.failing => ActualState::Crashed,
            "STARTING" => ActualState::Starting,
            "STOPPING" => ActualState::Stopping,
            "STOPPED" => ActualState::Stopped,
            _ => ActualState::Crashed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(statename: &str, start: i64, exitstatus: i32) -> ProgramInfo {
        ProgramInfo { name: "worker".into(), statename: statename.into(), start, exitstatus }
    }

    #[test]
    fn parses_what_supervisord_sends() {
        // Output of STATUS_SCRIPT in the base image, supervisord 4.2.5.
        let output = r#"[{"name": "worker", "group": "worker", "start": 1796164479, "stop": 1796164477, "now": 1796164480, "state": 10, "statename": "STARTING", "spawnerr": "", "exitstatus": 0, "logfile": "/dev/stdout", "stdout_logfile": "/dev/stdout", "stderr_logfile": "", "pid": 15, "description": ""}]"#;
        assert_eq!(parse_status(&format!("{output}\n")).unwrap(), vec![info("STARTING", 1796164479, 0)]);
        assert_eq!(parse_status("[]").unwrap(), vec![]);
        for bad in ["", "Traceback (most recent call last):", "{\"name\": 1}"] {
            let error = parse_status(bad).unwrap_err();
            assert!(error.to_string().starts_with("unreadable supervisord status"), "{bad}: {error}");
        }
    }

    #[test]
    fn readings_become_states_restarts_and_exit_statuses() {
        // (readings in order, expected state after each, restarts, exit status at the end)
        type Case = (&'static str, Vec<ProgramInfo>, Vec<ActualState>, i32, Option<i32>);
        use ActualState::*;
        let cases: Vec<Case> = vec![
            ("steady", vec![info("STARTING", 10, 0), info("RUNNING", 10, 0)], vec![Starting, Running], 0, None),
            (
                "crash loop seen in backoff and starting",
                vec![info("STARTING", 10, 0), info("BACKOFF", 10, 1), info("STARTING", 12, 0), info("BACKOFF", 12, 1)],
                vec![Starting, Crashed, Crashed, Crashed],
                1,
                Some(1),
            ),
            (
                "crash loop only ever seen starting",
                vec![info("STARTING", 10, 0), info("STARTING", 12, 0), info("STARTING", 15, 0)],
                vec![Starting, Crashed, Crashed],
                2,
                None,
            ),
            ("given up", vec![info("FATAL", 10, 2)], vec![Crashed], 0, Some(2)),
            (
                "exits after running, then recovers",
                vec![info("RUNNING", 10, 0), info("EXITED", 10, 137), info("RUNNING", 30, 0)],
                vec![Running, Crashed, Running],
                1,
                Some(137),
            ),
            ("never started", vec![info("STOPPED", 0, 0)], vec![Stopped], 0, None),
        ];
        for (name, readings, states, restarts, exit_status) in cases {
            let mut track = ProgramTrack::default();
            let seen: Vec<ActualState> = readings.iter().map(|r| track.observe(r)).collect();
            assert_eq!(seen, states, "{name}");
            assert_eq!((track.restarts, track.exit_status), (restarts, exit_status), "{name}");
        }
    }

    #[test]
    fn exit_status_from_supervisord_log_lines() {
        let lines: Vec<String> = [
            "boom",
            "2026-12-01 22:34:37,995 WARN exited: worker (exit status 3; not expected)",
            "2026-12-01 22:34:40,006 INFO spawned: 'worker' with pid 15",
            "2026-12-01 22:34:40,051 WARN exited: worker (exit status 1; not expected)",
            "2026-12-01 22:34:41,051 WARN exited: web (exit status 9; not expected)",
        ]
        .map(String::from)
        .into();
        assert_eq!(exit_status_in_log(&lines, "worker"), Some(1));
        assert_eq!(exit_status_in_log(&lines, "web"), Some(9));
        assert_eq!(exit_status_in_log(&lines, "clock"), None);
        assert_eq!(exit_status_in_log(&[], "worker"), None);
    }
}
