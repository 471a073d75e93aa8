//! Login throttling per account and per client address (also for bearer
//! tokens and git basic auth), and the audit events of one's own account.

use std::time::{Duration, Instant};

use paas_types::accounts::AccountEvent;
use paas_types::{CreatedToken, ErrorBody};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use test_support::{decode, TestApi};

const PASSWORD: &str = "correct horse battery";

/// An API whose delays start at `base_ms`, with `account_free` and `address_free` free failures.
async fn throttled_api(base_ms: u64, account_free: u32, address_free: u32) -> TestApi {
    TestApi::start_with(|config| {
        config.accounts.login_throttle_base_ms = base_ms;
        config.accounts.login_throttle_free_attempts = account_free;
        config.accounts.login_throttle_address_free_attempts = address_free;
    })
    .await
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

async fn log_in(api: &TestApi, email: &str, password: &str, forwarded_for: Option<&str>) -> Answer {
    let mut request =
        api.http.post(format!("{}/v1/auth/login", api.url)).json(&json!({ "email": email, "password": password }));
    if let Some(hop) = forwarded_for {
        request = request.header("x-forwarded-for", hop);
    }
    answer(request.send().await.expect("login request")).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, retry_after, body }
}

fn assert_locked(answer: &Answer, what: &str) -> Duration {
    assert_eq!(answer.status, 429, "{what}: {}", answer.body);
    assert_eq!(decode::<ErrorBody>(&answer.body).error.code, "too_many_attempts", "{what}");
    Duration::from_secs(answer.retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After")))
}

async fn account_events(api: &TestApi, token: &str) -> Vec<AccountEvent> {
    let (status, events) = api.get("/v1/me/events", token).await;
    assert_eq!(status, 200, "{events}");
    decode(&events)
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_the_right_one_works_after_the_window() {
    let api = throttled_api(1000, 5, 1000).await;
    api.signup("ada@example.org").await;
    for attempt in 1..=5 {
        let answer = log_in(&api, "ada@example.org", "wrong password!!", None).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {}", answer.body);
    }
    // Locked: even the correct password is refused, without being checked.
    let locked = log_in(&api, "ADA@example.org ", PASSWORD, None).await;
    let wait = assert_locked(&locked, "the correct password while locked");
    assert_eq!(wait, Duration::from_secs(1), "the first delay is the base delay");

    tokio::time::sleep(wait + Duration::from_millis(100)).await;
    let after = log_in(&api, "ada@example.org", PASSWORD, None).await;
    assert_eq!(after.status, 200, "after the window: {}", after.body);
    let token = after.body["token"].as_str().unwrap().to_string();

    // The success reset the account: a wrong password is a plain 401 again.
    let again = log_in(&api, "ada@example.org", "wrong password!!", None).await;
    assert_eq!(again.status, 401, "{}", again.body);

    // The lockout and the login are in the account's audit log.
    let events = account_events(&api, &token).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["auth.login", "auth.lockout"], "{events:?}");
    assert_eq!(events[1].data["failures"], 5);
    assert_eq!(events[1].data["address"], "127.0.0.1");
}

#[tokio::test]
async fn unknown_emails_are_throttled_like_known_ones() {
    let api = throttled_api(1000, 3, 1000).await;
    api.signup("known@example.org").await;
    let mut seen = Vec::new();
    for email in ["known@example.org", "nobody@example.org"] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let answer = log_in(&api, email, "wrong password!!", None).await;
            statuses.push((answer.status.as_u16(), answer.retry_after, answer.body["error"]["code"].clone()));
        }
        seen.push(statuses);
    }
    assert_eq!(seen[0], seen[1], "a known and an unknown email must answer alike");
    assert_eq!(seen[0][3].0, 429, "{:?}", seen[0]);
}

#[tokio::test]
async fn one_address_is_throttled_across_emails_and_proxies_are_believed_only_when_trusted() {
    let api = TestApi::start_with(|config| {
        config.accounts.login_throttle_free_attempts = 100;
        config.accounts.login_throttle_address_free_attempts = 4;
        config.accounts.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    api.signup("victim@example.org").await;
    let attacker = Some("203.0.113.7");
    for n in 1..=4 {
        let answer = log_in(&api, &format!("user{n}@example.org"), "wrong password!!", attacker).await;
        assert_eq!(answer.status, 401, "failure {n} from one address: {}", answer.body);
    }
    let locked = log_in(&api, "victim@example.org", PASSWORD, attacker).await;
    assert_locked(&locked, "a fifth email from the same address");
    // Another client behind the same trusted proxy is not locked.
    let other = log_in(&api, "victim@example.org", PASSWORD, Some("198.51.100.2")).await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let api = throttled_api(1000, 100, 2).await;
    for hop in ["203.0.113.1", "203.0.113.2"] {
        let answer = log_in(&api, "x@example.org", "wrong password!!", Some(hop)).await;
        assert_eq!(answer.status, 401);
    }
    let locked = log_in(&api, "y@example.org", "wrong password!!", Some("203.0.113.3")).await;
    assert_locked(&locked, "a spoofed X-Forwarded-For does not escape the peer's lock");
}

#[tokio::test]
async fn invalid_bearer_tokens_count_against_the_address() {
    let api = throttled_api(1000, 5, 3).await;
    let session = api.signup("tom@example.org").await;
    for bad in ["paas_0000000000000000", "not.a.jwt", "paas_1111111111111111"] {
        let (status, body) = api.get("/v1/me", bad).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = api.get("/v1/me", "paas_2222222222222222").await;
    assert_eq!(status, 429, "another invalid token from a locked address: {body}");
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // Valid credentials cannot be guessed: users behind the same address keep working.
    let (status, body) = api.get("/v1/me", &session).await;
    assert_eq!(status, 200, "a valid token from a locked address: {body}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = api.get("/v1/me", "paas_3333333333333333").await;
    assert_eq!(status, 401, "after the window, a plain 401 again: {body}");
}

#[tokio::test]
async fn git_basic_auth_is_throttled() {
    let api = throttled_api(1000, 5, 3).await;
    let session = api.signup("gus@example.org").await;
    api.create_app(&session, "gitapp").await;
    let url = format!("{}/git/gitapp.git/info/refs?service=git-upload-pack", api.url);
    let fetch = |password: String| {
        let request = api.http.get(&url).basic_auth("gus", Some(password));
        async move { answer(request.send().await.unwrap()).await }
    };
    for n in 1..=3 {
        let answer = fetch(format!("paas_wrong{n}")).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    let locked = fetch("paas_wrong4".into()).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    let wait = Duration::from_secs(locked.retry_after.expect("Retry-After on git's 429"));
    assert!(locked.body.to_string().contains("try again in"), "git shows when to retry: {}", locked.body);
    let ok = fetch(session).await;
    assert_eq!(ok.status, 200, "the valid credential is not locked out: {}", ok.body);
    tokio::time::sleep(wait + Duration::from_millis(100)).await;
    let after = fetch("paas_wrong5".into()).await;
    assert_eq!(after.status, 401, "after the window: {}", after.body);
}

#[tokio::test]
async fn token_creation_and_revocation_are_audited_for_their_owner_only() {
    let api = TestApi::start().await;
    let session = api.signup("tia@example.org").await;
    let other = api.signup("uma@example.org").await;
    let (status, created) = api.post("/v1/tokens", &session, json!({ "name": "ci" })).await;
    assert_eq!(status, 201, "{created}");
    let created: CreatedToken = decode(&created);
    let (status, _) = api.call(Method::DELETE, &format!("/v1/tokens/{}", created.info.id), Some(&session), None).await;
    assert_eq!(status, 204);

    let events = account_events(&api, &session).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["token.revoke", "token.create"], "{events:?}");
    assert_eq!(events[1].data["name"], "ci");
    assert_eq!(events[1].data["prefix"], created.info.prefix);
    assert_eq!(events[0].data["token"], created.info.id.to_string());
    assert!(!serde_json::to_string(&events).unwrap().contains(&created.token), "the secret is never logged");
    assert!(account_events(&api, &other).await.is_empty(), "another user sees none of them");
}

/// The curve: failure number -> lock, as the API applies it (measured from
/// the lock each failure leaves in Postgres), printed for the report.
#[tokio::test]
async fn the_delay_doubles_with_each_failure_past_the_free_attempts() {
    let base_ms = 50;
    let api = throttled_api(base_ms, 5, 1000).await;
    let mut curve = Vec::new();
    for attempt in 1..=10u32 {
        let started = Instant::now();
        loop {
            let answer = log_in(&api, "curve@example.org", "wrong password!!", None).await;
            if answer.status == 401 {
                break;
            }
            assert_eq!(answer.status, 429, "{}", answer.body);
            assert!(started.elapsed() < Duration::from_secs(10), "the lock never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let lock_ms: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM locked_until - last_failure_at)::float8 * 1000
             FROM auth_throttle WHERE key = 'email:curve@example.org' AND locked_until > last_failure_at",
        )
        .fetch_optional(&api.db)
        .await
        .unwrap()
        .flatten();
        curve.push((attempt, lock_ms.map(|ms| ms.round() as u64)));
        sqlx::query("UPDATE auth_throttle SET locked_until = NULL").execute(&api.db).await.unwrap();
    }
    for (attempt, lock) in &curve {
        let scaled = lock.map(|ms| format!("{ms} ms (x{})", ms / base_ms)).unwrap_or_else(|| "none".into());
        println!("throttle curve: failure {attempt:>2} -> lock {scaled}");
    }
    for (attempt, lock) in curve {
        let expected = (attempt >= 5).then(|| base_ms * 2u64.pow(attempt - 5));
        // The count and the lock are two statements: allow a few ms between their clocks.
        let close = match (lock, expected) {
            (Some(got), Some(want)) => got.abs_diff(want) <= 25,
            (got, want) => got == want,
        };
        assert!(close, "failure {attempt}: lock {lock:?} ms, expected {expected:?} ms");
    }
}
