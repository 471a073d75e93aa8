//! The router's client of the API: authenticated requests for the route table and bundles.
//!
//! `GET {api}/v1/router/table?after=<version>&wait=<secs>` answers as soon as
//! the table's version differs from `after`, or after `wait` seconds with the
//! same table. What the router does with each table is in
//! [`refresh`](crate::refresh).

use std::time::Duration;

use paas_types::client::{ClientError, Connection, RouterClient};
use paas_types::routing::RouteTable;

use crate::config::ApiConfig;
use crate::error::RouterError;

/// Authenticated requests to the API: the shared typed client of the
/// route-table protocol, with the router's token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    client: RouterClient,
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
        let connection = Connection::builder(&config.api_url)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| RouterError::HttpClient { source })?;
        Ok(ApiClient { client: RouterClient::new(connection, token) })
    }

    /// The typed client; its `static_bundle` downloads a bundle with error answers decoded.
    pub fn client(&self) -> &RouterClient {
        &self.client
    }

    /// One (long-)poll of the route table.
    pub async fn table(&self, after: Option<i64>, wait: u64) -> Result<RouteTable, ClientError> {
        self.client.table(after, wait).await
    }
}
