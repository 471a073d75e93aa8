//! Volumes on the real engine, with two agents: the release command writes
//! a SQLite file into the app's volume and the web processes read it; the
//! data outlives a redeploy, a scale to zero and a lost node; every
//! instance runs on the volume's node, and none moves while it is down.

use std::time::{Duration, Instant};

use paas_types::client::ClientError;
use paas_types::{CreateVolumeRequest, Volume};
use test_support::agent::*;
use test_support::{scale, TestApi};

const APP: &str = "notes";
const HOST: &str = "notes.paas.test";

/// The app's Docker volumes on `node`, by name.
fn docker_volumes(node: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", &format!("label=paas.node={node}")])
        .args(["--filter", &format!("label=paas.app={APP}")])
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}

async fn post(address: &str, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    let response = client.post(format!("http://{address}{path}")).header("host", HOST).send().await.expect("POST");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `n` running web instances, all of release `release` (when given); their addresses.
async fn web_instances(api: &TestApi, token: &str, n: usize, release: Option<i32>) -> Vec<paas_types::Instance> {
    wait_for(&format!("{n} running web instances of release {release:?}"), Duration::from_secs(120), || async {
        let web = running(api, token, APP, "web").await;
        let current = web.iter().all(|w| release.is_none_or(|r| w.release == r));
        (web.len() == n && current).then_some(web)
    })
    .await
}

async fn volume(api: &TestApi, token: &str) -> Volume {
    api.rest(token).list_volumes(APP).await.expect("the app's volumes").pop().expect("one volume")
}

#[tokio::test]
async fn the_release_command_writes_into_a_volume_the_web_processes_read_on_its_node() {
    let api = TestApi::start_with(|c| c.node_timeout_secs = 3).await;
    let token = admin(&api, "volumes@example.org").await;
    let mut agents = vec![TestAgent::start(&api, &token).await, TestAgent::start(&api, &token).await];
    wait_for("both nodes up", Duration::from_secs(30), || async {
        let nodes = api.rest(&token).list_nodes().await.ok()?;
        (nodes.iter().filter(|n| n.state.as_str() == "up").count() == 2).then_some(())
    })
    .await;
    api.create_app(&token, APP).await;
    let request = CreateVolumeRequest { name: "data".into(), mount: "/app/instance".into(), size: Some("64M".into()) };
    let created = api.rest(&token).create_volume(APP, &request).await.expect("volume created");
    assert_eq!((created.mount.as_str(), created.size_mb), ("/app/instance", 64));
    let home = created.node.clone();
    let home_index = agents.iter().position(|a| a.node == home).expect("the volume is on one of the agents' nodes");
    let other = agents[1 - home_index].node.clone();
    let name =
        wait_for("the Docker volume on its node", Duration::from_secs(30), || async { docker_volumes(&home).pop() })
            .await;
    assert!(name.starts_with(&format!("paas-{home}-{APP}-data-")), "{name}");
    assert!(docker_volumes(&other).is_empty(), "only the volume's node holds it");

    // The first deploy: its release command runs on the volume's node, with the volume.
    let started = Instant::now();
    let (_, build) = api.upload_build(&token, APP, fixture("sqlite-volume")).await;
    let detail = wait_build(&api, &token, APP, &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    assert!(detail.log.contains("With the volume at /app/instance"), "{}", detail.log);
    assert!(detail.log.contains("release command wrote /app/instance/notes.sqlite3: 1 notes"), "{}", detail.log);
    let builder: String =
        sqlx::query_scalar("SELECT n.name FROM builds b JOIN nodes n ON n.id = b.claimed_by WHERE b.id = $1::uuid")
            .bind(build_id(&build))
            .fetch_one(&api.db)
            .await
            .unwrap();
    assert_eq!(builder, home, "the build of an app with a volume runs on the volume's node");
    let measured = wait_for("the node to report the volume's usage", Duration::from_secs(30), || async {
        volume(&api, &token).await.used_bytes
    })
    .await;
    assert!(measured >= 0);

    // Two web instances, both on the volume's node (unpinned, they would spread).
    api.rest(&token).update_formation(APP, &scale(&[("web", 2)])).await.expect("scaled");
    let web = web_instances(&api, &token, 2, None).await;
    println!("upload to 2 web instances on the volume's node: {:?}", started.elapsed());
    assert!(web.iter().all(|w| w.node.as_deref() == Some(home.as_str())), "{web:?}");
    let (first, second) = (web[0].address.clone().unwrap(), web[1].address.clone().unwrap());
    let (status, body) = http_get(&first, HOST, "/").await.expect("web answers");
    assert_eq!((status, body.as_str()), (200, "notes=1\nwritten by the release command\n"));
    let container = containers(&home, "web").pop().unwrap();
    let mounts = inspect(&container, "{{range .Mounts}}{{.Name}} {{.Destination}} {{.RW}};{{end}}");
    assert!(mounts.contains(&format!("{name} /app/instance true;")), "{mounts}");
    assert!(mounts.contains(" /app true;"), "and the container's own app directory: {mounts}");
    assert_eq!(mounts.matches(';').count(), 2, "{mounts}");
    assert_eq!(inspect(&container, "{{.Config.User}}"), "10000:10000", "still the app user");
    // What one instance writes, the other reads.
    let (status, body) = post(&first, "/notes").await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = http_get(&second, HOST, "/").await.unwrap();
    assert!(body.starts_with("notes=2\n"), "{body}");

    // A redeploy: its release command sees what the first one and the web wrote.
    let (_, build) = api.upload_build(&token, APP, fixture("sqlite-volume")).await;
    let detail = wait_build(&api, &token, APP, &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    assert!(detail.log.contains("release command wrote /app/instance/notes.sqlite3: 3 notes"), "{}", detail.log);
    let release = detail.build.release.expect("a release");
    let web = web_instances(&api, &token, 2, Some(release)).await;
    assert!(web.iter().all(|w| w.node.as_deref() == Some(home.as_str())), "{web:?}");
    let (_, body) = http_get(web[0].address.as_deref().unwrap(), HOST, "/").await.unwrap();
    assert!(body.starts_with("notes=3\n"), "the data survived the redeploy: {body}");

    // A one-off process runs on the volume's node with the volume mounted.
    let request: paas_types::session::RunRequest =
        serde_json::from_value(serde_json::json!({ "command": ["python3 -c 'import notes; print(\"run sees\", len(notes.all_notes()), \"notes\")'"], "detach": true }))
            .unwrap();
    let run = api.rest(&token).create_run(APP, &request).await.expect("a detached run");
    assert_eq!(run.node.as_deref(), Some(home.as_str()), "the run is placed on the volume's node");
    let query = paas_types::client::rest::LogsQuery { process: Some("run".into()), lines: Some(50) };
    wait_for("the run's output in the logs", Duration::from_secs(60), || async {
        let lines = api.rest(&token).logs(APP, &query).await.ok()?;
        lines.iter().any(|l| l.line.contains("run sees 3 notes")).then_some(())
    })
    .await;

    // Scale to zero and back.
    api.rest(&token).update_formation(APP, &scale(&[("web", 0)])).await.expect("scaled");
    wait_for("no web container", Duration::from_secs(60), || async {
        containers(&home, "web").is_empty().then_some(())
    })
    .await;
    api.rest(&token).update_formation(APP, &scale(&[("web", 1)])).await.expect("scaled");
    let web = web_instances(&api, &token, 1, Some(release)).await;
    let (_, body) = http_get(web[0].address.as_deref().unwrap(), HOST, "/").await.unwrap();
    assert!(body.starts_with("notes=3\n"), "the data survived scaling to zero: {body}");

    // The volume's node is lost: its instance is not moved to the other node,
    // and the volume says why.
    agents[home_index].kill_node().await;
    let down = wait_for("the volume's node down", Duration::from_secs(30), || async {
        let volume = volume(&api, &token).await;
        (volume.node_state.as_str() == "down").then_some(volume)
    })
    .await;
    let hint = down.hint.expect("a hint while the node is down");
    assert!(hint.contains(&format!("node {home} is down")) && hint.contains("wait"), "{hint}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let instances = api.rest(&token).list_instances(APP).await.unwrap();
    let moved: Vec<_> = instances.iter().filter(|i| i.desired_state.as_str() == "running").collect();
    assert!(moved.is_empty(), "nothing is placed while the volume's node is down: {moved:?}");
    assert!(containers(&other, "web").is_empty(), "no container on the other node");
    assert!(docker_volumes(&home).contains(&name), "a lost node keeps its volume");

    // It comes back: so does the instance, with the data.
    agents[home_index].revive(&api);
    let web = web_instances(&api, &token, 1, Some(release)).await;
    assert_eq!(web[0].node.as_deref(), Some(home.as_str()));
    let (_, body) = http_get(web[0].address.as_deref().unwrap(), HOST, "/").await.unwrap();
    assert!(body.starts_with("notes=3\n"), "the data survived the node's loss: {body}");

    // Destroy: refused while instances use it, then removed from its node.
    match api.rest(&token).destroy_volume(APP, "data", None).await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, 409),
        other => panic!("destroy of a volume in use without confirmation: {other:?}"),
    }
    api.rest(&token).update_formation(APP, &scale(&[("web", 0)])).await.expect("scaled");
    wait_for("no web container", Duration::from_secs(60), || async {
        containers(&home, "web").is_empty().then_some(())
    })
    .await;
    api.rest(&token).destroy_volume(APP, "data", None).await.expect("destroyed once nothing runs");
    wait_for("the Docker volume removed", Duration::from_secs(30), || async {
        docker_volumes(&home).is_empty().then_some(())
    })
    .await;
    assert!(api.rest(&token).list_volumes(APP).await.unwrap().is_empty());
    drop(agents); // stops the agents, removes their containers and volumes
}
