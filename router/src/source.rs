//! The router's client of the API: authenticated requests for the route table and bundles.
//!
//! `GET {api}/v1/router/table?after=<version>&wait=<secs>` answers as soon as
//! the table's version differs from `after`, or after `wait` seconds with the
//! same table. What the router does with each table is in
//! [`refresh`](crate::refresh).

use std::time::Duration;

use paas_types::routing::RouteTable;

use crate::config::ApiConfig;
use crate::error::RouterError;

const BUNDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a table fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("requesting the route table")]
    Request(#[source] reqwest::Error),
    #[error("route table request answered HTTP {status}")]
    Status { status: u16 },
    #[error("decoding the route table")]
    Decode(#[source] reqwest::Error),
}

/// Authenticated requests to the API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl ApiClient {
    pub fn new(config: &ApiConfig) -> Result<ApiClient, RouterError> {
        let token = match &config.router_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|source| RouterError::TokenFile { path: path.clone(), source })?
                    .trim()
                    .to_owned(),
            ),
            None => config.router_token.clone(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| RouterError::HttpClient { source })?;
        Ok(ApiClient { http, base: config.api_url.trim_end_matches('/').to_owned(), token })
    }

    /// A GET of an API path (starting with `/`) with the router's bearer token.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.get(format!("{}{path}", self.base)).timeout(BUNDLE_TIMEOUT);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// One (long-)poll of the route table.
    pub async fn table(&self, after: Option<i64>, wait: u64) -> Result<RouteTable, SourceError> {
        let path = match after {
            Some(version) => format!("/v1/router/table?after={version}&wait={wait}"),
            None => "/v1/router/table".to_owned(),
        };
        let response =
            self.get(&path).timeout(Duration::from_secs(wait + 10)).send().await.map_err(SourceError::Request)?;
        if !response.status().is_success() {
            return Err(SourceError::Status { status: response.status().as_u16() });
        }
        response.json().await.map_err(SourceError::Decode)
    }
}
