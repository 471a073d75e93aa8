//! The front-end cache, end to end: a router on loopback in front of
//! scripted backends that count what reaches them.

use std::sync::Arc;
use std::time::Duration;

use paas_router::Running;
use paas_types::routing::{CachePurge, RouteApp};

use crate::support::*;

const HOST: &str = "web.test";

/// An app entry routing `HOST` to `backend` at `release`.
fn web(backend: &ScriptedBackend, release: i32) -> RouteApp {
    RouteApp { release: Some(release), backends: vec![backend.entry()], ..app("web", &[HOST], &[]) }
}

/// A router in front of `backend` (table version 1, release 1).
async fn setup(
    backend: &ScriptedBackend,
    tune: impl FnOnce(&mut paas_router::Config),
) -> (FakeApi, tempfile::TempDir, Running) {
    let api = FakeApi::start(table(1, vec![web(backend, 1)])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), tune).await;
    wait_for_version(&router, 1).await;
    (api, dir, router)
}

/// Answers `<path> #<n>` with the given headers.
fn counting(headers: &'static [(&'static str, &'static str)]) -> impl Fn(&Seen, usize) -> Scripted {
    move |seen: &Seen, n: usize| Scripted::ok(format!("{} #{n}", seen.path), headers)
}

fn status_of(answer: &Answer) -> String {
    answer.header("cache-status").unwrap_or_default()
}

/// Whether `GET path` is answered from the cache.
async fn is_hit(addr: std::net::SocketAddr, host: &str, path: &str) -> bool {
    status_of(&get(addr, host, path).await).starts_with("paas; hit")
}

/// Waits (bounded) until `backend` has seen `n` requests.
async fn wait_for_count(backend: &ScriptedBackend, n: usize) {
    for _ in 0..200 {
        if backend.count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("backend saw {} requests, expected {n}", backend.count());
}

#[tokio::test]
async fn a_fresh_hit_never_reaches_the_backend_and_carries_age_and_cache_status() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "public, max-age=60")])).await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;

    let first = get(router.addr, HOST, "/page").await;
    assert_eq!((first.status, first.text()), (200, "/page #1".to_owned()));
    assert_eq!(status_of(&first), "paas; fwd=miss; stored; ttl=60");
    assert!(first.header("age").is_none(), "a response fresh from the app has no Age");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        let hit = get(router.addr, HOST, "/page").await;
        assert_eq!((hit.status, hit.text()), (200, "/page #1".to_owned()));
        let status = status_of(&hit);
        assert!(status == "paas; hit; ttl=58" || status == "paas; hit; ttl=59", "{status}");
        let age: u64 = hit.header("age").unwrap().parse().unwrap();
        assert!((1..=2).contains(&age), "age {age}");
        assert!(hit.header("x-request-id").is_some());
    }
    assert_eq!(backend.count(), 1, "hits never reach the app");

    let text = metrics(&router).await;
    assert!(text.contains("paas_router_cache_requests_total{app=\"web\",result=\"hit\"} 3"), "{text}");
    assert!(text.contains("paas_router_cache_requests_total{app=\"web\",result=\"miss\"} 1"), "{text}");
    assert!(text.contains("paas_router_cache_stored_total{app=\"web\"} 1"), "{text}");
    router.shutdown().await;
}

#[tokio::test]
async fn s_maxage_and_expires_make_responses_shareable() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| {
        let expires = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let headers: &[(&str, &str)] = match seen.path.as_str() {
            // A shared cache follows s-maxage over max-age (RFC 9111 5.2.2.10).
            "/s-maxage" => &[("cache-control", "s-maxage=30, max-age=0")],
            _ => &[("expires", &expires)],
        };
        Scripted::ok(format!("#{n}"), headers)
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    for path in ["/s-maxage", "/expires"] {
        get(router.addr, HOST, path).await;
        let hit = get(router.addr, HOST, path).await;
        assert!(status_of(&hit).starts_with("paas; hit"), "{path}: {}", status_of(&hit));
    }
    assert_eq!(backend.count(), 2);
    router.shutdown().await;
}

#[tokio::test]
async fn set_cookie_private_no_store_and_unmarked_responses_are_never_stored() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| {
        let headers: &[(&str, &str)] = match seen.path.as_str() {
            "/cookie" => &[("cache-control", "public, max-age=60"), ("set-cookie", "session=abc")],
            "/private" => &[("cache-control", "private, max-age=60")],
            "/no-store" => &[("cache-control", "no-store, max-age=60")],
            // No explicit freshness: the app did not opt in (no heuristic freshness).
            _ => &[("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT")],
        };
        Scripted::ok(format!("#{n}"), headers)
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    let cases =
        [("/cookie", "set-cookie"), ("/private", "private"), ("/no-store", "no-store"), ("/plain", "no-freshness")];
    for (path, detail) in cases {
        let first = get(router.addr, HOST, path).await;
        assert_eq!(status_of(&first), format!("paas; fwd=miss; detail={detail}"), "{path}");
        let second = get(router.addr, HOST, path).await;
        assert!(!status_of(&second).contains("hit") && !status_of(&second).contains("stored"), "{path}");
        assert_ne!(first.text(), second.text(), "{path}: both answers came from the app");
    }
    assert_eq!(backend.count(), 8);
    assert!(!metrics(&router).await.contains("result=\"hit\""));
    router.shutdown().await;
}

#[tokio::test]
async fn vary_accept_encoding_separates_variants_and_normalisation_merges_equivalent_ones() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| {
        let coding = seen.headers.get("accept-encoding").map_or("identity", |v| v.to_str().unwrap()).to_owned();
        Scripted::ok(format!("{coding} #{n}"), &[("cache-control", "max-age=60"), ("vary", "Accept-Encoding")])
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    let ask = |ae: &'static str| {
        let extra = if ae.is_empty() { String::new() } else { format!("Accept-Encoding: {ae}\r\n") };
        let addr = router.addr;
        async move { get_with(addr, HOST, "/v", &extra).await }
    };
    assert_eq!(ask("gzip, deflate").await.text(), "gzip #1", "the app sees the normalised value");
    let merged = ask("deflate, gzip").await;
    assert_eq!((merged.text(), status_of(&merged).starts_with("paas; hit")), ("gzip #1".to_owned(), true));
    assert_eq!(ask("br").await.text(), "br #2");
    assert_eq!(ask("").await.text(), "identity #3");
    assert_eq!(ask("identity").await.text(), "identity #3");
    assert_eq!(ask("gzip;q=1.0, deflate;q=0.5").await.text(), "gzip #1");
    assert_eq!(ask("br").await.text(), "br #2");
    assert_eq!(backend.count(), 3);
    router.shutdown().await;
}

#[tokio::test]
async fn fifty_concurrent_misses_make_one_backend_request() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| {
        let cacheable = seen.path == "/slow";
        let headers: &[(&str, &str)] = if cacheable { &[("cache-control", "max-age=60")] } else { &[] };
        Scripted { delay: Duration::from_millis(300), ..Scripted::ok(format!("{} #{n}", seen.path), headers) }
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    let router = Arc::new(router);
    let burst = |path: &'static str, n: usize| {
        let addr = router.addr;
        let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(async move { get(addr, HOST, path).await })).collect();
        async move {
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            answers
        }
    };
    let answers = burst("/slow", 50).await;
    assert!(answers.iter().all(|a| a.status == 200 && a.text() == "/slow #1"));
    assert_eq!(backend.count(), 1, "one backend request for 50 concurrent misses");
    let coalesced = answers.iter().filter(|a| status_of(a).contains("detail=coalesced")).count();
    assert_eq!(coalesced, 49);

    // An uncacheable answer: the waiters go to the app themselves (and nobody fails).
    let answers = burst("/uncacheable", 10).await;
    assert!(answers.iter().all(|a| a.status == 200 && a.text().starts_with("/uncacheable #")));
    assert_eq!(backend.count(), 11);
    Arc::into_inner(router).unwrap().shutdown().await;
}

#[tokio::test]
async fn stale_if_error_serves_the_stale_entry_when_the_backend_is_down() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "max-age=1, stale-if-error=60")])).await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    assert_eq!(get(router.addr, HOST, "/kept").await.text(), "/kept #1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drop(backend);

    let nothing_cached = get(router.addr, HOST, "/never-seen").await;
    assert_eq!(nothing_cached.status, 502, "{}", nothing_cached.text());
    let stale = get(router.addr, HOST, "/kept").await;
    assert_eq!((stale.status, stale.text()), (200, "/kept #1".to_owned()));
    let status = status_of(&stale);
    assert!(status.starts_with("paas; fwd=stale; ttl=-") && status.ends_with("; detail=stale-if-error"), "{status}");
    assert!(metrics(&router).await.contains("paas_router_cache_requests_total{app=\"web\",result=\"stale\"} 1"));
    router.shutdown().await;
}

#[tokio::test]
async fn stale_if_error_covers_5xx_answers() {
    let backend = ScriptedBackend::start(|_: &Seen, n| {
        let headers = [("cache-control", "max-age=1, stale-if-error=60")];
        Scripted { status: if n == 1 { 200 } else { 503 }, ..Scripted::ok(format!("#{n}"), &headers) }
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    get(router.addr, HOST, "/").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stale = get(router.addr, HOST, "/").await;
    assert_eq!((stale.status, stale.text()), (200, "#1".to_owned()));
    assert!(status_of(&stale).contains("fwd=stale; fwd-status=503"), "{}", status_of(&stale));
    assert_eq!(backend.count(), 2);
    router.shutdown().await;
}

#[tokio::test]
async fn stale_while_revalidate_serves_stale_and_refreshes_once() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| Scripted {
        delay: Duration::from_millis(if n > 1 { 300 } else { 0 }),
        ..Scripted::ok(format!("{} #{n}", seen.path), &[("cache-control", "max-age=1, stale-while-revalidate=30")])
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    get(router.addr, HOST, "/swr").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    for _ in 0..5 {
        let stale = get(router.addr, HOST, "/swr").await;
        assert_eq!(stale.text(), "/swr #1", "served stale at once, the refresh takes 300 ms");
        let status = status_of(&stale);
        assert!(
            status.starts_with("paas; hit; ttl=-") && status.ends_with("detail=stale-while-revalidate"),
            "{status}"
        );
    }
    wait_for_count(&backend, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(backend.count(), 2, "one background revalidation for five stale answers");
    let fresh = get(router.addr, HOST, "/swr").await;
    assert_eq!((fresh.text(), status_of(&fresh).starts_with("paas; hit; ttl=")), ("/swr #2".to_owned(), true));
    assert!(!status_of(&fresh).contains("stale"));
    router.shutdown().await;
}

#[tokio::test]
async fn conditional_revalidation_refreshes_the_entry_on_304() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| {
        let matches = seen.headers.get("if-none-match").is_some_and(|v| v == "\"v1\"");
        let headers = [("cache-control", "max-age=1"), ("etag", "\"v1\"")];
        let answer = Scripted::ok(format!("body #{n}"), &headers);
        if matches {
            Scripted { status: 304, body: String::new(), ..answer }
        } else {
            answer
        }
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    // The client's own conditional is answered by the cache, not passed to the app.
    let first = get_with(router.addr, HOST, "/r", "If-None-Match: \"other\"\r\n").await;
    assert_eq!((first.status, first.text()), (200, "body #1".to_owned()));
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let revalidated = get(router.addr, HOST, "/r").await;
    assert_eq!((revalidated.status, revalidated.text()), (200, "body #1".to_owned()));
    assert_eq!(status_of(&revalidated), "paas; fwd=stale; fwd-status=304; stored; ttl=1");
    let seen = backend.seen();
    assert_eq!(seen[1].headers.get("if-none-match").unwrap(), "\"v1\"");
    assert!(seen[0].headers.get("if-none-match").is_none());

    let not_modified = get_with(router.addr, HOST, "/r", "If-None-Match: \"v1\"\r\n").await;
    assert_eq!((not_modified.status, not_modified.body.len()), (304, 0));
    assert!(status_of(&not_modified).starts_with("paas; hit"));
    assert_eq!(backend.count(), 2);
    router.shutdown().await;
}

#[tokio::test]
async fn authorization_and_cookie_requests_bypass_unless_the_response_is_public() {
    let backend = ScriptedBackend::start(|seen: &Seen, n| {
        let cc = if seen.path == "/public" { "public, max-age=60" } else { "max-age=60" };
        Scripted::ok(format!("{} #{n}", seen.path), &[("cache-control", cc)])
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    let (cookie, auth) = ("Cookie: session=1\r\n", "Authorization: Bearer t\r\n");

    let with_cookie = get_with(router.addr, HOST, "/mine", cookie).await;
    assert_eq!(status_of(&with_cookie), "paas; fwd=bypass; detail=credentials");
    assert_eq!(get(router.addr, HOST, "/mine").await.text(), "/mine #2", "the cookie answer was not stored");
    assert!(status_of(&get(router.addr, HOST, "/mine").await).starts_with("paas; hit"));
    let with_auth = get_with(router.addr, HOST, "/mine", auth).await;
    assert_eq!(with_auth.text(), "/mine #3", "a non-public entry never answers credentials");
    assert_eq!(get_with(router.addr, HOST, "/mine", cookie).await.text(), "/mine #4");

    let stored = get_with(router.addr, HOST, "/public", cookie).await;
    assert_eq!(status_of(&stored), "paas; fwd=bypass; stored; ttl=60");
    for extra in ["", auth, cookie] {
        let hit = get_with(router.addr, HOST, "/public", extra).await;
        assert_eq!((hit.text(), status_of(&hit).starts_with("paas; hit")), ("/public #5".to_owned(), true), "{extra}");
    }
    assert_eq!(backend.count(), 5);
    assert!(metrics(&router).await.contains("paas_router_cache_requests_total{app=\"web\",result=\"bypass\"} 4"));
    router.shutdown().await;
}

#[tokio::test]
async fn a_new_release_purges_and_a_new_table_of_the_same_release_keeps_entries() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "max-age=60")])).await;
    let (api, _dir, router) = setup(&backend, |_| {}).await;
    get(router.addr, HOST, "/").await;
    assert!(status_of(&get(router.addr, HOST, "/").await).starts_with("paas; hit"));

    // Same release (say, a scale change): entries stay.
    api.set(table(2, vec![RouteApp { hostnames: vec![HOST.into(), "www.web.test".into()], ..web(&backend, 1) }]));
    wait_for_version(&router, 2).await;
    assert!(status_of(&get(router.addr, HOST, "/").await).starts_with("paas; hit"));

    api.set(table(3, vec![web(&backend, 2)]));
    wait_for_version(&router, 3).await;
    let after = get(router.addr, HOST, "/").await;
    assert_eq!((after.text(), status_of(&after)), ("/ #2".to_owned(), "paas; fwd=miss; stored; ttl=60".to_owned()));
    assert_eq!(backend.count(), 2);
    router.shutdown().await;
}

#[tokio::test]
async fn cache_purges_drop_one_path_or_everything_once() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "max-age=60")])).await;
    let (api, _dir, router) = setup(&backend, |_| {}).await;
    for path in ["/a", "/a?x=1", "/b"] {
        get(router.addr, HOST, path).await;
    }
    let is_hit = |path| is_hit(router.addr, HOST, path);
    let purge = |seq, path: Option<&str>| CachePurge { seq, path: path.map(str::to_owned) };

    api.set(table(2, vec![RouteApp { cache_purges: vec![purge(7, Some("/a"))], ..web(&backend, 1) }]));
    wait_for_version(&router, 2).await;
    assert_eq!((is_hit("/a").await, is_hit("/a?x=1").await, is_hit("/b").await), (false, false, true));
    assert_eq!((is_hit("/a").await, is_hit("/a?x=1").await), (true, true), "refilled");

    // The same purge in the next table is not applied again; a new one for everything is.
    let purges = vec![purge(7, Some("/a")), purge(9, None)];
    api.set(table(3, vec![RouteApp { cache_purges: purges.clone(), ..web(&backend, 1) }]));
    wait_for_version(&router, 3).await;
    assert_eq!((is_hit("/a").await, is_hit("/b").await), (false, false));
    api.set(table(4, vec![RouteApp { cache_purges: purges, ..web(&backend, 1) }]));
    wait_for_version(&router, 4).await;
    assert_eq!((is_hit("/a").await, is_hit("/b").await), (true, true));
    assert_eq!(backend.count(), 7);
    router.shutdown().await;
}

#[tokio::test]
async fn head_is_answered_from_the_get_entry() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "max-age=60")])).await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    let got = get(router.addr, HOST, "/doc").await;
    let head = request(router.addr, "HEAD", HOST, "/doc", "").await;
    assert_eq!(head.status, 200);
    assert!(status_of(&head).starts_with("paas; hit"), "{}", status_of(&head));
    assert_eq!(head.header("content-length"), Some(got.body.len().to_string()));
    assert!(head.body.is_empty());
    assert_eq!(backend.count(), 1);

    // A HEAD miss goes to the app as HEAD and stores nothing.
    let miss = request(router.addr, "HEAD", HOST, "/other", "").await;
    assert_eq!(status_of(&miss), "paas; fwd=miss");
    assert_eq!(backend.seen()[1].method, "HEAD");
    assert_eq!(status_of(&get(router.addr, HOST, "/other").await), "paas; fwd=miss; stored; ttl=60");
    router.shutdown().await;
}

#[tokio::test]
async fn unsafe_methods_invalidate_their_target() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "max-age=60")])).await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    get(router.addr, HOST, "/item").await;
    let post = request(router.addr, "POST", HOST, "/item", "Content-Length: 0\r\n").await;
    assert_eq!(status_of(&post), "paas; fwd=method");
    assert_eq!(get(router.addr, HOST, "/item").await.text(), "/item #3");
    router.shutdown().await;
}

#[tokio::test]
async fn the_per_app_quota_evicts_the_least_recently_used_entry() {
    let body = "x".repeat(10_000);
    let backend = ScriptedBackend::start(move |_: &Seen, n| {
        Scripted::ok(format!("{n}{body}"), &[("cache-control", "max-age=60")])
    })
    .await;
    let other = ScriptedBackend::start(counting(&[("cache-control", "max-age=60")])).await;
    let api = FakeApi::start(table(
        1,
        vec![web(&backend, 1), RouteApp { backends: vec![other.entry()], ..app("other", &["other.test"], &[]) }],
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    // Room for three 10 kB entries per app.
    let router = router(&api.url(), dir.path(), |c| c.cache.cache_app_bytes = 35_000).await;
    wait_for_version(&router, 1).await;
    get(router.addr, "other.test", "/kept").await;
    for path in ["/1", "/2", "/3"] {
        get(router.addr, HOST, path).await;
    }
    let hit = |host, path| is_hit(router.addr, host, path);
    assert!(hit(HOST, "/1").await, "touching /1 leaves /2 least recently used");
    get(router.addr, HOST, "/4").await;
    assert_eq!((hit(HOST, "/1").await, hit(HOST, "/3").await, hit(HOST, "/4").await), (true, true, true));
    assert!(!hit(HOST, "/2").await, "/2 was evicted");
    assert!(hit("other.test", "/kept").await, "another app's entries are not touched by this app's quota");
    let text = metrics(&router).await;
    assert!(text.contains("paas_router_cache_evictions_total{app=\"web\"} 2"), "{text}");
    assert!(text.contains("paas_router_cache_evictions_total{app=\"other\"} 0"), "{text}");
    router.shutdown().await;
}

#[tokio::test]
async fn a_zero_memory_limit_turns_the_cache_off() {
    let backend = ScriptedBackend::start(counting(&[("cache-control", "public, max-age=60")])).await;
    let (_api, _dir, router) = setup(&backend, |c| c.cache.cache_memory_bytes = 0).await;
    get(router.addr, HOST, "/").await;
    let second = get(router.addr, HOST, "/").await;
    assert_eq!((second.text(), second.header("cache-status")), ("/ #2".to_owned(), None));
    router.shutdown().await;
}

/// A cacheable body past the relay's 64 KiB whole-body size is read whole and stored too;
/// an uncacheable one of the same size still streams.
#[tokio::test]
async fn a_cacheable_body_of_several_hundred_kib_is_stored() {
    let backend = ScriptedBackend::start(|seen: &Seen, n: usize| {
        let body = format!("#{n} {}", "x".repeat(300 * 1024));
        let headers: &'static [(&'static str, &'static str)] =
            if seen.path == "/big" { &[("cache-control", "public, max-age=60")] } else { &[] };
        Scripted::ok(body, headers)
    })
    .await;
    let (_api, _dir, router) = setup(&backend, |_| {}).await;
    let first = get(router.addr, HOST, "/big").await;
    assert_eq!(first.body.len(), 300 * 1024 + 3);
    assert!(status_of(&first).contains("stored"), "{}", first.head);
    let hit = get(router.addr, HOST, "/big").await;
    assert!(status_of(&hit).starts_with("paas; hit"), "{}", hit.head);
    assert!(hit.text().starts_with("#1 "));
    let plain = get(router.addr, HOST, "/plain").await;
    assert_eq!(plain.body.len(), 300 * 1024 + 3);
    assert!(!status_of(&plain).contains("stored"), "{}", plain.head);
    assert_eq!(backend.count(), 2);
    router.shutdown().await;
}
