//! The shape of build output: `-----> ` steps with their elapsed seconds,
//! the output of commands cleaned and indented beneath them, and, when a
//! step fails, what failed, its command and its last output lines.

use std::collections::VecDeque;
use std::time::Instant;

use tokio::sync::mpsc;

use super::clean::{clean, Cleaned};
use super::error::BuildError;

/// Output lines kept for a failure report.
const TAIL: usize = 15;
/// Indentation of command output under a step.
pub(super) const INDENT: &str = "       ";

/// One `-----> ` step; [`Step::done`] prints its elapsed time.
pub(super) struct Step {
    tx: mpsc::UnboundedSender<String>,
    started: Instant,
}

impl Step {
    pub(super) fn begin(tx: &mpsc::UnboundedSender<String>, title: impl std::fmt::Display) -> Step {
        let _ = tx.send(format!("-----> {title}"));
        Step { tx: tx.clone(), started: Instant::now() }
    }

    pub(super) fn done(self) {
        let _ = self.tx.send(format!("{INDENT}done in {}", seconds(self.started)));
    }
}

/// `1.2 s`.
pub(super) fn seconds(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

/// Receives raw output of one step: shows what a person wants, remembers
/// the running command and the last lines.
pub(super) struct Output {
    tx: mpsc::UnboundedSender<String>,
    command: Option<String>,
    tail: VecDeque<String>,
}

impl Output {
    pub(super) fn new(tx: &mpsc::UnboundedSender<String>) -> Output {
        Output { tx: tx.clone(), command: None, tail: VecDeque::new() }
    }

    /// One raw line (may hold several lines).
    pub(super) fn push(&mut self, raw: &str) {
        for line in raw.split('\n') {
            match clean(line) {
                Cleaned::Show(text) => {
                    if self.tail.len() == TAIL {
                        self.tail.pop_front();
                    }
                    self.tail.push_back(text.clone());
                    let _ = self.tx.send(format!("{INDENT}{text}"));
                }
                Cleaned::Command(command) => {
                    self.tail.clear();
                    self.command = Some(command);
                }
                Cleaned::Drop => {}
            }
        }
    }

    /// The failure of this step: `what` failed, with its command and tail.
    pub(super) fn failed(self, what: &str, code: Option<i64>, detail: Option<String>) -> BuildError {
        BuildError::Step {
            what: what.to_string(),
            code,
            detail,
            command: self.command,
            tail: self.tail.into_iter().collect(),
        }
    }
}

/// The closing lines of a failed build.
pub(super) fn failure_report(error: &BuildError, message: &str) -> Vec<String> {
    let mut lines = vec![format!(" !     Build failed: {message}")];
    if let BuildError::Step { command, tail, .. } = error {
        if let Some(command) = command {
            lines.push(format!(" !     Command: {command}"));
        }
        if !tail.is_empty() {
            lines.push(" !     Last output:".into());
            lines.extend(tail.iter().map(|l| format!(" !       {l}")));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_indented_and_a_failure_names_command_and_tail() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut out = Output::new(&tx);
        out.push("Step 3/9 : COPY a b\n ---> 1a2b3c\npaas-run: uv pip install -r r.txt\n\u{1b}[31merror\u{1b}[0m: no solution");
        for n in 0..20 {
            out.push(&format!("line {n}"));
        }
        let error = out.failed("installing dependencies", Some(1), None);
        drop(tx);
        let mut shown = Vec::new();
        while let Ok(line) = rx.try_recv() {
            shown.push(line);
        }
        assert_eq!(shown[0], "       error: no solution");
        assert_eq!(shown.len(), 21);
        let report = failure_report(&error, &error.to_string());
        assert_eq!(report[0], " !     Build failed: installing dependencies failed (exit code 1)");
        assert_eq!(report[1], " !     Command: uv pip install -r r.txt");
        assert_eq!(report[2], " !     Last output:");
        assert_eq!(report.len(), 3 + TAIL);
        assert_eq!(report.last().unwrap(), " !       line 19");
    }
}
