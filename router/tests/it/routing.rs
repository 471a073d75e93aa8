//! Host routing, balancing, live table updates, error pages, health and retries.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn routes_by_host_case_insensitively_and_unknown_hosts_get_404() {
    let (a, b) = (TestBackend::start("alpha").await, TestBackend::start("beta").await);
    let api = FakeApi::start(table(
        1,
        vec![app("alpha", &["alpha.paas.test", "www.alpha.example"], &[&a]), app("beta", &["beta.paas.test"], &[&b])],
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    let answer = get(router.addr, "ALPHA.Paas.Test:8000", "/x").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "alpha GET /x body=0");
    assert_eq!(get(router.addr, "www.alpha.example", "/").await.text(), "alpha GET / body=0");
    assert_eq!(get(router.addr, "beta.paas.test.", "/").await.text(), "beta GET / body=0");

    let unknown = get(router.addr, "nobody.paas.test", "/").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.text().contains("No app is configured for this hostname"), "{}", unknown.text());
    assert_eq!(a.seen().len(), 2);
    assert_eq!(b.seen().len(), 1);
    router.shutdown().await;
}

#[tokio::test]
async fn balances_over_instances_and_reuses_connections() {
    let (one, two) = (TestBackend::start("one").await, TestBackend::start("two").await);
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&one, &two])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    for _ in 0..10 {
        assert_eq!(get(router.addr, "web.test", "/").await.status, 200);
    }
    assert_eq!(one.seen().len() + two.seen().len(), 10);
    assert!(one.seen().len() >= 3 && two.seen().len() >= 3, "{} / {}", one.seen().len(), two.seen().len());
    router.shutdown().await;
}

#[tokio::test]
async fn table_changes_reach_the_router_within_a_second() {
    let (old, new) = (TestBackend::start("old").await, TestBackend::start("new").await);
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&old])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    assert_eq!(get(router.addr, "web.test", "/").await.text(), "old GET / body=0");
    // Let the router settle into its long-poll before the change.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A deploy: new instance, plus a custom domain.
    let changed = Instant::now();
    api.set(table(2, vec![app("web", &["web.test", "shop.example"], &[&new])]));
    let mut routed = None;
    for _ in 0..100 {
        let answer = get(router.addr, "shop.example", "/").await;
        if answer.status == 200 {
            routed = Some((changed.elapsed(), answer.text()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (took, text) = routed.expect("custom domain never routed");
    assert_eq!(text, "new GET / body=0");
    assert!(took < Duration::from_secs(1), "update took {took:?}");
    assert_eq!(get(router.addr, "web.test", "/").await.text(), "new GET / body=0");
    // Scale to zero: 503.
    api.set(table(3, vec![app("web", &["web.test"], &[])]));
    wait_for_version(&router, 3).await;
    let down = get(router.addr, "web.test", "/").await;
    assert_eq!(down.status, 503);
    assert!(down.text().contains("no running instance"), "{}", down.text());
    router.shutdown().await;
}

#[tokio::test]
async fn refused_instance_is_skipped_retried_elsewhere_and_probed_back_in() {
    let live = TestBackend::start("live").await;
    // Reserve a port, then free it: connections to it are refused.
    let dead_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut entry = app("web", &["web.test"], &[&live]);
    entry.backends.insert(0, backend_entry(&dead_addr.to_string()));
    let api = FakeApi::start(table(1, vec![entry])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    for _ in 0..6 {
        let answer = get(router.addr, "web.test", "/").await;
        assert_eq!(answer.status, 200, "a refused connect must be retried on the live instance");
    }
    assert_eq!(live.seen().len(), 6);
    let dead = router.state.table.load().apps[0].backends[0].clone();
    assert!(dead.is_down());

    // The instance comes back on the same port: the health probe returns it to rotation.
    let revived = TestBackend::start_on("revived", dead_addr).await;
    for _ in 0..50 {
        if !dead.is_down() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!dead.is_down(), "never probed back in");
    for _ in 0..6 {
        get(router.addr, "web.test", "/").await;
    }
    assert!(!revived.seen().is_empty());
    router.shutdown().await;
}

#[tokio::test]
async fn connect_failure_is_502_and_slow_instance_is_504() {
    let dead_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let slow = TestBackend::start("slow").await;
    let mut refused = app("refused", &["refused.test"], &[]);
    refused.backends.push(backend_entry(&dead_addr.to_string()));
    let api = FakeApi::start(table(1, vec![refused, app("slow", &["slow.test"], &[&slow])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| c.upstream.response_timeout_secs = 1).await;
    wait_for_version(&router, 1).await;

    let answer = get(router.addr, "refused.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.text().contains("refused the connection"), "{}", answer.text());
    // Now marked down: no healthy instance.
    let answer = get(router.addr, "refused.test", "/").await;
    assert_eq!(answer.status, 503);

    let started = Instant::now();
    let answer = get(router.addr, "slow.test", "/sleep/3000").await;
    assert_eq!(answer.status, 504);
    assert!(answer.text().contains("did not answer in time"), "{}", answer.text());
    assert!(started.elapsed() < Duration::from_millis(2500));
    router.shutdown().await;
}

#[tokio::test]
async fn forwarding_headers_are_set_and_client_values_replaced() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    let extra = "X-Forwarded-For: 6.6.6.6\r\nX-Request-Id: forged\r\nX-Forwarded-Proto: https\r\n\
                 Connection: X-Drop\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\n";
    let answer = get_with(router.addr, "web.test", "/", extra).await;
    assert_eq!(answer.status, 200);
    let seen = &backend.seen()[0];
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-host"], "web.test");
    assert_eq!(seen.headers["host"], "web.test");
    let id = seen.headers["x-request-id"].to_str().unwrap();
    assert_ne!(id, "forged");
    assert_eq!(answer.header("x-request-id").as_deref(), Some(id));
    assert!(seen.headers.get("x-drop").is_none() && seen.headers.get("keep-alive").is_none());
    router.shutdown().await;
}

#[tokio::test]
async fn trusted_proxy_values_are_kept() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    wait_for_version(&router, 1).await;
    let extra = "X-Forwarded-For: 203.0.113.7\r\nX-Request-Id: lb-123\r\nX-Forwarded-Proto: https\r\n";
    assert_eq!(get_with(router.addr, "web.test", "/", extra).await.status, 200);
    let seen = &backend.seen()[0];
    assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
    assert_eq!(seen.headers["x-request-id"], "lb-123");
    router.shutdown().await;
}

#[tokio::test]
async fn keep_alive_clients_get_many_answers_on_one_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    let mut stream = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    for i in 0..3 {
        let body = format!("n={i}");
        let request = format!("POST /p HTTP/1.1\r\nHost: web.test\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.unwrap().unwrap();
        let answer = parse_answer(&buf[..n]);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text(), "web POST /p body=3");
    }
    let metrics = get(router.admin_addr, "admin", "/metrics").await.text();
    assert!(metrics.contains("paas_router_requests_total{app=\"web\",status=\"200\"} 3"), "{metrics}");
    assert!(metrics.contains("paas_router_open_connections 1"), "{metrics}");
    assert!(metrics.contains("paas_router_upstream_duration_seconds_count{app=\"web\"} 3"), "{metrics}");
    router.shutdown().await;
}
