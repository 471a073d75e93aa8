//! `paas volumes` and the volume lines of `paas ps`, against a real API
//! with a scripted node (no engine needed).

use std::path::Path;

use test_support::node::FakeNode;
use test_support::TestApi;

use crate::{text, Paas};

#[tokio::test]
async fn volumes_are_created_listed_shown_in_ps_and_destroyed() {
    let api = TestApi::start().await;
    let admin = api.admin("vol@example.org").await;
    FakeNode::register(&api, &admin, "node-v").await;
    let paas = Paas::new(&api.url);
    paas.login("vol@example.org", "correct horse battery").await;
    let root = Path::new("/");
    let app = ["-a", "vol-app"];
    assert!(paas.run(root, &["apps", "create", "vol-app"]).await.status.success());

    // Mistakes are caught with the fix, before anything is created.
    let cases: [(&[&str], &str); 3] = [
        (&["volumes", "create", "data", "--mount", "/app"], "error: the mount path cannot be /app itself"),
        (&["volumes", "create", "data", "--mount", "/etc"], "system paths cannot be mounted over"),
        (&["volumes", "create", "data", "--mount", "/data", "--size", "2T"], "write a number and M or G"),
    ];
    for (args, expected) in cases {
        let out = paas.run(root, &[&app[..], args].concat()).await;
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains(expected), "{args:?}: {}", text(&out.stderr));
    }

    let out = paas
        .run(root, &[&app[..], &["volumes", "create", "data", "--mount", "/app/instance", "--size", "2gb"]].concat())
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("Created volume data (2048 MiB) on node node-v, mounted at /app/instance"), "{said}");

    let out = paas.run(root, &[&app[..], &["volumes", "list"]].concat()).await;
    let listing = text(&out.stdout);
    assert!(listing.starts_with("VOLUME  MOUNT"), "{listing}");
    assert!(listing.contains("data    /app/instance  node-v (up)  ? / 2048 MiB"), "{listing}");
    let out = paas.run(root, &[&app[..], &["ps"]].concat()).await;
    let ps = text(&out.stdout);
    assert!(ps.contains("volume data at /app/instance on node node-v (up), ? / 2048 MiB"), "{ps}");

    // Another user's view of it: the app does not exist.
    api.signup("other@example.org").await;
    let other = Paas::new(&api.url);
    other.login("other@example.org", "correct horse battery").await;
    let out = other.run(root, &[&app[..], &["volumes", "list"]].concat()).await;
    assert_eq!(text(&out.stderr), "error: app \"vol-app\" not found (not_found)\n");

    let out = paas.run(root, &[&app[..], &["volumes", "destroy", "data", "--confirm", "dta"]].concat()).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("does not match"), "{}", text(&out.stderr));
    let out = paas.run(root, &[&app[..], &["volumes", "destroy", "data", "--confirm", "data"]].concat()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paas.run(root, &[&app[..], &["--json", "volumes", "list"]].concat()).await;
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), serde_json::json!([]));
}
