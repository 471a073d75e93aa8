//! The dashboard over plain HTTP: tenant isolation on every app page, CSRF
//! checks on forms, session cookie attributes, and forms that keep what was
//! typed when they are rejected.

use paas_types::addons::{AddonKind, CreateAddonRequest};
use paas_types::AddDomainRequest;
use reqwest::StatusCode;
use serde_json::{json, Value};
use test_support::node::FakeNode;
use test_support::{set_vars, tarball, TestApi};

use crate::support::{admin, csrf_in, http, set_cookie, WebSession};

const APP: &str = "alpha";
const MISSING_APP: &str = "zz-missing";

/// A concrete path for an app page template.
fn concrete(template: &str, app: &str, build: &str) -> String {
    template.replace("{app}", app).replace("{id}", build).replace("{version}", "2")
}

/// Form fields a real submission of each app form carries (besides the CSRF token).
fn fields_for(template: &str) -> Vec<(&'static str, &'static str)> {
    match template {
        "/apps/{app}/formation" => vec![("quantity:web", "2"), ("size:web", "small")],
        "/apps/{app}/config" => vec![("key", "FOO"), ("value", "changed")],
        "/apps/{app}/config/unset" => vec![("key", "FOO")],
        "/apps/{app}/domains" => vec![("hostname", "new.alpha.example")],
        "/apps/{app}/domains/remove" => vec![("hostname", "www.alpha.example")],
        "/apps/{app}/addons/backups" => vec![("addon", "postgres-alpha")],
        _ => vec![],
    }
}

async fn call(session: &WebSession, method: &str, template: &str, path: &str, csrf: &str) -> reqwest::Response {
    if method == "GET" {
        return session.get(path).await;
    }
    let mut fields = vec![("csrf", csrf)];
    fields.extend(fields_for(template));
    session.post(path, &fields).await
}

/// What the owner sees of the app through the JSON API.
async fn snapshot(api: &TestApi, token: &str) -> Value {
    let mut state = json!({});
    for path in ["", "/config", "/domains", "/formation", "/releases", "/builds"] {
        state[path] = api.get(&format!("/v1/apps/{APP}{path}"), token).await.1;
    }
    state
}

#[tokio::test]
async fn another_tenants_app_is_a_404_on_every_app_page() {
    let api = TestApi::start_with(|c| c.node_timeout_secs = 3600).await;
    let ops = admin(&api, "ops@example.org").await;
    let node = FakeNode::register(&api, &ops, "node-1").await;
    let alice_jwt = api.signup("alice@example.org").await;
    let bob_jwt = api.signup("bob@example.org").await;
    api.create_app(&alice_jwt, APP).await;
    api.rest(&alice_jwt).update_config(APP, &set_vars(&[("FOO", "bar")])).await.expect("config set");
    api.rest(&alice_jwt)
        .add_domain(APP, &AddDomainRequest { hostname: "www.alpha.example".into() })
        .await
        .expect("domain added");
    let (status, _) = api.upload_build(&alice_jwt, APP, tarball(&[("app.py", "app = None\n")])).await;
    assert_eq!(status, 202);
    let build = node.build(&["built"]).await.to_string();
    let request = CreateAddonRequest { kind: AddonKind::Postgres, plan: None, alias: None };
    api.rest(&alice_jwt).create_addon(APP, &request).await.expect("add-on created");
    // As if its node had provisioned it (a fake node runs no Postgres), under a name the forms know.
    sqlx::query("UPDATE addons SET name = 'postgres-alpha', state = 'available'").execute(&api.db).await.unwrap();
    let before = snapshot(&api, &alice_jwt).await;

    let alice = WebSession::new(&api, &alice_jwt);
    let bob = WebSession::new(&api, &bob_jwt);
    let bob_csrf = bob.csrf().await;
    let pages = api::web::app_pages();
    assert!(pages.len() >= 13, "expected every app page, found {pages:?}");
    for (method, template) in &pages {
        for app in [APP, MISSING_APP] {
            let path = concrete(template, app, &build);
            let response = call(&bob, method, template, &path, &bob_csrf).await;
            let status = response.status();
            let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
            let body = response.text().await.unwrap();
            assert_eq!(status, 404, "{method} {path} by another tenant: {body}");
            assert!(content_type.starts_with("text/html"), "{method} {path}: {content_type}");
            assert!(body.contains("Not found") && !body.contains("FOO"), "{method} {path}: {body}");
        }
    }
    assert_eq!(snapshot(&api, &alice_jwt).await, before, "the intruder changed something");

    // The owner succeeds on every page, so the 404s were about ownership.
    let alice_csrf = alice.csrf().await;
    for (method, template) in &pages {
        let path = concrete(template, APP, &build);
        let response = call(&alice, method, template, &path, &alice_csrf).await;
        let expected = if *method == "GET" { StatusCode::OK } else { StatusCode::SEE_OTHER };
        let status = response.status();
        if template.ends_with("/stream") {
            assert_eq!(status, expected, "{method} {path}");
            continue;
        }
        assert_eq!(status, expected, "{method} {path} by the owner: {}", response.text().await.unwrap());
    }
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_or_from_another_origin_are_refused() {
    let api = TestApi::start().await;
    let alice_jwt = api.signup("alice@example.org").await;
    let bob_jwt = api.signup("bob@example.org").await;
    api.create_app(&alice_jwt, APP).await;
    let alice = WebSession::new(&api, &alice_jwt);
    let token = alice.csrf().await;
    let bobs_token = WebSession::new(&api, &bob_jwt).csrf().await;
    assert_ne!(token, bobs_token, "tokens are bound to the session");

    let config_path = format!("/apps/{APP}/config");
    let attempts: [&[(&str, &str)]; 4] = [
        &[("key", "FOO"), ("value", "1")],
        &[("csrf", ""), ("key", "FOO"), ("value", "1")],
        &[("csrf", "0123abcd"), ("key", "FOO"), ("value", "1")],
        &[("csrf", &bobs_token), ("key", "FOO"), ("value", "1")],
    ];
    for fields in attempts {
        let response = alice.post(&config_path, fields).await;
        assert_eq!(response.status(), 403, "{fields:?}");
        assert!(response.text().await.unwrap().contains("reload the page"));
    }
    let response = alice.post("/apps", &[("name", "beta")]).await;
    assert_eq!(response.status(), 403, "creating an app without a token");

    // The right token, sent by another site's page.
    let response = alice
        .http
        .post(format!("{}{config_path}", api.url))
        .header("cookie", &alice.cookie)
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", token.as_str()), ("key", "FOO"), ("value", "1")]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "a cross-origin form");

    let (_, config) = api.get(&format!("/v1/apps/{APP}/config"), &alice_jwt).await;
    assert_eq!(config, json!({}), "a refused form changed the config");
    let (_, apps) = api.get("/v1/apps", &alice_jwt).await;
    assert_eq!(apps["apps"].as_array().unwrap().len(), 1);

    // With the token (and a same-origin Origin) the same form works.
    let origin = api.url.clone();
    let response = alice
        .http
        .post(format!("{}{config_path}", api.url))
        .header("cookie", &alice.cookie)
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", token.as_str()), ("key", "FOO"), ("value", "1")]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let (_, config) = api.get(&format!("/v1/apps/{APP}/config"), &alice_jwt).await;
    assert_eq!(config, json!({ "FOO": "1" }));
}

/// Signs up through the signup form as a new browser would; returns the final response.
async fn signup_via_form(api: &TestApi, email: &str, password: &str) -> (reqwest::Response, String) {
    let client = http();
    let page = client.get(format!("{}/signup", api.url)).send().await.unwrap();
    let visitor = set_cookie(&page, "paas_visitor").expect("a visitor cookie").split(';').next().unwrap().to_string();
    let csrf = csrf_in(&page.text().await.unwrap()).unwrap();
    let body = serde_urlencoded::to_string([("csrf", csrf.as_str()), ("email", email), ("password", password)]);
    let response = client
        .post(format!("{}/signup", api.url))
        .header("cookie", &visitor)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.unwrap())
        .send()
        .await
        .unwrap();
    (response, visitor)
}

#[tokio::test]
async fn session_cookie_is_http_only_lax_and_secure_when_configured() {
    for secure in [false, true] {
        let api = TestApi::start_with(|c| c.cookie_secure = secure).await;
        let (response, _) = signup_via_form(&api, "carol@example.org", "correct horse battery").await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/apps");
        let cookie = set_cookie(&response, api::web::SESSION_COOKIE).expect("a session cookie").to_string();
        assert!(cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Lax"), "{cookie}");
        assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");

        // The cookie opens the dashboard, but the JSON API wants a bearer token.
        let session = cookie.split(';').next().unwrap().to_string();
        let page = http().get(format!("{}/apps", api.url)).header("cookie", &session).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let api_call = http().get(format!("{}/v1/apps", api.url)).header("cookie", &session).send().await.unwrap();
        assert_eq!(api_call.status(), 401);
    }
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_login_and_back() {
    let api = TestApi::start().await;
    let response = http().get(format!("{}/apps/alpha/config?reveal=*", api.url)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login?next=%2Fapps%2Falpha%2Fconfig%3Freveal%3D*");
    // Logging out ends the session cookie.
    let jwt = api.signup("dan@example.org").await;
    let session = WebSession::new(&api, &jwt);
    let token = session.csrf().await;
    let response = session.post("/logout", &[("csrf", &token)]).await;
    assert_eq!(response.status(), 303);
    let cleared = set_cookie(&response, api::web::SESSION_COOKIE).unwrap();
    assert!(cleared.starts_with("paas_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn rejected_forms_keep_what_was_typed_and_say_why() {
    let api = TestApi::start().await;
    let (response, _) = signup_via_form(&api, "erin@example.org", "short").await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("password must be at least 10 characters"), "{page}");
    assert!(page.contains("value=\"erin@example.org\""), "the email is kept");

    let jwt = api.signup("erin@example.org").await;
    let session = WebSession::new(&api, &jwt);
    let token = session.csrf().await;
    let response = session.post("/apps", &[("csrf", &token), ("name", "Bad Name!")]).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("app names are 2-30 characters"), "{page}");
    assert!(page.contains("value=\"Bad Name!\""), "the name is kept: {page}");
    assert!(page.contains("aria-invalid=\"true\""));

    api.create_app(&jwt, "shop").await;
    let value = "line one\n<b>two</b>";
    let response = session.post("/apps/shop/config", &[("csrf", &token), ("key", "9BAD"), ("value", value)]).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("config var name &quot;9BAD&quot; is invalid"), "{page}");
    assert!(page.contains("line one\n&lt;b&gt;two&lt;&#x2F;b&gt;"), "the value is kept, escaped: {page}");
}

#[tokio::test]
async fn domains_show_their_certificate_state_and_https_links() {
    let api = TestApi::start().await;
    let jwt = api.signup("certs@example.org").await;
    api.create_app(&jwt, "certs").await;
    for hostname in ["ok.certs.example", "bad.certs.example", "new.certs.example"] {
        let (status, _) = api.post("/v1/apps/certs/domains", &jwt, json!({ "hostname": hostname })).await;
        assert_eq!(status, 201);
    }
    // What the ACME worker stores (it needs a CA; tests/it/acme.rs runs it against Pebble).
    let set = |sql: &'static str, hostname: &'static str| {
        let db = api.db.clone();
        async move {
            sqlx::query(sql).bind(hostname).execute(&db).await.unwrap();
        }
    };
    set(
        "UPDATE certificates SET state = 'issued', chain_pem = 'x', key_sealed = '\\x00', not_after = '2031-05-17T00:00:00Z'
         WHERE domain_id = (SELECT id FROM domains WHERE hostname = $1)",
        "ok.certs.example",
    )
    .await;
    set(
        "UPDATE certificates SET state = 'failed', attempts = 1, last_error = 'connection refused at http://bad.certs.example/.well-known/acme-challenge/t',
                next_attempt_at = '2030-01-02T03:04:00Z'
         WHERE domain_id = (SELECT id FROM domains WHERE hostname = $1)",
        "bad.certs.example",
    )
    .await;
    let page = WebSession::new(&api, &jwt).get("/apps/certs/domains").await.text().await.unwrap();
    let page = page.replace("&#x2F;", "/");
    assert!(page.contains("issued, expires 2031-05-17"), "{page}");
    assert!(page.contains(r#"href="https://ok.certs.example/""#), "{page}");
    assert!(page.contains("connection refused at http://bad.certs.example/.well-known/acme-challenge/t"), "{page}");
    // No ACME worker runs here, so no next attempt is promised.
    assert!(!page.contains("Next attempt"), "{page}");
    assert!(page.contains(r#"href="http://bad.certs.example/""#), "{page}");
    // The test API runs with ACME off: a new domain says so instead of "pending".
    assert!(page.contains("PAAS_ACME_DIRECTORY=off"), "{page}");
}

#[tokio::test]
async fn the_tokens_page_makes_scoped_app_limited_expiring_tokens() {
    let api = TestApi::start().await;
    let jwt = api.signup("alice@example.org").await;
    api.create_app(&jwt, APP).await;
    let session = WebSession::new(&api, &jwt);
    let csrf = session.csrf().await;
    let fields =
        [("csrf", csrf.as_str()), ("name", "grafana"), ("scope", "read"), ("app", APP), ("expires_in_days", "7")];
    let response = session.post("/tokens", &fields).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let page = response.text().await.unwrap();
    assert!(page.contains("<td>read</td>") && page.contains(&format!("<td>{APP}</td>")), "{page}");
    let (_, list) = api.get("/v1/tokens", &jwt).await;
    assert_eq!((&list[0]["scope"], &list[0]["app"]), (&json!("read"), &json!(APP)), "{list}");
    assert!(list[0]["expires_at"].is_string(), "{list}");

    // A scope that does not exist keeps what was typed and says what is valid.
    let response = session.post("/tokens", &[("csrf", csrf.as_str()), ("name", "x"), ("scope", "root")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("scope is read, deploy or admin") && page.contains("value=\"x\""), "{page}");
}
