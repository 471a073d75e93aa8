//! The OpenAPI document is the exact contract: schemathesis (from PyPI,
//! installed by `deploy/prereqs.sh`) generates requests for every operation
//! from `/v1/openapi.json` and checks each answer against it: no server
//! errors, only documented statuses, bodies matching their schemas, inputs
//! outside the schema rejected. The user API runs with an administrator's
//! token, the agent protocol with a node's token, the router protocol with
//! the router token, all on loopback. Any finding fails the test.

use std::process::Stdio;
use std::time::Duration;

use paas_types::agent::{NodeRegistered, RegisterNode};
use paas_types::{CreatedToken, JoinToken, Session};
use serde_json::{json, Value};
use test_support::{TestApi, ROUTER_TOKEN};

/// Generated requests per operation.
const EXAMPLES_PER_OPERATION: &str = "30";
/// Longest a whole schemathesis run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The credentials the API's protocols take.
struct Credentials {
    /// A platform administrator's API token (the user API).
    admin: String,
    /// A second token of the administrator's, for the run that revokes tokens.
    spare: String,
    /// A join token (node registration).
    join: String,
    /// A node token (the rest of the agent protocol).
    node: String,
    /// The router token (the router protocol).
    router: String,
}

/// POSTs `body` as JSON with a bearer `token` and decodes the 2xx answer.
async fn post<T: serde::de::DeserializeOwned>(api: &TestApi, path: &str, token: Option<&str>, body: Value) -> T {
    let mut request = api.http.post(format!("{}{path}", api.url)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let response = response.error_for_status().unwrap_or_else(|e| panic!("POST {path}: {e}"));
    response.json().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn credentials(api: &TestApi) -> Credentials {
    api::ops::users::create_admin(&api.db, "admin@contract.test", "contract-password".into())
        .await
        .expect("create the administrator");
    let login = json!({ "email": "admin@contract.test", "password": "contract-password" });
    let session: Session = post(api, "/v1/auth/login", None, login).await;
    let admin: CreatedToken = post(api, "/v1/tokens", Some(&session.token), json!({ "name": "contract" })).await;
    let spare: CreatedToken = post(api, "/v1/tokens", Some(&session.token), json!({ "name": "contract-spare" })).await;
    let join: JoinToken = post(api, "/v1/nodes/join-tokens", Some(&admin.token), json!({})).await;
    let node = RegisterNode {
        name: "contract-node".into(),
        address: "127.0.0.1".into(),
        cpu_millis: 2000,
        memory_mb: 4096,
        labels: Default::default(),
    };
    let node = serde_json::to_value(node).expect("a node registration serialises");
    let registered: NodeRegistered = post(api, "/v1/agent/register", Some(&join.token), node).await;
    Credentials {
        admin: admin.token,
        spare: spare.token,
        join: join.token,
        node: registered.node_token,
        router: ROUTER_TOKEN.into(),
    }
}

/// Runs schemathesis over the operations `filter` selects, with `token`;
/// returns its exit status and output.
async fn schemathesis(api: &TestApi, token: &str, filter: &[&str]) -> (bool, String) {
    let mut command = tokio::process::Command::new("st");
    command
        .arg("run")
        .arg(format!("{}/v1/openapi.json", api.url))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", EXAMPLES_PER_OPERATION, "--checks", "all", "--workers", "1"])
        .args(["--request-timeout", "10", "--seed", "1", "--no-color", "--generation-database", "none"])
        // Postgres text cannot hold NUL bytes; the API answers 400 for them (documented).
        .args(["--generation-allow-x00", "false", "--suppress-health-check", "all"])
        .args(filter)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/contract"))
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .expect("schemathesis finishes in time")
        .expect("schemathesis runs: install it with deploy/prereqs.sh (pip install schemathesis)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_documented() {
    // Bodies over the JSON limit answer 413, which schemathesis does not
    // count as rejecting a value; with room for the largest valid config
    // patch (500 vars of 32 KiB), every oversized value meets its 422.
    // The agent's run claim is a long poll: held 1 s here, not 30.
    let api = TestApi::start_with(|config| {
        config.max_json_bytes = 20 * 1024 * 1024;
        config.run_claim_wait_secs = 1;
    })
    .await;
    let credentials = credentials(&api).await;
    // One-operation runs skip the stateful phase (it needs links between
    // operations). The log stream never ends by itself: each request is cut
    // after a second. Revoking tokens runs last, on a token of its own, as it
    // may revoke the one it uses.
    let single = ["--phases", "examples,coverage,fuzzing"];
    let user_api = [
        "--exclude-tag",
        "agent",
        "--exclude-tag",
        "router",
        "--exclude-operation-id",
        "revoke_token",
        "--exclude-operation-id",
        "stream_logs",
    ];
    let log_stream = [&single[..], &["--include-operation-id", "stream_logs", "--request-timeout", "1"]].concat();
    let register = [&single[..], &["--include-operation-id", "register_node"]].concat();
    let agent = ["--include-tag", "agent", "--exclude-operation-id", "register_node"];
    let router = [&single[..], &["--include-tag", "router"]].concat();
    let revoke = [&single[..], &["--include-operation-id", "revoke_token"]].concat();
    let runs: [(&str, &str, &[&str]); 6] = [
        ("user API", &credentials.admin, &user_api),
        ("log stream", &credentials.admin, &log_stream),
        ("node registration", &credentials.join, &register),
        ("agent protocol", &credentials.node, &agent),
        ("router protocol", &credentials.router, &router),
        ("token revocation", &credentials.spare, &revoke),
    ];
    let mut failures = Vec::new();
    for (name, token, filter) in runs {
        let (ok, output) = schemathesis(&api, token, filter).await;
        println!("=== {name} ===\n{output}");
        if !ok {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "schemathesis found contract violations in: {failures:?} (output above)");
}
