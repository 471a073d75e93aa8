//! HTTPS to clients (rustls): the per-hostname certificate pick (SNI), the server
//! configuration and the handshake. Certificates themselves are parsed with the route table
//! ([`crate::table::certs`], [`crate::table::keys`]).
//!
//! Modules, top to bottom (each imports only modules listed below it):
//!
//! - [`handshake`]: one client's TLS handshake, bounded in time, with the `unrecognized_name`
//!   alert when no certificate fits.
//! - [`server_config`]: the rustls `ServerConfig`: versions, suites, session resumption, ALPN.
//! - [`resolver`]: picks the certificate of a handshake from the current table or the default.

pub mod handshake;
pub mod resolver;
pub mod server_config;
