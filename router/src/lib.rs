//! `paas-router`: the HTTP front door of the platform.
//!
//! Maps `Host` to the healthy instances of an app, reads whole requests before
//! touching a backend, relays responses as they arrive while reading them ahead
//! of slow clients into memory or a temp file (so slow clients never hold a WSGI
//! worker, yet nobody waits for a whole body), balances and retries, and serves
//! each release's static assets itself. See `README.md` in this crate for operation and the
//! benchmark.
//!
//! This file is only the table of contents. Modules, top to bottom (each
//! imports only modules listed below it, so there are no import cycles):
//!
//! - [`runtime`]: start and stop: listeners, worker threads, background tasks.
//! - [`admin`]: the internal listener's handler (`/metrics`, `/healthz`).
//! - [`proxy`]: the client-facing handler: request phases from route to reply,
//!   static files included.
//! - [`refresh`]: keeps the route table current: disk cache, long-poll, bundles
//!   made ready before a table is swapped in.
//! - [`tls`]: HTTPS to clients: the certificate by SNI, the rustls configuration, handshakes.
//! - [`state`]: the [`State`] every connection and task shares.
//! - [`crate::h2`]: HTTP/2 to clients on TLS: the connection loop, streams, replies as
//!   DATA frames; same handler, same request rules plus HTTP/2's.
//! - [`server`]: HTTP/1.1 to clients: the connection loop, head parser, replies.
//! - [`relay`]: a response body from an instance to a client: spooled ahead of
//!   the client (memory, temp file, back-pressure) or passed through unbuffered.
//! - [`table`]: the compiled route table (hostname -> app, backends, bundle,
//!   certificates).
//! - [`cache`]: the front-end response cache (RFC 9111 shared cache): keys,
//!   policy, per-app LRU partitions, request coalescing.
//! - [`statics`]: release bundles: download, verify, unpack, index by URL path.
//! - [`source`]: the API client (route table long-poll, bundle downloads).
//! - [`upstream`]: app instances: connection pools, balancing, health, retries,
//!   and the HTTP/1.1 exchange with them.
//! - [`http1`]: the HTTP/1.1 pieces both sides share: body framing rules and
//!   decoding, header-value trimming, connection I/O and the write buffer.
//! - [`buffer`]: whole request bodies, in memory or a spill file.
//! - [`metrics`]: Prometheus counters.
//! - [`telemetry`]: logging setup and the shutdown signal.
//! - [`config`]: every option, parsed once in `main`.
//! - [`error`]: why a request failed and the page the client gets.

pub mod admin;
pub mod buffer;
pub mod cache;
pub mod config;
pub mod error;
pub mod h2;
pub mod http1;
pub mod metrics;
pub mod proxy;
pub mod refresh;
pub mod relay;
pub mod runtime;
pub mod server;
pub mod source;
pub mod state;
pub mod statics;
pub mod table;
pub mod telemetry;
pub mod tls;
pub mod upstream;

pub use crate::config::Config;
pub use crate::runtime::{run, start, Running};
pub use crate::state::State;
