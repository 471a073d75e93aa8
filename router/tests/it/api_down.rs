//! With the API down the router keeps its last good table, and a restart starts from the disk cache.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn keeps_serving_when_the_api_goes_down_and_restarts_from_disk() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(0, vec![])).await;
    let bundle = bundle(&api, "b1", &[("static/app.js", b"console.log(1)")]);
    let mut web = app("web", &["web.test"], &[&backend]);
    web.statics = Some(bundle);
    api.set(table(7, vec![web]));
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 7).await;
    assert_eq!(get(router.addr, "web.test", "/").await.status, 200);

    let api_addr = api.addr;
    api.stop();
    // Several failed polls later, still routing with the last good table.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get(router.addr, "web.test", "/").await.text(), "web GET / body=0");
    let metrics = get(router.admin_addr, "admin", "/metrics").await.text();
    assert!(metrics.contains("paas_router_route_table_version 7"), "{metrics}");
    router.shutdown().await;

    // A fresh router, API still down: routes and serves statics from the state directory alone.
    let restarted = crate::support::router(&format!("http://{api_addr}"), dir.path(), |_| {}).await;
    assert_eq!(restarted.state.table.load().version, Some(7));
    assert_eq!(get(restarted.addr, "web.test", "/x").await.text(), "web GET /x body=0");
    let js = get(restarted.addr, "web.test", "/static/app.js").await;
    assert_eq!(js.status, 200);
    assert_eq!(js.body, b"console.log(1)");
    assert_eq!(js.header("content-type").as_deref(), Some("text/javascript; charset=utf-8"));

    // The API returns with a new version: the router picks it up.
    let api = FakeApi::start_on(api_addr, table(8, vec![app("web", &["web.test", "new.test"], &[&backend])])).await;
    wait_for_version(&restarted, 8).await;
    assert_eq!(get(restarted.addr, "new.test", "/").await.status, 200);
    restarted.shutdown().await;
    api.stop();
}

#[tokio::test]
async fn the_router_token_is_sent() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(3, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    // A wrong token: the fake API answers 401 and nothing is routed (no table yet: 503, not 404).
    let wrong = router(&api.url(), dir.path(), |c| c.api.router_token = Some("wrong".into())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(wrong.state.table.load().version, None);
    assert_eq!(get(wrong.addr, "web.test", "/").await.status, 503);
    wrong.shutdown().await;
    let right = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&right, 3).await;
    assert_eq!(get(right.addr, "web.test", "/").await.status, 200);
    right.shutdown().await;
}
