//! The OpenAPI document describes every route with its schemas.

use reqwest::Method;
use serde_json::Value;
use test_support::TestApi;

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_operation_has_request_and_response_schemas() {
    let api = TestApi::start().await;
    let (status, doc) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
            // WebSocket routes succeed by switching protocols.
            let success = responses.iter().find(|(code, _)| code.starts_with('2') || *code == "101");
            let (code, response) = success.unwrap_or_else(|| panic!("{method} {path} documents no success"));
            if code != "204" && code != "101" {
                let content = response["content"].as_object();
                let has_schema = content.is_some_and(|c| c.values().any(|m| m["schema"].is_object()));
                assert!(has_schema, "{method} {path} {code} has no schema");
            }
            for (code, response) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {code}");
                }
            }
            // Actions without input; every other write documents its body.
            let bodyless = [
                "/v1/agent/heartbeat",
                "/v1/agent/builds/claim",
                "/v1/agent/runs/claim",
                "/v1/nodes/join-tokens",
                "/v1/apps/{app}/releases/{version}/rollback",
                "/v1/addons/{addon}/credentials/rotate",
                "/v1/addons/{addon}/backups",
                "/v1/addons/{addon}/backups/{backup}/restore",
            ];
            if (method == "post" || method == "patch" || method == "put") && !bodyless.contains(&path.as_str()) {
                let content = op["requestBody"]["content"].as_object();
                let has_schema = content.is_some_and(|c| c.values().any(|m| m["schema"].is_object()));
                assert!(has_schema, "{method} {path} has no request schema");
            }
        }
    }
    assert!(operations >= 28, "only {operations} operations documented");
    // Every schema referenced is defined.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(doc["components"]["schemas"][name].is_object(), "{r} is not defined");
    }
}
