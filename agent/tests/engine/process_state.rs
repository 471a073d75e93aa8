//! Honest process state on the real engine: supervisord's view of each
//! program reaches the API (crash loops, restarts, exit status, last
//! output), a release whose worker crash-loops is not promoted and the
//! previous release keeps serving, and a web process that rejects the app's
//! hostname is reported with the fix.

use std::time::Duration;

use paas_types::{Instance, Release, ReleaseStatus};
use test_support::agent::*;
use test_support::{scale, set_vars, TestApi};

/// Release `version` of `app` once its status is no longer pending.
async fn wait_settled(api: &TestApi, token: &str, app: &str, version: i32) -> Release {
    wait_for(&format!("v{version} of {app} promoted or failed"), Duration::from_secs(120), || async {
        let releases = api.rest(token).list_releases(app, Some(20)).await.ok()?;
        releases.into_iter().find(|r| r.version == version && r.status != ReleaseStatus::Pending)
    })
    .await
}

async fn instances(api: &TestApi, token: &str, app: &str) -> Vec<Instance> {
    api.rest(token).list_instances(app).await.expect("the app's instances")
}

async fn current(api: &TestApi, token: &str, app: &str) -> i32 {
    api.rest(token).app(app).await.unwrap().current_release.expect("a release")
}

/// (1) a worker of a serving release that exits 1 at once shows `crashed`
/// with restarts, exit status and last output; (2) a release whose worker
/// is healthy is promoted; (3) a release whose worker crash-loops fails and
/// the promoted one keeps serving.
#[tokio::test]
async fn crash_loops_are_visible_and_block_promotion() {
    const HOST: &str = "loopy.paas.test";
    let api = TestApi::start().await;
    let token = admin(&api, "loops@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "loopy").await;
    api.rest(&token).update_config("loopy", &set_vars(&[("WORKER_CRASH", "1")])).await.expect("config set");
    api.rest(&token).update_formation("loopy", &scale(&[("web", 1), ("worker", 0)])).await.expect("scaled");
    let (_, build) = api.upload_build(&token, "loopy", fixture("crash-worker")).await;
    let detail = wait_build(&api, &token, "loopy", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let v1 = detail.build.release.unwrap();
    assert_eq!(wait_settled(&api, &token, "loopy", v1).await.status, ReleaseStatus::Promoted);

    // (1) Scaling up a worker that exits at once: a crash loop inside its
    // container, shown as such.
    api.rest(&token).update_formation("loopy", &scale(&[("worker", 1)])).await.expect("scaled");
    // Bounded generously: on a loaded machine supervisord's restarts and the
    // agent's readings are slower. The last reading is printed on a timeout.
    let worker = wait_for("a crash-looping worker", Duration::from_secs(180), || async {
        let all = instances(&api, &token, "loopy").await;
        if let Some(seen) = all.iter().find(|i| i.process_type == "worker") {
            println!("worker seen: {} restarts={} exit={:?}", seen.state.as_str(), seen.restarts, seen.exit_status);
        }
        all.into_iter().find(|i| {
            i.process_type == "worker"
                && i.state.as_str() == "crashed"
                && i.restarts > 0
                && i.exit_status == Some(1)
                && !i.last_output.is_empty()
        })
    })
    .await;
    println!("crashed worker: {worker:?}");
    assert!(
        worker.last_output.iter().any(|l| l.contains("cannot reach the queue at redis://queue.invalid:6379")),
        "{:?}",
        worker.last_output
    );
    let hint = worker.hint.clone().unwrap_or_default();
    assert!(hint.contains("keeps exiting with status 1"), "{hint}");
    assert_eq!(containers(&agent.node, "worker").len(), 1, "restarted inside its container, not replaced");

    // (2) A release with a healthy worker is promoted after its settle period.
    api.rest(&token).update_config("loopy", &set_vars(&[("WORKER_CRASH", "0")])).await.expect("config set");
    let v2 = current(&api, &token, "loopy").await;
    assert_eq!(wait_settled(&api, &token, "loopy", v2).await.status, ReleaseStatus::Promoted);
    wait_for("only v2 instances left running", Duration::from_secs(120), || async {
        let all = instances(&api, &token, "loopy").await;
        let wanted: Vec<&Instance> = all.iter().filter(|i| i.desired_state.as_str() == "running").collect();
        (wanted.len() == 2 && wanted.iter().all(|i| i.release == v2 && i.state.as_str() == "running")).then_some(())
    })
    .await;

    // (3) A release whose worker crash-loops fails; v2 keeps serving.
    api.rest(&token).update_config("loopy", &set_vars(&[("WORKER_CRASH", "1")])).await.expect("config set");
    let v3 = current(&api, &token, "loopy").await;
    let failed = wait_settled(&api, &token, "loopy", v3).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let why = failed.failure.unwrap_or_default();
    assert!(why.contains("worker"), "{why}");
    wait_for("v3's instances stopped", Duration::from_secs(120), || async {
        let all = instances(&api, &token, "loopy").await;
        all.iter().filter(|i| i.release == v3).all(|i| i.desired_state.as_str() == "stopped").then_some(())
    })
    .await;
    let web = running(&api, &token, "loopy", "web").await;
    assert_eq!(web.iter().map(|w| w.release).collect::<Vec<_>>(), vec![v2], "v2's web serves");
    let (status, body) = http_get(web[0].address.as_deref().unwrap(), HOST, "/").await.expect("v2 answers");
    assert_eq!((status, body.trim()), (200, format!("hello from crash-worker v{v2}").as_str()));
    let worker = running(&api, &token, "loopy", "worker").await;
    assert_eq!(worker.iter().map(|w| (w.release, w.restarts)).collect::<Vec<_>>(), vec![(v2, 0)]);
    drop(agent); // stops the agent, removes its containers
}

/// A web process answering 400 on the app's hostname (Django's
/// DisallowedHost) is reported with the ALLOWED_HOSTS fix; once the
/// hostname is allowed, the hint goes away.
#[tokio::test]
async fn a_web_process_rejecting_the_hostname_is_reported() {
    const HOST: &str = "picky.paas.test";
    let api = TestApi::start().await;
    let token = admin(&api, "picky@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "picky").await;
    let (_, build) = api.upload_build(&token, "picky", fixture("disallowed-host")).await;
    let detail = wait_build(&api, &token, "picky", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let web = wait_for("a web instance answering 400", Duration::from_secs(120), || async {
        running(&api, &token, "picky", "web").await.into_iter().find(|w| w.http_status == Some(400))
    })
    .await;
    let hint = web.hint.unwrap_or_default();
    assert!(hint.contains(&format!("add {HOST} to ALLOWED_HOSTS")), "{hint}");
    assert!(hint.contains("paas domains add"), "{hint}");

    api.rest(&token).update_config("picky", &set_vars(&[("ALLOWED_HOSTS", HOST)])).await.expect("config set");
    let fixed = current(&api, &token, "picky").await;
    let web = wait_for("the new release answering 200", Duration::from_secs(120), || async {
        running(&api, &token, "picky", "web")
            .await
            .into_iter()
            .find(|w| w.release == fixed && w.http_status == Some(200))
    })
    .await;
    assert_eq!(web.hint, None);
    let (status, body) = http_get(web.address.as_deref().unwrap(), HOST, "/").await.expect("it answers");
    assert_eq!((status, body.as_str()), (200, "hello from disallowed-host\n"));
    drop(agent); // stops the agent, removes its containers
}
