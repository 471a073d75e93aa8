//! Queue visibility and protection for sync workers: per-instance concurrency
//! caps with a FIFO queue in the router, the queue timeout, `X-Request-Start`,
//! the per-app request timeout and the queue metrics.
//!
//! The backends here can serve many requests at once and record the most they
//! ever had in flight, so "never more than its cap" is measured, not assumed.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paas_types::routing::RouteApp;
use tokio::task::JoinSet;

use crate::support::*;

/// `web.test` served by `backends`, each capped at the matching entry of `caps`.
fn capped(backends: &[&TestBackend], caps: &[Option<u32>]) -> RouteApp {
    let mut entry = app("web", &["web.test"], backends);
    for (backend, cap) in entry.backends.iter_mut().zip(caps) {
        backend.concurrency = *cap;
    }
    entry
}

/// `n` concurrent GETs of `path`, each on its own connection: (status, Retry-After, page, seconds taken).
async fn burst(addr: SocketAddr, n: usize, path: &str) -> Vec<(u16, Option<String>, String, f64)> {
    let mut clients = JoinSet::new();
    for _ in 0..n {
        let path = path.to_owned();
        clients.spawn(async move {
            let started = Instant::now();
            let answer = get(addr, "web.test", &path).await;
            (answer.status, answer.header("retry-after"), answer.text(), started.elapsed().as_secs_f64())
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = clients.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}

fn statuses(answers: &[(u16, Option<String>, String, f64)]) -> Vec<u16> {
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    statuses.sort();
    statuses
}

/// The API stand-in serving `apps`, its router's state directory, and a router (adjusted by
/// `tune`) that has the table.
async fn serve(
    apps: Vec<RouteApp>,
    tune: impl FnOnce(&mut paas_router::Config),
) -> (FakeApi, tempfile::TempDir, paas_router::Running) {
    let api = FakeApi::start(table(1, apps)).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), tune).await;
    wait_for_version(&router, 1).await;
    (api, dir, router)
}

async fn metrics(router: &paas_router::Running) -> String {
    get(router.admin_addr, "admin", "/metrics").await.text()
}

/// The value of the metric line starting with `series ` (e.g. `paas_router_queue_depth{app="web"}`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn a_one_worker_instance_never_sees_two_requests_and_queued_ones_all_succeed() {
    let backend = TestBackend::start("one").await;
    // Two worker threads: a freed slot is handed to a waiter on the other thread too.
    let (_api, _dir, router) = serve(vec![capped(&[&backend], &[Some(1)])], |c| c.workers = 2).await;

    let started = Instant::now();
    let answers = burst(router.addr, 20, "/sleep/200").await;
    let took = started.elapsed();
    assert_eq!(statuses(&answers), [200; 20], "{answers:?}");
    assert_eq!(backend.max_in_flight(), 1, "the instance had more requests than workers");
    assert_eq!(backend.seen().len(), 20);
    // One at a time: at least 20 x 200 ms, well within the 10 s queue timeout.
    assert!(took >= Duration::from_millis(3900), "20 requests took only {took:?}: not one at a time");
    router.shutdown().await;
}

#[tokio::test]
async fn requests_that_wait_longer_than_the_queue_timeout_get_503_with_retry_after() {
    let backend = TestBackend::start("busy").await;
    let (_api, _dir, router) =
        serve(vec![capped(&[&backend], &[Some(1)])], |c| c.upstream.queue_timeout_secs = 1).await;

    // 400 ms each, one at a time: about three start within the 1 s queue timeout.
    let answers = burst(router.addr, 8, "/sleep/400").await;
    let served = answers.iter().filter(|a| a.0 == 200).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 != 200).collect();
    assert!((2..=4).contains(&served), "{answers:?}");
    for (status, retry_after, page, secs) in &refused {
        assert_eq!(*status, 503, "{answers:?}");
        assert_eq!(retry_after.as_deref(), Some("5"));
        assert!(page.contains("too busy") && page.contains("for 1 second while"), "{page}");
        assert!(*secs >= 0.9, "refused after {secs} s, before the queue timeout");
    }
    assert_eq!(backend.max_in_flight(), 1);
    assert_eq!(backend.seen().len(), served, "a refused request reached the instance");
    let text = metrics(&router).await;
    assert_eq!(metric(&text, "paas_router_queue_timeouts_total{app=\"web\"}"), Some(refused.len() as f64), "{text}");
    assert_eq!(metric(&text, "paas_router_requests_total{app=\"web\",status=\"503\"}"), Some(refused.len() as f64));
    router.shutdown().await;
}

#[tokio::test]
async fn load_spreads_over_capped_instances_and_none_exceeds_its_cap() {
    let (two, one) = (TestBackend::start("two").await, TestBackend::start("one").await);
    let (_api, _dir, router) = serve(vec![capped(&[&two, &one], &[Some(2), Some(1)])], |c| c.workers = 2).await;

    let answers = burst(router.addr, 24, "/sleep/150").await;
    assert_eq!(statuses(&answers), [200; 24], "{answers:?}");
    assert_eq!((two.max_in_flight(), one.max_in_flight()), (2, 1), "each full, neither over its cap");
    let (a, b) = (two.seen().len(), one.seen().len());
    assert_eq!(a + b, 24);
    // Three workers in all, two of them on the first instance.
    assert!(b >= 4 && a >= b, "two workers served {a}, one worker served {b}");
    router.shutdown().await;
}

#[tokio::test]
async fn retries_after_a_refused_connect_respect_the_caps() {
    let live = TestBackend::start("live").await;
    // A port nobody listens on: the first request to it is refused and retried on `live`.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut entry = capped(&[&live], &[Some(1)]);
    entry.backends.insert(0, backend_entry(&dead.to_string()));
    entry.backends[0].concurrency = Some(1);
    let (_api, _dir, router) = serve(vec![entry], |c| c.upstream.health_interval_ms = 60_000).await;

    let answers = burst(router.addr, 10, "/sleep/100").await;
    assert_eq!(statuses(&answers), [200; 10], "{answers:?}");
    assert_eq!(live.max_in_flight(), 1, "a retry went past the cap");
    assert_eq!(live.seen().len(), 10);
    router.shutdown().await;
}

#[tokio::test]
async fn x_request_start_is_stamped_and_a_forged_one_replaced_unless_the_peer_is_trusted() {
    let backend = TestBackend::start("apm").await;
    let (api, _dir, router) = serve(vec![app("web", &["web.test"], &[&backend])], |_| {}).await;

    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
    let before = now();
    assert_eq!(get(router.addr, "web.test", "/plain").await.status, 200);
    assert_eq!(get_with(router.addr, "web.test", "/forged", "X-Request-Start: t=1\r\n").await.status, 200);
    let after = now();
    assert_eq!(backend.seen().len(), 2);
    for seen in backend.seen() {
        let values: Vec<_> = seen.headers.get_all("x-request-start").iter().collect();
        assert_eq!(values.len(), 1, "{}: {values:?}", seen.path);
        let text = values[0].to_str().unwrap();
        let micros: i64 = text.strip_prefix("t=").and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("{text}"));
        assert!(text.len() == 18, "t= and 16 digits of microseconds: {text}");
        assert!((before..=after).contains(&micros), "{text} is not between {before} and {after}");
    }
    router.shutdown().await;

    // Behind a trusted load balancer its (earlier) stamp stays.
    let dir = tempfile::tempdir().unwrap();
    let trusting = crate::support::router(&api.url(), dir.path(), |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    wait_for_version(&trusting, 1).await;
    get_with(trusting.addr, "web.test", "/trusted", "X-Request-Start: t=1700000000000000\r\n").await;
    let seen = backend.seen().into_iter().find(|s| s.path == "/trusted").unwrap();
    assert_eq!(seen.headers["x-request-start"], "t=1700000000000000");
    trusting.shutdown().await;
}

#[tokio::test]
async fn the_apps_request_timeout_wins_over_the_routers_default() {
    let backend = TestBackend::start("slow").await;
    let mut quick = app("quick", &["quick.test"], &[&backend]);
    quick.request_timeout_secs = Some(1);
    let (_api, _dir, router) =
        serve(vec![quick, app("default", &["default.test"], &[&backend])], |c| c.upstream.response_timeout_secs = 3)
            .await;

    let started = Instant::now();
    let answer = get(router.addr, "quick.test", "/sleep/5000").await;
    let took = started.elapsed();
    assert_eq!(answer.status, 504, "{}", answer.text());
    assert!(answer.text().contains("did not answer in time"), "{}", answer.text());
    assert!(took >= Duration::from_millis(950) && took < Duration::from_millis(2500), "504 after {took:?}, not ~1 s");

    // An app without its own timeout keeps the router's.
    let started = Instant::now();
    assert_eq!(get(router.addr, "default.test", "/sleep/5000").await.status, 504);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(2950) && took < Duration::from_millis(4500), "504 after {took:?}, not ~3 s");
    router.shutdown().await;
}

#[tokio::test]
async fn time_in_the_queue_does_not_count_against_the_request_timeout() {
    let backend = TestBackend::start("one").await;
    let mut entry = capped(&[&backend], &[Some(1)]);
    entry.request_timeout_secs = Some(1);
    let (_api, _dir, router) = serve(vec![entry], |_| {}).await;

    // The second waits ~700 ms, then takes 700 ms: 1.4 s in all, 0.7 s of it at the app.
    let answers = burst(router.addr, 2, "/sleep/700").await;
    assert_eq!(statuses(&answers), [200, 200], "{answers:?}");
    assert!(answers.iter().any(|a| a.3 > 1.3), "{answers:?}");
    router.shutdown().await;
}

#[tokio::test]
async fn metrics_show_queue_depth_time_and_timeouts() {
    let backend = TestBackend::start("one").await;
    let (_api, _dir, router) = serve(vec![capped(&[&backend], &[Some(1)])], |_| {}).await;

    let addr = router.addr;
    let load = tokio::spawn(async move { burst(addr, 6, "/sleep/300").await });
    // While the burst runs, the depth gauge shows the waiting requests.
    let mut deepest = 0.0f64;
    for _ in 0..100 {
        let depth = metric(&metrics(&router).await, "paas_router_queue_depth{app=\"web\"}").unwrap_or(0.0);
        deepest = deepest.max(depth);
        if load.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answers = load.await.unwrap();
    assert_eq!(statuses(&answers), [200; 6]);
    assert!(deepest >= 3.0, "queue depth never rose above {deepest}");

    let text = metrics(&router).await;
    assert_eq!(metric(&text, "paas_router_queue_depth{app=\"web\"}"), Some(0.0), "{text}");
    let waited = metric(&text, "paas_router_queue_duration_seconds_count{app=\"web\"}").unwrap_or(0.0);
    assert!((4.0..=5.0).contains(&waited), "{waited} requests waited: {text}");
    // Five waits of 0.3-1.5 s each.
    let sum = metric(&text, "paas_router_queue_duration_seconds_sum{app=\"web\"}").unwrap();
    assert!((2.0..=5.5).contains(&sum), "{text}");
    assert_eq!(metric(&text, "paas_router_queue_timeouts_total{app=\"web\"}"), Some(0.0));
    router.shutdown().await;
}
