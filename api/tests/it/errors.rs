//! Bad input answers a 4xx JSON envelope with a stable code, never a 500.

use paas_types::{AppList, ErrorBody};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::Value;
use test_support::{decode, TestApi};

async fn raw(
    api: &TestApi,
    method: reqwest::Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value, Option<HeaderValue>) {
    let mut request = api.http.request(method, format!("{}{path}", api.url)).bearer_auth(token).body(body);
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let request_id = response.headers().get("x-request-id").cloned();
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{path}: {status} body is not JSON: {e}"));
    (status, body, request_id)
}

/// Method, path, content type, body, expected status and error code.
type Case = (reqwest::Method, &'static str, Option<&'static str>, Vec<u8>, u16, &'static str);

#[tokio::test]
async fn malformed_requests_get_clear_4xx_envelopes() {
    let api = TestApi::start().await;
    let token = api.signup("tess@example.org").await;
    let json_ct = Some("application/json");
    let post = reqwest::Method::POST;
    let cases: Vec<Case> = vec![
        (post.clone(), "/v1/apps", json_ct, b"{\"name\": ".to_vec(), 400, "invalid_json"),
        (post.clone(), "/v1/apps", json_ct, b"\xff\xfe".to_vec(), 400, "invalid_json"),
        (post.clone(), "/v1/apps", json_ct, br#"{"name": 42}"#.to_vec(), 422, "validation_failed"),
        (post.clone(), "/v1/apps", json_ct, br#"{"name": "ok-name", "extra": 1}"#.to_vec(), 422, "validation_failed"),
        (post.clone(), "/v1/apps", json_ct, br#"[]"#.to_vec(), 422, "validation_failed"),
        (post.clone(), "/v1/apps", Some("text/plain"), br#"{"name": "x1"}"#.to_vec(), 415, "unsupported_media_type"),
        (post.clone(), "/v1/apps", None, br#"{"name": "x1"}"#.to_vec(), 415, "unsupported_media_type"),
        (post.clone(), "/v1/apps", json_ct, vec![b' '; 200 * 1024], 413, "payload_too_large"),
        (reqwest::Method::GET, "/v1/no-such-route", None, vec![], 404, "not_found"),
        (reqwest::Method::PUT, "/v1/apps", json_ct, b"{}".to_vec(), 405, "method_not_allowed"),
        (reqwest::Method::GET, "/v1/apps/does-not-exist", None, vec![], 404, "not_found"),
        (reqwest::Method::GET, "/v1/apps/%FF%FE", None, vec![], 400, "bad_request"),
        (reqwest::Method::DELETE, "/v1/tokens/not-a-uuid", None, vec![], 400, "bad_request"),
    ];
    for (method, path, content_type, body, status, code) in cases {
        let what = format!("{method} {path} ({content_type:?}, {} bytes)", body.len());
        let (got, envelope, request_id) = raw(&api, method, path, &token, content_type, body).await;
        assert_eq!(got, status, "{what}: {envelope}");
        let ErrorBody { error } = decode(&envelope);
        assert_eq!(error.code, code, "{what}: {envelope}");
        let message = error.message;
        assert!(message.len() > 5, "{what}: message {message:?} explains nothing");
        // The request id is in the header and in the body, for support requests.
        let request_id = request_id.expect("x-request-id header").to_str().unwrap().to_string();
        assert_eq!(error.request_id, Some(request_id), "{what}");
    }
    // Nothing above created anything.
    let (_, page) = api.get("/v1/apps", &token).await;
    assert!(decode::<AppList>(&page).apps.is_empty(), "{page}");
}

#[tokio::test]
async fn client_request_ids_are_kept() {
    let api = TestApi::start().await;
    let response = api.http.get(format!("{}/healthz", api.url)).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn closed_database_pool_is_a_503_not_a_500() {
    let api = TestApi::start().await;
    let token = api.signup("uma@example.org").await;
    // The server shares this pool: closing it cuts the API off from Postgres.
    api.db.close().await;
    let (status, body) = api.get("/v1/me", &token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(decode::<ErrorBody>(&body).error.code, "unavailable");
    let (status, _) = api.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 503);
}
