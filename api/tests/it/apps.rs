//! Apps: create, list (paged), show, delete; name rules.

use paas_types::{App, AppList, ErrorBody, Event};
use serde_json::json;
use test_support::{decode, TestApi};

#[tokio::test]
async fn create_list_show_delete() {
    let api = TestApi::start().await;
    let token = api.signup("gina@example.org").await;
    let app = api.create_app(&token, "web-shop").await;
    assert_eq!(app.hostname, "web-shop.paas.test");
    assert_eq!(app.web_url, "http://web-shop.paas.test/");
    assert_eq!(app.tenant, "gina");
    assert!(app.current_release.is_none());

    let (status, shown) = api.get("/v1/apps/web-shop", &token).await;
    assert_eq!(status, 200);
    assert_eq!(decode::<App>(&shown).id, app.id);

    // A new app runs one web process.
    let (_, formation) = api.get("/v1/apps/web-shop/formation", &token).await;
    assert_eq!(formation, json!([{ "process_type": "web", "quantity": 1, "size": "standard" }]));

    let (status, body) = api.post("/v1/apps", &token, json!({ "name": "web-shop" })).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(decode::<ErrorBody>(&body).error.code, "conflict");

    let (status, _) = api.delete("/v1/apps/web-shop", &token).await;
    assert_eq!(status, 204);
    let (status, body) = api.get("/v1/apps/web-shop", &token).await;
    assert_eq!(status, 404);
    assert_eq!(decode::<ErrorBody>(&body).error.message, "app \"web-shop\" not found");
    // The name is free again, and the deletion is in the audit log.
    api.create_app(&token, "web-shop").await;
    let (_, events) = api.get("/v1/events", &token).await;
    let events: Vec<Event> = decode(&events);
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["app.create", "app.delete", "app.create", "user.signup"]);
}

#[tokio::test]
async fn app_names_are_checked() {
    let api = TestApi::start().await;
    let token = api.signup("hal@example.org").await;
    for bad in ["A", "a", "1abc", "my_app", "ends-", "dou--ble", "Upper", "a-very-long-name-that-exceeds-30", "", "ünï"]
    {
        let (status, body) = api.post("/v1/apps", &token, json!({ "name": bad })).await;
        assert_eq!(status, 422, "{bad:?} -> {body}");
        assert_eq!(decode::<ErrorBody>(&body).error.code, "validation_failed");
    }
    // Names rejected by the API are rejected by the database too.
    let tenant: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tenants").fetch_one(&api.db).await.unwrap();
    let err =
        sqlx::query("INSERT INTO apps (id, tenant_id, name, hostname) VALUES ($1, $2, 'Bad_Name', 'x.paas.test')")
            .bind(uuid::Uuid::new_v4())
            .bind(tenant)
            .execute(&api.db)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("apps_name_syntax"), "{err}");
}

#[tokio::test]
async fn listing_pages_through_many_apps() {
    let api = TestApi::start().await;
    let token = api.signup("ivy@example.org").await;
    for i in 0..25 {
        api.create_app(&token, &format!("app-{i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let query = match &after {
            Some(a) => format!("/v1/apps?limit=10&after={a}"),
            None => "/v1/apps?limit=10".into(),
        };
        let (status, page) = api.get(&query, &token).await;
        assert_eq!(status, 200, "{page}");
        let page: AppList = decode(&page);
        seen.extend(page.apps.into_iter().map(|a| a.name));
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("app-{i:02}")).collect();
    assert_eq!(seen, expected);
    let (status, _) = api.get("/v1/apps?limit=0", &token).await;
    assert_eq!(status, 422);
    let (status, _) = api.get("/v1/apps?limit=many", &token).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_request_timeout_is_set_within_bounds() {
    let api = TestApi::start().await;
    let token = api.signup("ivy@example.org").await;
    let app = api.create_app(&token, "timed").await;
    assert_eq!(app.request_timeout_secs, 30, "the default");
    let (status, body) = api.patch("/v1/apps/timed", &token, json!({ "request_timeout_secs": 3600 })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(decode::<App>(&body).request_timeout_secs, 3600);
    assert_eq!(decode::<App>(&api.get("/v1/apps/timed", &token).await.1).request_timeout_secs, 3600);

    let range = "request_timeout_secs must be between 1 and 3600 seconds";
    let cases = [
        (json!({ "request_timeout_secs": 0 }), format!("{range} (got 0)")),
        (json!({ "request_timeout_secs": 3601 }), format!("{range} (got 3601)")),
        (json!({ "request_timeout_secs": -5 }), format!("{range} (got -5)")),
        (
            json!({}),
            "name a setting to change, e.g. {\"request_timeout_secs\": 60} or {\"https_redirect\": false}".to_owned(),
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = api.patch("/v1/apps/timed", &token, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {answer}");
        let error = decode::<ErrorBody>(&answer).error;
        assert_eq!((error.code.as_str(), error.message.as_str()), ("validation_failed", message.as_str()), "{body}");
    }
    // Wrong types and unknown settings are refused in the same envelope.
    for body in [
        json!({ "request_timeout_secs": "60" }),
        json!({ "timeout": 60 }),
        json!({ "hsts": true, "request_timeout_secs": null }),
        json!({ "https_redirect": null }),
        json!({ "hsts": "on" }),
    ] {
        let (status, answer) = api.patch("/v1/apps/timed", &token, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {answer}");
        assert_eq!(decode::<ErrorBody>(&answer).error.code, "validation_failed", "{body}");
    }
    // Nothing refused changed it; the change is in the audit log.
    let now: App = decode(&api.get("/v1/apps/timed", &token).await.1);
    assert_eq!(
        (now.request_timeout_secs, now.https_redirect, now.hsts),
        (3600, true, false),
        "defaults: redirect, no HSTS"
    );
    // The HTTPS switches change alone, leaving the rest; each moves the route table.
    let before: i64 = sqlx::query_scalar("SELECT version FROM route_state").fetch_one(&api.db).await.unwrap();
    let (status, body) = api.patch("/v1/apps/timed", &token, json!({ "https_redirect": false, "hsts": true })).await;
    assert_eq!(status, 200, "{body}");
    let app: App = decode(&body);
    assert_eq!((app.request_timeout_secs, app.https_redirect, app.hsts), (3600, false, true));
    let after: i64 = sqlx::query_scalar("SELECT version FROM route_state").fetch_one(&api.db).await.unwrap();
    assert!(after > before, "routers learn of the change");
    let (_, events) = api.get("/v1/apps/timed/events", &token).await;
    let events: Vec<Event> = decode(&events);
    assert_eq!(events[0].action, "app.update", "{events:?}");
}
