//! The agent's typed client of the API's `/v1/agent` endpoints.

use std::sync::RwLock;
use std::time::Duration;

use paas_types::agent::{
    BuildJob, BuildLogLines, BuildResult, DesiredState, LogBatch, NodeRegistered, NodeReport, RegisterNode,
};
use paas_types::ErrorBody;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Why a call to the API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the API")]
    Unreachable(#[source] reqwest::Error),
    #[error("the API refused the node's credentials: {0}")]
    Unauthorized(String),
    #[error("this node no longer holds the build")]
    LeaseLost,
    #[error("the API answered {status}: {message}")]
    Status { status: StatusCode, message: String },
}

pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    node_token: RwLock<Option<String>>,
}

impl ApiClient {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .expect("a TLS backend is available");
        ApiClient { base: base.trim_end_matches('/').to_string(), http, node_token: RwLock::new(None) }
    }

    pub fn set_node_token(&self, token: String) {
        *self.node_token.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match self.node_token.read().unwrap_or_else(|e| e.into_inner()).as_deref() {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(ClientError::Unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = match response.json::<ErrorBody>().await {
            Ok(body) => body.error.message,
            Err(_) => status.canonical_reason().unwrap_or("error").to_string(),
        };
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized(message),
            StatusCode::CONFLICT => ClientError::LeaseLost,
            _ => ClientError::Status { status, message },
        })
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        self.send(request).await?.json().await.map_err(ClientError::Unreachable)
    }

    pub async fn register(&self, join_token: &str, req: &RegisterNode) -> Result<NodeRegistered, ClientError> {
        let request = self.http.post(format!("{}/v1/agent/register", self.base)).bearer_auth(join_token).json(req);
        self.json(request).await
    }

    pub async fn heartbeat(&self) -> Result<(), ClientError> {
        self.send(self.request(Method::POST, "/v1/agent/heartbeat")).await.map(|_| ())
    }

    pub async fn desired(&self) -> Result<DesiredState, ClientError> {
        self.json(self.request(Method::GET, "/v1/agent/desired")).await
    }

    pub async fn report(&self, report: &NodeReport) -> Result<(), ClientError> {
        self.send(self.request(Method::POST, "/v1/agent/report").json(report)).await.map(|_| ())
    }

    /// The next build to do, if any.
    pub async fn claim_build(&self) -> Result<Option<BuildJob>, ClientError> {
        let response = self.send(self.request(Method::POST, "/v1/agent/builds/claim")).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        response.json().await.map(Some).map_err(ClientError::Unreachable)
    }

    pub async fn build_source(&self, build: Uuid) -> Result<bytes::Bytes, ClientError> {
        let response = self.send(self.request(Method::GET, &format!("/v1/agent/builds/{build}/source"))).await?;
        response.bytes().await.map_err(ClientError::Unreachable)
    }

    pub async fn built_source(&self, build: Uuid) -> Result<bytes::Bytes, ClientError> {
        let response = self.send(self.request(Method::GET, &format!("/v1/agent/sources/{build}"))).await?;
        response.bytes().await.map_err(ClientError::Unreachable)
    }

    pub async fn append_build_log(&self, build: Uuid, lines: Vec<String>) -> Result<(), ClientError> {
        let body = BuildLogLines { lines };
        self.send(self.request(Method::POST, &format!("/v1/agent/builds/{build}/log")).json(&body)).await.map(|_| ())
    }

    pub async fn upload_static(&self, build: Uuid, bundle: Vec<u8>) -> Result<(), ClientError> {
        let request = self
            .request(Method::PUT, &format!("/v1/agent/builds/{build}/static"))
            .header("content-type", "application/gzip")
            .body(bundle);
        self.send(request).await.map(|_| ())
    }

    pub async fn finish_build(&self, build: Uuid, result: &BuildResult) -> Result<(), ClientError> {
        self.send(self.request(Method::POST, &format!("/v1/agent/builds/{build}/finish")).json(result))
            .await
            .map(|_| ())
    }

    pub async fn ship_logs(&self, batch: &LogBatch) -> Result<(), ClientError> {
        self.send(self.request(Method::POST, "/v1/agent/logs").json(batch)).await.map(|_| ())
    }
}
