//! Router configuration: one struct, parsed once in `main` from flags and `PAAS_ROUTER_*` variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};

/// Upper bound of `--max-headers` (the head parser keeps this many header slots on its stack).
pub const MAX_HEADER_SLOTS: usize = 256;

/// HTTP router: maps hostnames to app instances, buffers slow clients, serves static assets.
#[derive(Debug, Clone, Parser)]
#[command(name = "paas-router", version)]
pub struct Config {
    /// Address the router accepts client HTTP/1.1 traffic on.
    #[arg(long, env = "PAAS_ROUTER_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Internal address serving `/metrics` (Prometheus) and `/healthz`; keep it off the public network.
    #[arg(long, env = "PAAS_ROUTER_ADMIN_LISTEN", default_value = "127.0.0.1:9100")]
    pub admin_listen: SocketAddr,
    /// Directory for the cached route table, unpacked static bundles and spilled bodies.
    #[arg(long, env = "PAAS_ROUTER_STATE_DIR", default_value = "/var/lib/paas-router")]
    pub state_dir: PathBuf,
    /// Log format: `text` for people, `json` for log shippers.
    #[arg(long, env = "PAAS_ROUTER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Emit one access log line per request (target `access`).
    #[arg(long, env = "PAAS_ROUTER_ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub access_log: bool,
    /// Clients whose `X-Forwarded-*` and `X-Request-Id` headers are believed (IPs or CIDRs, comma-separated),
    /// e.g. a load balancer in front of the router. Everyone else's values are replaced.
    #[arg(long, env = "PAAS_ROUTER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<Cidr>,
    /// Threads serving client connections, each with its own event loop and upstream pools
    /// (0 = one per CPU). Keeping a request and its upstream connection on one thread avoids
    /// cross-thread wake-ups, which dominate the cost of proxying small requests.
    #[arg(long, env = "PAAS_ROUTER_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Grace period for in-flight requests on SIGTERM / Ctrl-C, in seconds.
    #[arg(long, env = "PAAS_ROUTER_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    #[command(flatten)]
    pub api: ApiConfig,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub upstream: UpstreamConfig,
    #[command(flatten)]
    pub statics: StaticConfig,
    #[command(flatten)]
    pub cache: CacheConfig,
    #[command(flatten)]
    pub tls: TlsConfig,
}

/// Where the route table and static bundles come from.
#[derive(Debug, Clone, Args)]
pub struct ApiConfig {
    /// Base URL of the PaaS API (route table source).
    #[arg(long, env = "PAAS_API_URL", default_value = "http://127.0.0.1:8080")]
    pub api_url: String,
    /// Bearer token the API issued to routers.
    #[arg(long, env = "PAAS_ROUTER_TOKEN", hide_env_values = true)]
    pub router_token: Option<String>,
    /// File holding the router token (wins over `--router-token`); keeps the secret out of the environment.
    #[arg(long, env = "PAAS_ROUTER_TOKEN_FILE")]
    pub router_token_file: Option<PathBuf>,
    /// Seconds the API may hold a long-poll open before answering "unchanged".
    #[arg(long, env = "PAAS_ROUTER_POLL_WAIT_SECS", default_value_t = 30)]
    pub poll_wait_secs: u64,
}

/// What a client may send, and how slowly.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest request head (request line + headers) in bytes; larger answers 431.
    #[arg(long, env = "PAAS_ROUTER_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Most header lines in a request head; more answers 431.
    #[arg(long, env = "PAAS_ROUTER_MAX_HEADERS", default_value_t = 100)]
    pub max_headers: usize,
    /// Request bodies up to this many bytes are buffered in memory; larger ones spill to a temp file.
    #[arg(long, env = "PAAS_ROUTER_BODY_MEMORY_BYTES", default_value_t = 1024 * 1024)]
    pub body_memory_bytes: usize,
    /// Largest request body accepted, in bytes; larger answers 413.
    #[arg(long, env = "PAAS_ROUTER_MAX_BODY_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_body_bytes: u64,
    /// Seconds a client has to send a whole request head once its first byte arrived; then 408.
    #[arg(long, env = "PAAS_ROUTER_CLIENT_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub client_header_timeout_secs: u64,
    /// Longest pause between two reads of a request body, in seconds; then 408.
    #[arg(long, env = "PAAS_ROUTER_CLIENT_BODY_TIMEOUT_SECS", default_value_t = 60)]
    pub client_body_timeout_secs: u64,
    /// Seconds an idle client keep-alive connection stays open.
    #[arg(long, env = "PAAS_ROUTER_KEEPALIVE_TIMEOUT_SECS", default_value_t = 75)]
    pub keepalive_timeout_secs: u64,
    /// Longest pause while writing a response to a client, in seconds; then the connection is dropped.
    #[arg(long, env = "PAAS_ROUTER_CLIENT_SEND_TIMEOUT_SECS", default_value_t = 60)]
    pub client_send_timeout_secs: u64,
    /// Streaming traffic (WebSocket tunnels, requests on `paas routes` prefixes): seconds without a
    /// byte either way before the router closes a tunnel, and the bound of a routed request's exchange.
    #[arg(long, env = "PAAS_ROUTER_STREAM_IDLE_TIMEOUT_SECS", default_value_t = 3600)]
    pub stream_idle_timeout_secs: u64,
    /// Most requests (streams) one HTTP/2 client connection may have open at once; more are refused.
    #[arg(long, env = "PAAS_ROUTER_H2_MAX_CONCURRENT_STREAMS", default_value_t = 128)]
    pub h2_max_concurrent_streams: u32,
}

/// How the router talks to app instances.
#[derive(Debug, Clone, Args)]
pub struct UpstreamConfig {
    /// Milliseconds to establish a TCP connection to an instance; then it is marked down and another is tried.
    #[arg(
        long = "upstream-connect-timeout-ms",
        env = "PAAS_ROUTER_UPSTREAM_CONNECT_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub connect_timeout_ms: u64,
    /// Seconds an instance has to send its response head (and a body of at most 64 KiB); then 504.
    /// The rest of a body is bounded by `--upstream-read-timeout-secs` between reads instead.
    /// Apps whose route table entry carries a request timeout (the API sets one for every app)
    /// use theirs instead.
    #[arg(
        long = "upstream-response-timeout-secs",
        env = "PAAS_ROUTER_UPSTREAM_RESPONSE_TIMEOUT_SECS",
        default_value_t = 60
    )]
    pub response_timeout_secs: u64,
    /// Seconds a request may wait in the router for a free worker when every instance of its app
    /// serves as many requests as it has workers (`WEB_CONCURRENCY`); then 503 with `Retry-After`.
    /// Long enough to ride out a burst, short enough that nobody's page hangs on a full queue and
    /// workers do not serve requests whose visitors have given up.
    #[arg(long = "queue-timeout-secs", env = "PAAS_ROUTER_QUEUE_TIMEOUT_SECS", default_value_t = 10)]
    pub queue_timeout_secs: u64,
    /// Idle pooled connections older than this (ms) are not reused: WSGI servers close idle keep-alive
    /// connections after a few seconds (gunicorn: 2 s), and a reused dead connection costs a retry.
    #[arg(long = "upstream-idle-timeout-ms", env = "PAAS_ROUTER_UPSTREAM_IDLE_TIMEOUT_MS", default_value_t = 1500)]
    pub idle_timeout_ms: u64,
    /// Most idle keep-alive connections kept per instance.
    #[arg(long = "upstream-max-idle", env = "PAAS_ROUTER_UPSTREAM_MAX_IDLE", default_value_t = 64)]
    pub max_idle: usize,
    /// Response bodies up to this many bytes are buffered in memory; larger ones spill to a temp file.
    #[arg(long = "response-memory-bytes", env = "PAAS_ROUTER_RESPONSE_MEMORY_BYTES", default_value_t = 1024 * 1024)]
    pub response_memory_bytes: usize,
    /// Response bytes spooled to a temp file ahead of a slow client, past the memory part. When
    /// this is full too the router stops reading from the instance until the client catches up
    /// (back-pressure; any size of response still goes through). 0: memory only.
    #[arg(long = "response-file-bytes", env = "PAAS_ROUTER_RESPONSE_FILE_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub response_file_bytes: u64,
    /// Longest pause between two reads of a response body from an instance, in seconds; then the
    /// response is cut off. Streaming routes may set their own.
    #[arg(long = "upstream-read-timeout-secs", env = "PAAS_ROUTER_UPSTREAM_READ_TIMEOUT_SECS", default_value_t = 60)]
    pub read_timeout_secs: u64,
    /// How often instances marked down are probed with a TCP connect, in milliseconds.
    #[arg(long = "health-interval-ms", env = "PAAS_ROUTER_HEALTH_INTERVAL_MS", default_value_t = 1000)]
    pub health_interval_ms: u64,
}

/// Static assets served from release bundles.
#[derive(Debug, Clone, Args)]
pub struct StaticConfig {
    /// `Cache-Control` sent with static files whose names carry no content hash (they are
    /// revalidated by ETag); hashed names get `public, max-age=31536000, immutable`.
    #[arg(long, env = "PAAS_ROUTER_STATIC_CACHE_CONTROL", default_value = "public, max-age=60")]
    pub static_cache_control: String,
    /// Seconds the previous release's static files stay served (on a miss in the new
    /// release's bundle) after a rollout, for pages rendered by old instances.
    #[arg(long, env = "PAAS_ROUTER_STATIC_GRACE_SECS", default_value_t = 600)]
    pub static_grace_secs: u64,
    /// Bytes of static files held in memory across all bundles; the rest is read from disk per request.
    #[arg(long, env = "PAAS_ROUTER_STATIC_MEMORY_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub static_memory_bytes: u64,
}

/// The front-end response cache (RFC 9111 shared cache; apps opt in with `Cache-Control`).
#[derive(Debug, Clone, Args)]
pub struct CacheConfig {
    /// Bytes of cached responses held across all apps (LRU); 0 turns the cache off.
    #[arg(long, env = "PAAS_ROUTER_CACHE_MEMORY_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub cache_memory_bytes: u64,
    /// Bytes of cached responses one app may hold; past it the app's least recently used entries go.
    #[arg(long, env = "PAAS_ROUTER_CACHE_APP_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub cache_app_bytes: u64,
    /// Largest response body stored, in bytes; larger responses are passed through uncached.
    #[arg(long, env = "PAAS_ROUTER_CACHE_MAX_OBJECT_BYTES", default_value_t = 1024 * 1024)]
    pub cache_max_object_bytes: u64,
    /// Milliseconds a request waits for a concurrent identical request's response (coalescing)
    /// before going to the app itself.
    #[arg(long, env = "PAAS_ROUTER_CACHE_COALESCE_TIMEOUT_MS", default_value_t = 5000)]
    pub cache_coalesce_timeout_ms: u64,
}

/// HTTPS to clients.
#[derive(Debug, Clone, Args)]
pub struct TlsConfig {
    /// Address the router accepts HTTPS on (off when unset). Certificates come from the route
    /// table (per hostname, by SNI) and `--tls-cert`.
    #[arg(long, env = "PAAS_ROUTER_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain (leaf first) served for hostnames without a certificate of their
    /// own, e.g. a wildcard for the base domain. Without it such hostnames get a TLS
    /// `unrecognized_name` alert.
    #[arg(long, env = "PAAS_ROUTER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "PAAS_ROUTER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Port in the `https://` URL plain-HTTP requests are redirected to (apps with the HTTPS
    /// redirect on, hostnames with a certificate); 443 is left out of the URL.
    #[arg(long, env = "PAAS_ROUTER_HTTPS_REDIRECT_PORT", default_value_t = 443)]
    pub https_redirect_port: u16,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Values a test or a small deployment needs: listens on ephemeral loopback ports.
    pub fn for_tests(api_url: &str, state_dir: PathBuf) -> Config {
        let mut config = Config::parse_from(["paas-router", "--api-url", api_url]);
        config.listen = "127.0.0.1:0".parse().expect("literal address");
        config.admin_listen = "127.0.0.1:0".parse().expect("literal address");
        config.state_dir = state_dir;
        config.workers = 1;
        config
    }

    /// Checks what clap cannot: relations between values.
    pub fn validate(&self) -> Result<(), String> {
        if self.limits.max_header_bytes < 1024 {
            return Err("--max-header-bytes must be at least 1024".into());
        }
        if self.limits.max_headers == 0 || self.limits.max_headers > MAX_HEADER_SLOTS {
            return Err("--max-headers must be between 1 and 256".into());
        }
        if !(self.api.api_url.starts_with("http://") || self.api.api_url.starts_with("https://")) {
            return Err("--api-url must start with http:// or https://".into());
        }
        Ok(())
    }
}

/// Names of `PAAS_ROUTER_*` variables in `vars` that no option reads (likely typos), for a startup warning.
pub fn unknown_env_vars(vars: impl IntoIterator<Item = String>) -> Vec<String> {
    use clap::CommandFactory;
    let command = Config::command();
    let known: Vec<String> =
        command.get_arguments().filter_map(|arg| arg.get_env()).map(|env| env.to_string_lossy().into_owned()).collect();
    vars.into_iter().filter(|name| name.starts_with("PAAS_ROUTER_") && !known.contains(name)).collect()
}

impl UpstreamConfig {
    pub fn queue_timeout(&self) -> Duration {
        Duration::from_secs(self.queue_timeout_secs)
    }
}

impl Limits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.client_header_timeout_secs)
    }
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.client_body_timeout_secs)
    }
    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs)
    }
    pub fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.client_send_timeout_secs)
    }
    pub fn stream_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.stream_idle_timeout_secs)
    }
}

// === Cidr ===

/// An IP network such as `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies inside this network (IPv4-mapped IPv6 peers count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("`{s}` is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("bad prefix in `{s}`"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
    }

    #[test]
    fn unknown_variables_are_reported() {
        let vars = ["PAAS_ROUTER_LISTEN", "PAAS_ROUTER_LISTN", "PAAS_API_URL", "HOME"].map(String::from);
        assert_eq!(unknown_env_vars(vars), ["PAAS_ROUTER_LISTN"]);
    }

    #[test]
    fn defaults_validate() {
        let config = Config::for_tests("http://127.0.0.1:1", "/tmp/x".into());
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.limits.max_headers, 100);
    }
}
