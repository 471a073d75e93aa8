//! Zero-downtime deploys: constant traffic through the real router while a
//! config change and a new build roll out; no request may fail.

use std::time::Duration;

use test_support::agent::*;
use test_support::{scale, set_vars, TestApi};

const HOST: &str = "steady.paas.test";

#[tokio::test]
async fn deploys_under_load_drop_no_request() {
    let api = TestApi::start().await;
    let token = admin(&api, "steady@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "steady").await;
    api.rest(&token).update_formation("steady", &scale(&[("web", 2)])).await.expect("scaled");
    let (_, build) = api.upload_build(&token, "steady", fixture("hello-wsgi")).await;
    let detail = wait_build(&api, &token, "steady", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);

    let router = TestRouter::start(&api).await;
    let url = router.url("/");
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    wait_for("the app behind the router", Duration::from_secs(60), || async {
        let response = client.get(&url).header("host", HOST).send().await.ok()?;
        (response.status() == 200 && running(&api, &token, "steady", "web").await.len() == 2).then_some(())
    })
    .await;

    // Constant traffic from 4 clients, bounded in time.
    let load = Load::start(4, &url, HOST, Duration::ZERO, Some("second"));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Rollout 1: a config change (new release, same build).
    api.rest(&token).update_config("steady", &set_vars(&[("GREETING", "second")])).await.expect("config set");
    let config_release = api.rest(&token).app("steady").await.unwrap().current_release.unwrap();
    wait_rolled_out(&api, &token, &agent.node, config_release).await;
    // Rollout 2: a new build.
    let (_, build) = api.upload_build(&token, "steady", fixture("hello-wsgi")).await;
    let detail = wait_build(&api, &token, "steady", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded");
    wait_rolled_out(&api, &token, &agent.node, detail.build.release.unwrap()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let stats = load.stop().await;
    let (ok, non_2xx, errors) = (stats.ok(), stats.non_2xx(), stats.errors());
    println!("rollouts under load: {ok} ok, {non_2xx} non-2xx, {errors} connection errors");
    assert!(ok > 200, "too little traffic to show anything: {ok}");
    assert!(stats.matching() > 0, "the new release served traffic");
    assert_eq!((non_2xx, errors), (0, 0), "requests failed during the rollouts");
    router.shutdown().await;
    drop(agent); // stops the agent, removes its containers
}

/// Waits until both web instances run `release` and the old containers are gone.
async fn wait_rolled_out(api: &TestApi, token: &str, node: &str, release: i32) {
    wait_for(&format!("rollout of v{release}"), Duration::from_secs(120), || async {
        let web = running(api, token, "steady", "web").await;
        let all_new = web.len() == 2 && web.iter().all(|w| w.release == release);
        (all_new && containers(node, "web").len() == 2).then_some(())
    })
    .await;
}
