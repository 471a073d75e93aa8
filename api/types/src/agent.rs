//! The agent <-> API protocol (`/v1/agent/...`), authenticated with the node
//! token returned at registration. The API sends each node its full desired
//! state; the agent converges on it and reports what actually runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::routing::StaticMapping;
use crate::Size;

/// Sent once, with an operator-issued join token as the bearer credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterNode {
    /// 1-63 characters of a-z, 0-9, '-' and '.', starting with a letter or digit.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9][a-z0-9.-]{0,62}$"))]
    pub name: String,
    /// Address on which this node publishes container ports, e.g. `127.0.0.1`.
    pub address: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub cpu_millis: i32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub memory_mb: i32,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NodeRegistered {
    pub node_id: Uuid,
    /// Secret the agent authenticates with from now on; shown once.
    pub node_token: String,
}

/// A container this node should run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DesiredInstance {
    pub instance_id: Uuid,
    pub app: String,
    pub release: i32,
    pub process_type: String,
    pub image: String,
    /// The build that made `image`: a node without the image rebuilds it from this build's source.
    pub build_id: Uuid,
    /// Config vars plus the platform's own (`PORT`, `WEB_CONCURRENCY`, ...).
    pub env: BTreeMap<String, String>,
    pub size: Size,
    /// Hostname to send in health checks (the app's default hostname).
    pub hostname: String,
    /// The app's volumes, mounted into the container.
    #[serde(default)]
    pub mounts: Vec<VolumeMount>,
    /// The process listens on `$PORT` and the router sends it requests:
    /// `web`, and process types a route (`paas routes`) points at. Its port
    /// is published on the node address and it is health-checked.
    #[serde(default)]
    pub serves_http: bool,
}

/// A Docker volume of this node mounted at `target` in a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VolumeMount {
    /// The Docker volume's name on the node.
    pub volume: String,
    /// Absolute path inside the container.
    pub target: String,
}

/// A Docker volume this node must hold (created when missing). The node's
/// labelled volumes that are not listed are removed once no container uses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DesiredVolume {
    /// The Docker volume's name on the node.
    pub name: String,
    pub app: String,
    /// The volume's name in its app.
    pub volume: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DesiredState {
    pub instances: Vec<DesiredInstance>,
    /// Add-ons whose data this node holds.
    #[serde(default)]
    pub addons: Vec<crate::addons::DesiredAddon>,
    /// The volumes whose data lives on this node.
    #[serde(default)]
    pub volumes: Vec<DesiredVolume>,
}

/// What the agent sees of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InstanceReport {
    pub instance_id: Uuid,
    /// `starting`, `running` (web: health check passed), `unhealthy`, `crashed`
    /// (the supervisor reports the process exiting and restarting), `stopped`.
    pub state: crate::ActualState,
    /// `host:port` where a web instance answers.
    pub address: Option<String>,
    pub container_id: Option<String>,
    pub restarts: i32,
    /// The process's last exit status, from its supervisor.
    #[serde(default)]
    pub exit_status: Option<i32>,
    /// The container's last output lines, sent while it is `crashed`.
    #[serde(default)]
    pub last_output: Vec<String>,
    /// The HTTP status a web process answered its last health check with.
    #[serde(default)]
    pub http_status: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NodeReport {
    pub instances: Vec<InstanceReport>,
    #[serde(default)]
    pub addons: Vec<crate::addons::AddonReport>,
    /// Bytes each of the node's volumes holds, when measured this pass.
    #[serde(default)]
    pub volumes: Vec<VolumeUsage>,
    /// CPU and memory of the node's app containers, sampled this pass.
    #[serde(default)]
    pub usage: Vec<crate::metrics::InstanceUsage>,
}

/// What a volume holds, as its node measured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VolumeUsage {
    /// The Docker volume's name on the node.
    pub name: String,
    pub used_bytes: i64,
}

/// A build an agent claimed; it holds a lease it must renew by posting logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BuildJob {
    pub build_id: Uuid,
    pub app: String,
    pub lease_secs: i64,
    /// The app's config vars now: the environment of the release command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The app's volumes, mounted into the release-phase container (builds
    /// of an app with volumes are claimed only by the volumes' node).
    #[serde(default)]
    pub mounts: Vec<VolumeMount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BuildLogLines {
    pub lines: Vec<String>,
}

/// The end of a build.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BuildResult {
    pub success: bool,
    /// Image reference, on success.
    pub image: Option<String>,
    /// Process type -> command, from the Procfile or detection.
    #[serde(default)]
    pub process_types: BTreeMap<String, String>,
    #[serde(default)]
    pub static_mappings: Vec<StaticMapping>,
    /// URL prefix -> process type, from `paas.json`'s `routes` (prefixes
    /// checked, process types defined by the Procfile, never `web`).
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    /// The Procfile's `release:` command, if any.
    #[serde(default)]
    pub release_command: Option<String>,
    /// Why it failed, in one line.
    #[serde(default)]
    pub error: Option<String>,
}

/// Output lines of app processes, shipped in batches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogBatch {
    pub lines: Vec<ShippedLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ShippedLine {
    pub instance_id: Uuid,
    pub line: String,
}
