//! Typed client of the REST API. Every non-2xx answer becomes
//! `CliError::Api` with the API's stable code and message.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::CliError;

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Client {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("paas-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS backend is available");
        Client { base: base.trim_end_matches('/').to_string(), token, http }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request; a non-2xx answer becomes `CliError::Api`.
    pub async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, CliError> {
        let response = request.send().await.map_err(|e| CliError::Unreachable { url: self.base.clone(), source: e })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<paas_types::ErrorBody>(&text) {
            Ok(body) => CliError::Api { status, code: body.error.code, message: body.error.message },
            Err(_) => CliError::Api { status, code: "http".into(), message: format!("{status}: {}", text.trim()) },
        })
    }

    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, CliError> {
        self.send(request).await?.json().await.map_err(CliError::Decode)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.json(self.request(Method::GET, path)).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.json(self.request(Method::PATCH, path).json(body)).await
    }

    /// DELETE; the body (if any) is returned as JSON, `Null` when empty.
    pub async fn delete(&self, path: &str) -> Result<serde_json::Value, CliError> {
        let response = self.send(self.request(Method::DELETE, path)).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(serde_json::Value::Null);
        }
        response.json().await.map_err(CliError::Decode)
    }
}
