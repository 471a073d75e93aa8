//! The agent's connection to the API: the shared typed client of the agent
//! protocol (`paas_types::client::AgentClient`) with the agent's timeouts.

use std::time::Duration;

pub use paas_types::client::agent::{is_lease_lost, is_unauthorized};
use paas_types::client::Connection;
pub use paas_types::client::{AgentClient, ClientError};

/// A client of the API at `api_url`, without a node token yet.
pub fn connect(api_url: &str) -> Result<AgentClient, reqwest::Error> {
    let connection = Connection::builder(api_url)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()?;
    Ok(AgentClient::new(connection))
}
