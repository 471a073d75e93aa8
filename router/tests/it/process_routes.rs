//! Paths to other process types: requests under a route's prefix go to that
//! route's instances (the longest prefix wins, whole segments only), with the
//! long stream timeouts; everything else stays on the app's web instances.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use paas_types::routing::{ProcessRoute, RouteApp};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

fn route(prefix: &str, process_type: &str, backends: &[&str]) -> ProcessRoute {
    ProcessRoute {
        prefix: prefix.into(),
        process_type: process_type.into(),
        backends: backends.iter().map(|b| backend_entry(b)).collect(),
    }
}

fn with_routes(mut app: RouteApp, routes: Vec<ProcessRoute>) -> RouteApp {
    app.routes = routes;
    app
}

#[tokio::test]
async fn the_longest_matching_prefix_picks_the_process_type() {
    let (web, events, admin) =
        (TestBackend::start("web").await, TestBackend::start("events").await, TestBackend::start("admin").await);
    let routes = vec![
        route("/events/", "events", &[&events.addr.to_string()]),
        route("/events/admin/", "admin", &[&admin.addr.to_string()]),
    ];
    let api = FakeApi::start(table(1, vec![with_routes(app("shop", &["shop.test"], &[&web]), routes)])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    let cases = [
        ("/", "web GET /"),
        ("/events/stream?x=1", "events GET /events/stream"),
        ("/events/", "events GET /events/"),
        ("/events/admin/log", "admin GET /events/admin/log"),
        ("/events/administer", "events GET /events/administer"),
        ("/events", "web GET /events"),
        ("/eventsource", "web GET /eventsource"),
    ];
    for (path, answered_by) in cases {
        let answer = get(router.addr, "shop.test", path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(answer.text().starts_with(answered_by), "{path}: {}", answer.text());
    }
    assert_eq!(web.seen().len(), 3);
    assert_eq!(events.seen().len(), 3);
    assert_eq!(admin.seen().len(), 1);

    // A new table moves a prefix without a new web backend; instances keep their Backend by address.
    let before =
        router.state.table.load().apps[0].routes.iter().find(|r| r.prefix == "/events/").unwrap().backends[0].clone();
    let routes = vec![route("/events/", "events", &[&events.addr.to_string()]), route("/", "admin", &[])];
    api.set(table(2, vec![with_routes(app("shop", &["shop.test"], &[&web]), routes)]));
    wait_for_version(&router, 2).await;
    let after = router.state.table.load().apps[0].routes[0].backends[0].clone();
    assert!(Arc::ptr_eq(&before, &after), "pools and health marks survive the new table");
    assert!(get(router.addr, "shop.test", "/events/1").await.text().starts_with("events GET /events/1"));
    // A route whose process type runs no instance answers 503 (never falls back to web).
    let down = get(router.addr, "shop.test", "/anything").await;
    assert_eq!(down.status, 503, "{}", down.text());
    assert_eq!(web.seen().len(), 3, "web saw nothing of the routed paths");
    router.shutdown().await;
}

#[tokio::test]
async fn routed_requests_have_the_stream_timeout_instead_of_the_response_timeout() {
    let (web, slow) = (TestBackend::start("web").await, TestBackend::start("async").await);
    // `/sleep/<ms>` answers after that long: on `shop` an async process serves it, on `plain` web does.
    let routes = vec![route("/sleep/", "async", &[&slow.addr.to_string()])];
    let shop = with_routes(app("shop", &["shop.test"], &[&web]), routes);
    let api = FakeApi::start(table(1, vec![shop, app("plain", &["plain.test"], &[&web])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| c.upstream.response_timeout_secs = 1).await;
    wait_for_version(&router, 1).await;

    let started = Instant::now();
    assert_eq!(get(router.addr, "plain.test", "/sleep/1500").await.status, 504, "web: the response timeout");
    assert!(started.elapsed() < Duration::from_millis(1450), "{:?}", started.elapsed());
    // A long poll on the async process answers after 1.5 s: not cut at 1 s.
    let started = Instant::now();
    let long_poll = get(router.addr, "shop.test", "/sleep/1500").await;
    assert_eq!(long_poll.status, 200, "{}", long_poll.text());
    assert!(long_poll.text().starts_with("async GET /sleep/1500"), "{}", long_poll.text());
    assert!(started.elapsed() >= Duration::from_millis(1500));
    router.shutdown().await;
}

/// A WebSocket echo server; answers every accepted connection until it closes.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn websocket_upgrades_on_a_route_reach_its_process_and_idle_tunnels_close() {
    let web = TestBackend::start("web").await;
    let echo = echo_server().await;
    let routes = vec![route("/ws/", "async", &[&echo.to_string()])];
    let api = FakeApi::start(table(1, vec![with_routes(app("chat", &["chat.test"], &[&web]), routes)])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| c.limits.stream_idle_timeout_secs = 1).await;
    wait_for_version(&router, 1).await;

    let stream = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async("ws://chat.test/ws/echo", stream).await.unwrap();
    assert_eq!(response.status(), 101);
    // Messages 400 ms apart keep the tunnel open past one idle period.
    for n in 0..4 {
        let text = format!("message {n}");
        ws.send(Message::text(text.clone())).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(web.seen().is_empty(), "the upgrade never reached web: {:?}", web.seen());
    // Then silence: the router closes the tunnel after the idle timeout.
    let quiet = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("the router closes the tunnel");
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
    let waited = quiet.elapsed();
    assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(3), "{waited:?}");

    // An upgrade outside the routes goes to web (a plain HTTP server: no 101).
    let stream = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    assert!(tokio_tungstenite::client_async("ws://chat.test/other", stream).await.is_err());
    assert_eq!(web.seen().len(), 1);
    router.shutdown().await;
}
