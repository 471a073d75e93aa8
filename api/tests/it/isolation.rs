//! Tenant isolation, driven from the OpenAPI document the server generates
//! from its route list: every route that names an app or a tenant is called
//! by a user of another tenant and must answer exactly like a missing object.
//! A new route is covered as soon as it is registered.

use paas_types::{AddDomainRequest, AddMemberRequest, AppList, Build, ErrorBody, Event, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::{decode, set_vars, TestApi};

const APP: &str = "alpha";
const MISSING_APP: &str = "zz-missing";
const TENANT: &str = "alice";
const MISSING_TENANT: &str = "zz-absent";

/// A concrete path for a route template, naming real objects of alice's tenant.
fn concrete(template: &str, app: &str, tenant: &str, build: &str, run: &str, invitation: &str) -> String {
    let id = if template.contains("/runs/") {
        run
    } else if template.contains("/invitations/") {
        invitation
    } else {
        build
    };
    template
        .replace("{id}", id)
        .replace("{app}", app)
        .replace("{tenant}", tenant)
        .replace("{key}", "FOO")
        .replace("{hostname}", "www.alpha.example")
        .replace("{version}", "2")
        .replace("{email}", "carl@example.org")
        .replace("{volume}", "data")
}

/// A valid body for the routes that take one.
pub(crate) fn body_for(method: &Method, template: &str) -> Value {
    match (method.as_str(), template) {
        ("POST", "/v1/apps/{app}/domains") => json!({ "hostname": "intruder.example.com" }),
        ("PATCH", "/v1/apps/{app}") => json!({ "request_timeout_secs": 60 }),
        ("PATCH", "/v1/apps/{app}/config") => json!({ "FOO": "changed" }),
        ("PATCH", "/v1/apps/{app}/formation") => json!({ "web": 2 }),
        ("PATCH", "/v1/apps/{app}/routes") => json!({ "/ws/": "worker" }),
        ("POST", "/v1/apps/{app}/addons") => json!({ "kind": "redis" }),
        ("POST", "/v1/apps/{app}/runs") => json!({ "command": ["true"] }),
        ("POST", "/v1/tenants/{tenant}/members") => json!({ "email": "dora@example.org", "role": "member" }),
        ("POST", "/v1/tenants/{tenant}/invitations") => json!({ "email": "dora@example.org", "role": "member" }),
        ("POST", "/v1/apps/{app}/volumes") => json!({ "name": "cache", "mount": "/data/cache" }),
        _ => json!({}),
    }
}

/// Calls a route the way its clients do: tarball uploads, SSE streams
/// (status only: the stream never ends), JSON otherwise.
pub(crate) async fn call_route(
    api: &TestApi,
    method: &Method,
    template: &str,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    if template.ends_with("/builds") && method == Method::POST {
        let app = path.trim_start_matches("/v1/apps/").trim_end_matches("/builds");
        return api.upload_build(token, app, test_support::tarball(&[("wsgi.py", "application = None\n")])).await;
    }
    if template.ends_with("/attach") {
        let socket = api.connection.socket(path, token, std::time::Duration::from_secs(10)).await;
        return match socket {
            Ok(_) => (StatusCode::SWITCHING_PROTOCOLS, Value::Null),
            Err(paas_types::client::socket::SocketError::Refused(error)) => {
                let status = error.status().expect("an error answer");
                let paas_types::client::ClientError::Api { code, message, .. } = error else { unreachable!() };
                (status, json!({ "error": { "code": code, "message": message } }))
            }
            Err(other) => panic!("cannot open {path}: {other}"),
        };
    }
    if template.ends_with("/stream") {
        let response = api.http.get(format!("{}{path}", api.url)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        if status.is_success() {
            return (status, Value::Null);
        }
        return (status, response.json().await.unwrap());
    }
    if template.ends_with("/volumes/{volume}") {
        // Instances may run by then: destroying needs the name confirmed.
        return api.call(method.clone(), &format!("{path}?confirm=data"), Some(token), None).await;
    }
    api.call(method.clone(), path, Some(token), Some(body_for(method, template))).await
}

/// Every (method, template) of the API that is scoped to an app or a tenant.
async fn scoped_routes(api: &TestApi) -> Vec<(Method, String)> {
    let (_, doc) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !(path.contains("{app}") || path.contains("{tenant}")) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            routes.push((Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), path.clone()));
        }
    }
    routes
}

async fn snapshot(api: &TestApi, token: &str) -> Value {
    let mut state = json!({});
    for path in ["", "/config", "/domains", "/formation", "/releases", "/builds", "/volumes", "/routes"] {
        state[path] = api.get(&format!("/v1/apps/{APP}{path}"), token).await.1;
    }
    state["members"] = api.get(&format!("/v1/tenants/{TENANT}/members"), token).await.1;
    state["invitations"] = api.get(&format!("/v1/tenants/{TENANT}/invitations"), token).await.1;
    state
}

#[tokio::test]
async fn another_tenants_objects_answer_exactly_like_missing_ones() {
    let api = TestApi::start().await;
    let alice = api.signup("alice@example.org").await;
    let bob = api.signup("bob@example.org").await;
    api.signup("carl@example.org").await;
    api.signup("dora@example.org").await;
    api.create_app(&alice, APP).await;
    api.rest(&alice).update_config(APP, &set_vars(&[("FOO", "bar")])).await.expect("config set");
    api.rest(&alice)
        .add_domain(APP, &AddDomainRequest { hostname: "www.alpha.example".into() })
        .await
        .expect("domain added");
    let carl = AddMemberRequest { email: "carl@example.org".into(), role: Role::Member };
    api.rest(&alice).add_member(TENANT, &carl).await.expect("carl joins");
    let (status, build) =
        api.upload_build(&alice, APP, test_support::tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    let build: Build = decode(&build);
    let build_id = build.id.to_string();
    // Pretend an agent built it: release v2 carries the build (rollback needs one).
    sqlx::query("UPDATE builds SET status = 'succeeded', image_ref = 'paas-app/alpha:test', process_types = '{\"web\": \"gunicorn wsgi:application\", \"worker\": \"python3 w.py\"}' WHERE id = $1")
        .bind(build.id)
        .execute(&api.db)
        .await
        .unwrap();
    let app_id: uuid::Uuid =
        sqlx::query_scalar("SELECT app_id FROM builds WHERE id = $1").bind(build.id).fetch_one(&api.db).await.unwrap();
    let mut tx = api.db.begin().await.unwrap();
    let config = [("FOO".to_string(), "bar".to_string())].into();
    let keys = test_support::keyring();
    api::db::releases::create(&mut tx, &keys, app_id, Some(build.id), &config, "Deploy", None).await.unwrap();
    tx.commit().await.unwrap();
    // A node, so that alice's app can start a one-off process and hold a volume.
    let ops = api.admin("ops@example.org").await;
    test_support::node::FakeNode::register(&api, &ops, "iso-node").await;
    let request = serde_json::from_value(json!({ "command": ["true"] })).unwrap();
    let run_id = api.rest(&alice).create_run(APP, &request).await.expect("alice starts a run").id.to_string();
    let volume = json!({ "name": "data", "mount": "/app/instance" });
    let (status, answer) = api.post(&format!("/v1/apps/{APP}/volumes"), &alice, volume).await;
    assert_eq!(status, 201, "{answer}");
    let erin = json!({ "email": "erin@example.org", "role": "member" });
    let (status, invitation) = api.post(&format!("/v1/tenants/{TENANT}/invitations"), &alice, erin).await;
    assert_eq!(status, 201, "{invitation}");
    let invitation_id = invitation["id"].as_str().expect("an invitation id").to_string();
    let before = snapshot(&api, &alice).await;

    let routes = scoped_routes(&api).await;
    assert!(routes.len() >= 15, "expected the app and tenant routes, found {routes:?}");
    for (method, template) in &routes {
        let intruder = concrete(template, APP, TENANT, &build_id, &run_id, &invitation_id);
        let missing = concrete(template, MISSING_APP, MISSING_TENANT, &build_id, &run_id, &invitation_id);
        let (status, answer) = call_route(&api, method, template, &intruder, &bob).await;
        let (missing_status, missing_answer) = call_route(&api, method, template, &missing, &bob).await;
        assert_eq!(status, 404, "{method} {intruder} by another tenant: {answer}");
        assert_eq!(missing_status, 404, "{method} {missing}: {missing_answer}");
        let scrub = |v: &Value, from: &[&str]| {
            let ErrorBody { error } = decode(v);
            let mut text = error.message;
            for name in from {
                text = text.replace(name, "NAME");
            }
            (error.code, text)
        };
        assert_eq!(
            scrub(&answer, &[APP, TENANT]),
            scrub(&missing_answer, &[MISSING_APP, MISSING_TENANT]),
            "{method} {template}: another tenant's object is distinguishable from a missing one"
        );
    }
    assert_eq!(snapshot(&api, &alice).await, before, "the intruder changed something");

    // Listings never show the other tenant's objects.
    let (_, page) = api.get("/v1/apps", &bob).await;
    assert!(decode::<AppList>(&page).apps.is_empty(), "{page}");
    let (_, events) = api.get("/v1/events", &bob).await;
    assert!(decode::<Vec<Event>>(&events).iter().all(|e| e.tenant == "bob"), "{events}");

    // The owner gets a success on every one of those routes, so the 404s
    // above were about ownership, not about wrong placeholders.
    let mut ordered = routes.clone();
    ordered.sort_by_key(|(m, t)| (*m == Method::DELETE, t == "/v1/apps/{app}"));
    for (method, template) in ordered {
        let path = concrete(&template, APP, TENANT, &build_id, &run_id, &invitation_id);
        let (status, answer) = call_route(&api, &method, &template, &path, &alice).await;
        let success = status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS;
        assert!(success, "{method} {path} by the owner: {status} {answer}");
    }
}
