//! Paths to other process types: paas.json routes from a build, routes set
//! through `/v1/apps/{app}/routes` (they win per prefix), what agents are
//! told to run (the port of a routed process type), and the route table's
//! `routes` (longest prefix first, healthy instances of that type only).

use paas_types::process_routes::{PathRoute, RouteSource};
use paas_types::routing::{Backend, ProcessRoute, RouteApp, RouteTable};
use paas_types::ErrorBody;
use reqwest::Method;
use serde_json::{json, Value};
use test_support::node::FakeNode;
use test_support::{decode, scale, tarball, TestApi, ROUTER_TOKEN};

const PROCESSES: [(&str, &str); 3] =
    [("web", "gunicorn app:app"), ("async", "uvicorn asgi:app --port $PORT"), ("worker", "python3 w.py")];

async fn table_entry(api: &TestApi, app: &str) -> RouteApp {
    let (status, table) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    assert_eq!(status, 200);
    let table: RouteTable = decode(&table);
    table.apps.into_iter().find(|a| a.name == app).expect("the app in the table")
}

/// `(prefix, process type, source)` of a listing.
fn listed(routes: &Value) -> Vec<(String, String, RouteSource)> {
    decode::<Vec<PathRoute>>(routes).into_iter().map(|r| (r.prefix, r.process_type, r.source)).collect()
}

fn entry(prefix: &str, process_type: &str, source: RouteSource) -> (String, String, RouteSource) {
    (prefix.into(), process_type.into(), source)
}

/// PATCHes the routes; asserts the status (and, for errors, the code and a part of the message).
async fn patch(api: &TestApi, token: &str, app: &str, body: Value, status: u16, said: &str) -> Value {
    let (got, answer) = api.patch(&format!("/v1/apps/{app}/routes"), token, body.clone()).await;
    assert_eq!(got, status, "{body}: {answer}");
    if status >= 400 {
        let error = decode::<ErrorBody>(&answer).error;
        assert!(error.message.contains(said), "{body}: {}", error.message);
    }
    answer
}

#[tokio::test]
async fn routes_from_paas_json_and_the_cli_reach_agents_and_the_route_table() {
    let api = TestApi::start().await;
    let admin = api.admin("routes@example.org").await;
    let node = FakeNode::register(&api, &admin, "node-r").await;
    api.create_app(&admin, "chat").await;
    // Before any release there is nothing to route to.
    patch(&api, &admin, "chat", json!({ "/ws/": "async" }), 409, "deploy it first").await;
    let (_, routes) = api.get("/v1/apps/chat/routes", &admin).await;
    assert_eq!(listed(&routes), []);

    assert_eq!(api.upload_build(&admin, "chat", tarball(&[("app.py", "app = None\n")])).await.0, 202);
    node.build_with(&["ok"], &PROCESSES, &[("/ws/", "async"), ("/events/", "async")]).await;
    let (status, routes) = api.get("/v1/apps/chat/routes", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed(&routes),
        [entry("/events/", "async", RouteSource::PaasJson), entry("/ws/", "async", RouteSource::PaasJson)]
    );

    // Agents run the routed type like web: with PORT, its port published and checked.
    api.rest(&admin).update_formation("chat", &scale(&[("async", 1), ("worker", 1)])).await.expect("scaled");
    let desired = node.desired().await.instances;
    let serves = |kind: &str| {
        let instance = desired.iter().find(|i| i.process_type == kind).expect("an instance");
        (instance.serves_http, instance.env.get("PORT").cloned())
    };
    assert_eq!(serves("web"), (true, Some("5000".into())));
    assert_eq!(serves("async"), (true, Some("5000".into())));
    assert_eq!(serves("worker"), (false, None));

    // Healthy instances enter the table: web in `backends`, async under its prefixes; the worker nowhere.
    let before = table_entry(&api, "chat").await;
    assert_eq!(before.routes.iter().map(|r| r.backends.len()).sum::<usize>(), 0, "none is running yet");
    let ids = node.report_all("running").await;
    let by_type = |kind: &str| {
        let index = desired.iter().position(|i| i.process_type == kind).unwrap();
        // Web instances carry their worker count (the queue's cap); async servers are uncapped.
        let concurrency = (kind == "web").then_some(2);
        Backend { instance_id: ids[index], address: format!("127.0.0.1:{}", 40000 + index), concurrency }
    };
    let app = table_entry(&api, "chat").await;
    assert_eq!(app.backends, [by_type("web")]);
    let route = |prefix: &str, kind: &str| ProcessRoute {
        prefix: prefix.into(),
        process_type: kind.into(),
        backends: vec![by_type(kind)],
    };
    assert_eq!(app.routes, [route("/events/", "async"), route("/ws/", "async")]);

    // A CLI-set route: a new prefix, and an override of paas.json's /ws/; no new release.
    let router = api.router();
    let version = router.table(None, 0).await.unwrap().version;
    let answer = patch(&api, &admin, "chat", json!({ "/jobs/status": "worker", "/ws/": "worker" }), 200, "").await;
    assert_eq!(
        listed(&answer),
        [
            entry("/jobs/status", "worker", RouteSource::Cli),
            entry("/events/", "async", RouteSource::PaasJson),
            entry("/ws/", "worker", RouteSource::Cli),
        ]
    );
    let next = router.table(Some(version), 5).await.unwrap();
    assert_ne!(next.version, version, "a route change moves the table's version");
    let app = next.apps.iter().find(|a| a.name == "chat").unwrap();
    let prefixes: Vec<(&str, &str)> = app.routes.iter().map(|r| (r.prefix.as_str(), r.process_type.as_str())).collect();
    assert_eq!(prefixes, [("/jobs/status", "worker"), ("/events/", "async"), ("/ws/", "worker")]);
    assert_eq!(app.routes[0].backends, [by_type("worker")]);
    assert_eq!(app.release, Some(1));
    let worker = node.desired().await.instances.into_iter().find(|i| i.process_type == "worker").unwrap();
    assert!(worker.serves_http && worker.env["PORT"] == "5000", "the worker now serves a route: {worker:?}");

    // Unsetting the override brings paas.json's route back; paas.json's own routes cannot be unset.
    let answer = patch(&api, &admin, "chat", json!({ "/ws/": null }), 200, "").await;
    assert!(listed(&answer).contains(&entry("/ws/", "async", RouteSource::PaasJson)));
    patch(&api, &admin, "chat", json!({ "/ws/": null }), 409, "comes from paas.json").await;
    patch(&api, &admin, "chat", json!({ "/nope/": null }), 404, "route /nope/").await;
    patch(&api, &admin, "chat", json!({ "/x/": "ghost" }), 409, "the Procfile has no \"ghost\" process type").await;
    patch(&api, &admin, "chat", json!({ "ws/": "async" }), 422, "starts with `/`").await;
    patch(&api, &admin, "chat", json!({ "/a b/": "async" }), 422, "visible ASCII").await;
    patch(&api, &admin, "chat", json!({ "/x/": "web" }), 422, "already goes to web").await;
    patch(&api, &admin, "chat", json!({ "/x/": "Bad!" }), 422, "is invalid").await;
    patch(&api, &admin, "chat", json!({}), 422, "at least one route").await;
    let (_, events) = api.get("/v1/apps/chat/events", &admin).await;
    assert!(events.to_string().contains("routes.change"), "{events}");

    // Another tenant sees no such app.
    let other = api.signup("other@example.org").await;
    assert_eq!(api.get("/v1/apps/chat/routes", &other).await.0, 404);
    assert_eq!(api.patch("/v1/apps/chat/routes", &other, json!({ "/x/": "async" })).await.0, 404);
}

#[tokio::test]
async fn an_agent_cannot_report_routes_that_break_the_rules() {
    let api = TestApi::start().await;
    let admin = api.admin("agent-routes@example.org").await;
    let node = FakeNode::register(&api, &admin, "node-s").await;
    api.create_app(&admin, "bad").await;
    assert_eq!(api.upload_build(&admin, "bad", tarball(&[("app.py", "app = None\n")])).await.0, 202);
    let job = node.claim().await.expect("a queued build");
    let finish = format!("/v1/agent/builds/{}/finish", job.build_id);
    for routes in [json!({ "ws/": "async" }), json!({ "/ws/": "web" })] {
        let result =
            json!({ "success": true, "image": "paas-app/bad:1", "process_types": { "web": "x" }, "routes": routes });
        let (status, answer) = node.call(Method::POST, &finish, Some(result)).await;
        assert_eq!(status, 422, "{routes}: {answer}");
    }
}
