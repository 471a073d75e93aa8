//! The agent and router protocols over real HTTP, with the scripted node of
//! `test_support` in place of an agent (no Docker here; the engine tests run
//! real agents): registration, the build queue and its lease, releases,
//! scheduling, reports, the route table's long poll, log shipping and following.

use std::time::{Duration, Instant};

use paas_types::agent::{BuildJob, RegisterNode};
use paas_types::client::rest::LogsQuery;
use paas_types::routing::{Backend, RouteApp, RouteTable};
use paas_types::{Build, BuildDetail, ErrorBody, Instance, JoinToken, LogLine, Release};
use reqwest::Method;
use serde_json::json;
use test_support::node::FakeNode;
use test_support::{decode, json_of, scale, set_vars, tarball, TestApi, ROUTER_TOKEN};

/// The platform administrator of these tests.
const ADMIN: &str = "root@example.org";

fn node_spec(name: &str, cpu_millis: i32, memory_mb: i32) -> RegisterNode {
    RegisterNode { name: name.into(), address: "127.0.0.1".into(), cpu_millis, memory_mb, labels: Default::default() }
}

async fn register(api: &TestApi, admin: &str, name: &str) -> FakeNode {
    FakeNode::register_with(api, admin, node_spec(name, 2000, 4096)).await
}

/// The table's entry of `name`.
fn route(table: &RouteTable, name: &str) -> RouteApp {
    table.apps.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("{name} in {table:?}")).clone()
}

#[tokio::test]
async fn registration_needs_a_valid_join_token() {
    let api = TestApi::start().await;
    let user = api.signup("nobody@example.org").await;
    assert_eq!(api.post("/v1/nodes/join-tokens", &user, json!({})).await.0, 403, "only admins issue join tokens");
    let body = json_of(&node_spec("n1", 1000, 1024));
    for token in ["paasjoin_forged", user.as_str()] {
        let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(token), Some(body.clone())).await;
        assert_eq!(status, 401);
    }
    let admin = api.admin(ADMIN).await;
    let node = register(&api, &admin, "n1").await;
    assert_eq!(node.call(Method::POST, "/v1/agent/heartbeat", None).await.0, 204);
    // A join token cannot take over a live node's name; a dead node's, yes.
    let (_, join) = api.post("/v1/nodes/join-tokens", &admin, json!({})).await;
    let JoinToken { id: join_id, token: join } = decode(&join);
    let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(&join), Some(body.clone())).await;
    assert_eq!(status, 409, "took over a live node");
    sqlx::query("UPDATE nodes SET state = 'down' WHERE name = 'n1'").execute(&api.db).await.unwrap();
    let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(&join), Some(body.clone())).await;
    assert_eq!(status, 200, "a down node may register again");
    // Old join tokens stop working.
    sqlx::query("UPDATE node_join_tokens SET created_at = now() - interval '2 days' WHERE id = $1")
        .bind(join_id)
        .execute(&api.db)
        .await
        .unwrap();
    let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(&join), Some(body.clone())).await;
    assert_eq!(status, 401, "an expired join token");
    // A user's token is not a node token, and vice versa.
    assert_eq!(api.call(Method::POST, "/v1/agent/heartbeat", Some(&admin), None).await.0, 401);
    assert_eq!(api.get("/v1/apps", &node.token).await.0, 401);
}

#[tokio::test]
async fn build_release_schedule_route_and_logs() {
    let api = TestApi::start().await;
    let admin = api.admin(ADMIN).await;
    let node = register(&api, &admin, "node-a").await;
    api.create_app(&admin, "shop").await;

    // Upload -> queued build; the node claims it; a second claim finds nothing.
    let (status, build) = api.upload_build(&admin, "shop", tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    let build: Build = decode(&build);
    assert_eq!(build.status.as_str(), "queued");
    let build_id = build.id;
    let (status, job) = node.call(Method::POST, "/v1/agent/builds/claim", None).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(decode::<BuildJob>(&job).build_id, build_id);
    assert_eq!(node.call(Method::POST, "/v1/agent/builds/claim", None).await.0, 204);
    let source = node.client.request(Method::GET, &format!("/v1/agent/builds/{build_id}/source")).send().await.unwrap();
    assert_eq!(source.status(), 200);
    assert_eq!(&source.bytes().await.unwrap()[..2], &[0x1f, 0x8b]);
    let fetched = node.client.build_source(build_id).await.expect("the typed client fetches it too");
    assert_eq!(&fetched[..2], &[0x1f, 0x8b]);
    let lines = json!({ "lines": ["-----> Building", "step 1"] });
    assert_eq!(node.call(Method::POST, &format!("/v1/agent/builds/{build_id}/log"), Some(lines)).await.0, 204);
    let (_, detail) = api.get(&format!("/v1/apps/shop/builds/{build_id}"), &admin).await;
    let detail: BuildDetail = decode(&detail);
    assert_eq!(detail.log, "-----> Building\nstep 1\n");
    assert_eq!(detail.build.status.as_str(), "building");

    // The route table before the release: the app, no backends.
    let (status, table) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    assert_eq!(status, 200);
    let table: RouteTable = decode(&table);
    let app = route(&table, "shop");
    assert_eq!(app.hostnames, ["shop.paas.test"]);
    assert_eq!(app.backends, []);
    assert_eq!(api.call(Method::GET, "/v1/router/table", Some(&admin), None).await.0, 401, "routers only");

    // Success makes release v1 and the scheduler places one web instance on the node.
    let result = json!({ "success": true, "image": "paas-app/shop:1", "process_types": { "web": "gunicorn wsgi:application", "worker": "python3 w.py" } });
    assert_eq!(node.call(Method::POST, &format!("/v1/agent/builds/{build_id}/finish"), Some(result)).await.0, 204);
    let (_, releases) = api.get("/v1/apps/shop/releases", &admin).await;
    let releases: Vec<Release> = decode(&releases);
    assert_eq!(releases[0].version, 1);
    assert_eq!(releases[0].build_id, Some(build_id));
    let (_, formation) = api.get("/v1/apps/shop/formation", &admin).await;
    assert_eq!(
        formation,
        json!([
            { "process_type": "web", "quantity": 1, "size": "standard" },
            { "process_type": "worker", "quantity": 0, "size": "standard" }
        ])
    );
    let desired = node.desired().await;
    assert_eq!(desired.instances.len(), 1, "{desired:?}");
    let instance = &desired.instances[0];
    assert_eq!(instance.image, "paas-app/shop:1");
    assert_eq!(instance.env["PORT"], "5000");
    assert_eq!(instance.env["WEB_CONCURRENCY"], "2");
    assert_eq!(instance.hostname, "shop.paas.test");
    let instance_id = instance.instance_id;

    // Long poll: waits while nothing changes, answers fast when something does.
    let router = api.router();
    let version = table.version;
    let current_version = router.table(None, 30).await.unwrap().version;
    assert!(current_version > version, "the release moved the version");
    let started = Instant::now();
    let same = router.table(Some(current_version), 1).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "answered before the wait ended");
    assert_eq!(same.version, current_version);

    // The node reports the instance healthy: the router gets a backend within 1 s.
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        (started, router.table(Some(current_version), 20).await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = json!({ "instances": [{ "instance_id": instance_id, "state": "running", "address": "127.0.0.1:40001", "container_id": "c1", "restarts": 0 }] });
    let reported = Instant::now();
    assert_eq!(node.call(Method::POST, "/v1/agent/report", Some(report)).await.0, 204);
    let (_, table) = poll.await.unwrap();
    assert!(reported.elapsed() < Duration::from_secs(1), "route change took {:?}", reported.elapsed());
    let app = route(&table, "shop");
    // A standard instance runs 2 workers (its `WEB_CONCURRENCY` above): the router caps it there.
    let backend = Backend { instance_id, address: "127.0.0.1:40001".into(), concurrency: Some(2) };
    assert_eq!(app.backends, [backend]);
    assert_eq!(app.release, Some(1));
    assert_eq!(app.request_timeout_secs, Some(30), "every app has the default");
    let (_, ps) = api.get("/v1/apps/shop/instances", &admin).await;
    let ps: Vec<Instance> = decode(&ps);
    assert_eq!(ps[0].state.as_str(), "running");
    assert_eq!(ps[0].node.as_deref(), Some("node-a"));

    // Log lines shipped by the node are served and followed (SSE).
    let mut stream = api.rest(&admin).request(Method::GET, "/v1/apps/shop/logs/stream?lines=10").send().await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let batch = json!({ "lines": [{ "instance_id": instance_id, "line": "GET / 200" }, { "instance_id": uuid::Uuid::new_v4(), "line": "not mine" }] });
    assert_eq!(node.call(Method::POST, "/v1/agent/logs", Some(batch)).await.0, 204);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("GET / 200") && Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(1), stream.chunk()).await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(seen.contains("\"line\":\"GET / 200\"") && seen.contains("\"process_type\":\"web\""), "{seen}");
    let (_, logs) = api.get("/v1/apps/shop/logs", &admin).await;
    let logs: Vec<LogLine> = decode(&logs);
    assert_eq!(logs.len(), 1, "lines of unknown instances are dropped: {logs:?}");
    // The typed client follows the same stream, starting with the recent lines.
    let query = LogsQuery { lines: Some(10), ..Default::default() };
    let mut events = api.rest(&admin).follow_logs("shop", &query).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(
        (first.line.as_str(), first.process_type.as_str(), first.instance_id),
        ("GET / 200", "web", Some(instance_id))
    );

    // Scaling to 0 stops the instance and empties the backends.
    api.rest(&admin).update_formation("shop", &scale(&[("web", 0)])).await.expect("scaled");
    assert_eq!(node.desired().await.instances, []);
    let (_, table) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    assert_eq!(route(&decode(&table), "shop").backends, []);
}

#[tokio::test]
async fn a_build_whose_agent_dies_is_retried_by_another() {
    let api = TestApi::start_with(|c| c.build_lease_secs = 1).await;
    let admin = api.admin(ADMIN).await;
    let first = register(&api, &admin, "dies").await;
    let second = register(&api, &admin, "lives").await;
    api.create_app(&admin, "retry").await;
    let (_, build) = api.upload_build(&admin, "retry", tarball(&[("wsgi.py", "application = None\n")])).await;
    let build_id = decode::<Build>(&build).id;
    assert_eq!(first.call(Method::POST, "/v1/agent/builds/claim", None).await.0, 200);
    assert_eq!(second.call(Method::POST, "/v1/agent/builds/claim", None).await.0, 204, "leased");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, job) = second.call(Method::POST, "/v1/agent/builds/claim", None).await;
    assert_eq!(status, 200, "expired lease is claimable: {job}");
    assert_eq!(decode::<BuildJob>(&job).build_id, build_id, "expired lease is claimable");
    // The first agent, back from the dead, may no longer touch it.
    let lines = json!({ "lines": ["late"] });
    assert_eq!(first.call(Method::POST, &format!("/v1/agent/builds/{build_id}/log"), Some(lines)).await.0, 409);
    let (_, detail) = api.get(&format!("/v1/apps/retry/builds/{build_id}"), &admin).await;
    let detail: BuildDetail = decode(&detail);
    assert!(detail.log.contains("Retrying the build"), "{detail:?}");
}

#[tokio::test]
async fn uploads_are_checked_and_limited() {
    let api = TestApi::start_with(|c| c.max_source_bytes = 1024 * 1024).await;
    let token = api.signup("up@example.org").await;
    api.create_app(&token, "big").await;
    let (status, body) =
        api.upload_build(&token, "big", vec![0x1f, 0x8b].into_iter().chain(vec![0; 2 * 1024 * 1024]).collect()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(decode::<ErrorBody>(&body).error.code, "payload_too_large");
    let (status, body) = api.upload_build(&token, "big", b"not a tarball".to_vec()).await;
    assert_eq!(status, 422, "{body}");
    let (_, builds) = api.get("/v1/apps/big/builds", &token).await;
    assert_eq!(builds, json!([]), "rejected uploads queue nothing");
    // A JSON body over the (smaller) JSON limit is still refused elsewhere.
    let big = "x".repeat(100 * 1024);
    assert_eq!(api.patch("/v1/apps/big/config", &token, json!({ "A": big })).await.0, 413);
}

#[tokio::test]
async fn the_route_table_carries_worker_counts_and_the_request_timeout() {
    let api = TestApi::start().await;
    let admin = api.admin(ADMIN).await;
    let node = register(&api, &admin, "caps-node").await;
    api.create_app(&admin, "caps").await;
    let (status, build) = api.upload_build(&admin, "caps", tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    node.build(&["-----> done"]).await;
    // Small instances: the size's default is one worker.
    let small = json!({ "web": { "quantity": 1, "size": "small" } });
    assert_eq!(api.patch("/v1/apps/caps/formation", &admin, small).await.0, 200);
    let concurrency_matches_env = async |expected: u32| {
        let ids = node.report_all("running").await;
        let desired = node.desired().await;
        let table = api.router().table(None, 1).await.unwrap();
        let backends = route(&table, "caps").backends;
        assert!(!backends.is_empty(), "{table:?}");
        for backend in backends.iter().filter(|b| ids.contains(&b.instance_id)) {
            let instance = desired.instances.iter().find(|i| i.instance_id == backend.instance_id);
            // The cap is exactly the worker count the instance's environment sets.
            if let Some(instance) = instance {
                assert_eq!(backend.concurrency.map(|n| n.to_string()), Some(instance.env["WEB_CONCURRENCY"].clone()));
            }
        }
        assert!(backends.iter().any(|b| b.concurrency == Some(expected)), "{backends:?}");
        table
    };
    concurrency_matches_env(1).await;

    // A `WEB_CONCURRENCY` config var overrides the size's default (a new release, new instances).
    api.rest(&admin).update_config("caps", &set_vars(&[("WEB_CONCURRENCY", "5")])).await.expect("config set");
    let table = concurrency_matches_env(5).await;
    assert_eq!(route(&table, "caps").request_timeout_secs, Some(30));

    // The request timeout: changed through the API, carried by the next table version.
    let (status, app) = api.patch("/v1/apps/caps", &admin, json!({ "request_timeout_secs": 120 })).await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(decode::<paas_types::App>(&app).request_timeout_secs, 120);
    let changed = api.router().table(Some(table.version), 5).await.unwrap();
    assert!(changed.version > table.version, "the change moved the route version");
    assert_eq!(route(&changed, "caps").request_timeout_secs, Some(120));
}
