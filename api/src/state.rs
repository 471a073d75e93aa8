//! The state every layer above the database shares: the pool, the session
//! keys, the settings and the route-table version. Surfaces wrap it with
//! their own parts (the dashboard's templates, the git repository cache).

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::JwtKeys;

/// Settings handlers need at request time.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_domain: String,
    pub app_scheme: String,
    /// Port routers listen on, when users must type it (not 80/443).
    pub app_port: Option<u16>,
    pub max_json_bytes: usize,
    /// Largest source tarball accepted by `POST /v1/apps/{app}/builds`.
    pub max_source_bytes: usize,
    /// SHA-256 of the router token; `None` disables the router endpoints.
    pub router_token_hash: Option<Vec<u8>>,
    /// Lease of a claimed build; agents renew it by posting output.
    pub build_lease_secs: i64,
    /// Longest a one-off process (`paas run`) may run before it is killed.
    pub run_max_secs: i64,
    /// Longest an agent's run claim is held open.
    pub run_claim_wait: std::time::Duration,
    /// Whether the ACME worker orders certificates for custom domains.
    pub acme_enabled: bool,
    /// Why it does not, for people (shown on every domain).
    pub acme_off_reason: Option<String>,
    /// Certificates are renewed this long before they expire.
    pub acme_renew_before: chrono::Duration,
    /// Port users reach the routers' HTTPS on, when not 443.
    pub app_https_port: Option<u16>,
    /// Seals and opens secrets at rest (config vars, add-on logins, certificate keys).
    pub keys: crate::crypto::Keyring,
    /// Who may sign up (`PAAS_SIGNUP`).
    pub signup: crate::config::SignupPolicy,
    /// How failed credential checks are slowed down.
    pub throttle: crate::auth::throttle::ThrottlePolicy,
}

impl Settings {
    /// The URL users open for an app (scheme, hostname, and the routers'
    /// port when it is not the scheme's default).
    pub fn app_url(&self, hostname: &str) -> String {
        match self.app_port {
            Some(port) => format!("{}://{hostname}:{port}/", self.app_scheme),
            None => format!("{}://{hostname}/", self.app_scheme),
        }
    }

    /// The URL of a custom domain: HTTPS once it has a certificate (on the
    /// routers' HTTPS port), else plain HTTP (on the routers' HTTP port when
    /// app URLs are plain HTTP).
    pub fn domain_url(&self, hostname: &str, secure: bool) -> String {
        let port = match (secure, self.app_scheme.as_str()) {
            (true, "https") => self.app_https_port.or(self.app_port),
            (true, _) => self.app_https_port,
            (false, "http") => self.app_port,
            (false, _) => None,
        };
        let scheme = if secure { "https" } else { "http" };
        match port {
            Some(port) => format!("{scheme}://{hostname}:{port}/"),
            None => format!("{scheme}://{hostname}/"),
        }
    }

    /// The default hostname of an app.
    pub fn app_hostname(&self, app: &str) -> String {
        format!("{app}.{}", self.base_domain)
    }
}

/// The core state: what operations and every surface need.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    /// Current route-table version, moved by Postgres notifications.
    pub routes_changed: tokio::sync::watch::Receiver<u64>,
    pub jwt: Arc<JwtKeys>,
    pub settings: Arc<Settings>,
    /// Where the two WebSockets of each `paas run` session meet.
    pub runs: Arc<crate::run_hub::RunHub<axum::extract::ws::WebSocket>>,
}
