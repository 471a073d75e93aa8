//! The OpenAPI document as the exact contract. The route annotations give
//! each operation's own answers; this adds, in one place, the answers the
//! shared layers give every operation of a kind (bad credentials, malformed
//! or oversized bodies, unparsable parameters, an unreachable database), and
//! the rules the schema derives cannot express (map keys, conditional
//! fields). `api/tests/contract` checks the result with schemathesis.

use axum::http::Method;
use serde_json::{json, Map, Value};

use crate::auth::scope::{self, Binding, Need};

/// The served document: `doc` with the shared answers and extra rules.
/// `base_domain` is reserved for the apps' own hostnames.
pub fn finish(doc: utoipa::openapi::OpenApi, base_domain: &str) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the OpenAPI document serialises");
    let mut app_operations = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, operation) in item.iter_mut().filter(|(method, _)| is_method(method)) {
                add_token_scope(method, path, operation);
                add_shared_answers(path, operation);
                constrain_app_names(operation);
                if path.starts_with("/v1/apps/{app}") && !path.ends_with("/stream") {
                    app_operations.extend(operation.get("operationId").and_then(Value::as_str).map(str::to_string));
                }
            }
        }
    }
    link_created_apps(&mut doc, &app_operations);
    for (pointer, rules) in extra_rules(base_domain) {
        match doc.pointer_mut(pointer).and_then(Value::as_object_mut) {
            Some(schema) => schema.extend(rules),
            None => panic!("OpenAPI rule for {pointer}: no such schema in the document"),
        }
    }
    doc
}

fn is_method(key: &str) -> bool {
    matches!(key, "get" | "put" | "post" | "delete" | "patch" | "head" | "options")
}

/// Statuses the shared layers can answer, added where an operation's own
/// annotation does not already describe them.
fn add_shared_answers(path: &str, operation: &mut Value) {
    let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let params = operation.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let body_types: Vec<String> = operation
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
        .map(|content| content.keys().cloned().collect())
        .unwrap_or_default();
    let json_body = body_types.iter().any(|t| t == "application/json");
    let bounded_query = params.iter().any(|p| {
        p.get("in") == Some(&json!("query"))
            && p.get("schema").is_some_and(|s| s.get("minimum").or(s.get("maximum")).or(s.get("maxLength")).is_some())
    });
    let mut shared = Vec::new();
    if !params.is_empty() || json_body {
        shared.push(("400", "The path, query or body cannot be parsed (not a UUID, not JSON, NUL bytes in text)."));
    }
    if secured {
        shared.push(("401", "No credential, or one that is invalid, expired or revoked."));
    }
    if !body_types.is_empty() {
        shared.push(("413", "The request body is larger than the limit."));
    }
    if json_body {
        shared.push(("415", "The body is not sent as `application/json`."));
    }
    if json_body || bounded_query {
        shared.push(("422", "A value is outside the rules of the schema."));
    }
    if path != "/v1/openapi.json" {
        shared.push(("503", "The database is unreachable or saturated; retry shortly."));
    }
    let responses = operation
        .as_object_mut()
        .expect("an operation is an object")
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, description) in shared {
        responses.entry(status).or_insert_with(|| error_answer(description));
    }
}

/// The token scope a user operation needs, from the one table in
/// `auth::scope` (`x-token-scope`, `x-token-app`), and its refusal (403).
fn add_token_scope(method: &str, path: &str, operation: &mut Value) {
    let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else { return };
    let Need::User { scope, binding } = scope::need(&method, Some(path)) else { return };
    let operation = operation.as_object_mut().expect("an operation is an object");
    operation.insert("x-token-scope".into(), json!(scope.as_str()));
    let app = match binding {
        Binding::App => "the app in the path",
        Binding::Narrowed => "narrowed to the token's app",
        Binding::Identity => "any",
        Binding::Account => "refused to app-limited tokens",
    };
    operation.insert("x-token-app".into(), json!(app));
    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    let description =
        format!("The token's scope is below `{scope}` (`token_scope`), or it is limited to another app (`token_app`).");
    let responses = responses.as_object_mut().expect("responses is an object");
    responses.entry("403").or_insert_with(|| error_answer(&description));
}

fn error_answer(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
}

/// App names in paths follow the app-name rule (a longer or odd name is
/// simply not found).
fn constrain_app_names(operation: &mut Value) {
    let Some(params) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { return };
    for param in params.iter_mut().filter(|p| p["name"] == "app" && p["in"] == "path") {
        param["schema"] = json!({ "type": "string", "pattern": APP_NAME, "maxLength": 30 });
    }
}

/// An app is addressed by its name: a created app's `name` fills `{app}`
/// of every operation on it (OpenAPI links, which fuzzers and generators follow).
fn link_created_apps(doc: &mut Value, app_operations: &[String]) {
    let Some(created) = doc.pointer_mut("/paths/~1v1~1apps/post/responses/201") else { return };
    let links: Map<String, Value> = app_operations
        .iter()
        .map(|id| (id.clone(), json!({ "operationId": id, "parameters": { "app": "$response.body#/name" } })))
        .collect();
    created["links"] = Value::Object(links);
}

/// App names: 2-30 characters of a-z, 0-9 and single hyphens, starting with a letter.
const APP_NAME: &str = "^[a-z](-?[a-z0-9])+$";

/// A pattern matching `domain` and its subdomains in any letter case, with
/// the trailing dot and whitespace the API ignores.
fn domain_and_subdomains(domain: &str) -> String {
    let mut pattern = String::from(r"(^|\.)");
    for c in domain.chars() {
        match c {
            c if c.is_ascii_alphabetic() => {
                pattern.push_str(&format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
            }
            '.' => pattern.push_str(r"\."),
            c => pattern.push(c),
        }
    }
    pattern.push_str(r"\.?[\s\x85]*$");
    pattern
}

/// Each add-on kind's plan names (null: the default plan).
fn addon_plans() -> Vec<Value> {
    [paas_types::addons::AddonKind::Postgres, paas_types::addons::AddonKind::Redis]
        .into_iter()
        .map(|kind| {
            let mut names: Vec<Value> = vec![Value::Null];
            names.extend(crate::ops::addons::plan::plans(kind).iter().map(|p| json!(p.name)));
            json!({
                "if": { "properties": { "kind": { "const": kind.as_str() } } },
                "then": { "properties": { "plan": { "enum": names } } },
            })
        })
        .collect()
}

/// Rules added to schemas, by JSON pointer into the document.
fn extra_rules(base_domain: &str) -> Vec<(&'static str, Map<String, Value>)> {
    let rules = |value: Value| value.as_object().cloned().expect("rules are an object");
    let process_type = json!({ "pattern": "^[a-z][a-z0-9_-]{0,29}$" });
    let config_key = json!({ "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$" });
    // paas_types::process_routes::prefix_problem: `/`, then visible ASCII but `?` and `#`, 200 bytes at most.
    let route_prefix = json!({ "pattern": r#"^/[!-"$->@-~]{0,199}$"# });
    let route_target = json!({ "type": "string", "pattern": "^[a-z][a-z0-9_-]{0,29}$", "not": { "const": "web" } });
    vec![
        (
            "/paths/~1v1~1apps~1{app}~1config/patch/requestBody/content/application~1json/schema",
            rules(json!({
                "minProperties": 1, "maxProperties": 500, "propertyNames": config_key,
                "additionalProperties": { "type": ["string", "null"], "maxLength": 32768 },
            })),
        ),
        (
            "/paths/~1v1~1apps~1{app}~1formation/patch/requestBody/content/application~1json/schema",
            rules(json!({ "minProperties": 1, "propertyNames": process_type })),
        ),
        (
            "/paths/~1v1~1apps~1{app}~1routes/patch/requestBody/content/application~1json/schema",
            rules(json!({
                "minProperties": 1, "maxProperties": 50, "propertyNames": route_prefix,
                "additionalProperties": { "oneOf": [route_target, { "type": "null" }] },
            })),
        ),
        (
            "/components/schemas/BuildResult/properties/routes",
            rules(json!({ "propertyNames": route_prefix, "additionalProperties": route_target })),
        ),
        (
            "/components/schemas/AddDomainRequest/properties/hostname",
            // The platform's own hostnames are reserved for apps.
            rules(json!({ "not": { "pattern": domain_and_subdomains(base_domain) } })),
        ),
        (
            "/components/schemas/CreateTokenRequest",
            // A lifetime in days or in hours, not both.
            rules(json!({
                "not": {
                    "required": ["expires_in_days", "expires_in_hours"],
                    "properties": { "expires_in_days": { "type": "integer" }, "expires_in_hours": { "type": "integer" } },
                },
            })),
        ),
        // An update names at least one setting.
        ("/components/schemas/UpdateAppRequest", rules(json!({ "minProperties": 1 }))),
        ("/components/schemas/FormationChange/oneOf/0", rules(json!({ "minimum": 0, "maximum": 100 }))),
        // Not every word blank (one word may be empty: `echo ''`).
        ("/components/schemas/RunRequest/properties/command", rules(json!({ "contains": { "pattern": r"\S" } }))),
        ("/components/schemas/CreateAddonRequest", rules(json!({ "allOf": addon_plans() }))),
        ("/components/schemas/BuildResult/properties/process_types", rules(json!({ "propertyNames": process_type }))),
        (
            "/components/schemas/BuildResult",
            // A successful build names its image.
            rules(json!({
                "if": { "properties": { "success": { "const": true } } },
                "then": { "required": ["image"], "properties": { "image": { "type": "string" } } },
            })),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_answers_fill_gaps_and_keep_what_routes_say() {
        let mut operation = json!({
            "security": [{ "bearer": [] }],
            "parameters": [{ "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 10 } }],
            "responses": { "200": { "description": "ok" }, "422": { "description": "own words" } },
        });
        add_shared_answers("/v1/things", &mut operation);
        let responses = operation["responses"].as_object().unwrap();
        let mut statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        statuses.sort();
        assert_eq!(statuses, ["200", "400", "401", "422", "503"]);
        assert_eq!(responses["422"]["description"], "own words");
    }

    #[test]
    fn base_domain_pattern_matches_it_and_its_subdomains_in_any_case() {
        assert_eq!(domain_and_subdomains("paas.test"), r"(^|\.)[pP][aA][aA][sS]\.[tT][eE][sS][tT]\.?[\s\x85]*$");
    }

    #[test]
    fn json_bodies_document_their_failures() {
        let mut operation = json!({ "requestBody": { "content": { "application/json": {} } }, "responses": {} });
        add_shared_answers("/healthz", &mut operation);
        let mut statuses: Vec<&str> = operation["responses"].as_object().unwrap().keys().map(String::as_str).collect();
        statuses.sort();
        assert_eq!(statuses, ["400", "413", "415", "422", "503"]);
    }
}
