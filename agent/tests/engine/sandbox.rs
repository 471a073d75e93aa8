//! The sandbox of app containers on the real engine, as the processes in
//! them see it: the `sandbox-probe` fixture reports its user, capabilities,
//! no-new-privileges, seccomp, filesystem (read-only root, writable app
//! directory, `$HOME` and `/tmp`), cgroup limits, rlimits, the Docker
//! socket and host mounts from inside each of the four kinds of container
//! (web, worker, release phase, one-off run), and the whole profile is
//! asserted for each. Its one dependency is a vendored wheel, so the build
//! needs no package index and still makes (and checks) a virtualenv.

use std::time::Duration;

use paas_types::client::rest::LogsQuery;
use paas_types::session::RunRequest;
use paas_types::{FormationChange, Size};
use serde_json::{json, Value};
use test_support::agent::*;
use test_support::TestApi;

const APP: &str = "probe";
const MARK: &str = "PAAS-PROBE ";

/// The report in the first line of `lines` that carries one.
fn report_in<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<Value> {
    lines.into_iter().find_map(|l| l.split_once(MARK)).map(|(_, json)| serde_json::from_str(json).expect("JSON"))
}

/// The report a process type (`worker`, `run`) logged.
async fn logged_report(api: &TestApi, token: &str, process: &str) -> Value {
    let query = LogsQuery { process: Some(process.into()), lines: Some(20) };
    wait_for(&format!("the {process} report in the logs"), Duration::from_secs(90), || async {
        let lines = api.rest(token).logs(APP, &query).await.ok()?;
        report_in(lines.iter().map(|l| l.line.as_str()))
    })
    .await
}

/// Asserts the whole sandbox profile of one report, for a container of `size`.
fn assert_profile(report: &Value, kind: &str, size: Size) {
    println!("{kind} ({size:?}): {report}");
    assert_eq!(report["kind"], kind);
    let expect = |key: &str, value: Value| assert_eq!(report[key], value, "{kind}: {key} in {report}");
    // The app user, no capabilities at all, no way to gain privileges, the default seccomp filter.
    expect("uid", json!(10000));
    expect("euid", json!(10000));
    expect("gid", json!(10000));
    expect("groups", json!([10000]));
    expect("cap_eff", json!("0000000000000000"));
    expect("cap_prm", json!("0000000000000000"));
    expect("cap_bnd", json!("0000000000000000"));
    expect("no_new_privs", json!(1));
    expect("seccomp", json!(2));
    // A read-only root; the app directory, $HOME and /tmp writable.
    expect("root_writable", json!("Read-only file system"));
    expect("usr_writable", json!("Read-only file system"));
    expect("etc_writable", json!("Read-only file system"));
    expect("root_mount_options", json!(["ro"]));
    expect("app_dir", json!("/app"));
    expect("app_dir_writable", json!(true));
    expect("home", json!("/app"));
    expect("home_writable", json!(true));
    expect("tmp_fstype", json!("tmpfs"));
    expect("tmp_options", json!(["nodev", "noexec", "nosuid", "rw"]));
    expect("tmp_size", json!(64 << 20));
    expect("tmp_writable", json!(true));
    // The size's memory without swap, its CPU, the pids limit.
    let memory = i64::from(size.memory_mb()) << 20;
    let cgroup = &report["cgroup"];
    assert_eq!(cgroup["memory_max"], json!(memory), "{kind}: memory in {cgroup}");
    assert_eq!(cgroup["swap_max"], json!(0), "{kind}: no swap in {cgroup}");
    assert_eq!(cgroup["cpu_millis"], json!(size.cpu_millis()), "{kind}: CPU in {cgroup}");
    assert_eq!(cgroup["pids_max"], json!(256), "{kind}: pids in {cgroup}");
    expect("rlimit_nofile", json!([4096, 4096]));
    // RLIMIT_NPROC is the engine's own (per user across the node: see policy.rs); pids bound the container.
    // No Docker socket; the app directory is the container's own volume; no host directories.
    expect("docker_socket", json!(false));
    expect("volumes", json!(["/app"]));
    let host_mounts = report["host_mounts"].as_array().expect("a list");
    if kind == "one-off" {
        // `paas run` has an init process for signals: the engine's own
        // docker-init binary (`/sbin` or `/usr/sbin`), bind-mounted read-only.
        let [init] = &host_mounts[..] else { panic!("{kind}: host mounts {host_mounts:?}") };
        assert!(init["target"].as_str().is_some_and(|t| t.ends_with("bin/docker-init")), "{kind}: {init}");
        assert_eq!(init["ro"], json!(true), "{kind}: {init}");
    } else {
        assert!(host_mounts.is_empty(), "{kind}: host mounts {host_mounts:?}");
    }
    expect("runtime", json!("runc"));
    // The virtualenv is outside the app directory, read-only, compiled at install time.
    let venv = &report["venv"];
    assert_eq!(venv["link"], json!("/opt/paas/venv"), "{kind}: {venv}");
    assert_eq!(venv["site_packages_writable"], json!("Read-only file system"), "{kind}: {venv}");
    assert_eq!(venv["dependency_compiled"], json!(true), "{kind}: {venv}");
    // The web process is the base image's gunicorn (system Python); the others run the venv's.
    let (prefix, dependency) = if kind == "web" { ("/usr", Value::Null) } else { ("/app/.venv", json!("1.0")) };
    assert_eq!((&venv["python_prefix"], &venv["dependency"]), (&json!(prefix), &dependency), "{kind}: {venv}");
}

#[tokio::test]
async fn every_kind_of_app_container_runs_in_the_whole_sandbox() {
    let api = TestApi::start().await;
    let token = admin(&api, "sandbox@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, APP).await;

    // Release phase: its report is in the build log.
    let (status, build) = api.upload_build(&token, APP, fixture("sandbox-probe")).await;
    assert_eq!(status, 202, "{build}");
    let detail = wait_build(&api, &token, APP, &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let release = report_in(detail.log.lines()).unwrap_or_else(|| panic!("no release report: {}", detail.log));

    // Web (standard), through its port published on 127.0.0.1; a small worker.
    let worker = FormationChange::Spec { quantity: Some(1), size: Some(Size::Small) };
    let formation = [("worker".to_string(), worker)].into();
    api.rest(&token).update_formation(APP, &formation).await.expect("worker scaled");
    let web = wait_for("a running web instance", Duration::from_secs(90), || async {
        running(&api, &token, APP, "web").await.pop()
    })
    .await;
    let address = web.address.expect("an address");
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let (status, body) = http_get(&address, "probe.paas.test", "/").await.expect("the web process answers");
    assert_eq!(status, 200, "{body}");
    let web: Value = serde_json::from_str(&body).expect("a JSON report");
    let worker = logged_report(&api, &token, "worker").await;

    // A one-off run (large), as `paas run --detach --size large` asks for it.
    let request: RunRequest =
        serde_json::from_value(json!({ "command": ["python3 probe.py one-off"], "size": "large", "detach": true }))
            .unwrap();
    api.rest(&token).create_run(APP, &request).await.expect("a detached run");
    let one_off = logged_report(&api, &token, "run").await;

    assert_profile(&web, "web", Size::Standard);
    assert_profile(&worker, "worker", Size::Small);
    assert_profile(&release, "release", Size::Standard);
    assert_profile(&one_off, "one-off", Size::Large);

    // Removing a container removes its app directory: nothing piles up.
    api.rest(&token).update_formation(APP, &test_support::scale(&[("web", 0), ("worker", 0)])).await.unwrap();
    wait_for("no app containers", Duration::from_secs(60), || async {
        (containers(&agent.node, "web").is_empty() && containers(&agent.node, "worker").is_empty()).then_some(())
    })
    .await;
    let app_dirs = wait_for("the app directories removed", Duration::from_secs(60), || async {
        let left = app_dir_volumes(&agent.node);
        left.is_empty().then_some(left)
    })
    .await;
    assert!(app_dirs.is_empty());
    drop(agent); // stops the agent, removes its containers
}

/// The anonymous app-directory volumes of a node.
fn app_dir_volumes(node: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", &format!("label=paas.node={node}")])
        .args(["--filter", "label=paas.managed=app-dir"])
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}
