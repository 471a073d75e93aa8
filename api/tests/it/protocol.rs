//! The agent and router protocols over real HTTP, with a scripted node in
//! place of an agent (no Docker here; the engine tests run real agents):
//! registration, the build queue and its lease, releases, scheduling,
//! reports, the route table's long poll, log shipping and following.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::{tarball, TestApi, ROUTER_TOKEN};

struct Node<'a> {
    api: &'a TestApi,
    token: String,
}

impl Node<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.api.call(method, path, Some(&self.token), body).await
    }
}

async fn register<'a>(api: &'a TestApi, admin: &str, name: &str) -> Node<'a> {
    let (status, join) = api.post("/v1/nodes/join-tokens", admin, json!({})).await;
    assert_eq!(status, 201, "{join}");
    let body = json!({ "name": name, "address": "127.0.0.1", "cpu_millis": 2000, "memory_mb": 4096 });
    let (status, registered) =
        api.call(Method::POST, "/v1/agent/register", Some(join["token"].as_str().unwrap()), Some(body)).await;
    assert_eq!(status, 200, "{registered}");
    Node { api, token: registered["node_token"].as_str().unwrap().to_string() }
}

async fn admin(api: &TestApi) -> String {
    let token = api.signup("root@example.org").await;
    sqlx::query("UPDATE users SET is_admin = true").execute(&api.db).await.unwrap();
    token
}

#[tokio::test]
async fn registration_needs_a_valid_join_token() {
    let api = TestApi::start().await;
    let user = api.signup("nobody@example.org").await;
    assert_eq!(api.post("/v1/nodes/join-tokens", &user, json!({})).await.0, 403, "only admins issue join tokens");
    let body = json!({ "name": "n1", "address": "127.0.0.1", "cpu_millis": 1000, "memory_mb": 1024 });
    for token in ["paasjoin_forged", user.as_str()] {
        let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(token), Some(body.clone())).await;
        assert_eq!(status, 401);
    }
    let admin = admin(&api).await;
    let node = register(&api, &admin, "n1").await;
    assert_eq!(node.call(Method::POST, "/v1/agent/heartbeat", None).await.0, 204);
    // A join token cannot take over a live node's name; a dead node's, yes.
    let (_, join) = api.post("/v1/nodes/join-tokens", &admin, json!({})).await;
    let join = join["token"].as_str().unwrap().to_string();
    let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(&join), Some(body.clone())).await;
    assert_eq!(status, 409, "took over a live node");
    sqlx::query("UPDATE nodes SET state = 'down'").execute(&api.db).await.unwrap();
    let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(&join), Some(body.clone())).await;
    assert_eq!(status, 200, "a down node may register again");
    // Old join tokens stop working.
    sqlx::query("UPDATE node_join_tokens SET created_at = now() - interval '2 days'").execute(&api.db).await.unwrap();
    let (status, _) = api.call(Method::POST, "/v1/agent/register", Some(&join), Some(body.clone())).await;
    assert_eq!(status, 401, "an expired join token");
    // A user's token is not a node token, and vice versa.
    assert_eq!(api.call(Method::POST, "/v1/agent/heartbeat", Some(&admin), None).await.0, 401);
    assert_eq!(api.get("/v1/apps", &node.token).await.0, 401);
}

#[tokio::test]
async fn build_release_schedule_route_and_logs() {
    let api = TestApi::start().await;
    let admin = admin(&api).await;
    let node = register(&api, &admin, "node-a").await;
    api.create_app(&admin, "shop").await;

    // Upload -> queued build; the node claims it; a second claim finds nothing.
    let (status, build) = api.upload_build(&admin, "shop", tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    assert_eq!(build["status"], "queued");
    let build_id = build["id"].as_str().unwrap();
    let (status, job) = node.call(Method::POST, "/v1/agent/builds/claim", None).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["build_id"], build_id);
    assert_eq!(node.call(Method::POST, "/v1/agent/builds/claim", None).await.0, 204);
    let source = api
        .http
        .get(format!("{}/v1/agent/builds/{build_id}/source", api.url))
        .bearer_auth(&node.token)
        .send()
        .await
        .unwrap();
    assert_eq!(source.status(), 200);
    assert_eq!(&source.bytes().await.unwrap()[..2], &[0x1f, 0x8b]);
    let lines = json!({ "lines": ["-----> Building", "step 1"] });
    assert_eq!(node.call(Method::POST, &format!("/v1/agent/builds/{build_id}/log"), Some(lines)).await.0, 204);
    let (_, detail) = api.get(&format!("/v1/apps/shop/builds/{build_id}"), &admin).await;
    assert_eq!(detail["log"], "-----> Building\nstep 1\n");
    assert_eq!(detail["build"]["status"], "building");

    // The route table before the release: the app, no backends.
    let (status, table) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    assert_eq!(status, 200);
    let app = table["apps"].as_array().unwrap().iter().find(|a| a["name"] == "shop").unwrap().clone();
    assert_eq!(app["hostnames"], json!(["shop.paas.test"]));
    assert_eq!(app["backends"], json!([]));
    assert_eq!(api.call(Method::GET, "/v1/router/table", Some(&admin), None).await.0, 401, "routers only");

    // Success makes release v1 and the scheduler places one web instance on the node.
    let result = json!({ "success": true, "image": "paas-app/shop:1", "process_types": { "web": "gunicorn wsgi:application", "worker": "python3 w.py" } });
    assert_eq!(node.call(Method::POST, &format!("/v1/agent/builds/{build_id}/finish"), Some(result)).await.0, 204);
    let (_, releases) = api.get("/v1/apps/shop/releases", &admin).await;
    assert_eq!(releases[0]["version"], 1);
    assert_eq!(releases[0]["build_id"], build_id);
    let (_, formation) = api.get("/v1/apps/shop/formation", &admin).await;
    assert_eq!(
        formation,
        json!([
            { "process_type": "web", "quantity": 1, "size": "standard" },
            { "process_type": "worker", "quantity": 0, "size": "standard" }
        ])
    );
    let (_, desired) = node.call(Method::GET, "/v1/agent/desired", None).await;
    let instances = desired["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{desired}");
    let instance = &instances[0];
    assert_eq!(instance["image"], "paas-app/shop:1");
    assert_eq!(instance["env"]["PORT"], "5000");
    assert_eq!(instance["env"]["WEB_CONCURRENCY"], "2");
    assert_eq!(instance["hostname"], "shop.paas.test");
    let instance_id = instance["instance_id"].as_str().unwrap().to_string();

    // Long poll: waits while nothing changes, answers fast when something does.
    let version = table["version"].as_i64().unwrap();
    let (_, current) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    let current_version = current["version"].as_i64().unwrap();
    assert!(current_version > version, "the release moved the version");
    let started = Instant::now();
    let (_, same) = api
        .call(Method::GET, &format!("/v1/router/table?after={current_version}&wait=1"), Some(ROUTER_TOKEN), None)
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900), "answered before the wait ended");
    assert_eq!(same["version"], current_version);

    // The node reports the instance healthy: the router gets a backend within 1 s.
    let poll = {
        let url = format!("{}/v1/router/table?after={current_version}&wait=20", api.url);
        let http = api.http.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let table: Value = http.get(url).bearer_auth(ROUTER_TOKEN).send().await.unwrap().json().await.unwrap();
            (started, table)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = json!({ "instances": [{ "instance_id": instance_id, "state": "running", "address": "127.0.0.1:40001", "container_id": "c1", "restarts": 0 }] });
    let reported = Instant::now();
    assert_eq!(node.call(Method::POST, "/v1/agent/report", Some(report)).await.0, 204);
    let (_, table) = poll.await.unwrap();
    assert!(reported.elapsed() < Duration::from_secs(1), "route change took {:?}", reported.elapsed());
    let app = table["apps"].as_array().unwrap().iter().find(|a| a["name"] == "shop").unwrap().clone();
    assert_eq!(app["backends"], json!([{ "instance_id": instance_id, "address": "127.0.0.1:40001" }]));
    assert_eq!(app["release"], 1);
    let (_, ps) = api.get("/v1/apps/shop/instances", &admin).await;
    assert_eq!(ps[0]["state"], "running");
    assert_eq!(ps[0]["node"], "node-a");

    // Log lines shipped by the node are served and followed (SSE).
    let mut stream = api
        .http
        .get(format!("{}/v1/apps/shop/logs/stream?lines=10", api.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
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
    assert_eq!(logs.as_array().unwrap().len(), 1, "lines of unknown instances are dropped: {logs}");

    // Scaling to 0 stops the instance and empties the backends.
    api.patch("/v1/apps/shop/formation", &admin, json!({ "web": 0 })).await;
    let (_, desired) = node.call(Method::GET, "/v1/agent/desired", None).await;
    assert_eq!(desired["instances"], json!([]));
    let (_, table) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    let app = table["apps"].as_array().unwrap().iter().find(|a| a["name"] == "shop").unwrap().clone();
    assert_eq!(app["backends"], json!([]));
}

#[tokio::test]
async fn a_build_whose_agent_dies_is_retried_by_another() {
    let api = TestApi::start_with(|c| c.build_lease_secs = 1).await;
    let admin = admin(&api).await;
    let first = register(&api, &admin, "dies").await;
    let second = register(&api, &admin, "lives").await;
    api.create_app(&admin, "retry").await;
    let (_, build) = api.upload_build(&admin, "retry", tarball(&[("wsgi.py", "application = None\n")])).await;
    let build_id = build["id"].as_str().unwrap();
    assert_eq!(first.call(Method::POST, "/v1/agent/builds/claim", None).await.0, 200);
    assert_eq!(second.call(Method::POST, "/v1/agent/builds/claim", None).await.0, 204, "leased");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, job) = second.call(Method::POST, "/v1/agent/builds/claim", None).await;
    assert_eq!((status.as_u16(), job["build_id"].as_str()), (200, Some(build_id)), "expired lease is claimable");
    // The first agent, back from the dead, may no longer touch it.
    let lines = json!({ "lines": ["late"] });
    assert_eq!(first.call(Method::POST, &format!("/v1/agent/builds/{build_id}/log"), Some(lines)).await.0, 409);
    let (_, detail) = api.get(&format!("/v1/apps/retry/builds/{build_id}"), &admin).await;
    assert!(detail["log"].as_str().unwrap().contains("Retrying the build"), "{detail}");
}

#[tokio::test]
async fn uploads_are_checked_and_limited() {
    let api = TestApi::start_with(|c| c.max_source_bytes = 1024 * 1024).await;
    let token = api.signup("up@example.org").await;
    api.create_app(&token, "big").await;
    let (status, body) =
        api.upload_build(&token, "big", vec![0x1f, 0x8b].into_iter().chain(vec![0; 2 * 1024 * 1024]).collect()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, body) = api.upload_build(&token, "big", b"not a tarball".to_vec()).await;
    assert_eq!(status, 422, "{body}");
    let (_, builds) = api.get("/v1/apps/big/builds", &token).await;
    assert_eq!(builds, json!([]), "rejected uploads queue nothing");
    // A JSON body over the (smaller) JSON limit is still refused elsewhere.
    let big = "x".repeat(100 * 1024);
    assert_eq!(api.patch("/v1/apps/big/config", &token, json!({ "A": big })).await.0, 413);
}
