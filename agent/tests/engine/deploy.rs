//! Upload deploys on the real engine: build, run, scale, fail safely,
//! survive process crashes and agent restarts.

use std::time::{Duration, Instant};

use paas_types::client::rest::LogsQuery;
use test_support::{scale, set_vars, TestApi};

use test_support::agent::*;

const HELLO_HOST: &str = "hello.paas.test";

/// (a) a dependency-free WSGI app, (d) scaling, (e) a failed build that
/// leaves the release serving, (f) supervisord restarting a killed process,
/// (g) an agent restart that adopts its containers.
#[tokio::test]
async fn hello_wsgi_lifecycle() {
    let api = TestApi::start().await;
    let token = admin(&api, "ops@example.org").await;
    let mut agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "hello").await;
    api.rest(&token).update_config("hello", &set_vars(&[("GREETING", "configured")])).await.expect("config set");

    // (a) upload -> build -> release -> running instance answering HTTP.
    let started = Instant::now();
    let (status, build) = api.upload_build(&token, "hello", fixture("hello-wsgi")).await;
    assert_eq!(status, 202, "{build}");
    let hello_build = build_id(&build);
    let detail = wait_build(&api, &token, "hello", &hello_build).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    assert!(detail.log.contains("Process type web: gunicorn wsgi:application"));
    let web = wait_for("a running web instance", Duration::from_secs(60), || async {
        running(&api, &token, "hello", "web").await.pop()
    })
    .await;
    let address = web.address.clone().unwrap();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let (status, body) = http_get(&address, HELLO_HOST, "/").await.expect("the instance answers");
    println!("(a) hello-wsgi upload to first 200: {:?}", started.elapsed());
    assert_eq!(status, 200);
    assert_eq!(body, "hello from hello-wsgi\nconfigured\n", "config vars arrive as env");
    let release_before = api.rest(&token).app("hello").await.unwrap().current_release.unwrap();

    // The container runs unprivileged and limited.
    let web_ids = containers(&agent.node, "web");
    assert_eq!(web_ids.len(), 1);
    let id = &web_ids[0];
    assert_eq!(inspect(id, "{{.Config.User}}"), "10000:10000");
    assert_eq!(inspect(id, "{{.HostConfig.CapDrop}}"), "[ALL]");
    assert!(inspect(id, "{{.HostConfig.SecurityOpt}}").contains("no-new-privileges"));
    assert_eq!(inspect(id, "{{.HostConfig.Memory}}"), (512 * 1024 * 1024).to_string());
    assert_eq!(inspect(id, "{{.HostConfig.PidsLimit}}"), "256");
    let network = format!("paas-{}-hello", agent.node);
    assert_eq!(inspect(id, "{{.HostConfig.NetworkMode}}"), network, "each app on its own bridge network");
    let pid1 = docker_exec(id, &["cat", "/proc/1/cmdline"]);
    assert!(pid1.starts_with("/usr/bin/python3\0/usr/bin/supervisord") || pid1.contains("supervisord"), "{pid1:?}");

    // (f) kill gunicorn inside the container: supervisord starts it again,
    // in the same container.
    let started_at = inspect(id, "{{.State.StartedAt}}");
    docker_exec(id, &["pkill", "-KILL", "-f", "gunicorn"]);
    wait_for("gunicorn to come back", Duration::from_secs(30), || async {
        let ps = docker_exec(id, &["pgrep", "-f", "gunicorn"]);
        let back = !ps.trim().is_empty();
        let ok = matches!(http_get(&address, HELLO_HOST, "/").await, Some((200, _)));
        (back && ok).then_some(())
    })
    .await;
    assert_eq!(inspect(id, "{{.State.StartedAt}}"), started_at, "the container itself was not restarted");

    // (d) scale web 1 -> 3 -> 1: containers follow.
    api.rest(&token).update_formation("hello", &scale(&[("web", 3)])).await.expect("scaled");
    wait_for("3 running web instances", Duration::from_secs(60), || async {
        (running(&api, &token, "hello", "web").await.len() == 3 && containers(&agent.node, "web").len() == 3)
            .then_some(())
    })
    .await;
    for instance in running(&api, &token, "hello", "web").await {
        let (status, _) = http_get(instance.address.as_deref().unwrap(), HELLO_HOST, "/").await.unwrap();
        assert_eq!(status, 200);
    }
    api.rest(&token).update_formation("hello", &scale(&[("web", 1)])).await.expect("scaled");
    wait_for("back to 1 web container", Duration::from_secs(60), || async {
        (containers(&agent.node, "web").len() == 1).then_some(())
    })
    .await;
    assert_eq!(containers(&agent.node, "web"), web_ids, "scaling down kept the original, running instance");

    // (g) restart the agent: the running container is adopted, not restarted.
    agent.restart(&api).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(containers(&agent.node, "web"), web_ids);
    assert_eq!(inspect(id, "{{.State.StartedAt}}"), started_at);
    let still = wait_for("the adopted instance reported running", Duration::from_secs(30), || async {
        running(&api, &token, "hello", "web").await.pop()
    })
    .await;
    assert_eq!(still.address, Some(address.clone()));

    // (e) a build with a requirement that does not exist fails with its log,
    // and the previous release keeps answering.
    let (_, bad) = api.upload_build(&token, "hello", fixture("bad-requirements")).await;
    let detail = wait_build(&api, &token, "hello", &build_id(&bad)).await;
    assert_eq!(detail.build.status.as_str(), "failed");
    let log = &detail.log;
    assert!(log.contains("this-package-does-not-exist-paas-test"), "{log}");
    assert!(log.contains("Build failed"), "{log}");
    assert!(detail.build.error.is_some());
    let release_after = api.rest(&token).app("hello").await.unwrap().current_release.unwrap();
    assert_eq!(release_after, release_before, "a failed build makes no release");
    assert_eq!(http_get(&address, HELLO_HOST, "/").await.unwrap().0, 200);
    assert_eq!(containers(&agent.node, "web"), web_ids);

    // Logs: the app's output reached the API, tagged with process and instance.
    let query = LogsQuery { process: Some("web".into()), ..Default::default() };
    let lines = api.rest(&token).logs("hello", &query).await.unwrap();
    assert!(lines.iter().any(|l| l.line.contains("Booting worker")), "{lines:?}");
    assert!(lines.iter().all(|l| l.process_type == "web" && l.instance_id.is_some()));
    drop(agent); // stops the agent, removes its containers
}

/// (b) a Flask app with requirements from PyPI, (c) a worker process beside web.
#[tokio::test]
async fn flask_app_with_requirements_and_worker() {
    let api = TestApi::start().await;
    let token = admin(&api, "flask@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "flasky").await;

    // A requirements file no earlier build had: the dependency layer is cold.
    let requirements = format!("flask\n# cold build {}\n", uuid::Uuid::new_v4().simple());
    let source = || fixture_with("flask-app", &[("requirements.txt", &requirements)]);
    let started = Instant::now();
    let (_, build) = api.upload_build(&token, "flasky", source()).await;
    let detail = wait_build(&api, &token, "flasky", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let log = &detail.log;
    assert!(log.contains("Installing dependencies from requirements.txt") && log.contains("flask"), "{log}");
    let web = wait_for("flask web instance", Duration::from_secs(60), || async {
        running(&api, &token, "flasky", "web").await.pop()
    })
    .await;
    let address = web.address.as_deref().unwrap();
    let (status, body) = http_get(address, "flasky.paas.test", "/health").await.unwrap();
    println!("(b) flask upload to first 200 (cold): {:?}", started.elapsed());
    assert_eq!((status, body.trim()), (200, r#"{"status":"ok"}"#));

    // (c) the Procfile's worker type appears at 0; scale it to 1.
    let formation = api.rest(&token).formation("flasky").await.unwrap();
    assert!(formation.iter().any(|f| f.process_type == "worker" && f.quantity == 0));
    api.rest(&token).update_formation("flasky", &scale(&[("worker", 1)])).await.expect("scaled");
    wait_for("worker heartbeats in the logs", Duration::from_secs(60), || async {
        let query = LogsQuery { process: Some("worker".into()), ..Default::default() };
        let lines = api.rest(&token).logs("flasky", &query).await.unwrap();
        lines.iter().any(|l| l.line.contains("worker heartbeat")).then_some(())
    })
    .await;
    assert_eq!(containers(&agent.node, "worker").len(), 1);
    assert_eq!(containers(&agent.node, "web").len(), 1);

    // A second push of the same code reuses the cached dependency layer.
    let started = Instant::now();
    let (_, build) = api.upload_build(&token, "flasky", source()).await;
    let detail = wait_build(&api, &token, "flasky", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded");
    let log = &detail.log;
    assert!(log.contains("Dependencies unchanged") && !log.contains("Installing dependencies"), "{log}");
    wait_for("the new release's web instance", Duration::from_secs(60), || async {
        let web = running(&api, &token, "flasky", "web").await;
        (web.len() == 1 && web[0].release == 2).then_some(())
    })
    .await;
    println!("(b) flask upload to new release running (cached layers): {:?}", started.elapsed());
    drop(agent); // stops the agent, removes its containers
}

fn docker_exec(id: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("docker").arg("exec").arg(id).args(args).output().expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The Procfile's `release:` command runs once before rollout, with the
/// app's config; its failure fails the deploy and keeps the old release.
#[tokio::test]
async fn release_phase_runs_before_rollout_and_can_stop_it() {
    let api = TestApi::start().await;
    let token = admin(&api, "release@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "phased").await;
    api.rest(&token).update_config("phased", &set_vars(&[("APP_LABEL", "phased-db")])).await.expect("config set");

    let (_, build) = api.upload_build(&token, "phased", fixture("release-phase")).await;
    let detail = wait_build(&api, &token, "phased", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let log = &detail.log;
    assert!(log.contains("Running release command: python3 migrate.py"), "{log}");
    assert!(log.contains("migrating schema for phased-db"), "the release command sees config vars: {log}");
    let good_release = detail.build.release.unwrap();
    wait_for("the web instance", Duration::from_secs(60), || async {
        running(&api, &token, "phased", "web").await.pop()
    })
    .await;

    api.rest(&token).update_config("phased", &set_vars(&[("RELEASE_EXIT", "3")])).await.expect("config set");
    let release_before = api.rest(&token).app("phased").await.unwrap().current_release.unwrap();
    assert_eq!(release_before, good_release + 1, "the config change is a release of the same build");
    let (_, build) = api.upload_build(&token, "phased", fixture("release-phase")).await;
    let detail = wait_build(&api, &token, "phased", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "failed");
    assert!(detail.log.contains("release command failed (exit code 3)"), "{}", detail.log);
    let app = api.rest(&token).app("phased").await.unwrap();
    assert_eq!(app.current_release, Some(release_before), "no release after a failed release phase");
    let web = running(&api, &token, "phased", "web").await;
    assert_eq!(web.len(), 1);
    let (status, _) = http_get(web[0].address.as_deref().unwrap(), "phased.paas.test", "/").await.unwrap();
    assert_eq!(status, 200);
    drop(agent); // stops the agent, removes its containers
}
