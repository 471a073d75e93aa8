//! Per-app resources: config vars, domains, formation, releases, events; and nodes.

use paas_types::{App, Domain, ErrorBody, Event, Node, Release, ReleaseDetail};
use serde_json::json;
use test_support::{decode, TestApi};

#[tokio::test]
async fn config_vars_set_unset_and_make_releases() {
    let api = TestApi::start().await;
    let token = api.signup("jack@example.org").await;
    api.create_app(&token, "cfg").await;
    let (status, config) = api.get("/v1/apps/cfg/config", &token).await;
    assert_eq!((status.as_u16(), config), (200, json!({})));

    let (status, config) =
        api.patch("/v1/apps/cfg/config", &token, json!({ "DATABASE_URL": "postgres://db", "DEBUG": "1" })).await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(config, json!({ "DATABASE_URL": "postgres://db", "DEBUG": "1" }));

    let (_, config) = api.patch("/v1/apps/cfg/config", &token, json!({ "DEBUG": null, "WEB_CONCURRENCY": "3" })).await;
    assert_eq!(config, json!({ "DATABASE_URL": "postgres://db", "WEB_CONCURRENCY": "3" }));

    let (status, config) = api.delete("/v1/apps/cfg/config/WEB_CONCURRENCY", &token).await;
    assert_eq!(status, 200);
    assert_eq!(config, json!({ "DATABASE_URL": "postgres://db" }));
    let (status, _) = api.delete("/v1/apps/cfg/config/WEB_CONCURRENCY", &token).await;
    assert_eq!(status, 404);

    for bad in [json!({ "1BAD": "x" }), json!({ "A-B": "x" }), json!({}), json!({ "A": 5 }), json!(["A"])] {
        let (status, body) = api.patch("/v1/apps/cfg/config", &token, bad.clone()).await;
        assert!(status == 422 || status == 400, "{bad} -> {status} {body}");
    }

    // Three changes, three releases, newest first, each with its snapshot.
    let (_, releases) = api.get("/v1/apps/cfg/releases", &token).await;
    let releases: Vec<Release> = decode(&releases);
    let versions: Vec<i32> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(releases[0].description, "Unset WEB_CONCURRENCY");
    assert_eq!(releases[1].description, "Set WEB_CONCURRENCY; unset DEBUG");
    assert_eq!(releases[0].author.as_deref(), Some("jack@example.org"));
    assert!(releases[0].current);
    assert!(!releases[1].current);
    let (status, detail) = api.get("/v1/apps/cfg/releases/2", &token).await;
    assert_eq!(status, 200);
    let detail: ReleaseDetail = decode(&detail);
    let expected = [("DATABASE_URL", "postgres://db"), ("WEB_CONCURRENCY", "3")];
    assert_eq!(detail.config, expected.map(|(k, v)| (k.to_string(), v.to_string())).into());
    assert_eq!(api.get("/v1/apps/cfg/releases/9", &token).await.0, 404);
    assert_eq!(api.get("/v1/apps/cfg/releases/x", &token).await.0, 400);
    let (_, app) = api.get("/v1/apps/cfg", &token).await;
    assert_eq!(decode::<App>(&app).current_release, Some(3));

    // The audit log names the vars but never their values.
    let (_, body) = api.get("/v1/apps/cfg/events", &token).await;
    let events: Vec<Event> = decode(&body);
    assert_eq!(events[0].action, "config.change");
    assert!(!body.to_string().contains("postgres://db"), "{body}");
}

#[tokio::test]
async fn domains_add_list_remove() {
    let api = TestApi::start().await;
    let token = api.signup("kim@example.org").await;
    api.create_app(&token, "site").await;
    api.create_app(&token, "other").await;
    let (status, domain) = api.post("/v1/apps/site/domains", &token, json!({ "hostname": "WWW.Example.COM." })).await;
    assert_eq!(status, 201, "{domain}");
    assert_eq!(decode::<Domain>(&domain).hostname, "www.example.com");
    let (_, list) = api.get("/v1/apps/site/domains", &token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let cases = [
        ("site", "www.example.com", 409),
        ("other", "www.example.com", 409),
        ("site", "other.paas.test", 422),
        ("site", "bad_host.com", 422),
        ("site", "localhost", 422),
        ("site", "1.2.3.4", 422),
    ];
    for (app, hostname, expected) in cases {
        let (status, body) =
            api.post(&format!("/v1/apps/{app}/domains"), &token, json!({ "hostname": hostname })).await;
        assert_eq!(status.as_u16(), expected, "{hostname} on {app}: {body}");
    }
    assert_eq!(api.delete("/v1/apps/other/domains/www.example.com", &token).await.0, 404);
    assert_eq!(api.delete("/v1/apps/site/domains/www.example.com", &token).await.0, 204);
    let (_, list) = api.get("/v1/apps/site/domains", &token).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn formation_scales_and_validates() {
    let api = TestApi::start().await;
    let token = api.signup("lee@example.org").await;
    api.create_app(&token, "scaled").await;
    let (status, formation) = api
        .patch("/v1/apps/scaled/formation", &token, json!({ "web": 3, "worker": { "quantity": 1, "size": "small" } }))
        .await;
    assert_eq!(status, 200, "{formation}");
    assert_eq!(
        formation,
        json!([
            { "process_type": "web", "quantity": 3, "size": "standard" },
            { "process_type": "worker", "quantity": 1, "size": "small" }
        ])
    );
    let (_, formation) = api.patch("/v1/apps/scaled/formation", &token, json!({ "web": { "size": "large" } })).await;
    assert_eq!(formation[0], json!({ "process_type": "web", "quantity": 3, "size": "large" }));
    for bad in [
        json!({ "web": -1 }),
        json!({ "web": 101 }),
        json!({ "Web!": 1 }),
        json!({}),
        json!({ "web": "3" }),
        json!({ "web": { "size": "huge" } }),
    ] {
        let (status, body) = api.patch("/v1/apps/scaled/formation", &token, bad.clone()).await;
        assert!(status == 422 || status == 400, "{bad} -> {status} {body}");
    }
    let (_, after) = api.get("/v1/apps/scaled/formation", &token).await;
    assert_eq!(after, formation, "rejected changes changed nothing");
}

#[tokio::test]
async fn nodes_are_for_admins() {
    let api = TestApi::start().await;
    let token = api.signup("max@example.org").await;
    let (status, body) = api.get("/v1/nodes", &token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(decode::<ErrorBody>(&body).error.code, "forbidden");
    api.make_admin("max@example.org").await;
    sqlx::query(
        "INSERT INTO nodes (id, name, address, cpu_millis, memory_mb, token_hash) VALUES ($1, 'node-1', '127.0.0.1', 2000, 4096, '\\x00')",
    )
    .bind(uuid::Uuid::new_v4())
    .execute(&api.db)
    .await
    .unwrap();
    let (status, nodes) = api.get("/v1/nodes", &token).await;
    assert_eq!(status, 200, "{nodes}");
    let nodes: Vec<Node> = decode(&nodes);
    assert_eq!(nodes[0].name, "node-1");
    assert_eq!(nodes[0].state.as_str(), "up");
    assert_eq!(nodes[0].instances, 0);
}
