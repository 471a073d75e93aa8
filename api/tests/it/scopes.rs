//! Scoped tokens, driven from the OpenAPI document: every user route is
//! called with a read, a deploy and an admin token, and with a deploy token
//! limited to one app (on that app and on another), and must refuse with
//! 403 `token_scope`/`token_app` exactly when the scope table
//! (`api::auth::scope::RULES`) says so. The table must name every route of
//! the document, so a new route cannot go unclassified.

use api::auth::scope::{self, Binding, Need, Scope};
use api::ops::config::HIDDEN_VALUE;
use paas_types::{ApiToken, AppList, CreatedToken, ErrorBody, ReleaseDetail};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::{decode, set_vars, TestApi};

use crate::isolation::call_route;

const SHOP: &str = "shop";
const OTHER: &str = "other";

/// A token of alice's under test.
struct Caller {
    label: &'static str,
    token: String,
    scope: Scope,
    app: Option<&'static str>,
}

/// Creates a token with `body` using `credential`; asserts it was created.
async fn mint(api: &TestApi, credential: &str, body: Value) -> CreatedToken {
    let (status, created) = api.post("/v1/tokens", credential, body.clone()).await;
    assert_eq!(status, 201, "creating {body}: {created}");
    decode(&created)
}

/// Every (method, template) of the OpenAPI document.
async fn documented_routes(api: &TestApi) -> Vec<(Method, String)> {
    let (status, doc) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            routes.push((Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), path.clone()));
        }
    }
    routes
}

/// A concrete path: objects that mostly do not exist (an allowed call may
/// answer 404), on app `app` of tenant alice.
fn concrete(template: &str, app: &str) -> String {
    template
        .replace("{app}", app)
        .replace("{tenant}", "alice")
        .replace("{id}", "00000000-0000-4000-8000-000000000001")
        .replace("{backup}", "00000000-0000-4000-8000-000000000002")
        .replace("{restore}", "00000000-0000-4000-8000-000000000003")
        .replace("{addon}", "no-such-addon")
        .replace("{attached}", app)
        .replace("{key}", "FOO")
        .replace("{hostname}", "www.shop.example")
        .replace("{version}", "1")
        .replace("{email}", "nobody@example.org")
        .replace("{volume}", "data")
}

/// What the table says `caller` gets on `method template` naming `app`:
/// `None` when allowed, else the refusal's code.
fn expected(caller: &Caller, method: &Method, template: &str, app: &str) -> Option<&'static str> {
    let rule = scope::rule(method, template).unwrap_or_else(|| panic!("{method} {template} is not classified"));
    let Need::User { scope: needed, binding } = rule.need else { return None };
    if caller.scope < needed {
        return Some("token_scope");
    }
    match (caller.app, binding) {
        (None, _) | (Some(_), Binding::Narrowed | Binding::Identity) => None,
        (Some(limit), Binding::App) if limit == app => None,
        (Some(_), Binding::App | Binding::Account) => Some("token_app"),
    }
}

/// The error code of an answer, if it is an error envelope.
fn code_of(answer: &Value) -> Option<String> {
    answer["error"]["code"].as_str().map(str::to_string)
}

/// What a refused call must not have changed: the app as its owner sees it.
async fn snapshot(api: &TestApi, session: &str, app: &str) -> Value {
    let mut state = json!({});
    for path in ["", "/config", "/domains", "/formation", "/releases", "/builds", "/volumes", "/routes", "/addons"] {
        state[path] = api.get(&format!("/v1/apps/{app}{path}"), session).await.1;
    }
    state
}

/// Calls every user route as `caller` on `app` and checks each answer
/// against the table; returns (allowed, refused) counts.
async fn walk(api: &TestApi, caller: &Caller, routes: &[(Method, String)], app: &str) -> (usize, usize) {
    let (mut allowed, mut refused) = (0, 0);
    for (method, template) in routes {
        let Some(Need::User { scope: needed, .. }) = scope::rule(method, template).map(|r| r.need) else { continue };
        let path = concrete(template, app);
        let (status, answer) = if template == "/v1/tokens" && method == Method::POST {
            api.post(&path, &caller.token, json!({ "name": "walk", "scope": "read" })).await
        } else {
            call_route(api, method, template, &path, &caller.token).await
        };
        let what = format!("{} {method} {path}", caller.label);
        match expected(caller, method, template, app) {
            Some(code) => {
                refused += 1;
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} must be refused: {answer}");
                let ErrorBody { error } = decode(&answer);
                assert_eq!(error.code, code, "{what}: {answer}");
                if code == "token_scope" {
                    let needs = format!("needs a token of scope {needed}");
                    assert!(error.message.contains(&needs), "{what}: {}", error.message);
                    assert!(error.message.contains("paas tokens create"), "{what}: {}", error.message);
                } else {
                    assert!(error.message.contains("limited to app \"shop\""), "{what}: {}", error.message);
                }
            }
            None => {
                allowed += 1;
                // It may fail for other reasons (404, 409, 422), never for its credential.
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
                let code = code_of(&answer);
                assert!(
                    !matches!(code.as_deref(), Some("token_scope" | "token_app")),
                    "{what} is allowed by the table but refused: {answer}"
                );
            }
        }
    }
    (allowed, refused)
}

#[tokio::test]
async fn the_scope_table_names_every_route_of_the_document() {
    let api = TestApi::start().await;
    let routes = documented_routes(&api).await;
    let unclassified: Vec<String> = routes
        .iter()
        .filter(|(method, path)| scope::rule(method, path).is_none())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(unclassified.is_empty(), "add these routes to api/src/auth/scope.rs RULES: {unclassified:?}");
    let stale: Vec<String> = scope::RULES
        .iter()
        .filter(|rule| !routes.iter().any(|(method, path)| method.as_str() == rule.method && path == rule.path))
        .map(|rule| format!("{} {}", rule.method, rule.path))
        .collect();
    assert!(stale.is_empty(), "the scope table names routes the API does not have: {stale:?}");
    // The document tells clients what each operation needs, and that it may refuse.
    let (_, doc) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    for (method, path) in &routes {
        let operation = &doc["paths"][path][method.as_str().to_lowercase()];
        match scope::rule(method, path).unwrap().need {
            Need::User { scope, .. } => {
                assert_eq!(operation["x-token-scope"], scope.as_str(), "{method} {path}");
                assert!(operation["responses"]["403"].is_object(), "{method} {path} documents no 403");
            }
            _ => assert!(operation.get("x-token-scope").is_none(), "{method} {path}"),
        }
    }
    // Whatever the table grows into: read never changes anything, and what
    // deploy may not do includes removing apps and managing people.
    for (method, path) in &routes {
        if let Need::User { scope, .. } = scope::rule(method, path).unwrap().need {
            if method != Method::GET {
                assert!(scope >= Scope::Deploy, "{method} {path} is open to read tokens");
            }
        }
    }
    let needs = |method: Method, path: &str| scope::rule(&method, path).unwrap().need;
    let admin = |binding| Need::User { scope: Scope::Admin, binding };
    assert_eq!(needs(Method::DELETE, "/v1/apps/{app}"), admin(Binding::App));
    assert_eq!(needs(Method::POST, "/v1/tenants/{tenant}/members"), admin(Binding::Account));
    assert_eq!(needs(Method::DELETE, "/v1/tokens/{id}"), admin(Binding::Account));
    let deploy = Need::User { scope: Scope::Deploy, binding: Binding::App };
    for path in ["/v1/apps/{app}/builds", "/v1/apps/{app}/releases/{version}/rollback", "/v1/apps/{app}/runs"] {
        assert_eq!(needs(Method::POST, path), deploy, "{path}");
    }
    for path in ["/v1/apps/{app}/config", "/v1/apps/{app}/formation"] {
        assert_eq!(needs(Method::PATCH, path), deploy, "{path}");
    }
}

#[tokio::test]
async fn every_route_refuses_exactly_what_the_table_says_for_each_scope() {
    let api = TestApi::start().await;
    let session = api.signup("alice@example.org").await;
    api.create_app(&session, SHOP).await;
    api.create_app(&session, OTHER).await;
    for app in [SHOP, OTHER] {
        api.rest(&session).update_config(app, &set_vars(&[("FOO", "bar")])).await.expect("config set");
    }
    let token = |scope: &str| json!({ "name": format!("walk {scope}"), "scope": scope });
    let read = mint(&api, &session, token("read")).await.token;
    let deploy = mint(&api, &session, token("deploy")).await.token;
    let admin = mint(&api, &session, token("admin")).await.token;
    let limited = mint(&api, &session, json!({ "name": "shop ci", "scope": "deploy", "app": SHOP })).await;
    assert_eq!((limited.info.scope, limited.info.app.as_deref()), (Scope::Deploy, Some(SHOP)));

    let mut routes = documented_routes(&api).await;
    // Removals last, the app itself at the very end: the walks go on with it.
    routes.sort_by_key(|(method, template)| (*method == Method::DELETE, template == "/v1/apps/{app}"));
    let user_routes = routes.iter().filter(|(m, t)| matches!(scope::rule(m, t).unwrap().need, Need::User { .. }));
    let user_routes = user_routes.count();
    assert!(user_routes >= 55, "expected the whole user API, found {user_routes} routes");

    let caller = |label, token: &str, scope, app| Caller { label, token: token.to_string(), scope, app };
    let shop_ci = caller("deploy token of shop", &limited.token, Scope::Deploy, Some(SHOP));
    let other_before = snapshot(&api, &session, OTHER).await;
    let (allowed, refused) = walk(&api, &shop_ci, &routes, OTHER).await;
    assert_eq!(allowed, 2, "a token of shop may list its apps and see who it is, nothing of other");
    assert_eq!(refused, user_routes - 2);
    assert_eq!(snapshot(&api, &session, OTHER).await, other_before, "a refused call changed app other");
    let (allowed, refused) = walk(&api, &shop_ci, &routes, SHOP).await;
    println!("deploy token of shop on shop: {allowed} allowed, {refused} refused");
    assert!(allowed > 0 && refused > 0);

    let shop_before = snapshot(&api, &session, SHOP).await;
    let (allowed, refused) = walk(&api, &caller("read token", &read, Scope::Read, None), &routes, SHOP).await;
    println!("read token: {allowed} allowed, {refused} refused");
    assert_eq!(snapshot(&api, &session, SHOP).await, shop_before, "a read token changed app shop");
    assert!(allowed > 0 && refused > 0);
    let (allowed, refused) = walk(&api, &caller("deploy token", &deploy, Scope::Deploy, None), &routes, SHOP).await;
    println!("deploy token: {allowed} allowed, {refused} refused");
    assert!(allowed > 0 && refused > 0);
    let (allowed, refused) = walk(&api, &caller("admin token", &admin, Scope::Admin, None), &routes, SHOP).await;
    println!("admin token: {allowed} allowed, {refused} refused");
    assert_eq!((allowed, refused), (user_routes, 0));
    // The admin walk ended by deleting shop: the token limited to it went with it.
    let (status, answer) = api.get("/v1/apps/shop", &session).await;
    assert_eq!(status, 404, "the admin walk did not delete shop: {answer}");
    let (status, answer) = api.get("/v1/me", &limited.token).await;
    assert_eq!(status, 401, "a token limited to a deleted app still works: {answer}");
}

#[tokio::test]
async fn read_tokens_see_config_keys_but_not_values_and_app_tokens_see_one_app() {
    let api = TestApi::start().await;
    let session = api.signup("alice@example.org").await;
    api.create_app(&session, SHOP).await;
    api.create_app(&session, OTHER).await;
    api.rest(&session).update_config(SHOP, &set_vars(&[("SECRET_KEY", "hunter2-value")])).await.expect("config set");
    let read = mint(&api, &session, json!({ "name": "dashboards", "scope": "read" })).await.token;
    let deploy = mint(&api, &session, json!({ "name": "ci", "scope": "deploy" })).await.token;

    let (status, config) = api.get("/v1/apps/shop/config", &read).await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(config, json!({ "SECRET_KEY": HIDDEN_VALUE }));
    let (_, config) = api.get("/v1/apps/shop/config", &deploy).await;
    assert_eq!(config, json!({ "SECRET_KEY": "hunter2-value" }));
    let (status, release) = api.get("/v1/apps/shop/releases/1", &read).await;
    assert_eq!(status, 200, "{release}");
    let release: ReleaseDetail = decode(&release);
    assert_eq!(release.config.get("SECRET_KEY").map(String::as_str), Some(HIDDEN_VALUE));
    let (status, answer) = api.patch("/v1/apps/shop/config", &read, json!({ "SECRET_KEY": "x" })).await;
    assert_eq!((status, code_of(&answer).as_deref()), (StatusCode::FORBIDDEN, Some("token_scope")), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("--scope deploy"), "{answer}");

    let limited = mint(&api, &session, json!({ "name": "shop", "scope": "read", "app": SHOP })).await.token;
    let (_, page) = api.get("/v1/apps", &limited).await;
    let names: Vec<String> = decode::<AppList>(&page).apps.into_iter().map(|a| a.name).collect();
    assert_eq!(names, [SHOP], "{page}");
    let (_, page) = api.get("/v1/apps", &read).await;
    assert_eq!(decode::<AppList>(&page).apps.len(), 2, "{page}");
    let (status, answer) = api.get("/v1/apps/other/config", &limited).await;
    assert_eq!((status, code_of(&answer).as_deref()), (StatusCode::FORBIDDEN, Some("token_app")), "{answer}");
    let (status, answer) = api.get("/v1/tokens", &limited).await;
    assert_eq!((status, code_of(&answer).as_deref()), (StatusCode::FORBIDDEN, Some("token_app")), "{answer}");
}

#[tokio::test]
async fn tokens_never_mint_more_rights_than_their_own() {
    let api = TestApi::start().await;
    let session = api.signup("alice@example.org").await;
    api.create_app(&session, SHOP).await;
    let deploy = mint(&api, &session, json!({ "name": "ci", "scope": "deploy" })).await.token;

    for body in [json!({ "name": "up", "scope": "admin" }), json!({ "name": "default is admin" })] {
        let (status, answer) = api.post("/v1/tokens", &deploy, body).await;
        assert_eq!((status, code_of(&answer).as_deref()), (StatusCode::FORBIDDEN, Some("token_scope")), "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("a deploy token cannot create a token of scope admin"), "{message}");
    }
    let narrower = mint(&api, &deploy, json!({ "name": "look", "scope": "read", "app": SHOP })).await;
    assert_eq!((narrower.info.scope, narrower.info.app.as_deref()), (Scope::Read, Some(SHOP)));
    let same = mint(&api, &deploy, json!({ "name": "peer", "scope": "deploy" })).await;
    assert_eq!(same.info.scope, Scope::Deploy);

    // A token that expires makes only tokens that expire no later.
    let brief = mint(&api, &session, json!({ "name": "brief", "expires_in_hours": 12 })).await;
    let expires = brief.info.expires_at.expect("an expiry");
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((11.9..=12.0).contains(&hours), "12h token expires in {hours} h");
    for body in [json!({ "name": "forever" }), json!({ "name": "longer", "expires_in_days": 1 })] {
        let (status, answer) = api.post("/v1/tokens", &brief.token, body).await;
        assert_eq!((status, code_of(&answer).as_deref()), (StatusCode::FORBIDDEN, Some("token_scope")), "{answer}");
    }
    mint(&api, &brief.token, json!({ "name": "shorter", "expires_in_hours": 1 })).await;

    // Expiry given twice, or out of range; an app that is not the caller's.
    let bob = api.signup("bob@example.org").await;
    api.create_app(&bob, "bobs-app").await;
    for (body, status) in [
        (json!({ "name": "x", "expires_in_days": 1, "expires_in_hours": 1 }), 422),
        (json!({ "name": "x", "expires_in_hours": 0 }), 422),
        (json!({ "name": "x", "scope": "root" }), 422),
        (json!({ "name": "x", "app": "bobs-app" }), 404),
    ] {
        let (got, answer) = api.post("/v1/tokens", &session, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
    }
}

/// The caller's token named `name`, as `GET /v1/tokens` lists it.
async fn listed(api: &TestApi, session: &str, name: &str) -> ApiToken {
    let (_, list) = api.get("/v1/tokens", session).await;
    decode::<Vec<ApiToken>>(&list).into_iter().find(|t| t.name == name).expect("listed")
}

/// Runs git in `dir`; whether it succeeded, and its stderr.
fn git(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn expired_tokens_are_refused_and_use_is_recorded() {
    let api = TestApi::start().await;
    let session = api.signup("alice@example.org").await;
    let created = mint(&api, &session, json!({ "name": "soon", "scope": "read", "expires_in_days": 30 })).await;
    assert_eq!(listed(&api, &session, "soon").await.last_used_at, None);
    let (status, _) = api.get("/v1/me", &created.token).await;
    assert_eq!(status, 200);
    let used = listed(&api, &session, "soon").await;
    assert!(used.last_used_at.is_some(), "last use not recorded");
    assert_eq!((used.scope, used.app), (Scope::Read, None));

    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(created.info.id)
        .execute(&api.db)
        .await
        .unwrap();
    let (status, answer) = api.get("/v1/me", &created.token).await;
    assert_eq!((status, code_of(&answer).as_deref()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{answer}");
}

#[tokio::test]
async fn tokens_made_before_scopes_keep_every_right() {
    let api = TestApi::start().await;
    let session = api.signup("alice@example.org").await;
    let (me, _) = api.get("/v1/me", &session).await;
    assert_eq!(me, 200);
    // As the code before migration 0015 inserted them: no scope, no app.
    let (secret, prefix) = api::auth::token::generate();
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix)
         SELECT gen_random_uuid(), id, 'old', $1, $2 FROM users WHERE email = 'alice@example.org'",
    )
    .bind(api::auth::token::hash(&secret))
    .bind(prefix)
    .execute(&api.db)
    .await
    .unwrap();
    let admin = mint(&api, &secret, json!({ "name": "minted by an old token", "scope": "admin" })).await;
    assert_eq!((admin.info.scope, admin.info.app), (Scope::Admin, None));
}

#[tokio::test]
async fn git_push_needs_a_deploy_token_for_that_app() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_path_buf();
    let api = TestApi::start_with(move |c| c.git_cache_dir = Some(cache_dir)).await;
    let session = api.signup("alice@example.org").await;
    api.create_app(&session, SHOP).await;
    api.create_app(&session, OTHER).await;
    let read = mint(&api, &session, json!({ "name": "read", "scope": "read" })).await.token;
    let deploy = mint(&api, &session, json!({ "name": "deploy", "scope": "deploy" })).await.token;
    let limited = mint(&api, &session, json!({ "name": "other ci", "scope": "deploy", "app": OTHER })).await.token;

    let advertise = |token: String, service: &'static str| {
        let url = format!("{}/git/shop.git/info/refs?service={service}", api.url);
        let http = api.http.clone();
        async move {
            let response = http.get(url).basic_auth("git", Some(token)).send().await.expect("git endpoint answers");
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, text) = advertise(read.clone(), "git-receive-pack").await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("git push needs a token of scope deploy, and this one is read"), "{text}");
    let (status, text) = advertise(limited.clone(), "git-receive-pack").await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("limited to app \"other\""), "{text}");
    let other = format!("{}/git/other.git/info/refs?service=git-receive-pack", api.url);
    let response = api.http.get(other).basic_auth("git", Some(&limited)).send().await.unwrap();
    assert_eq!(response.status(), 200, "a token of other may push to other");
    let (status, text) = advertise(read.clone(), "git-upload-pack").await;
    assert_eq!(status, 200, "read tokens may fetch: {text}");
    let (status, text) = advertise(deploy.clone(), "git-receive-pack").await;
    assert_eq!(status, 200, "deploy tokens may push: {text}");

    // The real git client shows the reason to the person pushing.
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("wsgi.py"), "application = None\n").unwrap();
    for step in [&["init", "-q"][..], &["add", "."], &["commit", "-qm", "first"]] {
        let (done, stderr) = git(repo.path(), step);
        assert!(done, "git {step:?}: {stderr}");
    }
    let remote = format!("http://git:{read}@{}/git/shop.git", api.addr);
    let dir = repo.path().to_path_buf();
    let push = tokio::task::spawn_blocking(move || git(&dir, &["push", &remote, "main"]));
    let (pushed, stderr) = push.await.unwrap();
    assert!(!pushed, "a read token pushed: {stderr}");
    assert!(stderr.contains("needs a token of scope deploy"), "git shows no reason: {stderr}");
    let builds: i64 = sqlx::query_scalar("SELECT count(*) FROM builds").fetch_one(&api.db).await.unwrap();
    assert_eq!(builds, 0);
}
