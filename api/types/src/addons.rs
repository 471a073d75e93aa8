//! Add-ons: Postgres databases and Redis servers run by the platform,
//! attached to apps as `<ALIAS>_URL` config vars. The REST shapes first, then
//! what the agent is told to run and reports back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What an add-on is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AddonKind {
    Postgres,
    Redis,
}

impl AddonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AddonKind::Postgres => "postgres",
            AddonKind::Redis => "redis",
        }
    }

    pub fn parse(word: &str) -> Option<AddonKind> {
        match word {
            "postgres" | "postgresql" => Some(AddonKind::Postgres),
            "redis" => Some(AddonKind::Redis),
            _ => None,
        }
    }

    /// The alias an attachment gets unless told otherwise (`DATABASE` -> `DATABASE_URL`).
    pub fn default_alias(self) -> &'static str {
        match self {
            AddonKind::Postgres => "DATABASE",
            AddonKind::Redis => "REDIS",
        }
    }
}

/// How an add-on is doing, as its users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AddonState {
    /// Waiting for its node to create it.
    Provisioning,
    /// Accepting connections.
    Available,
    /// The node holding its volume is down; it is never re-created empty elsewhere.
    Unavailable,
    /// Its node could not create or run it (see `message`).
    Failed,
    /// Being removed (after a final backup, for Postgres).
    Destroying,
}

impl AddonState {
    pub fn as_str(self) -> &'static str {
        match self {
            AddonState::Provisioning => "provisioning",
            AddonState::Available => "available",
            AddonState::Unavailable => "unavailable",
            AddonState::Failed => "failed",
            AddonState::Destroying => "destroying",
        }
    }

    pub fn parse(word: &str) -> Option<AddonState> {
        [
            AddonState::Provisioning,
            AddonState::Available,
            AddonState::Unavailable,
            AddonState::Failed,
            AddonState::Destroying,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

/// `POST /v1/apps/{app}/addons`: a new add-on, attached to the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAddonRequest {
    pub kind: AddonKind,
    /// Postgres: `hobby` (default), `standard`, `dedicated` (its own server).
    /// Redis: `hobby` (default), `standard`, `cache` (evicts least recently used keys).
    #[serde(default)]
    pub plan: Option<String>,
    /// The config var is `<ALIAS>_URL` (default `DATABASE` / `REDIS`).
    #[serde(default, rename = "as")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Z][A-Z0-9_]{0,55}$"))]
    pub alias: Option<String>,
}

/// `POST /v1/addons/{addon}/restore-to-node`: bring a Postgres add-on whose
/// node is down up on another node from its newest backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestoreToNodeRequest {
    /// A live node's name (`paas nodes`).
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub node: String,
}

/// `POST /v1/addons/{addon}/attachments`: attach to another app of the tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachAddonRequest {
    pub app: String,
    #[serde(default, rename = "as")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Z][A-Z0-9_]{0,55}$"))]
    pub alias: Option<String>,
}

/// One app an add-on is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonAttachment {
    pub app: String,
    /// The config var holding the URL, e.g. `DATABASE_URL`.
    pub var: String,
}

/// An add-on. `url` is only in the answers about one add-on (never in lists).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Addon {
    pub id: Uuid,
    pub name: String,
    pub tenant: String,
    pub kind: AddonKind,
    pub plan: String,
    pub state: AddonState,
    /// Why it is failed or unavailable.
    #[serde(default)]
    pub message: Option<String>,
    /// The node holding its data.
    #[serde(default)]
    pub node: Option<String>,
    pub attachments: Vec<AddonAttachment>,
    /// The URL apps are given (`postgresql://...`, `redis://...`), with its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A Postgres backup (`pg_dump -Fc`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonBackup {
    pub id: Uuid,
    pub addon: String,
    /// `manual`, `scheduled` (daily) or `final` (taken by destroy).
    pub trigger: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    #[serde(default)]
    pub size_bytes: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A restore of a backup into its add-on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonRestore {
    pub id: Uuid,
    pub backup_id: Uuid,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    #[serde(default)]
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

// === Agent protocol ===

/// A login of an add-on; every listed one must work, unlisted ones are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonLogin {
    pub username: String,
    pub password: String,
}

/// Resource limits of an add-on, from its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonLimits {
    /// Postgres: most connections to the database.
    #[serde(default)]
    pub connection_limit: Option<i32>,
    /// Redis: `maxmemory` in MiB.
    #[serde(default)]
    pub maxmemory_mb: Option<i32>,
    /// Redis: `maxmemory-policy`.
    #[serde(default)]
    pub eviction_policy: Option<String>,
    /// Memory limit of the add-on's own container (Redis, dedicated Postgres), MiB.
    pub memory_mb: i32,
}

/// A backup restore the agent should run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DesiredRestore {
    pub restore_id: Uuid,
    pub backup_id: Uuid,
}

/// An add-on this node holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DesiredAddon {
    pub id: Uuid,
    /// Also its network alias: the host in its URL.
    pub name: String,
    pub kind: AddonKind,
    pub plan: String,
    /// Postgres: runs on its own server instead of the node's shared one.
    #[serde(default)]
    pub dedicated: bool,
    /// Postgres: the database, also the name of its NOLOGIN owner role.
    #[serde(default)]
    pub database: String,
    pub logins: Vec<AddonLogin>,
    /// The agent's own password (Redis `paas-admin`).
    pub admin_password: String,
    pub limits: AddonLimits,
    /// Apps attached: the add-on joins their networks.
    pub apps: Vec<String>,
    /// Remove the add-on and its data.
    #[serde(default)]
    pub destroy: bool,
    /// Backups to capture (`pg_dump -Fc`) and upload.
    #[serde(default)]
    pub captures: Vec<Uuid>,
    #[serde(default)]
    pub restores: Vec<DesiredRestore>,
}

/// What the agent sees of one add-on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonReport {
    pub id: Uuid,
    /// `provisioning`, `available`, `failed` or `destroyed`.
    pub state: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// The end of a capture or restore job (`POST /v1/agent/addon-jobs/{id}/finish`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddonJobResult {
    pub success: bool,
    #[serde(default)]
    pub message: Option<String>,
}
