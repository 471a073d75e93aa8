//! Three nodes (three agents with distinct node identities on one Docker
//! engine): spreading, node loss and rescheduling, a build whose agent dies,
//! and a node rebuilding an image it does not have.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::agent::*;
use test_support::{scale, set_vars, TestApi};

const HOST: &str = "spread.paas.test";

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::test]
async fn node_loss_reschedules_and_traffic_recovers() {
    let api = TestApi::start_with(|c| {
        c.node_timeout_secs = 3;
        c.build_lease_secs = 5;
    })
    .await;
    let token = admin(&api, "multi@example.org").await;
    let mut agents = vec![
        TestAgent::start(&api, &token).await,
        TestAgent::start(&api, &token).await,
        TestAgent::start(&api, &token).await,
    ];
    api.create_app(&token, "spread").await;
    api.rest(&token).update_config("spread", &set_vars(&[("GREETING", "kept")])).await.expect("config set");
    api.rest(&token).update_formation("spread", &scale(&[("web", 3)])).await.expect("scaled");

    // A build whose agent dies mid-way is finished by another agent. New
    // requirements make it install (seconds), so it is still running when
    // its agent dies; a fully cached build can finish first.
    let requirements = format!("flask\n# node loss {}\n", uuid::Uuid::new_v4().simple());
    let source = fixture_with("flask-app", &[("requirements.txt", &requirements)]);
    let (_, build) = api.upload_build(&token, "spread", source).await;
    let build_id = build_id(&build);
    let builder: String = wait_for("the build to be claimed", Duration::from_secs(30), || async {
        sqlx::query_scalar::<_, String>(
            "SELECT n.name FROM builds b JOIN nodes n ON n.id = b.claimed_by WHERE b.id = $1::uuid",
        )
        .bind(&build_id)
        .fetch_optional(&api.db)
        .await
        .unwrap()
    })
    .await;
    let index = agents.iter().position(|a| a.node == builder).unwrap();
    agents[index].kill_node().await;
    let detail = wait_build(&api, &token, "spread", &build_id).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    assert!(detail.log.contains("Retrying the build"), "{}", detail.log);
    let finisher: String =
        sqlx::query_scalar("SELECT n.name FROM builds b JOIN nodes n ON n.id = b.claimed_by WHERE b.id = $1::uuid")
            .bind(&build_id)
            .fetch_one(&api.db)
            .await
            .unwrap();
    assert_ne!(finisher, builder, "another agent finished the build");
    agents[index].revive(&api);
    wait_for("all three nodes up", Duration::from_secs(30), || async {
        let nodes = api.rest(&token).list_nodes().await.ok()?;
        (nodes.iter().filter(|n| n.state.as_str() == "up").count() == 3).then_some(())
    })
    .await;
    // Instances placed while a node was down stay where they are (no
    // rebalancing); scale from zero to see placement over three live nodes.
    api.rest(&token).update_formation("spread", &scale(&[("web", 0)])).await.expect("scaled");
    wait_for("no web instance", Duration::from_secs(60), || async {
        running(&api, &token, "spread", "web").await.is_empty().then_some(())
    })
    .await;
    api.rest(&token).update_formation("spread", &scale(&[("web", 3)])).await.expect("scaled");

    // Three instances, one per node.
    let spread = wait_for("3 web instances on 3 nodes", Duration::from_secs(120), || async {
        let web = running(&api, &token, "spread", "web").await;
        let mut nodes: Vec<String> = web.iter().map(|w| w.node.clone().unwrap_or_default()).collect();
        nodes.sort();
        nodes.dedup();
        (web.len() == 3 && nodes.len() == 3).then_some(nodes)
    })
    .await;
    assert_eq!(spread.len(), 3);

    let router = TestRouter::start(&api).await;
    let url = router.url("/health");
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    wait_for("traffic through the router", Duration::from_secs(30), || async {
        let r = client.get(&url).header("host", HOST).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let before = snapshot(&api, &token).await;

    let load = Load::start(1, &url, HOST, Duration::from_millis(20), None);

    // Lose each node in turn; each time the lost instance comes back elsewhere.
    let mut to_running = Vec::new();
    let mut to_first_ok = Vec::new();
    for round in 0..3 {
        let victim = round;
        let killed_at = Instant::now();
        agents[victim].kill_node().await;
        let lost = agents[victim].node.clone();
        wait_for("3 running instances again", Duration::from_secs(120), || async {
            let web = running(&api, &token, "spread", "web").await;
            (web.len() == 3 && web.iter().all(|w| w.node.as_deref() != Some(lost.as_str()))).then_some(())
        })
        .await;
        to_running.push(killed_at.elapsed());
        let first_ok = wait_for("a request after the loss", Duration::from_secs(30), || async {
            load.stats.first_ok_after(killed_at)
        })
        .await;
        to_first_ok.push(first_ok - killed_at);
        println!(
            "node loss {round}: all instances running again after {:?}, first 200 after {:?}",
            to_running[round], to_first_ok[round]
        );
        agents[victim].revive(&api);
        wait_for("the node back up", Duration::from_secs(30), || async {
            let nodes = api.rest(&token).list_nodes().await.ok()?;
            nodes.iter().find(|n| n.name == agents[victim].node && n.state.as_str() == "up").map(|_| ())
        })
        .await;
    }
    let stats = load.stop().await;
    println!(
        "node loss: median time to all instances running {:?}, to first 200 {:?}; {} failed of {} requests",
        median(to_running),
        median(to_first_ok),
        stats.non_2xx() + stats.errors(),
        stats.ok()
    );
    assert_eq!(snapshot(&api, &token).await, before, "no release, build or config var was lost");
    router.shutdown().await;
    drop(agents); // stops the agents, removes their containers
}

/// Releases, builds and config of the app.
async fn snapshot(api: &TestApi, token: &str) -> serde_json::Value {
    let (_, releases) = api.get("/v1/apps/spread/releases", token).await;
    let (_, builds) = api.get("/v1/apps/spread/builds", token).await;
    let (_, config) = api.get("/v1/apps/spread/config", token).await;
    let versions: Vec<_> = releases.as_array().unwrap().iter().map(|r| r["version"].clone()).collect();
    let builds: Vec<_> = builds.as_array().unwrap().iter().map(|b| (b["id"].clone(), b["status"].clone())).collect();
    json!({ "releases": versions, "builds": builds, "config": config })
}

/// A node asked to run an image it does not have rebuilds it from the
/// build's source stored in the API (no registry here).
#[tokio::test]
async fn a_node_without_the_image_rebuilds_it_from_source() {
    let api = TestApi::start().await;
    let token = admin(&api, "rebuild@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "rebuilt").await;
    let (_, build) = api.upload_build(&token, "rebuilt", fixture("hello-wsgi")).await;
    let detail = wait_build(&api, &token, "rebuilt", &build_id(&build)).await;
    let image = detail.build.image.clone().unwrap();
    wait_for("first instance", Duration::from_secs(60), || async {
        running(&api, &token, "rebuilt", "web").await.pop()
    })
    .await;
    // Take the image away, as on a node that never built it.
    api.rest(&token).update_formation("rebuilt", &scale(&[("web", 0)])).await.expect("scaled");
    wait_for("no containers", Duration::from_secs(60), || async {
        containers(&agent.node, "web").is_empty().then_some(())
    })
    .await;
    let removed = std::process::Command::new("docker").args(["rmi", "-f", &image]).output().unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    let started = Instant::now();
    api.rest(&token).update_formation("rebuilt", &scale(&[("web", 1)])).await.expect("scaled");
    let web = wait_for("an instance from the rebuilt image", Duration::from_secs(120), || async {
        running(&api, &token, "rebuilt", "web").await.pop()
    })
    .await;
    println!("node without the image: first instance running after {:?} (rebuild from source)", started.elapsed());
    let (status, body) = http_get(web.address.as_deref().unwrap(), "rebuilt.paas.test", "/").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "hello from hello-wsgi\n"));
    let inspect = std::process::Command::new("docker").args(["image", "inspect", &image]).output().unwrap();
    assert!(inspect.status.success(), "the image exists again under its tag");
    drop(agent); // stops the agent, removes its containers
}
