//! The one typed HTTP client of the API (feature `client`), used by the
//! CLI, the agent, the router and the tests:
//!
//! - [`Connection`]: base URL + transport; decodes error answers once into
//!   [`ClientError`] (the API's [`ErrorBody`](crate::ErrorBody) envelope).
//! - [`RestClient`]: the user-facing REST API, including build uploads and
//!   the followed log stream ([`Events`]).
//! - [`AgentClient`]: the agent protocol (`/v1/agent/...`).
//! - [`RouterClient`]: the route-table long poll and static bundle downloads.
//!
//! - [`socket`] (feature `ws`): WebSockets of `paas run` sessions.
//!
//! Retries and backoff stay with the callers: each knows what a failure means to it.

mod addons;
pub mod agent;
mod connection;
mod error;
pub mod rest;
pub mod router;
#[cfg(feature = "ws")]
pub mod socket;
mod sse;

pub use agent::AgentClient;
pub use connection::{Connection, ConnectionBuilder, Download};
pub use error::ClientError;
pub use rest::RestClient;
pub use router::RouterClient;
pub use sse::Events;
