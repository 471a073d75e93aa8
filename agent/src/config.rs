//! Command line and environment configuration of `paas-agent`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Node agent: registers this node with the API, builds images and runs app containers on Docker.
#[derive(Debug, Clone, Parser)]
#[command(name = "paas-agent", version)]
pub struct Config {
    /// Base URL of the PaaS API.
    #[arg(long, env = "PAAS_API_URL", default_value = "http://127.0.0.1:8080")]
    pub api_url: String,

    /// Operator-issued join token, used to register the node when it has no node token yet.
    #[arg(long, env = "PAAS_JOIN_TOKEN", hide_env_values = true)]
    pub join_token: Option<String>,

    /// Name of this node (unique in the platform); labels the containers it owns.
    #[arg(long, env = "PAAS_NODE_NAME", default_value = "node-1")]
    pub node_name: String,

    /// Address on which container ports are published and reachable by routers.
    #[arg(long, env = "PAAS_NODE_ADDRESS", default_value = "127.0.0.1")]
    pub node_address: String,

    /// Directory for the node's identity (node token); created if missing.
    #[arg(long, env = "PAAS_AGENT_STATE_DIR", default_value = "/var/lib/paas-agent")]
    pub state_dir: PathBuf,

    /// CPU capacity offered to apps, in thousandths of a core (default: all cores).
    #[arg(long, env = "PAAS_NODE_CPU_MILLIS")]
    pub cpu_millis: Option<i32>,

    /// Memory capacity offered to apps, in MiB (default: all memory).
    #[arg(long, env = "PAAS_NODE_MEMORY_MB")]
    pub memory_mb: Option<i32>,

    /// Base image app images are built on.
    #[arg(long, env = "PAAS_BASE_IMAGE", default_value = "paas/python-base:bookworm")]
    pub base_image: String,

    /// CA bundle installed into app images at build time so pip trusts the
    /// package index (or a TLS-intercepting proxy); e.g. /etc/ssl/certs/ca-certificates.crt.
    #[arg(long, env = "PAAS_BUILD_CA_BUNDLE")]
    pub build_ca_bundle: Option<PathBuf>,

    /// Package index for pip during builds (PIP_INDEX_URL).
    #[arg(long, env = "PAAS_BUILD_PIP_INDEX_URL")]
    pub build_pip_index_url: Option<String>,

    /// HTTP(S) proxy for pip during builds (passed as build args, not kept in images).
    #[arg(long, env = "PAAS_BUILD_HTTPS_PROXY")]
    pub build_https_proxy: Option<String>,

    /// Installer of the apps' Python packages: `uv` (fast, shared wheel cache) or `pip` (fallback).
    #[arg(long, env = "PAAS_PYTHON_INSTALLER", value_enum, default_value_t = crate::build::Installer::Uv)]
    pub python_installer: crate::build::Installer,

    /// Node-local download/wheel cache shared by all builds on this node;
    /// created if missing, mounted into dependency-install containers.
    #[arg(long, env = "PAAS_BUILD_CACHE_DIR", default_value = "/var/cache/paas-agent/python")]
    pub build_cache_dir: PathBuf,

    /// Longest a build (and its release command) may run, in seconds.
    #[arg(long, env = "PAAS_BUILD_TIMEOUT_SECS", default_value_t = 1800)]
    pub build_timeout_secs: u64,

    /// Seconds between heartbeats.
    #[arg(long, env = "PAAS_HEARTBEAT_SECS", default_value_t = 3)]
    pub heartbeat_secs: u64,

    /// Seconds between reconcile passes.
    #[arg(long, env = "PAAS_RECONCILE_SECS", default_value_t = 1)]
    pub reconcile_secs: u64,

    /// Seconds a web instance keeps serving after leaving the route table, before SIGTERM.
    #[arg(long, env = "PAAS_DRAIN_SECS", default_value_t = 3)]
    pub drain_secs: u64,

    /// Seconds between SIGTERM and SIGKILL when stopping a container.
    #[arg(long, env = "PAAS_STOP_GRACE_SECS", default_value_t = 10)]
    pub stop_grace_secs: u64,

    /// Whether to build images (an agent may only run containers).
    #[arg(long, env = "PAAS_BUILDS", default_value_t = true, action = clap::ArgAction::Set)]
    pub builds: bool,

    /// OCI runtime of app containers (web and other processes, release
    /// commands, `paas run`), e.g. `runsc` for gVisor; it must be registered
    /// in /etc/docker/daemon.json. Unset: Docker's default (runc). Builds
    /// and add-on servers always use the default.
    #[arg(long, env = "PAAS_AGENT_RUNTIME")]
    pub runtime: Option<String>,

    /// Log format: `json` or `pretty`.
    #[arg(long, env = "PAAS_LOG_FORMAT", default_value = "json")]
    pub log_format: String,
}

impl Config {
    pub fn heartbeat_every(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }

    pub fn reconcile_every(&self) -> Duration {
        Duration::from_secs(self.reconcile_secs.max(1))
    }

    /// How app containers are sandboxed on this node.
    pub fn sandbox(&self) -> crate::docker::policy::Sandbox {
        crate::docker::policy::Sandbox { runtime: self.runtime.clone().filter(|r| !r.trim().is_empty()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_flag_becomes_the_sandbox_runtime() {
        let config = Config::try_parse_from(["paas-agent", "--runtime", "runsc"]).expect("valid flags");
        assert_eq!(config.sandbox().runtime.as_deref(), Some("runsc"));
        let config = Config::try_parse_from(["paas-agent", "--runtime", ""]).expect("valid flags");
        assert_eq!(config.sandbox().runtime, None, "empty is the default runtime");
    }
}
