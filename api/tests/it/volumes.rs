//! Volumes over HTTP with scripted nodes: validation, tenancy, the node a
//! volume is created on, and the placement rule (an app with a volume runs
//! on its node only, its builds are claimed there, and nothing moves while
//! that node is down).

use std::time::Duration;

use paas_types::agent::{RegisterNode, VolumeMount};
use paas_types::{ErrorBody, Release, Volume};
use reqwest::Method;
use serde_json::{json, Value};
use test_support::agent::wait_for;
use test_support::node::FakeNode;
use test_support::{decode, scale, tarball, TestApi};

const ADMIN: &str = "root@example.org";

async fn node(api: &TestApi, admin: &str, name: &str) -> FakeNode {
    let spec = RegisterNode {
        name: name.into(),
        address: "127.0.0.1".into(),
        cpu_millis: 4000,
        memory_mb: 8192,
        labels: Default::default(),
    };
    FakeNode::register_with(api, admin, spec).await
}

fn error(body: &Value) -> (String, String) {
    let ErrorBody { error } = decode(body);
    (error.code, error.message)
}

async fn create(api: &TestApi, token: &str, app: &str, body: Value) -> (u16, Value) {
    let (status, answer) = api.post(&format!("/v1/apps/{app}/volumes"), token, body).await;
    (status.as_u16(), answer)
}

#[tokio::test]
async fn volumes_are_validated_and_other_tenants_see_none() {
    let api = TestApi::start().await;
    let admin = api.admin(ADMIN).await;
    node(&api, &admin, "node-a").await;
    let alice = api.signup("alice@example.org").await;
    let bob = api.signup("bob@example.org").await;
    api.create_app(&alice, "alpha").await;
    api.create_app(&bob, "beta").await;

    // Each invalid value is a 422 saying what to fix; nothing is created.
    let cases = [
        (json!({ "name": "Data", "mount": "/data" }), "volume name \"Data\" is invalid"),
        (json!({ "name": "data", "mount": "app/instance" }), "must be absolute"),
        (json!({ "name": "data", "mount": "/app" }), "cannot be /app itself"),
        (json!({ "name": "data", "mount": "/etc/cron.d" }), "system paths cannot be mounted over"),
        (json!({ "name": "data", "mount": "/app/../etc" }), "'..'"),
        (json!({ "name": "data", "mount": "/app/.venv" }), "hidden"),
        (json!({ "name": "data", "mount": "/data", "size": "10T" }), "size \"10T\" is not a size"),
        (
            json!({ "name": "data", "mount": "/data", "size": "8M" }),
            "out of range: a volume is 16M to 99999M, or 1G to 1024G",
        ),
        (json!({ "name": "data", "mount": "/data", "quota": "1G" }), "unknown field"),
    ];
    for (body, expected) in cases {
        let (status, answer) = create(&api, &alice, "alpha", body.clone()).await;
        let (code, message) = error(&answer);
        assert_eq!((status, code.as_str()), (422, "validation_failed"), "{body}: {answer}");
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert_eq!(api.get("/v1/apps/alpha/volumes", &alice).await.1, json!([]));

    let (status, answer) = create(&api, &alice, "alpha", json!({ "name": "data", "mount": "/app/instance" })).await;
    assert_eq!(status, 201, "{answer}");
    let volume: Volume = decode(&answer);
    assert_eq!((volume.node.as_str(), volume.size_mb, volume.hint), ("node-a", 1024, None));
    let (status, answer) = create(&api, &alice, "alpha", json!({ "name": "data", "mount": "/data" })).await;
    assert_eq!(status, 409, "{answer}");
    assert!(error(&answer).1.contains("already has a volume named \"data\""));
    let (status, answer) = create(&api, &alice, "alpha", json!({ "name": "up", "mount": "/app/instance/up" })).await;
    assert_eq!(status, 409, "{answer}");
    assert!(error(&answer).1.contains("overlaps volume data at /app/instance"), "{answer}");

    // Bob: alice's app and its volume are a 404 exactly like a missing app;
    // a volume his own app lacks is a 404 too.
    let routes = [
        (Method::GET, "/volumes".to_string(), None),
        (Method::POST, "/volumes".to_string(), Some(json!({ "name": "mine", "mount": "/data" }))),
        (Method::DELETE, "/volumes/data?confirm=data".to_string(), None),
    ];
    for (method, path, body) in routes {
        let (status, theirs) =
            api.call(method.clone(), &format!("/v1/apps/alpha{path}"), Some(&bob), body.clone()).await;
        let (missing_status, missing) =
            api.call(method.clone(), &format!("/v1/apps/zz-missing{path}"), Some(&bob), body).await;
        assert_eq!((status.as_u16(), missing_status.as_u16()), (404, 404), "{method} {path}: {theirs}");
        let scrub = |v: &Value, name: &str| {
            let (code, message) = error(v);
            (code, message.replace(name, "NAME"))
        };
        assert_eq!(scrub(&theirs, "alpha"), scrub(&missing, "zz-missing"), "{method} {path}");
    }
    let (status, answer) = api.delete("/v1/apps/beta/volumes/data", &bob).await;
    assert_eq!((status.as_u16(), error(&answer)), (404, ("not_found".into(), "volume \"data\" not found".into())));
    assert_eq!(api.get("/v1/apps/alpha/volumes", &alice).await.1.as_array().unwrap().len(), 1, "bob changed nothing");

    // No node up: no volume.
    sqlx::query("UPDATE nodes SET state = 'down'").execute(&api.db).await.unwrap();
    let (status, answer) = create(&api, &bob, "beta", json!({ "name": "data", "mount": "/data" })).await;
    assert_eq!(status, 409, "{answer}");
    assert!(error(&answer).1.contains("no node is up to hold the volume"), "{answer}");
}

#[tokio::test]
async fn an_app_with_a_volume_runs_and_builds_on_its_node_and_waits_for_it() {
    let api = TestApi::start_with(|c| c.node_timeout_secs = 2).await;
    let admin = api.admin(ADMIN).await;
    let a = node(&api, &admin, "node-a").await;
    let b = node(&api, &admin, "node-b").await;
    api.create_app(&admin, "shop").await;

    // The app first runs on node-b (node-a is draining while it is placed).
    sqlx::query("UPDATE nodes SET state = 'draining' WHERE name = 'node-a'").execute(&api.db).await.unwrap();
    let (status, build) = api.upload_build(&admin, "shop", tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    b.build(&["built"]).await;
    assert_eq!(b.desired().await.instances.len(), 1);
    sqlx::query("UPDATE nodes SET state = 'up' WHERE name = 'node-a'").execute(&api.db).await.unwrap();

    // The volume goes where the app runs, not to the emptier node-a, and is
    // a new release of the same build.
    a.client.heartbeat().await.unwrap();
    b.client.heartbeat().await.unwrap();
    let (status, answer) = create(&api, &admin, "shop", json!({ "name": "data", "mount": "/app/instance" })).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(decode::<Volume>(&answer).node, "node-b");
    let releases: Vec<Release> = decode(&api.get("/v1/apps/shop/releases", &admin).await.1);
    assert_eq!(releases[0].description, "Add volume data at /app/instance");
    assert_eq!(releases[0].build_id, releases[1].build_id);

    // Scaled to 3: all on node-b, each mounting the volume node-b holds.
    api.rest(&admin).update_formation("shop", &scale(&[("web", 3)])).await.expect("scaled");
    assert_eq!(a.desired().await.instances, [], "nothing on the other node");
    assert_eq!(a.desired().await.volumes, []);
    let desired = b.desired().await;
    let docker_name = desired.volumes[0].name.clone();
    assert!(docker_name.starts_with("paas-node-b-shop-data-"), "{docker_name}");
    let mount = VolumeMount { volume: docker_name.clone(), target: "/app/instance".into() };
    let new: Vec<_> = desired.instances.iter().filter(|i| i.release == releases[0].version).collect();
    assert_eq!(new.len(), 3, "{desired:?}");
    assert!(new.iter().all(|i| i.mounts == [mount.clone()]), "{new:?}");

    // Its builds are claimed by node-b only, with the mounts for the release command.
    let (status, build) = api.upload_build(&admin, "shop", tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    assert!(a.claim().await.is_none(), "node-a may not run this app's release command");
    let job = b.claim().await.expect("node-b claims it");
    assert_eq!(job.mounts, [mount]);

    // node-b stops heartbeating: its instances are lost and not replaced on
    // node-a; the volume says why.
    let volume = wait_for("node-b down", Duration::from_secs(20), || async {
        a.client.heartbeat().await.expect("node-a heartbeats");
        let volume: Vec<Volume> = decode(&api.get("/v1/apps/shop/volumes", &admin).await.1);
        (volume[0].node_state.as_str() == "down").then(|| volume[0].clone())
    })
    .await;
    assert!(volume.hint.unwrap().contains("node node-b is down"));
    for _ in 0..3 {
        a.client.heartbeat().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(a.desired().await.instances, [], "the app waits for its volume's node");
    let instances: Value = api.get("/v1/apps/shop/instances", &admin).await.1;
    let running = instances.as_array().unwrap().iter().filter(|i| i["desired_state"] == "running").count();
    assert_eq!(running, 0, "{instances}");

    // It comes back: the instances are placed on it again.
    b.client.heartbeat().await.unwrap();
    let placed = wait_for("instances back on node-b", Duration::from_secs(20), || async {
        b.client.heartbeat().await.unwrap();
        let n = b.desired().await.instances.len();
        (n >= 3).then_some(n)
    })
    .await;
    assert!(placed >= 3);

    // Destroy is refused while instances run, unless confirmed; then the
    // node no longer holds it and new instances may go anywhere.
    let (status, answer) = api.delete("/v1/apps/shop/volumes/data", &admin).await;
    assert_eq!(status, 409, "{answer}");
    assert!(error(&answer).1.contains("--confirm data"), "{answer}");
    let (status, answer) = api.delete("/v1/apps/shop/volumes/data?confirm=wrong", &admin).await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = api.delete("/v1/apps/shop/volumes/data?confirm=data", &admin).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(b.desired().await.volumes, []);
    let releases: Vec<Release> = decode(&api.get("/v1/apps/shop/releases", &admin).await.1);
    assert_eq!(releases[0].description, "Remove volume data");
    assert!(b.desired().await.instances.iter().all(|i| i.mounts.is_empty() || i.release < releases[0].version));
}

/// The OpenAPI patterns of a volume's `size` and `mount` accept exactly what
/// the API accepts (schemathesis holds the API to them both ways).
#[tokio::test]
async fn the_volume_schema_patterns_match_the_rules() {
    use paas_types::volumes::{mount_problem, parse_size_mb};
    let api = TestApi::start().await;
    let (_, doc) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    let properties = &doc["components"]["schemas"]["CreateVolumeRequest"]["properties"];
    let pattern = |field: &str| regex::Regex::new(properties[field]["pattern"].as_str().expect("a pattern")).unwrap();
    let size = pattern("size");
    for n in [0u32, 1, 9, 15, 16, 99, 100, 999, 1000, 1019, 1020, 1024, 1025, 9999, 99999, 100000] {
        for text in [format!("{n}M"), format!("{n}G"), format!("0{n}G"), format!("{n}g"), format!("{n}T")] {
            assert_eq!(size.is_match(&text), parse_size_mb(&text).is_ok(), "size {text}");
        }
    }
    let mount = pattern("mount");
    let paths = [
        "/data",
        "/data/x",
        "/app",
        "/app/",
        "/app/x",
        "/app/x/",
        "/app/.venv",
        "/app/x.d",
        "/app/_x",
        "/app/-x",
        "/app/../x",
        "/app/./x",
        "/app//x",
        "/etc",
        "/",
        "",
        "app/x",
        "/application",
        "/data2",
        "/app/a b",
        "/app/é",
    ];
    for path in paths {
        assert_eq!(mount.is_match(path), mount_problem(path).is_none(), "mount {path:?}");
    }
}
