//! Command line and environment configuration of `paas-api`.
//!
//! Every option can come from a flag or from its environment variable; this
//! is the only place the API reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// The PaaS control plane: REST API, auth and scheduler, on Postgres.
#[derive(Debug, Parser)]
#[command(name = "paas-api", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations and serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create a platform administrator (with its own tenant) and print an API token for it.
    CreateAdmin(CreateAdminArgs),
    /// Re-encrypt every sealed value under PAAS_SECRET_KEY (values sealed under
    /// PAAS_SECRET_KEY_PREVIOUS included) and print the counts; safe to run again.
    RotateSecretKey,
}

#[derive(Debug, Args)]
pub struct CreateAdminArgs {
    /// Email of the administrator.
    #[arg(long)]
    pub email: String,
    /// Password; read from PAAS_ADMIN_PASSWORD when not given.
    #[arg(long, env = "PAAS_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Postgres connection string, e.g. postgres://paas@127.0.0.1:5432/paas.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Address and port the HTTP API listens on.
    #[arg(long, env = "PAAS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Secret key that signs session JWTs (HS256), at least 32 bytes.
    #[arg(long, env = "PAAS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// File holding the JWT secret key (instead of PAAS_JWT_SECRET).
    #[arg(long, env = "PAAS_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,

    /// Lifetime of a session JWT, in seconds.
    #[arg(long, env = "PAAS_JWT_TTL_SECS", default_value_t = 12 * 3600)]
    pub jwt_ttl_secs: u64,

    /// Apps get the hostname `<app>.<base domain>`.
    #[arg(long, env = "PAAS_BASE_DOMAIN", default_value = "paas.localhost")]
    pub base_domain: String,

    /// Scheme used in app URLs shown to users (`http` or `https`).
    #[arg(long, env = "PAAS_APP_SCHEME", default_value = "http")]
    pub app_scheme: String,

    /// Port in app URLs shown to users, when routers do not listen on 80/443.
    #[arg(long, env = "PAAS_APP_PORT")]
    pub app_port: Option<u16>,

    /// Largest JSON request body accepted, in bytes.
    #[arg(long, env = "PAAS_MAX_JSON_BYTES", default_value_t = 64 * 1024)]
    pub max_json_bytes: usize,

    /// Largest source tarball a build upload may have, in bytes (beyond: 413).
    #[arg(long, env = "PAAS_MAX_SOURCE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_source_bytes: usize,

    /// Shared secret routers present to read the route table; unset disables those endpoints.
    #[arg(long, env = "PAAS_ROUTER_TOKEN", hide_env_values = true)]
    pub router_token: Option<String>,

    /// Seconds an agent holds a claimed build without reporting progress before another may take it.
    #[arg(long, env = "PAAS_BUILD_LEASE_SECS", default_value_t = 60)]
    pub build_lease_secs: i64,

    /// Longest a one-off process (`paas run`) may run, in seconds; it is killed then.
    #[arg(long, env = "PAAS_RUN_MAX_SECS", default_value_t = 3600)]
    pub run_max_secs: u64,

    /// Longest the API holds an agent's claim for one-off processes open
    /// (agents ask for up to 30 s); shorter makes idle agents poll more often.
    #[arg(long, env = "PAAS_RUN_CLAIM_WAIT_SECS", default_value_t = 30)]
    pub run_claim_wait_secs: u64,

    /// Seconds without heartbeat after which a node is down and its instances are rescheduled.
    #[arg(long, env = "PAAS_NODE_TIMEOUT_SECS", default_value_t = 15)]
    pub node_timeout_secs: u64,

    /// Seconds between the scheduler's full sweeps over all apps.
    #[arg(long, env = "PAAS_SCHEDULER_SWEEP_SECS", default_value_t = 5)]
    pub scheduler_sweep_secs: u64,

    /// Directory for the local cache of git repositories (default: a `paas-git` dir under the temp dir).
    #[arg(long, env = "PAAS_GIT_CACHE_DIR")]
    pub git_cache_dir: Option<PathBuf>,

    /// Maximum number of Postgres connections in the pool.
    #[arg(long, env = "PAAS_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,

    /// Seconds to wait for a free Postgres connection before answering 503.
    #[arg(long, env = "PAAS_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,

    /// Mark the dashboard's session cookie `Secure` (set it when the API is served over HTTPS).
    #[arg(long, env = "PAAS_COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Log format: `json` (production) or `pretty`.
    #[arg(long, env = "PAAS_LOG_FORMAT", default_value = "json")]
    pub log_format: String,

    #[command(flatten)]
    pub tls: TlsConfig,

    #[command(flatten)]
    pub accounts: AccountsConfig,
}

/// Who may sign up, and how failed logins are slowed down.
#[derive(Debug, Clone, Args)]
pub struct AccountsConfig {
    /// Who may sign up: `open` (anyone who reaches the API), `invite` (only
    /// with an invitation from a tenant owner or admin), `closed` (nobody;
    /// accounts come from `paas-api create-admin`, invitations add existing users).
    #[arg(long, env = "PAAS_SIGNUP", default_value = "invite")]
    pub signup: SignupPolicy,

    /// Proxies (IPs or CIDRs, comma-separated) whose `X-Forwarded-For` is
    /// believed when throttling; every other peer is the client itself.
    #[arg(long, env = "PAAS_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Failed logins of one account allowed before delays start.
    #[arg(long, env = "PAAS_LOGIN_THROTTLE_FREE_ATTEMPTS", default_value_t = 5)]
    pub login_throttle_free_attempts: u32,

    /// Failed credential checks (logins, tokens, git) from one client address allowed before delays start.
    #[arg(long, env = "PAAS_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS", default_value_t = 20)]
    pub login_throttle_address_free_attempts: u32,

    /// First delay once the free attempts are used up, in milliseconds; it doubles with each further failure.
    #[arg(long, env = "PAAS_LOGIN_THROTTLE_BASE_MS", default_value_t = 1000)]
    pub login_throttle_base_ms: u64,

    /// Longest delay, in seconds.
    #[arg(long, env = "PAAS_LOGIN_THROTTLE_MAX_SECS", default_value_t = 900)]
    pub login_throttle_max_secs: u64,

    /// Failures older than this many seconds are forgotten.
    #[arg(long, env = "PAAS_LOGIN_THROTTLE_FORGET_SECS", default_value_t = 24 * 3600)]
    pub login_throttle_forget_secs: u64,
}

/// `PAAS_SIGNUP`: who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignupPolicy {
    /// Anyone who reaches the API.
    Open,
    /// Only people holding an invitation (the default).
    Invite,
    /// Nobody; the operator creates accounts.
    Closed,
}

impl AccountsConfig {
    /// The production defaults with sign-up `policy` (tests choose theirs explicitly).
    pub fn with_signup(policy: SignupPolicy) -> AccountsConfig {
        AccountsConfig {
            signup: policy,
            trusted_proxies: Vec::new(),
            login_throttle_free_attempts: 5,
            login_throttle_address_free_attempts: 20,
            login_throttle_base_ms: 1000,
            login_throttle_max_secs: 900,
            login_throttle_forget_secs: 24 * 3600,
        }
    }

    /// The trusted proxies, parsed.
    pub fn trusted_proxies(&self) -> Result<Vec<crate::client_ip::IpRange>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| ConfigError::TrustedProxy(s.to_string())))
            .collect()
    }
}

/// Let's Encrypt's production directory, the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// HTTPS: the operator's secret key, ACME for custom domains, how HTTPS URLs are shown.
#[derive(Debug, Clone, Args)]
pub struct TlsConfig {
    /// 32-byte key that encrypts secrets at rest (config var values, add-on logins,
    /// release and one-off environments, certificate and ACME account keys), as 64 hex
    /// digits or base64; e.g. `openssl rand -hex 32`. Required (or PAAS_SECRET_KEY_FILE).
    #[arg(long, env = "PAAS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// File holding the secret key (instead of PAAS_SECRET_KEY).
    #[arg(long, env = "PAAS_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// Keys values may still be sealed under (during a key rotation): read, never
    /// used to seal. Several may be given, separated by commas or spaces.
    #[arg(long, env = "PAAS_SECRET_KEY_PREVIOUS", hide_env_values = true)]
    pub secret_key_previous: Option<String>,

    /// File holding the previous key(s) (instead of PAAS_SECRET_KEY_PREVIOUS).
    #[arg(long, env = "PAAS_SECRET_KEY_PREVIOUS_FILE")]
    pub secret_key_previous_file: Option<PathBuf>,

    /// ACME directory URL certificates for custom domains are ordered from
    /// (Let's Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory);
    /// `off` orders none.
    #[arg(long, env = "PAAS_ACME_DIRECTORY", default_value = LETS_ENCRYPT)]
    pub acme_directory: String,

    /// Contact email given to the CA (expiry notices), e.g. ops@example.com.
    #[arg(long, env = "PAAS_ACME_EMAIL")]
    pub acme_email: Option<String>,

    /// PEM bundle of extra CAs to trust for the ACME server's own HTTPS (a test CA such as Pebble).
    #[arg(long, env = "PAAS_ACME_CA_BUNDLE")]
    pub acme_ca_bundle: Option<PathBuf>,

    /// Renew certificates this many days before they expire.
    #[arg(long, env = "PAAS_ACME_RENEW_DAYS", default_value_t = 30)]
    pub acme_renew_days: u32,

    /// First retry after a failed order, in seconds; doubles with each failure.
    #[arg(long, env = "PAAS_ACME_RETRY_MIN_SECS", default_value_t = 300)]
    pub acme_retry_min_secs: u64,

    /// Longest wait between retries of a failing order, in seconds.
    #[arg(long, env = "PAAS_ACME_RETRY_MAX_SECS", default_value_t = 24 * 3600)]
    pub acme_retry_max_secs: u64,

    /// Milliseconds between publishing an HTTP-01 challenge and telling the CA
    /// to check it, so every router has the new route table by then.
    #[arg(long, env = "PAAS_ACME_CHALLENGE_DELAY_MS", default_value_t = 2000)]
    pub acme_challenge_delay_ms: u64,

    /// Seconds between the ACME worker's looks for due certificates.
    #[arg(long, env = "PAAS_ACME_POLL_SECS", default_value_t = 10)]
    pub acme_poll_secs: u64,

    /// Port routers serve HTTPS on, as users reach it, when not 443: custom
    /// domains with a certificate are shown as `https://<domain>:<port>/`.
    #[arg(long, env = "PAAS_APP_HTTPS_PORT")]
    pub app_https_port: Option<u16>,
}

impl TlsConfig {
    /// No ACME, no secret key: what tests that do not exercise certificates use.
    pub fn acme_off() -> TlsConfig {
        TlsConfig {
            secret_key: None,
            secret_key_file: None,
            secret_key_previous: None,
            secret_key_previous_file: None,
            acme_directory: "off".into(),
            acme_email: None,
            acme_ca_bundle: None,
            acme_renew_days: 30,
            acme_retry_min_secs: 300,
            acme_retry_max_secs: 24 * 3600,
            acme_challenge_delay_ms: 2000,
            acme_poll_secs: 10,
            app_https_port: None,
        }
    }

    /// Whether ACME orders run at all.
    pub fn acme_enabled(&self) -> bool {
        !self.acme_directory.trim().eq_ignore_ascii_case("off")
    }

    /// The operator's keys: the current one (required) and previous ones.
    pub fn keyring(&self) -> Result<crate::crypto::Keyring, ConfigError> {
        let current = match (&self.secret_key, &self.secret_key_file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|source| ConfigError::SecretKeyFile { path: path.clone(), source })?,
            (None, None) => return Err(ConfigError::NoSecretKey),
        };
        let current = crate::crypto::SecretKey::parse(&current).map_err(ConfigError::SecretKey)?;
        let previous = match (&self.secret_key_previous, &self.secret_key_previous_file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|source| ConfigError::SecretKeyFile { path: path.clone(), source })?,
            (None, None) => String::new(),
        };
        let previous = previous
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|k| !k.is_empty())
            .map(crate::crypto::SecretKey::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConfigError::PreviousSecretKey)?;
        Ok(crate::crypto::Keyring::new(current, previous))
    }

    /// Checks the TLS settings: usable secret keys, an http(s) directory URL,
    /// sane retry bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.keyring()?;
        if !self.acme_enabled() {
            return Ok(());
        }
        let url = self.acme_directory.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::AcmeDirectory(url.to_string()));
        }
        if self.acme_retry_min_secs == 0 || self.acme_retry_max_secs < self.acme_retry_min_secs {
            return Err(ConfigError::AcmeRetry);
        }
        Ok(())
    }

    /// Why no certificates are ordered, for people (`None`: ACME runs).
    pub fn acme_off_reason(&self) -> Option<String> {
        if !self.acme_enabled() {
            return Some("the platform does not obtain certificates (PAAS_ACME_DIRECTORY=off)".into());
        }
        match self.keyring() {
            Ok(_) => None,
            Err(error) => Some(error.to_string()),
        }
    }
}

/// Configuration errors, reported before any port is bound.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the JWT secret file {path}")]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("PAAS_JWT_SECRET (or PAAS_JWT_SECRET_FILE) must be set to at least 32 bytes")]
    SecretTooShort,
    #[error("the base domain {0:?} is not a valid DNS name")]
    BaseDomain(String),
    #[error("PAAS_APP_SCHEME must be http or https, not {0:?}")]
    Scheme(String),
    #[error("cannot read the secret key file {path}")]
    SecretKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("PAAS_SECRET_KEY is not usable")]
    SecretKey(#[source] crate::crypto::CryptoError),
    #[error("PAAS_SECRET_KEY_PREVIOUS is not usable")]
    PreviousSecretKey(#[source] crate::crypto::CryptoError),
    #[error(
        "PAAS_SECRET_KEY (or PAAS_SECRET_KEY_FILE) must be set: it encrypts config vars, add-on logins and \
         certificate keys in Postgres. Make one with `openssl rand -hex 32 > /etc/paas/secret-key; \
         chmod 600 /etc/paas/secret-key` and start with PAAS_SECRET_KEY_FILE=/etc/paas/secret-key \
         (keep a copy: without it the stored secrets cannot be read)"
    )]
    NoSecretKey,
    #[error("PAAS_ACME_DIRECTORY must be an http(s) URL or `off`, not {0:?}")]
    AcmeDirectory(String),
    #[error("PAAS_ACME_RETRY_MIN_SECS must be at least 1 and at most PAAS_ACME_RETRY_MAX_SECS")]
    AcmeRetry,
    #[error("the ACME CA bundle cannot be used")]
    AcmeCaBundle(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("PAAS_TRUSTED_PROXIES: {0:?} is not an IP address or CIDR range (like 10.0.0.0/8)")]
    TrustedProxy(String),
    #[error("PAAS_LOGIN_THROTTLE_BASE_MS and PAAS_LOGIN_THROTTLE_MAX_SECS must be at least 1")]
    Throttle,
    #[error("the dashboard templates do not compile")]
    Templates(#[source] Box<tera::Error>),
}

impl ServeConfig {
    /// The JWT key, from the flag/env or the file, checked for length.
    pub fn jwt_secret(&self) -> Result<Vec<u8>, ConfigError> {
        let secret = match (&self.jwt_secret, &self.jwt_secret_file) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, Some(path)) => std::fs::read(path)
                .map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?
                .trim_ascii()
                .to_vec(),
            (None, None) => Vec::new(),
        };
        if secret.len() < 32 {
            return Err(ConfigError::SecretTooShort);
        }
        Ok(secret)
    }

    /// Checks what clap cannot: the base domain and scheme.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !crate::validate::is_hostname(&self.base_domain) {
            return Err(ConfigError::BaseDomain(self.base_domain.clone()));
        }
        if self.app_scheme != "http" && self.app_scheme != "https" {
            return Err(ConfigError::Scheme(self.app_scheme.clone()));
        }
        self.tls.validate()?;
        self.accounts.trusted_proxies()?;
        if self.accounts.login_throttle_base_ms == 0 || self.accounts.login_throttle_max_secs == 0 {
            return Err(ConfigError::Throttle);
        }
        self.jwt_secret().map(|_| ())
    }

    pub fn git_cache_dir(&self) -> PathBuf {
        self.git_cache_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("paas-git"))
    }

    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn the_secret_key_is_required_and_the_error_says_how_to_make_one() {
        let error = TlsConfig::acme_off().keyring().unwrap_err();
        assert!(matches!(error, ConfigError::NoSecretKey));
        let message = error.to_string();
        assert!(message.contains("openssl rand -hex 32") && message.contains("PAAS_SECRET_KEY_FILE="), "{message}");
    }

    #[test]
    fn previous_keys_are_a_list_and_are_checked() {
        let other = crate::crypto::SecretKey::generate_hex();
        let tls = TlsConfig {
            secret_key: Some(KEY.into()),
            secret_key_previous: Some(format!("{other}, {KEY}\n")),
            ..TlsConfig::acme_off()
        };
        let keys = tls.keyring().unwrap();
        assert_eq!(keys.previous_ids(), vec![crate::crypto::SecretKey::parse(&other).unwrap().id()]);
        let bad = TlsConfig { secret_key_previous: Some("nope".into()), ..tls };
        assert!(matches!(bad.keyring(), Err(ConfigError::PreviousSecretKey(_))));
    }
}
