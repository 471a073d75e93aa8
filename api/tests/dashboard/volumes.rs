//! The app page shows the app's volumes: mount, node and its state, size,
//! and why the app waits when the node is down.

use paas_types::CreateVolumeRequest;
use reqwest::StatusCode;

use crate::support::{alpha_on_one_node, WebSession};

#[tokio::test]
async fn the_app_page_lists_its_volumes_with_their_node() {
    let (api, alice_jwt, bob_jwt) = alpha_on_one_node().await;
    let alice = WebSession::new(&api, &alice_jwt);

    let page = alice.get("/apps/alpha").await.text().await.unwrap();
    assert!(!page.contains("id=\"volumes\""), "no volume table without volumes");

    let request = CreateVolumeRequest { name: "data".into(), mount: "/app/instance".into(), size: Some("2G".into()) };
    api.rest(&alice_jwt).create_volume("alpha", &request).await.expect("volume created");
    let page = alice.get("/apps/alpha").await.text().await.unwrap();
    let table = &page[page.find("id=\"volumes\"").expect("a volume table")..];
    for expected in ["data", "&#x2F;app&#x2F;instance", "node-1", ">up<", "not measured yet / 2048 MiB"] {
        assert!(table.contains(expected), "{expected} in {table}");
    }

    sqlx::query("UPDATE nodes SET state = 'down'").execute(&api.db).await.unwrap();
    let page = alice.get("/apps/alpha").await.text().await.unwrap();
    assert!(page.contains("node node-1 is down: the app&#x27;s instances run only on the node"), "{page}");

    let bob = WebSession::new(&api, &bob_jwt);
    assert_eq!(bob.get("/apps/alpha").await.status(), StatusCode::NOT_FOUND);
}
