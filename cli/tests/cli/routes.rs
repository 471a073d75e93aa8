//! `paas routes`, `routes set`, `routes unset` against a real API, with a
//! scripted node that finished a build whose paas.json routes `/ws/`.

use std::path::Path;

use test_support::node::FakeNode;
use test_support::{tarball, TestApi};

use crate::{text, Paas};

#[tokio::test]
async fn routes_are_listed_set_and_unset() {
    let api = TestApi::start().await;
    let admin = api.admin("routes@example.org").await;
    let node = FakeNode::register(&api, &admin, "node-r").await;
    let paas = Paas::new(&api.url);
    paas.login("routes@example.org", "correct horse battery").await;
    let root = Path::new("/");
    let run = |args: &'static [&'static str]| {
        let paas = &paas;
        async move { paas.run(root, &[&["-a", "chat"][..], args].concat()).await }
    };
    assert!(paas.run(root, &["apps", "create", "chat"]).await.status.success());
    let out = run(&["routes"]).await;
    assert!(text(&out.stdout).starts_with("No routes: every request to chat goes to its web process."));

    assert_eq!(api.upload_build(&admin, "chat", tarball(&[("app.py", "app = None\n")])).await.0, 202);
    let processes = [("web", "gunicorn app:app"), ("async", "uvicorn asgi:app")];
    node.build_with(&["ok"], &processes, &[("/ws/", "async")]).await;
    let out = run(&["routes"]).await;
    assert_eq!(
        text(&out.stdout),
        "PREFIX  PROCESS TYPE  SET BY\n/ws/    async         paas.json\n\
         Everything else goes to web. A prefix set with `paas routes set` wins over paas.json's.\n"
    );

    let out = run(&["routes", "set", "/events/=async"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Routes of chat updated"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("/events/  async         paas routes set\n"), "{}", text(&out.stdout));

    // Mistakes: caught locally with the fix, or by the API in one line, exit status non-zero.
    let cases: [(&'static [&'static str], &str); 4] = [
        (&["routes", "set", "ws/=async"], "error: \"ws/\": a route prefix starts with `/`, e.g. /ws/\n"),
        (&["routes", "set", "/ws/"], "error: \"/ws/\" is not PREFIX=TYPE, e.g. /ws/=async\n"),
        (&["routes", "set", "/x/=ghost"], "the Procfile has no \"ghost\" process type (it has: async, web)"),
        (&["routes", "unset", "/ws/"], "comes from paas.json"),
    ];
    for (args, expected) in cases {
        let out = run(args).await;
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains(expected), "{args:?}: {}", text(&out.stderr));
    }

    let out = run(&["routes", "unset", "/events/"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("/events/"), "{}", text(&out.stdout));
    let out = run(&["--json", "routes"]).await;
    let routes: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(routes, serde_json::json!([{ "prefix": "/ws/", "process_type": "async", "source": "paas_json" }]));
}
