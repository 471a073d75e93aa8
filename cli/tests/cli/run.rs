//! `paas run` on the real engine: an interactive session through a real
//! pseudo-terminal (prompts, hidden password, resize, Ctrl-C, exit status),
//! piped streams, a detached run's output in the logs, another tenant's app
//! refused like a missing one, and the maximum duration.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use expectrl::WaitStatus;
use paas_types::client::rest::LogsQuery;
use paas_types::Event;
use test_support::agent::{admin, fixture, wait_build, wait_for, TestAgent};
use test_support::{set_vars, TestApi};

use crate::{piped, text, Paas};

const APP: &str = "oneoff";

/// An API (with `max_secs` for runs), an agent, and the `one-off` fixture deployed as `oneoff`.
async fn deployed(max_secs: u64) -> (TestApi, TestAgent, String, Paas) {
    let api = TestApi::start_with(move |c| c.run_max_secs = max_secs).await;
    let token = admin(&api, "runner@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, APP).await;
    api.rest(&token).update_config(APP, &set_vars(&[("GREETING", "hi-from-config")])).await.expect("config set");
    let (status, build) = api.upload_build(&token, APP, fixture("one-off")).await;
    assert_eq!(status, 202, "{build}");
    let detail = wait_build(&api, &token, APP, build["id"].as_str().unwrap()).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let paas = Paas::new(&api.url);
    paas.login("runner@example.org", "correct horse battery").await;
    (api, agent, token, paas)
}

/// Ids of the node's run containers (none once every run has ended).
fn run_containers(node: &str) -> String {
    let node = format!("label=paas.node={node}");
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &node, "--filter", "label=paas.managed=run"])
        .output()
        .unwrap();
    text(&out.stdout).trim().to_string()
}

async fn run_events(api: &TestApi, token: &str) -> Vec<Event> {
    let (_, events) = api.get(&format!("/v1/apps/{APP}/events"), token).await;
    let events: Vec<Event> = serde_json::from_value(events).unwrap();
    events.into_iter().filter(|e| e.action.starts_with("run.")).collect()
}

#[tokio::test]
async fn run_interactive_piped_detached_and_refused_for_other_tenants() {
    let (api, agent, token, paas) = deployed(3600).await;

    // Interactive, through a pseudo-terminal, as a person would type.
    let mut command = paas.command(Path::new("/"));
    command.args(["-a", APP, "run", "--", "python3", "ask.py"]).env("TERM", "xterm-256color");
    let transcript = tokio::task::spawn_blocking(move || {
        let mut session = expectrl::Session::spawn(command).expect("spawn paas in a pty");
        session.set_expect_timeout(Some(Duration::from_secs(120)));
        let started = Instant::now();
        let first = session.expect("tty=True term=xterm-256color app=oneoff greeting=hi-from-config size=80x24");
        first.unwrap_or_else(|e| panic!("the process did not start in a terminal: {e}"));
        println!("paas run start to first output: {:?}", started.elapsed());
        session.expect("Name: ").expect("the name prompt");
        // The local terminal changes size: the process's terminal follows.
        session.get_process_mut().set_window_size(100, 30).unwrap();
        std::thread::sleep(Duration::from_millis(800));
        session.send("bob\r").unwrap();
        let resized = session.expect("resized=100x30").expect("the resize reached the process");
        let typed = String::from_utf8_lossy(resized.before()).into_owned();
        session.expect("Password: ").expect("the password prompt");
        session.send("s3cret-pw\r").unwrap();
        let hello = session.expect("hello bob, your password has 9 characters").expect("the answers arrived");
        let echoed = String::from_utf8_lossy(hello.before()).into_owned();
        assert!(!echoed.contains("s3cret-pw"), "the password was echoed: {echoed:?}");
        session.expect("Press Ctrl-C: ").expect("the last prompt");
        session.send("\x03").unwrap();
        session.expect("interrupted").expect("Ctrl-C reached the process as SIGINT");
        let status = session.get_process().wait().unwrap();
        assert!(matches!(status, WaitStatus::Exited(_, 3)), "the CLI exits with the command's status: {status:?}");
        typed
    })
    .await
    .unwrap();
    assert!(transcript.contains("bob"), "the name was echoed by the remote terminal: {transcript:?}");

    // Piped: no terminal; stdin, stdout and stderr pass as plain streams.
    let script = "import sys; data = sys.stdin.read(); print(data.upper(), end=''); \
                  print('tty', sys.stdin.isatty()); print('to-stderr', file=sys.stderr); sys.exit(5)";
    let (status, stdout, stderr) =
        piped(&paas, &["-a", APP, "run", "--", "python3", "-c", script], "piped input\nsecond line\n").await;
    assert_eq!(status, Some(5), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout, "PIPED INPUT\nSECOND LINE\ntty False\n", "stderr: {stderr}");
    assert!(stderr.contains("to-stderr") && !stdout.contains("to-stderr"), "{stderr}");
    let (status, stdout, _) = piped(&paas, &["-a", APP, "run", "echo $GREETING && echo $PAAS_PROCESS_TYPE"], "").await;
    assert_eq!((status, stdout.as_str()), (Some(0), "hi-from-config\nrun\n"), "one word is a shell line");

    // Detached: the output lands in the app's logs.
    let out = paas.run(Path::new("/"), &["-a", APP, "run", "--detach", "--", "echo", "detached-ok-42"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("paas logs -a oneoff -p run"), "{}", text(&out.stdout));
    let rest = api.rest(&token);
    let query = LogsQuery { process: Some("run".into()), lines: Some(100) };
    wait_for("the detached run's output in the logs", Duration::from_secs(60), || async {
        let lines = rest.logs(APP, &query).await.ok()?;
        lines.iter().any(|l| l.line == "detached-ok-42").then_some(())
    })
    .await;
    let out = paas.run(Path::new("/"), &["-a", APP, "logs", "-p", "run"]).await;
    assert!(text(&out.stdout).contains("detached-ok-42"), "{}", text(&out.stdout));

    // Audited: who ran what, and how it ended.
    let events = wait_for("four finished runs in the audit log", Duration::from_secs(30), || async {
        let events = run_events(&api, &token).await;
        (events.iter().filter(|e| e.action == "run.finish").count() == 4).then_some(events)
    })
    .await;
    let statuses: Vec<&serde_json::Value> =
        events.iter().filter(|e| e.action == "run.finish").map(|e| &e.data["exit_status"]).collect();
    assert_eq!(statuses, [0, 0, 5, 3], "newest first: {events:?}");
    let created = events.iter().find(|e| e.action == "run.create").unwrap();
    assert_eq!(created.actor.as_deref(), Some("runner@example.org"));
    assert_eq!(created.data["command"], "echo detached-ok-42");

    // Every run container is gone.
    assert_eq!(run_containers(&agent.node), "", "run containers left behind");

    // Another tenant: exactly like a missing app.
    api.signup("mallory@example.org").await;
    let mallory = Paas::new(&api.url);
    mallory.login("mallory@example.org", "correct horse battery").await;
    let theirs = mallory.run(Path::new("/"), &["-a", APP, "run", "--", "id"]).await;
    let missing = mallory.run(Path::new("/"), &["-a", "zz-missing", "run", "--", "id"]).await;
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(text(&theirs.stderr).replace(APP, "NAME"), text(&missing.stderr).replace("zz-missing", "NAME"));
    assert!(text(&theirs.stderr).contains("not found (not_found)"), "{}", text(&theirs.stderr));
    let run_id = events[0].data["run"].as_str().unwrap().to_string();
    let mallory_token = api.signup("mallory2@example.org").await;
    let (status, theirs) = api.get(&format!("/v1/apps/{APP}/runs/{run_id}/attach"), &mallory_token).await;
    let (_, missing) = api.get(&format!("/v1/apps/zz-missing/runs/{run_id}/attach"), &mallory_token).await;
    assert_eq!(status, 404, "{theirs}");
    assert_eq!(
        theirs["error"]["message"].as_str().unwrap().replace(APP, "NAME"),
        missing["error"]["message"].as_str().unwrap().replace("zz-missing", "NAME")
    );
}

#[tokio::test]
async fn run_is_killed_at_its_maximum_duration() {
    let (api, agent, token, paas) = deployed(3).await;
    let started = Instant::now();
    let (status, stdout, stderr) = piped(&paas, &["-a", APP, "run", "--", "sleep", "600"], "").await;
    let took = started.elapsed();
    assert_eq!(status, Some(137), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("maximum"), "{stderr}");
    assert!(took < Duration::from_secs(60), "killed after {took:?}");
    let events = wait_for("the run's end in the audit log", Duration::from_secs(30), || async {
        let events = run_events(&api, &token).await;
        events.iter().any(|e| e.action == "run.finish").then_some(events)
    })
    .await;
    let finish = events.iter().find(|e| e.action == "run.finish").unwrap();
    assert_eq!(finish.data["reason"], "max_duration", "{finish:?}");
    assert_eq!(finish.data["exit_status"], 137);
    assert_eq!(run_containers(&agent.node), "", "the killed run's container is removed");
}

/// For `bench/run/run.sh`: `paas run -- echo` start to its first output
/// byte, `PAAS_BENCH_ROUNDS` times (default 7), on a node holding the image.
#[tokio::test]
#[ignore = "a benchmark: bench/run/run.sh"]
async fn bench_run_start_to_first_byte() {
    let rounds: usize = std::env::var("PAAS_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let (_api, _agent, _token, paas) = deployed(3600).await;
    let mut times = Vec::new();
    for _ in 0..rounds {
        let mut command = paas.command(Path::new("/"));
        command.args(["-a", APP, "run", "--", "echo", "first-byte"]).stdin(Stdio::null()).stdout(Stdio::piped());
        let took = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let started = Instant::now();
            let mut child = command.spawn().expect("spawn paas");
            let mut byte = [0u8; 1];
            child.stdout.as_mut().unwrap().read_exact(&mut byte).expect("a first byte");
            let took = started.elapsed();
            assert!(child.wait().unwrap().success());
            took
        })
        .await
        .unwrap();
        println!("paas run start to first output byte: {took:?}");
        times.push(took);
    }
    times.sort();
    println!("median of {rounds}: {:?} (min {:?}, max {:?})", times[rounds / 2], times[0], times[rounds - 1]);
}
