//! The route table the API serves to routers (`GET /v1/router/table`).
//!
//! Routers fetch it once, then long-poll with `?after=<version>`: the API
//! answers as soon as the table's version differs from `after`, or after
//! `wait` seconds with the same table (same version) when nothing changed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Everything a router needs to route every app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RouteTable {
    /// Increases whenever any route changes; compare, never do arithmetic.
    pub version: i64,
    pub apps: Vec<RouteApp>,
    /// Certificates the API obtained (ACME) for custom domains, keys included:
    /// the route-table protocol is authenticated, and routers keep them only in
    /// memory and in their private (0600) table cache.
    #[serde(default)]
    pub certificates: Vec<RouteCertificate>,
    /// HTTP-01 challenges of pending ACME orders: a router answers
    /// `GET /.well-known/acme-challenge/<token>` for `hostname` with
    /// `key_authorization` (plain HTTP, before any app routing).
    #[serde(default)]
    pub acme_challenges: Vec<AcmeChallenge>,
}

/// A certificate and its private key, served by SNI for `hostnames`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RouteCertificate {
    /// Lowercase DNS names the certificate covers (its subject alternative names).
    pub hostnames: Vec<String>,
    /// PEM certificates, leaf first, then intermediates.
    pub chain_pem: String,
    /// PEM private key (PKCS#8).
    pub key_pem: String,
    pub not_after: DateTime<Utc>,
}

impl std::fmt::Debug for RouteCertificate {
    // Keeps private keys out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteCertificate")
            .field("hostnames", &self.hostnames)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// One pending HTTP-01 challenge (RFC 8555 section 8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AcmeChallenge {
    /// Lowercase hostname being validated.
    pub hostname: String,
    /// The last path segment the CA requests (base64url).
    pub token: String,
    /// The exact response body, `<token>.<account key thumbprint>`.
    pub key_authorization: String,
}

/// How to reach one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RouteApp {
    pub name: String,
    /// Lowercase hostnames without port: the default `<app>.<base domain>`
    /// first, then custom domains.
    pub hostnames: Vec<String>,
    /// Current release version, if the app has one.
    pub release: Option<i32>,
    /// Healthy, running web instances of the current rollout, as `host:port`
    /// (a port published on the node's address). Empty: the app is down (503).
    pub backends: Vec<Backend>,
    /// Static assets the router serves itself, when the release has any.
    #[serde(default)]
    pub statics: Option<StaticBundle>,
    /// URL prefixes served by another process type (an async server for
    /// WebSocket/long-poll), longest prefix first; everything else goes to
    /// `backends` (the `web` process).
    #[serde(default)]
    pub routes: Vec<ProcessRoute>,
    /// Seconds the router waits for a `web` response before answering 504
    /// (`None`: the router's default).
    #[serde(default)]
    pub request_timeout_secs: Option<u32>,
    /// On-demand front-end cache purges, oldest first; a router applies each
    /// `seq` it has not applied yet. A new `release` drops the whole cache.
    #[serde(default)]
    pub cache_purges: Vec<CachePurge>,
    /// Plain-HTTP requests for a hostname the router holds a certificate for
    /// (ACME or the operator's default) are redirected to HTTPS (308);
    /// ACME challenges are always answered over HTTP.
    #[serde(default)]
    pub https_redirect: bool,
    /// HTTPS responses carry `Strict-Transport-Security` (one year).
    #[serde(default)]
    pub hsts: bool,
}

/// Requests whose path starts with `prefix` go to instances of `process_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProcessRoute {
    /// Path prefix starting with `/`, e.g. `/ws/`.
    pub prefix: String,
    pub process_type: String,
    /// Healthy, running instances of that process type, as for `RouteApp::backends`.
    pub backends: Vec<Backend>,
}

/// One `paas cache purge [PATH]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CachePurge {
    /// Increases with every purge of any app.
    pub seq: i64,
    /// Exact request path (query included when given) to drop; `None` drops every entry of the app.
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Backend {
    pub instance_id: Uuid,
    /// `127.0.0.1:49153`-style socket address.
    pub address: String,
    /// Requests the instance serves at once (its `WEB_CONCURRENCY`); the
    /// router queues the rest. `None`: no cap.
    #[serde(default)]
    pub concurrency: Option<u32>,
}

/// A release's static files: a gzip-compressed tarball fetched from the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StaticBundle {
    /// The release the bundle belongs to; a new release means a new bundle.
    pub release: i32,
    /// API path of the tarball (`GET`, same router credentials), e.g.
    /// `/v1/router/statics/<blob id>`.
    pub path: String,
    /// Hex SHA-256 of the tarball, to verify and to key a local cache.
    pub sha256: String,
    /// URL prefixes served from directories inside the tarball.
    pub mappings: Vec<StaticMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StaticMapping {
    /// Request path prefix, starting and ending with `/`, e.g. `/static/`.
    pub url_prefix: String,
    /// Directory inside the tarball, relative, e.g. `static`.
    pub dir: String,
}
