//! Static assets from a release bundle: served by the router itself, never by the backend.

use crate::support::*;

const CSS: &[u8] = b"body { color: #333; }\n";

async fn setup(backend: &TestBackend) -> (FakeApi, tempfile::TempDir, paas_router::Running) {
    let api = FakeApi::start(table(0, vec![])).await;
    let big = pattern(0..100_000);
    let bundle = bundle(
        &api,
        "blob1",
        &[
            ("static/css/app.css", CSS),
            ("static/css/app.css.gz", b"pretend-gzip"),
            ("static/css/app.3f2a1b9c0d4e.css", CSS),
            ("static/css/app.3f2a1b9c0d4e.css.br", b"pretend-brotli"),
            ("static/css/app.3f2a1b9c0d4e.css.gz", b"pretend-gzip"),
            ("static/data.bin", &big),
            ("secret.txt", b"top secret"),
        ],
    );
    let mut web = app("web", &["web.test"], &[backend]);
    web.statics = Some(bundle);
    api.set(table(1, vec![web]));
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    (api, dir, router)
}

/// The bytes of `data.bin` at these offsets (no period divides the offsets the tests use).
fn pattern(range: std::ops::Range<u32>) -> Vec<u8> {
    range.map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn serves_files_with_validators_and_answers_conditionals() {
    let backend = TestBackend::start("web").await;
    let (_api, _dir, router) = setup(&backend).await;

    let answer = get(router.addr, "web.test", "/static/css/app.css").await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.body, CSS);
    assert_eq!(answer.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert_eq!(answer.header("cache-control").as_deref(), Some("public, max-age=60"));
    assert_eq!(answer.header("last-modified").as_deref(), Some("Tue, 14 Nov 2023 22:13:20 GMT"));
    assert_eq!(answer.header("vary").as_deref(), Some("Accept-Encoding"));
    let etag = answer.header("etag").expect("etag");

    let cached = get_with(router.addr, "web.test", "/static/css/app.css", &format!("If-None-Match: {etag}\r\n")).await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag").as_deref(), Some(etag.as_str()));
    let since = "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n";
    assert_eq!(get_with(router.addr, "web.test", "/static/css/app.css", since).await.status, 304);
    let older = "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\r\n";
    assert_eq!(get_with(router.addr, "web.test", "/static/css/app.css", older).await.status, 200);

    let gz = get_with(router.addr, "web.test", "/static/css/app.css", "Accept-Encoding: gzip, br\r\n").await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.body, b"pretend-gzip");
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(gz.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert_ne!(gz.header("etag"), Some(etag));

    let head = raw(router.addr, b"HEAD /static/data.bin HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length").as_deref(), Some("100000"));
    assert_eq!(head.header("content-type").as_deref(), Some("application/octet-stream"));
    assert!(backend.seen().is_empty(), "static requests reached the backend");
    router.shutdown().await;
}

#[tokio::test]
async fn serves_ranges() {
    let backend = TestBackend::start("web").await;
    let (_api, _dir, router) = setup(&backend).await;
    let part = get_with(router.addr, "web.test", "/static/data.bin", "Range: bytes=1000-1009\r\n").await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range").as_deref(), Some("bytes 1000-1009/100000"));
    assert_eq!(part.body, pattern(1000..1010));
    let tail = get_with(router.addr, "web.test", "/static/data.bin", "Range: bytes=-5\r\n").await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body.len(), 5);
    let outside = get_with(router.addr, "web.test", "/static/data.bin", "Range: bytes=200000-\r\n").await;
    assert_eq!(outside.status, 416);
    assert_eq!(outside.header("content-range").as_deref(), Some("bytes */100000"));
    let stale =
        get_with(router.addr, "web.test", "/static/data.bin", "Range: bytes=0-9\r\nIf-Range: \"old\"\r\n").await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, pattern(0..100_000));
    // 64 KiB and more go by sendfile(2), from the range's offset.
    let large = get_with(router.addr, "web.test", "/static/data.bin", "Range: bytes=1000-80999\r\n").await;
    assert_eq!(large.status, 206);
    assert_eq!(large.body, pattern(1000..81_000));
    assert!(backend.seen().is_empty());
    router.shutdown().await;
}

#[tokio::test]
async fn refuses_path_traversal_and_leaves_other_paths_to_the_app() {
    let backend = TestBackend::start("web").await;
    let (_api, _dir, router) = setup(&backend).await;
    for path in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/css/..%2f..%2fsecret.txt",
        "/static/css/%2e%2e%5c%2e%2e%5csecret.txt",
        "/static//etc/passwd",
        "/static/nope.css",
    ] {
        let answer = get(router.addr, "web.test", path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.text().contains("top secret"), "{path}");
    }
    let post =
        raw(router.addr, b"POST /static/css/app.css HTTP/1.1\r\nHost: web.test\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(post.status, 405);
    assert!(backend.seen().is_empty(), "static paths reached the backend");
    assert_eq!(get(router.addr, "web.test", "/secret.txt").await.text(), "web GET /secret.txt body=0");
    router.shutdown().await;
}

#[tokio::test]
async fn a_bundle_with_a_wrong_digest_is_not_served() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(0, vec![])).await;
    let mut bundle = bundle(&api, "blob2", &[("static/a.txt", b"aaa")]);
    bundle.sha256 = "0".repeat(64);
    let mut web = app("web", &["web.test"], &[&backend]);
    web.statics = Some(bundle);
    api.set(table(1, vec![web]));
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    // Unverified bytes are never served; the app answers its own static path instead.
    assert_eq!(get(router.addr, "web.test", "/static/a.txt").await.text(), "web GET /static/a.txt body=0");
    router.shutdown().await;
}

#[tokio::test]
async fn hashed_names_are_immutable_and_precompressed_siblings_follow_accept_encoding() {
    let backend = TestBackend::start("web").await;
    let (_api, _dir, router) = setup(&backend).await;
    let path = "/static/css/app.3f2a1b9c0d4e.css";
    let cases = [
        ("", None, CSS.to_vec()),
        ("Accept-Encoding: gzip\r\n", Some("gzip"), b"pretend-gzip".to_vec()),
        ("Accept-Encoding: gzip, br\r\n", Some("br"), b"pretend-brotli".to_vec()),
        ("Accept-Encoding: br;q=0, gzip\r\n", Some("gzip"), b"pretend-gzip".to_vec()),
        ("Accept-Encoding: identity\r\n", None, CSS.to_vec()),
    ];
    for (extra, encoding, body) in cases {
        let answer = get_with(router.addr, "web.test", path, extra).await;
        assert_eq!(answer.status, 200, "{extra}");
        assert_eq!(answer.body, body, "{extra}");
        assert_eq!(answer.header("content-encoding").as_deref(), encoding, "{extra}");
        assert_eq!(answer.header("content-type").as_deref(), Some("text/css; charset=utf-8"), "{extra}");
        assert_eq!(answer.header("vary").as_deref(), Some("Accept-Encoding"), "{extra}");
        assert_eq!(answer.header("cache-control").as_deref(), Some("public, max-age=31536000, immutable"), "{extra}");
    }
    // The ETag of the variant sent is what a 304 compares against.
    let br = get_with(router.addr, "web.test", path, "Accept-Encoding: br\r\n").await;
    let etag = br.header("etag").expect("etag");
    let again = format!("Accept-Encoding: br\r\nIf-None-Match: {etag}\r\n");
    assert_eq!(get_with(router.addr, "web.test", path, &again).await.status, 304);
    let other = "Accept-Encoding: br\r\nIf-None-Match: \"nope\"\r\n";
    assert_eq!(get_with(router.addr, "web.test", path, other).await.status, 200);
    assert!(backend.seen().is_empty(), "static requests reached the backend");
    router.shutdown().await;
}

#[tokio::test]
async fn the_previous_release_keeps_serving_misses_for_the_grace_period() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(0, vec![])).await;
    let old = bundle(&api, "rel1", &[("static/app.1111aaaa2222.css", b"old"), ("static/shared.css", b"old shared")]);
    let new = bundle(&api, "rel2", &[("static/app.3333bbbb4444.css", b"new"), ("static/shared.css", b"new shared")]);
    let mut web = app("web", &["web.test"], &[&backend]);
    web.statics = Some(old);
    api.set(table(1, vec![web.clone()]));
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| c.statics.static_grace_secs = 2).await;
    wait_for_version(&router, 1).await;
    assert_eq!(get(router.addr, "web.test", "/static/app.1111aaaa2222.css").await.body, b"old");

    web.statics = Some(new);
    web.release = Some(2);
    api.set(table(2, vec![web.clone()]));
    wait_for_version(&router, 2).await;
    // New names and names in both bundles come from the new release; old-only names from the old one.
    assert_eq!(get(router.addr, "web.test", "/static/app.3333bbbb4444.css").await.body, b"new");
    assert_eq!(get(router.addr, "web.test", "/static/shared.css").await.body, b"new shared");
    assert_eq!(get(router.addr, "web.test", "/static/app.1111aaaa2222.css").await.body, b"old");
    // A table change that keeps the bundle keeps the grace deadline, not a new one.
    web.backends.push(backend_entry(&backend.addr.to_string()));
    api.set(table(3, vec![web]));
    wait_for_version(&router, 3).await;
    assert_eq!(get(router.addr, "web.test", "/static/app.1111aaaa2222.css").await.status, 200);

    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(get(router.addr, "web.test", "/static/app.1111aaaa2222.css").await.status, 404);
    assert_eq!(get(router.addr, "web.test", "/static/app.3333bbbb4444.css").await.body, b"new");
    assert!(backend.seen().is_empty(), "static requests reached the backend");
    router.shutdown().await;
}
