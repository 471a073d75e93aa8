//! [`AgentClient`]: the node agent's side of the agent protocol
//! (`/v1/agent/...`, see [`crate::agent`]). Registration uses an operator's
//! join token; every later call the node token it returned.

use std::sync::RwLock;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, StatusCode};
use uuid::Uuid;

use super::connection::Connection;
use super::error::ClientError;
use crate::agent::{
    BuildJob, BuildLogLines, BuildResult, DesiredState, LogBatch, NodeRegistered, NodeReport, RegisterNode,
};
use crate::session::RunJobs;

/// The agent protocol as one node speaks it. Shared by the agent's loops;
/// the node token can be replaced (a node registering again).
#[derive(Debug)]
pub struct AgentClient {
    connection: Connection,
    node_token: RwLock<Option<String>>,
}

impl AgentClient {
    /// A client without a node token yet (call [`AgentClient::register`] or set one).
    pub fn new(connection: Connection) -> AgentClient {
        AgentClient { connection, node_token: RwLock::new(None) }
    }

    /// A client of an already registered node.
    pub fn with_node_token(connection: Connection, token: String) -> AgentClient {
        AgentClient { connection, node_token: RwLock::new(Some(token)) }
    }

    /// The connection this client sends through.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Uses `token` from now on.
    pub fn set_node_token(&self, token: String) {
        *self.node_token.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
    }

    /// A request with the node token, for calls without a typed method.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let token = self.node_token.read().unwrap_or_else(|e| e.into_inner());
        self.connection.request(method, path, token.as_deref())
    }

    /// Registers the node with a join token; the answer's node token is not
    /// stored (the caller saves it, then calls [`AgentClient::set_node_token`]).
    pub async fn register(&self, join_token: &str, request: &RegisterNode) -> Result<NodeRegistered, ClientError> {
        let request = self.connection.request(Method::POST, "/v1/agent/register", Some(join_token)).json(request);
        self.connection.json(request).await
    }

    /// Tells the API the node is alive.
    pub async fn heartbeat(&self) -> Result<(), ClientError> {
        self.connection.empty(self.request(Method::POST, "/v1/agent/heartbeat")).await
    }

    /// Everything this node should run.
    pub async fn desired(&self) -> Result<DesiredState, ClientError> {
        self.connection.json(self.request(Method::GET, "/v1/agent/desired")).await
    }

    /// What actually runs on the node.
    pub async fn report(&self, report: &NodeReport) -> Result<(), ClientError> {
        self.connection.empty(self.request(Method::POST, "/v1/agent/report").json(report)).await
    }

    /// The next queued build, leased to this node; `None` when there is none.
    pub async fn claim_build(&self) -> Result<Option<BuildJob>, ClientError> {
        let response = self.connection.send(self.request(Method::POST, "/v1/agent/builds/claim")).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        self.connection.decode(response).await.map(Some)
    }

    /// The source tarball of a claimed build.
    pub async fn build_source(&self, build: Uuid) -> Result<Bytes, ClientError> {
        self.connection.bytes(self.request(Method::GET, &format!("/v1/agent/builds/{build}/source"))).await
    }

    /// The source tarball of a finished build (to rebuild its image on this node).
    pub async fn built_source(&self, build: Uuid) -> Result<Bytes, ClientError> {
        self.connection.bytes(self.request(Method::GET, &format!("/v1/agent/sources/{build}"))).await
    }

    /// Appends build output; also renews the lease. A `409` answer means the lease is lost.
    pub async fn append_build_log(&self, build: Uuid, lines: Vec<String>) -> Result<(), ClientError> {
        let body = BuildLogLines { lines };
        self.connection.empty(self.request(Method::POST, &format!("/v1/agent/builds/{build}/log")).json(&body)).await
    }

    /// Stores the build's static files (a gzip tarball).
    pub async fn upload_static(&self, build: Uuid, bundle: Vec<u8>) -> Result<(), ClientError> {
        let request = self
            .request(Method::PUT, &format!("/v1/agent/builds/{build}/static"))
            .header("content-type", "application/gzip")
            .body(bundle);
        self.connection.empty(request).await
    }

    /// Ends a build with its result.
    pub async fn finish_build(&self, build: Uuid, result: &BuildResult) -> Result<(), ClientError> {
        self.connection
            .empty(self.request(Method::POST, &format!("/v1/agent/builds/{build}/finish")).json(result))
            .await
    }

    /// Output lines of the node's app processes.
    pub async fn ship_logs(&self, batch: &LogBatch) -> Result<(), ClientError> {
        self.connection.empty(self.request(Method::POST, "/v1/agent/logs").json(batch)).await
    }
}

// === One-off processes ===

impl AgentClient {
    /// Sessions this node should start: waits up to `wait` for one (a long poll).
    pub async fn claim_runs(&self, wait: std::time::Duration) -> Result<RunJobs, ClientError> {
        let request = self
            .request(Method::POST, "/v1/agent/runs/claim")
            .query(&[("wait_secs", wait.as_secs())])
            .timeout(wait + std::time::Duration::from_secs(10));
        self.connection.json(request).await
    }

    /// The node token, for the session WebSockets.
    pub fn node_token(&self) -> Option<String> {
        self.node_token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Path of the WebSocket the agent streams a session through.
    pub fn run_attach_path(run: Uuid) -> String {
        format!("/v1/agent/runs/{run}/attach")
    }
}

/// Whether an agent-protocol error says the build's lease went to another node.
pub fn is_lease_lost(error: &ClientError) -> bool {
    error.status() == Some(StatusCode::CONFLICT)
}

/// Whether an error says the API refused the node's credentials (register again).
pub fn is_unauthorized(error: &ClientError) -> bool {
    error.status() == Some(StatusCode::UNAUTHORIZED)
}
