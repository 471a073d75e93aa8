//! Signup, login, sessions (JWT) and API tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use paas_types::{ApiToken, CreatedToken, ErrorBody, Me, Role, Session};
use reqwest::Method;
use serde_json::json;
use test_support::{decode, TestApi, JWT_SECRET};

#[tokio::test]
async fn signup_login_and_me() {
    let api = TestApi::start().await;
    let body = json!({ "email": "Ada@Example.org", "password": "correct horse battery", "tenant": "analytical" });
    let (status, session) = api.call(Method::POST, "/v1/auth/signup", None, Some(body)).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(decode::<Session>(&session).user.email, "Ada@Example.org");

    // Login is case-insensitive on the email; the password must match.
    let login = json!({ "email": "ada@example.org", "password": "correct horse battery" });
    let (status, logged_in) = api.call(Method::POST, "/v1/auth/login", None, Some(login)).await;
    assert_eq!(status, 200, "{logged_in}");
    let token = decode::<Session>(&logged_in).token;

    let (status, me) = api.get("/v1/me", &token).await;
    assert_eq!(status, 200);
    let me: Me = decode(&me);
    assert_eq!(me.tenants[0].name, "analytical");
    assert_eq!(me.tenants[0].role, Role::Owner);

    // The password is stored as an argon2 hash, never in clear.
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&api.db).await.unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("correct horse"));
}

#[tokio::test]
async fn bad_logins_and_signups_are_refused() {
    let api = TestApi::start().await;
    api.signup("bob@example.org").await;
    for (email, password) in [("bob@example.org", "wrong password!!"), ("nobody@example.org", "correct horse battery")]
    {
        let (status, body) =
            api.call(Method::POST, "/v1/auth/login", None, Some(json!({ "email": email, "password": password }))).await;
        assert_eq!(status, 401, "{body}");
        let ErrorBody { error } = decode(&body);
        assert_eq!(error.code, "unauthorized");
        assert_eq!(error.message, "email or password is wrong");
    }
    let cases = [
        (json!({ "email": "bob@example.org", "password": "correct horse battery" }), 409),
        (json!({ "email": "BOB@example.org", "password": "correct horse battery" }), 409),
        (json!({ "email": "carol@example.org", "password": "short" }), 422),
        (json!({ "email": "not an email", "password": "correct horse battery" }), 422),
        (json!({ "email": "dan@example.org", "password": "correct horse battery", "tenant": "Bad Name" }), 422),
    ];
    for (body, expected) in cases {
        let (status, answer) = api.call(Method::POST, "/v1/auth/signup", None, Some(body.clone())).await;
        assert_eq!(status.as_u16(), expected, "{body} -> {answer}");
    }
}

#[tokio::test]
async fn everything_but_health_signup_and_login_needs_auth() {
    let api = TestApi::start().await;
    let (status, openapi) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let open = ["/healthz", "/v1/auth/signup", "/v1/auth/login"];
    let mut checked = 0;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{app}", "some-app").replace(['{', '}'], "");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = api.call(method.clone(), &concrete, None, Some(json!({}))).await;
            if open.contains(&path.as_str()) {
                assert_ne!(status, 401, "{method} {path} should be open");
            } else {
                assert_eq!(status, 401, "{method} {path} answered {status} without credentials: {body}");
                assert_eq!(body["error"]["code"], "unauthorized");
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "only {checked} protected routes found");
}

#[tokio::test]
async fn api_tokens_are_shown_once_hashed_and_revocable() {
    let api = TestApi::start().await;
    let session = api.signup("erin@example.org").await;
    let (status, created) = api.post("/v1/tokens", &session, json!({ "name": "ci", "expires_in_days": 30 })).await;
    assert_eq!(status, 201, "{created}");
    let CreatedToken { token: secret, info } = decode(&created);
    let id = info.id;
    assert!(secret.starts_with("paas_"));

    // The token authenticates; listings show only its prefix.
    let (status, _) = api.get("/v1/me", &secret).await;
    assert_eq!(status, 200);
    let (_, body) = api.get("/v1/tokens", &session).await;
    let list: Vec<ApiToken> = decode(&body);
    assert_eq!(list.len(), 1);
    assert!(!body.to_string().contains(&secret));
    assert!(secret.starts_with(&list[0].prefix));
    assert!(list[0].last_used_at.is_some(), "use is recorded: {body}");

    // The database holds a hash, not the secret.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_one(&api.db).await.unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&secret[5..]));

    let (status, _) = api.delete(&format!("/v1/tokens/{id}"), &session).await;
    assert_eq!(status, 204);
    let (status, body) = api.get("/v1/me", &secret).await;
    assert_eq!(status, 401, "revoked token still works: {body}");
    let (status, _) = api.delete(&format!("/v1/tokens/{id}"), &session).await;
    assert_eq!(status, 404, "second revoke");
    let (_, list) = api.get("/v1/tokens", &session).await;
    assert_eq!(list, json!([]));

    // Expired tokens fail too.
    sqlx::query("UPDATE api_tokens SET revoked_at = NULL, expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&api.db)
        .await
        .unwrap();
    let (status, _) = api.get("/v1/me", &secret).await;
    assert_eq!(status, 401, "expired token still works");

    // Another user's token id cannot be revoked by someone else.
    let (_, other) = api.post("/v1/tokens", &session, json!({ "name": "other" })).await;
    let mallory = api.signup("mallory@example.org").await;
    let other: CreatedToken = decode(&other);
    let (status, _) = api.delete(&format!("/v1/tokens/{}", other.info.id), &mallory).await;
    assert_eq!(status, 404);
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    sub: String,
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[tokio::test]
async fn forged_expired_and_unsigned_jwts_are_rejected() {
    let api = TestApi::start().await;
    let session = api.signup("frank@example.org").await;
    let (_, me) = api.get("/v1/me", &session).await;
    let sub = decode::<Me>(&me).user.id.to_string();
    let now = chrono::Utc::now().timestamp();
    let claims = |iss, aud, exp| Claims { sub: sub.clone(), iss, aud, iat: now - 10, exp };
    let sign =
        |alg: Algorithm, key: &[u8], c: &Claims| encode(&Header::new(alg), c, &EncodingKey::from_secret(key)).unwrap();

    // Control: a well-formed token signed with the real key works.
    let good = sign(Algorithm::HS256, JWT_SECRET.as_bytes(), &claims("paas-api", "paas", now + 600));
    assert_eq!(api.get("/v1/me", &good).await.0, 200);

    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("paas-api", "paas", now + 600)).unwrap());
    let bad = [
        ("expired", sign(Algorithm::HS256, JWT_SECRET.as_bytes(), &claims("paas-api", "paas", now - 120))),
        (
            "forged key",
            sign(Algorithm::HS256, b"another-secret-another-secret-0000", &claims("paas-api", "paas", now + 600)),
        ),
        ("HS512", sign(Algorithm::HS512, JWT_SECRET.as_bytes(), &claims("paas-api", "paas", now + 600))),
        ("wrong issuer", sign(Algorithm::HS256, JWT_SECRET.as_bytes(), &claims("evil", "paas", now + 600))),
        ("wrong audience", sign(Algorithm::HS256, JWT_SECRET.as_bytes(), &claims("paas-api", "other", now + 600))),
        ("alg none", format!("{header_none}.{payload}.")),
        ("garbage", "not-a-jwt".to_string()),
    ];
    for (what, token) in bad {
        let (status, body) = api.get("/v1/me", &token).await;
        assert_eq!(status, 401, "{what} JWT accepted: {body}");
        assert_eq!(decode::<ErrorBody>(&body).error.code, "unauthorized");
    }
    // Non-bearer schemes are refused too.
    let response = api.http.get(format!("{}/v1/me", api.url)).basic_auth("frank", Some("x")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}
