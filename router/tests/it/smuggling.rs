//! Every ambiguous or malformed request gets 400 from the router and never reaches a backend.
//! Sent byte-exact over raw TCP, since client libraries refuse to produce them.

use crate::support::*;

const CASES: &[(&str, &str)] = &[
    (
        "content-length and transfer-encoding",
        "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "transfer-encoding then content-length",
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    ),
    (
        "differing duplicate content-length",
        "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    ),
    ("content-length list", "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 3, 4\r\n\r\nabcd"),
    ("signed content-length", "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: +4\r\n\r\nabcd"),
    ("non-hex chunk size", "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n"),
    ("0x chunk size", "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n0x4\r\nabcd\r\n0\r\n\r\n"),
    (
        "chunk size with space",
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n4 \r\nabcd\r\n0\r\n\r\n",
    ),
    (
        "overflowing chunk size",
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabcd\r\n0\r\n\r\n",
    ),
    (
        "chunk data longer than its size",
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
    ),
    ("bare LF in chunked body", "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n"),
    (
        "transfer-encoding other than chunked",
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "chunked twice",
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    ("transfer-encoding in HTTP/1.0", "POST / HTTP/1.0\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("obs-fold", "GET / HTTP/1.1\r\nHost: web.test\r\nX-Folded: a\r\n b\r\n\r\n"),
    ("obs-fold with tab", "GET / HTTP/1.1\r\nHost: web.test\r\nX-Folded: a\r\n\tb\r\n\r\n"),
    ("NUL in header value", "GET / HTTP/1.1\r\nHost: web.test\r\nX-Bad: a\0b\r\n\r\n"),
    ("bare CR in header value", "GET / HTTP/1.1\r\nHost: web.test\r\nX-Bad: a\rb\r\n\r\n"),
    ("space before colon", "GET / HTTP/1.1\r\nHost: web.test\r\nContent-Length : 4\r\n\r\nabcd"),
    ("invalid header name", "GET / HTTP/1.1\r\nHost: web.test\r\nX(Bad): 1\r\n\r\n"),
    ("duplicate Host", "GET / HTTP/1.1\r\nHost: web.test\r\nHost: other.test\r\n\r\n"),
    ("missing Host", "GET / HTTP/1.1\r\n\r\n"),
    ("invalid Host", "GET / HTTP/1.1\r\nHost: web.test/../x\r\n\r\n"),
    ("bad request line", "GET /a b HTTP/1.1\r\nHost: web.test\r\n\r\n"),
];

#[tokio::test]
async fn each_ambiguous_request_is_400_and_never_forwarded() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    for (name, request) in CASES {
        let answer = raw(router.addr, request.as_bytes()).await;
        assert_eq!(answer.status, 400, "{name}: got {}", answer.head);
        assert_eq!(answer.header("connection").as_deref(), Some("close"), "{name}");
    }
    assert!(backend.seen().is_empty(), "backend saw {:?}", backend.seen());

    // The control: well-formed versions reach the backend, re-framed with a Content-Length.
    let chunked = "POST /ok HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                   4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nX-Trailer: t\r\n\r\n";
    let answer = raw(router.addr, chunked.as_bytes()).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), "web POST /ok body=6");
    let same_lengths =
        "POST /ok HTTP/1.1\r\nHost: web.test\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab";
    assert_eq!(raw(router.addr, same_lengths.as_bytes()).await.status, 200);
    let seen = backend.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].method.as_str(), &seen[0].body[..]), ("POST", &b"abcdef"[..]));
    assert_eq!(seen[0].headers["content-length"], "6");
    assert!(seen[0].headers.get("transfer-encoding").is_none());
    router.shutdown().await;
}

#[tokio::test]
async fn oversized_heads_and_bodies_are_refused_before_any_backend() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| {
        c.limits.max_body_bytes = 1000;
        c.limits.max_headers = 20;
        c.limits.max_header_bytes = 2048;
    })
    .await;
    wait_for_version(&router, 1).await;

    let big_head = format!("GET / HTTP/1.1\r\nHost: web.test\r\nX-Big: {}\r\n\r\n", "a".repeat(4096));
    assert_eq!(raw(router.addr, big_head.as_bytes()).await.status, 431);
    let many = format!("GET / HTTP/1.1\r\nHost: web.test\r\n{}\r\n", "X-H: 1\r\n".repeat(30));
    assert_eq!(raw(router.addr, many.as_bytes()).await.status, 431);
    let declared = "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5000\r\n\r\n";
    assert_eq!(raw(router.addr, declared.as_bytes()).await.status, 413);
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
        "z".repeat(0x800)
    );
    assert_eq!(raw(router.addr, chunked.as_bytes()).await.status, 413);
    assert!(backend.seen().is_empty());
    router.shutdown().await;
}

/// What a backend could read differently from the router (issue 13 item 5): underscored names that
/// imitate framing or forwarding headers are dropped, GET/HEAD bodies and userinfo targets are
/// refused, `Upgrade: h2c` is stripped; compliant targets reach the backend byte for byte.
#[tokio::test]
async fn lookalike_headers_bodies_on_get_h2c_and_userinfo_never_reach_the_backend() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    let refused = [
        ("GET with a body", "GET / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\n\r\nhello"),
        (
            "HEAD with a chunked body",
            "HEAD / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        ("userinfo in an absolute target", "GET http://user:pass@web.test/x HTTP/1.1\r\nHost: web.test\r\n\r\n"),
        ("user without password", "GET http://admin@web.test:80/x HTTP/1.1\r\nHost: web.test\r\n\r\n"),
        ("fragment in the target", "GET /x#top HTTP/1.1\r\nHost: web.test\r\n\r\n"),
    ];
    for (name, request) in refused {
        let answer = raw(router.addr, request.as_bytes()).await;
        assert_eq!(answer.status, 400, "{name}: got {}", answer.head);
    }
    assert!(backend.seen().is_empty(), "backend saw {:?}", backend.seen());

    let lookalikes = "POST /form HTTP/1.1\r\nHost: web.test\r\nContent-Length: 2\r\nTransfer_Encoding: chunked\r\n\
                      Content_Length: 40\r\nX_Forwarded_For: 6.6.6.6\r\nX_Request_Id: forged\r\nConnection: close\r\n\r\nok";
    let answer = raw(router.addr, lookalikes.as_bytes()).await;
    assert_eq!(answer.text(), "web POST /form body=2", "{}", answer.head);
    let h2c = "GET /h2c HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n\
               HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    let answer = raw(router.addr, h2c.as_bytes()).await;
    assert_eq!(answer.status, 200, "an h2c upgrade is answered as plain HTTP/1.1: {}", answer.head);
    let seen = backend.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        let underscored: Vec<_> = request.headers.keys().filter(|n| n.as_str().contains('_')).collect();
        assert!(underscored.is_empty(), "{underscored:?} reached the backend");
        assert!(request.headers.get("upgrade").is_none() && request.headers.get("http2-settings").is_none());
        assert_eq!(request.headers["x-forwarded-for"], "127.0.0.1");
    }
    assert_eq!(&seen[0].body[..], b"ok");

    // Compliant targets, however odd, are forwarded exactly as sent.
    let targets = ["/a/../b", "/%2e%2e/x?y=%2F", "//user:pass@evil.test/x", "/p;m=1?q=a@b:c&r=/s", "/~u/{x}|y"];
    for target in targets {
        let request = format!("GET {target} HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n");
        assert_eq!(raw(router.addr, request.as_bytes()).await.status, 200, "{target}");
    }
    let forwarded: Vec<String> = backend.seen()[2..].iter().map(|s| s.target.clone()).collect();
    assert_eq!(forwarded, targets);
    router.shutdown().await;
}
