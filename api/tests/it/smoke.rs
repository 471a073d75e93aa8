use test_support::TestApi;

#[tokio::test]
async fn health_answers() {
    let api = TestApi::start().await;
    let (status, body) = api.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200, "{body}");
}
