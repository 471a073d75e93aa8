//! The app's Add-ons tab: each add-on with its state, node and config var,
//! a Postgres add-on's backups, and the button that captures one.

use paas_types::addons::{AddonKind, CreateAddonRequest};
use reqwest::StatusCode;

use crate::support::{alpha_on_one_node, WebSession};

#[tokio::test]
async fn the_addons_tab_lists_addons_and_captures_a_backup() {
    let (api, alice_jwt, bob_jwt) = alpha_on_one_node().await;
    let alice = WebSession::new(&api, &alice_jwt);

    let page = alice.get("/apps/alpha/addons").await.text().await.unwrap();
    assert!(page.contains("No add-ons. Create one with"), "{page}");

    let request = CreateAddonRequest { kind: AddonKind::Postgres, plan: None, alias: None };
    let pg = api.rest(&alice_jwt).create_addon("alpha", &request).await.expect("add-on created");
    let page = alice.get("/apps/alpha/addons").await.text().await.unwrap();
    let card = &page[page.find(&format!("data-addon=\"{}\"", pg.name)).expect("the add-on's card")..];
    for expected in ["postgres · hobby plan", "DATABASE_URL", "No backups yet"] {
        assert!(card.contains(expected), "{expected} in {card}");
    }
    assert!(!page.contains("postgresql:&#x2F;&#x2F;"), "the page never shows the URL with its password");

    // Capturing needs a running server: refused with the reason until then.
    let csrf = alice.csrf().await;
    let fields = [("csrf", csrf.as_str()), ("addon", pg.name.as_str())];
    let refused = alice.post("/apps/alpha/addons/backups", &fields).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("role=\"alert\""));

    // The node reported it available (a fake node does not run Postgres).
    sqlx::query("UPDATE addons SET state = 'available'").execute(&api.db).await.unwrap();
    let captured = alice.post("/apps/alpha/addons/backups", &fields).await;
    assert_eq!(captured.status(), StatusCode::SEE_OTHER);
    let page = alice.get("/apps/alpha/addons?done=backup-started").await.text().await.unwrap();
    assert!(page.contains("Backup started"), "{page}");
    let table = &page[page.find("class=\"backups\"").expect("a backups table")..];
    for expected in ["manual", "pending"] {
        assert!(table.contains(expected), "{expected} in {table}");
    }

    // Bob sees neither the tab nor the add-on, and cannot capture its backup.
    let bob = WebSession::new(&api, &bob_jwt);
    assert_eq!(bob.get("/apps/alpha/addons").await.status(), StatusCode::NOT_FOUND);
    let bob_csrf = bob.csrf().await;
    let theirs = bob.post("/apps/alpha/addons/backups", &[("csrf", &bob_csrf), ("addon", &pg.name)]).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
}
