//! Invitations and account events from the command line, against an API
//! whose sign-up needs an invitation (the platform's default).

use std::path::Path;

use api::config::SignupPolicy;
use test_support::TestApi;

use crate::{text, Paas};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn members_invite_then_signup_and_accept_with_the_token() {
    let api = TestApi::start_with(|c| c.accounts.signup = SignupPolicy::Invite).await;
    api::ops::users::create_admin(&api.db, "boss@example.org", PASSWORD.into()).await.unwrap();
    api::ops::users::create_admin(&api.db, "old@example.org", PASSWORD.into()).await.unwrap();
    let boss = Paas::new(&api.url);
    boss.login("boss@example.org", PASSWORD).await;
    let root = Path::new("/");

    // Without an invitation, sign-up is refused with what to do.
    let stranger = Paas::new(&api.url);
    let out = stranger.run_with_stdin(&["signup", "--email", "x@example.org", "--password-stdin"], PASSWORD).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("paas members invite"), "{}", text(&out.stderr));

    // A new account joins through `paas signup --invite`.
    let out = boss.run(root, &["members", "invite", "new@example.org", "--role", "admin"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("inv_"), "{token}");
    assert!(text(&out.stderr).contains(&format!("{}/invite/{token}", api.url)), "{}", text(&out.stderr));
    let newcomer = Paas::new(&api.url);
    let args = ["signup", "--email", "new@example.org", "--invite", &token, "--password-stdin"];
    let out = newcomer.run_with_stdin(&args, PASSWORD).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = newcomer.run(root, &["members", "list"]).await;
    let listing = text(&out.stdout);
    let row = listing.lines().find(|l| l.starts_with("new@example.org")).unwrap_or_default();
    assert!(row.ends_with("admin"), "the invited role: {listing}");

    // An existing account joins through `paas invitations accept`; the token is single use.
    let out = boss.run(root, &["members", "invite", "old@example.org"]).await;
    let token = text(&out.stdout).trim().to_string();
    let old = Paas::new(&api.url);
    old.login("old@example.org", PASSWORD).await;
    let out = old.run(root, &["invitations", "accept", &token]).await;
    assert_eq!(text(&out.stdout), "Joined boss as member\n", "{}", text(&out.stderr));
    let out = old.run(root, &["invitations", "accept", &token]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already used"), "{}", text(&out.stderr));

    let out = boss.run(root, &["invitations", "list"]).await;
    assert_eq!(text(&out.stdout).matches("accepted").count(), 2, "{}", text(&out.stdout));
    // The boss's own login and CLI token are in their account's events.
    let out = boss.run(root, &["events", "--account"]).await;
    let events = text(&out.stdout);
    assert!(events.contains("auth.login") && events.contains("token.create"), "{events}");
    let out = boss.run(root, &["events"]).await;
    assert!(text(&out.stdout).contains("invitation.accept"), "{}", text(&out.stdout));
}
