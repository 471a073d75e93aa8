//! `POST /v1/apps/{app}/cache/purge`: owner-checked, carried in the route table
//! (and moving its version at once), bounded to the last hour and 100 per app.

use std::time::{Duration, Instant};

use paas_types::routing::{CachePurge, RouteTable};
use paas_types::{CachePurgeRecord, ErrorBody, Event};
use serde_json::json;
use test_support::{decode, TestApi};

fn purges(table: &RouteTable, app: &str) -> Vec<CachePurge> {
    table.apps.iter().find(|a| a.name == app).expect("app in the route table").cache_purges.clone()
}

#[tokio::test]
async fn purges_are_owner_checked_and_reach_routers_at_once() {
    let api = TestApi::start().await;
    let alice = api.signup("alice@example.org").await;
    let bob = api.signup("bob@example.org").await;
    api.create_app(&alice, "shop").await;
    api.create_app(&bob, "blog").await;
    let router = api.router();
    let before = router.table(None, 0).await.unwrap();
    assert_eq!(purges(&before, "shop"), []);

    // A router long-polling the current version is answered as soon as the purge is recorded.
    let poll = tokio::spawn(async move { router.table(Some(before.version), 20).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let (status, body) = api.post("/v1/apps/shop/cache/purge", &alice, json!({ "path": "/pricing?plan=pro" })).await;
    assert_eq!(status, 202, "{body}");
    let first: CachePurgeRecord = decode(&body);
    assert_eq!(first.path.as_deref(), Some("/pricing?plan=pro"));
    let table = poll.await.unwrap().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(2), "the long poll took {:?}", asked.elapsed());
    assert!(table.version > before.version);
    assert_eq!(purges(&table, "shop"), [CachePurge { seq: first.seq, path: Some("/pricing?plan=pro".into()) }]);
    assert_eq!(purges(&table, "blog"), []);

    let (status, body) = api.post("/v1/apps/shop/cache/purge", &alice, json!({})).await;
    assert_eq!(status, 202, "{body}");
    let all: CachePurgeRecord = decode(&body);
    assert!(all.seq > first.seq && all.path.is_none());
    let table = api.router().table(None, 0).await.unwrap();
    let seqs: Vec<i64> = purges(&table, "shop").iter().map(|p| p.seq).collect();
    assert_eq!(seqs, [first.seq, all.seq], "oldest first");

    // Another tenant's app does not exist for bob; bad paths are refused with a stable code.
    let (status, body) = api.post("/v1/apps/shop/cache/purge", &bob, json!({})).await;
    assert_eq!((status.as_u16(), decode::<ErrorBody>(&body).error.code), (404, "not_found".to_owned()));
    for bad in ["pricing", "/a b", "/caf\u{e9}"] {
        let (status, body) = api.post("/v1/apps/shop/cache/purge", &alice, json!({ "path": bad })).await;
        assert_eq!((status.as_u16(), decode::<ErrorBody>(&body).error.code), (422, "validation_failed".to_owned()));
    }
    let (_, events) = api.get("/v1/apps/shop/events", &alice).await;
    let events: Vec<Event> = decode(&events);
    assert_eq!(events.iter().filter(|e| e.action == "cache.purge").count(), 2);
}

#[tokio::test]
async fn the_route_table_carries_the_last_hour_and_at_most_100_purges_per_app() {
    let api = TestApi::start().await;
    let token = api.signup("carol@example.org").await;
    let app = api.create_app(&token, "news").await;
    // 120 recent purges and one from two hours ago, straight into the table.
    sqlx::query("INSERT INTO cache_purges (app_id, path, created_at) VALUES ($1, '/old', now() - interval '2 hours')")
        .bind(app.id)
        .execute(&api.db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO cache_purges (app_id, path) SELECT $1, '/p' || n FROM generate_series(1, 120) n")
        .bind(app.id)
        .execute(&api.db)
        .await
        .unwrap();
    let carried = purges(&api.router().table(None, 0).await.unwrap(), "news");
    assert_eq!(carried.len(), 100);
    assert_eq!(carried.first().unwrap().path.as_deref(), Some("/p21"), "the newest 100, oldest first");
    assert_eq!(carried.last().unwrap().path.as_deref(), Some("/p120"));

    // Adding a purge prunes the ones no table carries any more.
    let (status, _) = api.post("/v1/apps/news/cache/purge", &token, json!({ "path": "/new" })).await;
    assert_eq!(status, 202);
    let old: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cache_purges WHERE path = '/old'").fetch_one(&api.db).await.unwrap();
    assert_eq!(old, 0);
}
