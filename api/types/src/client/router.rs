//! [`RouterClient`]: the router's side of the route-table protocol (see
//! [`crate::routing`]): the table's long poll and static bundle downloads,
//! with the router token as the bearer credential.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};

use super::connection::{Connection, Download};
use super::error::ClientError;
use crate::routing::RouteTable;

/// Slack over the long poll's `wait` before the call gives up.
const POLL_SLACK: Duration = Duration::from_secs(10);

/// The route-table protocol as a router speaks it.
#[derive(Debug, Clone)]
pub struct RouterClient {
    connection: Connection,
    token: Option<String>,
}

impl RouterClient {
    /// A client sending the router `token` on every call.
    pub fn new(connection: Connection, token: Option<String>) -> RouterClient {
        RouterClient { connection, token }
    }

    /// The connection this client sends through.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// A request with the router token, for calls without a typed method.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.connection.request(method, path, self.token.as_deref())
    }

    /// The route table. With `after` (the version the router has), a long
    /// poll: the API answers once the version differs, or after `wait`
    /// seconds with the same table.
    pub async fn table(&self, after: Option<i64>, wait: u64) -> Result<RouteTable, ClientError> {
        let mut request = self.request(Method::GET, "/v1/router/table");
        if let Some(version) = after {
            request = request.query(&[("after", version), ("wait", wait as i64)]);
        }
        let request = request.timeout(Duration::from_secs(wait) + POLL_SLACK);
        self.connection.json(request).await
    }

    /// Starts downloading a static bundle from its API `path` (the table's
    /// [`StaticBundle::path`](crate::routing::StaticBundle::path)), within `limit`.
    pub async fn static_bundle(&self, path: &str, limit: Duration) -> Result<Download, ClientError> {
        self.connection.download(self.request(Method::GET, path).timeout(limit)).await
    }
}
