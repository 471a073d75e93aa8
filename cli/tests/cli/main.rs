//! The `paas` binary as a subprocess against the real API and a real agent
//! on the Docker engine; `git push` from a temporary repository.

mod accounts;
mod commands;
mod consoles;
mod push;
mod routes;
mod run;
mod volumes;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `paas` with its own config dir and the test API's URL.
pub struct Paas {
    pub config_dir: tempfile::TempDir,
    pub api_url: String,
}

impl Paas {
    pub fn new(api_url: &str) -> Paas {
        Paas { config_dir: tempfile::tempdir().unwrap(), api_url: api_url.to_string() }
    }

    pub fn command(&self, cwd: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_paas"));
        command
            .current_dir(cwd)
            .env("PAAS_CONFIG_DIR", self.config_dir.path())
            .env("PAAS_API_URL", &self.api_url)
            .env_remove("PAAS_TOKEN")
            .env_remove("PAAS_APP")
            .env("RUST_BACKTRACE", "1");
        command
    }

    /// Runs `paas <args>` in `cwd` (async-friendly: on a blocking thread).
    pub async fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut command = self.command(cwd);
        command.args(args);
        tokio::task::spawn_blocking(move || command.output().expect("run paas")).await.unwrap()
    }

    /// Logs in with the password on stdin.
    pub async fn login(&self, email: &str, password: &str) {
        let output = self.run_with_stdin(&["login", "--email", email, "--password-stdin"], password).await;
        assert!(output.status.success(), "login failed: {}", text(&output.stderr));
    }

    /// Runs `paas <args>` in `/` with `input` and a newline on stdin.
    pub async fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut command = self.command(Path::new("/"));
        command.args(args);
        let password = format!("{input}\n");
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `git <args>` in `dir`, with a fixed identity; panics on failure unless `allow_fail`.
pub async fn git(dir: &Path, args: &[&str], paas: &Paas, allow_fail: bool) -> Output {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("PAAS_CONFIG_DIR", paas.config_dir.path())
        .env("HOME", paas.config_dir.path());
    let output = tokio::task::spawn_blocking(move || command.output().expect("run git")).await.unwrap();
    if !allow_fail {
        assert!(output.status.success(), "git {args:?} failed: {}{}", text(&output.stdout), text(&output.stderr));
    }
    output
}

/// A git repository holding a copy of a fixture app.
pub async fn repo_with(fixture: &str, paas: &Paas) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    test_support::agent::copy_tree(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps").join(fixture),
        dir.path(),
    );
    git(dir.path(), &["init", "-q", "-b", "main"], paas, false).await;
    git(dir.path(), &["add", "."], paas, false).await;
    git(dir.path(), &["commit", "-q", "-m", "first"], paas, false).await;
    dir
}

/// `paas <args>` with `input` on a pipe; returns (status, stdout, stderr).
pub async fn piped(paas: &Paas, args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let mut command = paas.command(Path::new("/"));
    command.args(args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    command.stderr(std::process::Stdio::piped());
    let input = input.to_string();
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.spawn().expect("spawn paas");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}
