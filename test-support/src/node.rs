//! [`FakeNode`]: one scripted node speaking the real agent protocol, with no
//! Docker behind it. Tests make it claim and finish builds, report instances
//! and ship log lines as an agent would; each step asserts the status the
//! protocol promises, and [`FakeNode::client`] is the typed [`AgentClient`].

use paas_types::agent::{
    BuildJob, BuildLogLines, BuildResult, DesiredState, InstanceReport, LogBatch, NodeRegistered, NodeReport,
    RegisterNode, ShippedLine,
};
use paas_types::client::{AgentClient, Connection};
use paas_types::JoinToken;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::TestApi;

/// Capacity of a node registered with [`FakeNode::register`].
pub const CPU_MILLIS: i32 = 4000;
/// Memory of a node registered with [`FakeNode::register`].
pub const MEMORY_MB: i32 = 8192;

/// A registered node driven step by step by the test.
pub struct FakeNode {
    pub name: String,
    /// The node token the API issued at registration.
    pub token: String,
    /// The agent protocol with that token.
    pub client: AgentClient,
    connection: Connection,
}

impl FakeNode {
    /// Registers `name` (127.0.0.1, `CPU_MILLIS`, `MEMORY_MB`) with a join token issued to `admin`.
    pub async fn register(api: &TestApi, admin: &str, name: &str) -> FakeNode {
        let request = RegisterNode {
            name: name.into(),
            address: "127.0.0.1".into(),
            cpu_millis: CPU_MILLIS,
            memory_mb: MEMORY_MB,
            labels: Default::default(),
        };
        Self::register_with(api, admin, request).await
    }

    /// Registers a node described by `request`.
    pub async fn register_with(api: &TestApi, admin: &str, request: RegisterNode) -> FakeNode {
        let (status, join) = api.post("/v1/nodes/join-tokens", admin, serde_json::json!({})).await;
        assert_eq!(status, 201, "{join}");
        let join: JoinToken = crate::decode(&join);
        let body = crate::json_of(&request);
        let (status, registered) = api.call(Method::POST, "/v1/agent/register", Some(&join.token), Some(body)).await;
        assert_eq!(status, 200, "{registered}");
        let registered: NodeRegistered = crate::decode(&registered);
        let client = AgentClient::with_node_token(api.connection.clone(), registered.node_token.clone());
        let connection = api.connection.clone();
        FakeNode { name: request.name, token: registered.node_token, client, connection }
    }

    /// A raw call with the node token, for tests of statuses and error bodies.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        crate::call(&self.connection, method, path, Some(&self.token), body).await
    }

    /// A call that must answer `expected`; returns the body.
    async fn expect(&self, method: Method, path: &str, body: Option<Value>, expected: StatusCode) -> Value {
        let (status, answer) = self.call(method.clone(), path, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        answer
    }

    /// Claims the next queued build (typed client); `None` when nothing is queued.
    pub async fn claim(&self) -> Option<BuildJob> {
        self.client.claim_build().await.expect("the claim is answered")
    }

    /// Claims the queued build, posts its output and finishes it successfully
    /// with a `web` process; returns the build id.
    pub async fn build(&self, output: &[&str]) -> Uuid {
        self.build_with(output, &[("web", "gunicorn app:app")], &[]).await
    }

    /// As [`FakeNode::build`], with these process types (type, command) and
    /// paas.json routes (prefix, process type).
    pub async fn build_with(&self, output: &[&str], processes: &[(&str, &str)], routes: &[(&str, &str)]) -> Uuid {
        let pairs = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let job = self.expect(Method::POST, "/v1/agent/builds/claim", None, StatusCode::OK).await;
        let job: BuildJob = crate::decode(&job);
        let id = job.build_id;
        let lines = BuildLogLines { lines: output.iter().map(|l| l.to_string()).collect() };
        let path = format!("/v1/agent/builds/{id}/log");
        self.expect(Method::POST, &path, Some(crate::json_of(&lines)), StatusCode::NO_CONTENT).await;
        let result = BuildResult {
            success: true,
            image: Some(format!("paas-app/{}:{}", job.app, &id.simple().to_string()[..8])),
            process_types: pairs(processes),
            static_mappings: Vec::new(),
            routes: pairs(routes),
            release_command: None,
            error: None,
        };
        let path = format!("/v1/agent/builds/{id}/finish");
        self.expect(Method::POST, &path, Some(crate::json_of(&result)), StatusCode::NO_CONTENT).await;
        id
    }

    /// What the API wants this node to run.
    pub async fn desired(&self) -> DesiredState {
        crate::decode(&self.expect(Method::GET, "/v1/agent/desired", None, StatusCode::OK).await)
    }

    /// Reports `instances` as what runs on the node.
    pub async fn report(&self, instances: Vec<InstanceReport>) {
        let body =
            crate::json_of(&NodeReport { instances, addons: Vec::new(), volumes: Vec::new(), usage: Vec::new() });
        self.expect(Method::POST, "/v1/agent/report", Some(body), StatusCode::NO_CONTENT).await;
    }

    /// Reports every desired instance in `state` (addresses 127.0.0.1:40000 and up); returns their ids.
    pub async fn report_all(&self, state: &str) -> Vec<Uuid> {
        let ids: Vec<Uuid> = self.desired().await.instances.iter().map(|i| i.instance_id).collect();
        let reports = ids
            .iter()
            .enumerate()
            .map(|(n, id)| InstanceReport {
                instance_id: *id,
                // Through serde, so a typed state field takes the same names.
                state: serde_json::from_value(Value::from(state)).expect("a known instance state"),
                address: Some(format!("127.0.0.1:{}", 40000 + n)),
                container_id: Some(format!("c{n}")),
                restarts: 0,
                exit_status: None,
                last_output: Vec::new(),
                http_status: None,
            })
            .collect();
        self.report(reports).await;
        ids
    }

    /// Ships one output line of `instance`.
    pub async fn ship_log(&self, instance: Uuid, line: &str) {
        let batch = LogBatch { lines: vec![ShippedLine { instance_id: instance, line: line.into() }] };
        self.expect(Method::POST, "/v1/agent/logs", Some(crate::json_of(&batch)), StatusCode::NO_CONTENT).await;
    }
}
