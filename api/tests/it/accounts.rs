//! Sign-up policies (`PAAS_SIGNUP`) and invitations: created by owners and
//! admins, accepted once, by the invited email only, before they expire.

use api::config::SignupPolicy;
use paas_types::accounts::{CreatedInvitation, Invitation, InvitationState};
use paas_types::{ErrorBody, Event, Me, Role, Session, Tenant};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::{decode, TestApi};

const PASSWORD: &str = "correct horse battery";

async fn api_with(policy: SignupPolicy) -> TestApi {
    TestApi::start_with(|config| config.accounts.signup = policy).await
}

async fn sign_up(api: &TestApi, body: Value) -> (StatusCode, Value) {
    api.call(Method::POST, "/v1/auth/signup", None, Some(body)).await
}

fn code(body: &Value) -> String {
    decode::<ErrorBody>(body).error.code
}

/// Signs `email` up through an invitation and returns the session.
async fn sign_up_invited(api: &TestApi, email: &str, token: &str) -> (StatusCode, Value) {
    sign_up(api, json!({ "email": email, "password": PASSWORD, "invitation": token })).await
}

async fn invite(api: &TestApi, owner: &str, tenant: &str, email: &str, role: &str) -> CreatedInvitation {
    let body = json!({ "email": email, "role": role });
    let (status, created) = api.post(&format!("/v1/tenants/{tenant}/invitations"), owner, body).await;
    assert_eq!(status, 201, "{created}");
    decode(&created)
}

/// Creates the operator's first account the way `paas-api create-admin` does.
async fn create_admin(api: &TestApi, email: &str) -> String {
    api::ops::users::create_admin(&api.db, email, PASSWORD.into()).await.expect("create the admin");
    let login = json!({ "email": email, "password": PASSWORD });
    let (status, session) = api.call(Method::POST, "/v1/auth/login", None, Some(login)).await;
    assert_eq!(status, 200, "{session}");
    decode::<Session>(&session).token
}

fn tenant_of(email: &str) -> String {
    api::validate::tenant_name_from_email(email)
}

#[tokio::test]
async fn open_signup_lets_anyone_in() {
    let api = api_with(SignupPolicy::Open).await;
    let (status, body) = sign_up(&api, json!({ "email": "olga@example.org", "password": PASSWORD })).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn invite_mode_needs_a_valid_invitation() {
    let api = api_with(SignupPolicy::Invite).await;
    let (status, body) = sign_up(&api, json!({ "email": "ines@example.org", "password": PASSWORD })).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "invitation_required");
    assert!(decode::<ErrorBody>(&body).error.message.contains("paas members invite"), "{body}");

    let (status, body) = sign_up_invited(&api, "ines@example.org", "inv_0000").await;
    assert_eq!(status, 404, "an unknown invitation: {body}");
    assert_eq!(api.db_count("SELECT count(*) FROM users").await, 0);

    // The operator's first account, then an invitation of theirs.
    let admin = create_admin(&api, "root@example.org").await;
    let team = tenant_of("root@example.org");
    let created = invite(&api, &admin, &team, "ines@example.org", "member").await;
    assert!(created.token.starts_with("inv_"));
    assert_eq!(created.accept_path, format!("/invite/{}", created.token));
    // A made-up invitation says nothing about which emails have accounts.
    let (status, body) = sign_up_invited(&api, "root@example.org", "inv_0000").await;
    assert_eq!(status, 404, "an existing email with an unknown invitation: {body}");
    let (status, body) = sign_up_invited(&api, "Ines@Example.org", &created.token).await;
    assert_eq!(status, 201, "{body}");
    let token = decode::<Session>(&body).token;

    // The new account belongs to the inviting tenant only, as the invited role.
    let (_, me) = api.get("/v1/me", &token).await;
    let me: Me = decode(&me);
    assert_eq!(
        me.tenants.iter().map(|t| (t.name.as_str(), t.role)).collect::<Vec<_>>(),
        [(team.as_str(), Role::Member)]
    );
}

#[tokio::test]
async fn closed_mode_refuses_every_signup_but_invitations_add_existing_users() {
    let api = api_with(SignupPolicy::Closed).await;
    let admin = create_admin(&api, "root@example.org").await;
    let team = tenant_of("root@example.org");
    let created = invite(&api, &admin, &team, "jon@example.org", "admin").await;
    for body in [
        json!({ "email": "jon@example.org", "password": PASSWORD }),
        json!({ "email": "jon@example.org", "password": PASSWORD, "invitation": created.token }),
    ] {
        let (status, answer) = sign_up(&api, body).await;
        assert_eq!(status, 403, "{answer}");
        assert_eq!(code(&answer), "signup_closed");
        assert!(decode::<ErrorBody>(&answer).error.message.contains("create-admin"), "{answer}");
    }
    // The operator creates the account; the invitation then adds it to the tenant.
    let jon = create_admin(&api, "jon@example.org").await;
    let (status, joined) = api.post("/v1/invitations/accept", &jon, json!({ "token": created.token })).await;
    assert_eq!(status, 200, "{joined}");
    let joined: Tenant = decode(&joined);
    assert_eq!((joined.name.as_str(), joined.role), (team.as_str(), Role::Admin));

    // The dashboard says so too, and offers no form.
    let page = api.http.get(format!("{}/signup", api.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign-up is closed"), "{page}");
    assert!(!page.contains("action=\"/signup\""), "{page}");
}

#[tokio::test]
async fn an_invitation_is_used_once_by_the_invited_email_before_it_expires() {
    let api = TestApi::start().await;
    let owner = api.signup("olive@example.org").await;
    let team = tenant_of("olive@example.org");
    let bert = api.signup("bert@example.org").await;
    let mallory = api.signup("mallory@example.org").await;

    // Someone else's account cannot use it.
    let created = invite(&api, &owner, &team, "bert@example.org", "member").await;
    let accept = |token: &str| json!({ "token": token });
    let (status, body) = api.post("/v1/invitations/accept", &mallory, accept(&created.token)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "invitation_email_mismatch");
    let (status, body) = sign_up_invited(&api, "eve@example.org", &created.token).await;
    assert_eq!(status, 403, "a sign-up as another email: {body}");

    // The invited user joins once; the token is spent then.
    let (status, body) = api.post("/v1/invitations/accept", &bert, accept(&created.token)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post("/v1/invitations/accept", &bert, accept(&created.token)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "invitation_used");
    let (status, body) = sign_up_invited(&api, "bert2@example.org", &created.token).await;
    assert_eq!(status, 409, "{body}");

    // Expiry, forced in SQL.
    let late = invite(&api, &owner, &team, "carla@example.org", "member").await;
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(late.invitation.id)
        .execute(&api.db)
        .await
        .unwrap();
    let (status, body) = sign_up_invited(&api, "carla@example.org", &late.token).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "invitation_expired");
    assert!(decode::<ErrorBody>(&body).error.message.contains("new invitation"), "{body}");
    assert_eq!(api.db_count("SELECT count(*) FROM users WHERE email = 'carla@example.org'").await, 0);

    // Only the secret's hash is stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM invitations WHERE id = $1")
        .bind(created.invitation.id)
        .fetch_one(&api.db)
        .await
        .unwrap();
    assert_eq!(stored, api::auth::token::hash(&created.token));

    // The listing shows what happened to each.
    let (status, list) = api.get(&format!("/v1/tenants/{team}/invitations"), &owner).await;
    assert_eq!(status, 200, "{list}");
    let states: Vec<(String, InvitationState)> =
        decode::<Vec<Invitation>>(&list).into_iter().map(|i| (i.email, i.state)).collect();
    assert_eq!(
        states,
        [
            ("carla@example.org".to_string(), InvitationState::Expired),
            ("bert@example.org".into(), InvitationState::Accepted)
        ]
    );
}

#[tokio::test]
async fn owners_and_admins_invite_and_revoke_members_do_not() {
    let api = TestApi::start().await;
    let owner = api.signup("olive@example.org").await;
    let team = tenant_of("olive@example.org");
    let member = api.signup("mia@example.org").await;
    let mia = invite(&api, &owner, &team, "mia@example.org", "member").await;
    let (status, _) = api.post("/v1/invitations/accept", &member, json!({ "token": mia.token })).await;
    assert_eq!(status, 200);

    let path = format!("/v1/tenants/{team}/invitations");
    let (status, body) = api.post(&path, &member, json!({ "email": "x@example.org", "role": "member" })).await;
    assert_eq!(status, 403, "a member invites: {body}");
    let (status, body) = api.post(&path, &owner, json!({ "email": "x@example.org", "role": "owner" })).await;
    assert_eq!(status, 422, "owner invitations: {body}");

    let created = invite(&api, &owner, &team, "rex@example.org", "member").await;
    let revoke = format!("{path}/{}", created.invitation.id);
    let (status, body) = api.delete(&revoke, &member).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = api.delete(&revoke, &owner).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api.delete(&revoke, &owner).await;
    assert_eq!(status, 404, "revoked twice: {body}");
    let (status, body) = sign_up_invited(&api, "rex@example.org", &created.token).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(code(&body), "invitation_revoked");

    // Created, accepted and revoked are in the tenant's audit log.
    let (_, events) = api.get("/v1/events", &owner).await;
    let actions: Vec<String> = decode::<Vec<Event>>(&events).into_iter().map(|e| e.action).collect();
    for action in ["invitation.create", "invitation.accept", "invitation.revoke"] {
        assert!(actions.contains(&action.to_string()), "{action} missing from {actions:?}");
    }
}

#[tokio::test]
async fn the_invite_page_offers_signup_and_joining() {
    let api = api_with(SignupPolicy::Invite).await;
    let admin = create_admin(&api, "root@example.org").await;
    let team = tenant_of("root@example.org");
    let created = invite(&api, &admin, &team, "pia@example.org", "member").await;
    let page = api.http.get(format!("{}{}", api.url, created.accept_path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&format!("Join {team}")), "{page}");
    assert!(page.contains("name=\"invitation\""), "a sign-up form with the invitation: {page}");
    assert!(page.contains("Log in to join"), "{page}");

    // In invite mode, the plain sign-up page explains and has no form.
    let page = api.http.get(format!("{}/signup", api.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("needs an invitation"), "{page}");
    assert!(!page.contains("action=\"/signup\""), "{page}");
}

trait Count {
    async fn db_count(&self, sql: &str) -> i64;
}

impl Count for TestApi {
    async fn db_count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.db).await.unwrap()
    }
}
