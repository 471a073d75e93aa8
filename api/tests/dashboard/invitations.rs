//! The invitation page: a signed-in user joins with one button; an account
//! with another email is refused with the reason.

use serde_json::json;
use test_support::TestApi;

use crate::support::{csrf_in, WebSession};

#[tokio::test]
async fn a_signed_in_user_joins_from_the_invite_page() {
    let api = TestApi::start().await;
    let owner = api.signup("olga@example.org").await;
    let pia = api.signup("pia@example.org").await;
    let rex = api.signup("rex@example.org").await;
    let invite = json!({ "email": "pia@example.org", "role": "member" });
    let (status, created) = api.post("/v1/tenants/olga/invitations", &owner, invite).await;
    assert_eq!(status, 201, "{created}");
    let path = created["accept_path"].as_str().unwrap().to_string();

    // Another account sees the page, but joining is refused and says why.
    let intruder = WebSession::new(&api, &rex);
    let page = intruder.get(&path).await.text().await.unwrap();
    let csrf = csrf_in(&page).expect("a join form");
    let refused = intruder.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("for another email address"));

    let session = WebSession::new(&api, &pia);
    let page = session.get(&path).await.text().await.unwrap();
    assert!(page.contains("Join olga"), "{page}");
    let csrf = csrf_in(&page).expect("a join form");
    let joined = session.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(joined.status(), 303);
    assert_eq!(joined.headers()["location"], "/team?done=joined");
    let team = session.get("/team?done=joined").await.text().await.unwrap();
    assert!(team.contains("Invitation accepted"), "{team}");

    // Used now: the page says so and offers no form.
    let page = session.get(&path).await.text().await.unwrap();
    assert!(page.contains("This invitation is accepted"), "{page}");
    assert!(!page.contains(&format!("action=\"{path}\"")), "{page}");
}
