//! ACME HTTP-01: challenges in the route table are answered before any app
//! routing, for hostnames with or without an app; other paths route as usual.

use paas_types::routing::AcmeChallenge;

use crate::support::*;

fn challenge(hostname: &str, token: &str, key_authorization: &str) -> AcmeChallenge {
    AcmeChallenge { hostname: hostname.into(), token: token.into(), key_authorization: key_authorization.into() }
}

#[tokio::test]
async fn pending_challenges_are_answered_before_app_routing() {
    let shop = TestBackend::start("shop").await;
    let mut first = table(1, vec![app("shop", &["shop.paas.test", "www.shop.example"], &[&shop])]);
    first.acme_challenges = vec![
        challenge("www.shop.example", "tok-1_A", "tok-1_A.thumbprint"),
        // A domain whose app has no instance yet still gets its certificate.
        challenge("new.example", "tok-2", "tok-2.thumbprint"),
    ];
    let api = FakeApi::start(first).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    let answer = get(router.addr, "WWW.Shop.Example:80", "/.well-known/acme-challenge/tok-1_A").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "tok-1_A.thumbprint");
    assert_eq!(answer.header("content-type").as_deref(), Some("text/plain"));
    let head = request(router.addr, "HEAD", "www.shop.example", "/.well-known/acme-challenge/tok-1_A", "").await;
    assert_eq!(head.status, 200);
    assert_eq!(get(router.addr, "new.example", "/.well-known/acme-challenge/tok-2").await.text(), "tok-2.thumbprint");
    assert!(shop.seen().is_empty(), "challenges never reach the app: {:?}", shop.seen().len());

    // A challenge host with another token: 404 from the router, not the app.
    let unknown = get(router.addr, "www.shop.example", "/.well-known/acme-challenge/other").await;
    assert_eq!(unknown.status, 404);
    assert!(shop.seen().is_empty());
    // Another host's token does not answer for this host.
    let crossed = get(router.addr, "www.shop.example", "/.well-known/acme-challenge/tok-2").await;
    assert_eq!(crossed.status, 404);

    // Everything else routes as before: other paths, other hosts, other methods.
    assert_eq!(get(router.addr, "www.shop.example", "/").await.text(), "shop GET / body=0");
    let other_host = get(router.addr, "shop.paas.test", "/.well-known/acme-challenge/tok-1_A").await;
    assert_eq!(other_host.text(), "shop GET /.well-known/acme-challenge/tok-1_A body=0");
    let post = request(router.addr, "POST", "www.shop.example", "/.well-known/acme-challenge/tok-1_A", "").await;
    assert_eq!(post.text(), "shop POST /.well-known/acme-challenge/tok-1_A body=0");

    // The order finished: the challenge is withdrawn, the path goes to the app again.
    api.set(table(2, vec![app("shop", &["shop.paas.test", "www.shop.example"], &[&shop])]));
    wait_for_version(&router, 2).await;
    let after = get(router.addr, "www.shop.example", "/.well-known/acme-challenge/tok-1_A").await;
    assert_eq!(after.text(), "shop GET /.well-known/acme-challenge/tok-1_A body=0");
    assert_eq!(get(router.addr, "new.example", "/.well-known/acme-challenge/tok-2").await.status, 404);
    router.shutdown().await;
}
