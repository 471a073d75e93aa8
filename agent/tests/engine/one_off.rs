//! Session processes on the real engine, without the API: exec mode (a
//! command in a running container of this node, with a TTY, as `paas pg
//! psql` will use for an add-on's server) and the refusal to exec into a
//! container of another node.

use std::time::Duration;

use agent::docker::session::{SessionOutput, SessionProcess};
use agent::docker::Engine;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

/// A running container labelled as `node`'s, removed on drop.
struct Target(String);

impl Target {
    fn start(node: &str) -> Target {
        let out = std::process::Command::new("docker")
            .args(["run", "-d", "--rm", "--label", &format!("paas.node={node}"), "--label", "paas.managed=test"])
            .args(["--user", "10000:10000", "paas/python-base:bookworm", "sleep", "300"])
            .output()
            .expect("docker run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Target(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[tokio::test]
async fn exec_sessions_have_a_terminal_input_and_an_exit_status() {
    let node = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let target = Target::start(&node);
    let engine = Engine::connect(&node, "127.0.0.1").await.expect("docker");
    let script = "import os, sys; print('tty', sys.stdin.isatty(), os.get_terminal_size().columns); \
                  print('got', input('answer? ')); sys.exit(7)";
    let command: Vec<String> = ["python3", "-c", script].iter().map(|s| s.to_string()).collect();
    let (process, io) = engine.start_exec(&target.0, &command, true).await.expect("exec starts");
    assert!(matches!(process, SessionProcess::Exec { .. }));
    let (mut output, mut input) = (io.output, io.input);
    engine.resize_session(&process, 132, 40).await.expect("the exec's terminal resizes");
    let mut seen = String::new();
    read_until("answer? ", &mut seen, &mut output).await;
    assert!(seen.contains("tty True"), "{seen:?}");
    input.write_all(b"forty-two\r").await.unwrap();
    input.flush().await.unwrap();
    read_until("got forty-two", &mut seen, &mut output).await;
    while output.next().await.is_some() {}
    assert_eq!(engine.session_exit(&process).await.expect("an exit status"), 7);

    // Containers of other nodes are not this agent's to exec into.
    let other = Target::start("some-other-node");
    let refused = engine.start_exec(&other.0, &command, true).await;
    assert!(refused.is_err(), "exec into another node's container");
}

/// Reads the output into `seen` until it holds `want` (at most 30 s).
async fn read_until(want: &str, seen: &mut String, output: &mut SessionOutput) {
    let read = async {
        while !seen.contains(want) {
            match output.next().await {
                Some(Ok(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                other => panic!("the exec's output ended before {want:?}: {other:?} after {seen:?}"),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), read).await.is_err() {
        panic!("no {want:?} in the exec's output");
    }
}
