//! Wire types of the PaaS REST API (`/v1`).
//!
//! One definition per JSON shape, shared by the server (which derives the
//! OpenAPI schemas from them with the `openapi` feature) and by every client.
//! With the `client` feature, the `client` module is the one typed HTTP
//! client of the REST, agent and router protocols.
//!
//! - this file: the REST API's request and response bodies;
//! - `states`: lifecycle states (build, instance, node) as enums whose words
//!   are the wire format and the database's;
//! - `size`: container sizes and what each gets (memory, CPU, workers);
//! - `accounts`: invitations to tenants, events about one's own account;
//! - `addons`: add-ons (REST and agent shapes);
//! - `agent`: the agent protocol; `routing`: the route table routers poll;
//! - `session`: one-off processes (`paas run`) and their WebSocket framing;
//! - `text` (feature `sqlx`): storing those enums as Postgres text;
//! - `volumes`: volumes' REST shapes and the parsing of their size and mount path;
//! - `metrics`: router and agent reports, and the metrics the API answers;
//! - `process_routes`: paths to other process types (`paas routes`), the prefix rules.

pub mod accounts;
pub mod addons;
pub mod agent;
#[cfg(feature = "client")]
pub mod client;
pub mod metrics;
pub mod process_routes;
pub mod routing;
pub mod session;
pub mod size;
pub mod states;
#[cfg(feature = "sqlx")]
mod text;
pub mod volumes;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use size::Size;
pub use states::{ActualState, BuildStatus, InstanceGoal, NodeState, ReleaseStatus, TokenScope, UnknownState};
pub use volumes::{CreateVolumeRequest, Volume};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

// === Errors ===

/// The one error envelope every 4xx and 5xx response carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// Stable identifier, e.g. `not_found`, `validation_failed`.
    pub code: String,
    pub message: String,
    /// The request id, as in the `x-request-id` response header and the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

// === Auth and users ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 254, pattern = r"^[\s\x85]*[^@\s\x85]+@[^@\s\x85]+[\s\x85]*$")
    )]
    pub email: String,
    /// 10-1024 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 1024))]
    pub password: String,
    /// Name of the tenant created for the new user; derived from the email when absent.
    /// Not with `invitation` (the user joins the inviting tenant instead).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z][a-z0-9-]{1,39}$"))]
    pub tenant: Option<String>,
    /// An invitation token: needed when the platform's sign-up is `invite`;
    /// the new account joins the inviting tenant (the email must be the invited one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A session: a short-lived JWT to send as `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    /// Platform administrator (sees nodes).
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// The caller and the tenants they belong to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub user: User,
    pub tenants: Vec<Tenant>,
}

/// Role of a user inside a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A tenant as seen by one of its members.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    /// The caller's role in it.
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// Email of an existing user.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: String,
    pub role: Role,
}

// === API tokens ===

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1-100 characters, not only spaces.
    #[cfg_attr(feature = "openapi", schema(max_length = 100, pattern = r"\S"))]
    pub name: String,
    /// Lifetime in days, 1-3650. Without it and `expires_in_hours`, the token never expires.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub expires_in_days: Option<u32>,
    /// Lifetime in hours, 1-87600 (instead of `expires_in_days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 87600))]
    pub expires_in_hours: Option<u32>,
    /// What the token may do; `admin` when absent. Never more than the
    /// credential that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<TokenScope>,
    /// Limits the token to this one app (routes about other apps, tenants,
    /// members, tokens and nodes are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 30))]
    pub app: Option<String>,
}

/// An API token's metadata. The secret itself is only ever shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// What it may do (`read`, `deploy` or `admin`).
    pub scope: TokenScope,
    /// The one app it is limited to, if any.
    #[serde(default)]
    pub app: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Returned once, at creation: `token` is the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedToken {
    pub token: String,
    pub info: ApiToken,
}

// === Apps ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// 2-30 characters of a-z, 0-9 and single hyphens, starting with a
    /// letter, not ending with a hyphen; unique across the platform.
    #[cfg_attr(feature = "openapi", schema(min_length = 2, max_length = 30, pattern = r"^[a-z](-?[a-z0-9])+$"))]
    pub name: String,
    /// Tenant that owns the app; optional when the caller belongs to exactly one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 40))]
    pub tenant: Option<String>,
}

/// Limits of [`UpdateAppRequest::request_timeout_secs`] (seconds).
pub const REQUEST_TIMEOUT_SECS: std::ops::RangeInclusive<i64> = 1..=3600;

/// `PATCH /v1/apps/{app}`: settings of the app; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAppRequest {
    /// Seconds the router waits for the app's response head before answering
    /// 504, 1-3600 (new apps: 30). Time waiting in the router's queue for a
    /// free worker does not count.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3600, nullable = false))]
    pub request_timeout_secs: Option<i64>,
    /// Redirect plain-HTTP requests to HTTPS (308) for hostnames that have a
    /// certificate; ACME challenges are always answered over HTTP (new apps: on).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub https_redirect: Option<bool>,
    /// Send `Strict-Transport-Security` (one year) on HTTPS responses (new apps: off).
    /// Browsers then refuse plain HTTP for the hostname for that year.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub hsts: Option<bool>,
}

/// A field that may be absent but, when present, is never `null`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct App {
    pub id: Uuid,
    pub name: String,
    pub tenant: String,
    /// Default hostname, `<app>.<base domain>`.
    pub hostname: String,
    pub web_url: String,
    /// Version of the current release, if any.
    pub current_release: Option<i32>,
    /// Seconds the router waits for a response head before answering 504.
    pub request_timeout_secs: u32,
    /// Plain-HTTP requests to a hostname with a certificate are redirected to HTTPS.
    pub https_redirect: bool,
    /// HTTPS responses carry `Strict-Transport-Security`.
    pub hsts: bool,
    pub created_at: DateTime<Utc>,
}

/// One page of apps, ordered by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppList {
    pub apps: Vec<App>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<String>,
}

// === Config vars ===

/// Config vars: name -> value.
pub type ConfigVars = BTreeMap<String, String>;

/// Changes to config vars: a string sets, `null` unsets.
pub type ConfigPatch = BTreeMap<String, Option<String>>;

// === Domains ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    /// A DNS name of two or more labels (case and a trailing dot do not matter).
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 253,
            pattern = r"^[\s\x85]*([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]\.?[\s\x85]*$"
        )
    )]
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Domain {
    pub id: Uuid,
    pub hostname: String,
    /// The URL users open: `https://` once the domain has a certificate.
    pub url: String,
    /// The domain's TLS certificate, obtained by the platform over ACME.
    pub certificate: DomainCertificate,
    pub created_at: DateTime<Utc>,
}

/// Where a custom domain's certificate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CertificateState {
    /// No certificate yet; the platform is ordering one (the domain's DNS must
    /// point at the routers for the CA's HTTP check).
    Pending,
    /// A certificate is served; it is renewed before it expires.
    Issued,
    /// The last order failed (see `error`); it is retried at `next_attempt_at`.
    Failed,
    /// The platform does not obtain certificates (ACME is off); the domain is served over HTTP.
    Disabled,
}

impl CertificateState {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateState::Pending => "pending",
            CertificateState::Issued => "issued",
            CertificateState::Failed => "failed",
            CertificateState::Disabled => "disabled",
        }
    }
}

/// A custom domain's certificate as users see it (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DomainCertificate {
    pub state: CertificateState,
    /// When the served certificate expires (`issued`).
    pub expires_at: Option<DateTime<Utc>>,
    /// What went wrong with the last order, for people: the CA's words. Set
    /// when `failed`, and when `issued` but the last renewal failed.
    pub error: Option<String>,
    /// When the platform next orders (a retry after a failure, or the renewal).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

// === Front-end cache ===

/// Longest path a cache purge may name.
pub const MAX_PURGE_PATH: usize = 2048;

/// `POST /v1/apps/{app}/cache/purge`: drop cached responses from every router.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PurgeCacheRequest {
    /// Request path as clients send it (percent-encoded, printable ASCII),
    /// e.g. `/pricing` (also drops `/pricing?...`) or `/pricing?plan=pro`
    /// (only that query). Omitted or `null`: everything the app has cached.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, pattern = r"^/[!-~]*$"))]
    pub path: Option<String>,
}

/// An accepted purge; routers apply it within a second or so.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CachePurgeRecord {
    /// Order of purges across all apps.
    pub seq: i64,
    /// The path purged; `null`: everything.
    pub path: Option<String>,
    pub created_at: DateTime<Utc>,
}

// === Formation ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProcessFormation {
    pub process_type: String,
    pub quantity: i32,
    pub size: Size,
}

/// New quantity (and optionally size) of one process type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(untagged)]
pub enum FormationChange {
    Quantity(i64),
    Spec {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
        quantity: Option<i64>,
        #[serde(default)]
        size: Option<Size>,
    },
}

/// Formation update: `{"web": 3, "worker": {"quantity": 1, "size": "small"}}`.
pub type FormationPatch = BTreeMap<String, FormationChange>;

// === Releases ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Release {
    pub id: Uuid,
    pub version: i32,
    pub build_id: Option<Uuid>,
    pub description: String,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Whether this is the app's current release.
    pub current: bool,
    /// `pending` while it rolls out, `promoted` once every process type was
    /// healthy, `failed` when one was not (the previous release serves).
    pub status: ReleaseStatus,
    /// Why the release failed, with what to do about it.
    pub failure: Option<String>,
}

/// A release with its config snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReleaseDetail {
    pub release: Release,
    pub config: ConfigVars,
}

// === Events ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Event {
    pub id: i64,
    pub tenant: String,
    pub app: Option<String>,
    pub actor: Option<String>,
    /// Dotted action name, e.g. `app.create`, `config.set`.
    pub action: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

// === Nodes ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Node {
    pub id: Uuid,
    pub name: String,
    pub address: String,
    pub cpu_millis: i32,
    pub memory_mb: i32,
    pub labels: serde_json::Value,
    pub state: NodeState,
    pub last_heartbeat_at: DateTime<Utc>,
    pub instances: i64,
}

// === Health ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    pub status: String,
    pub database: String,
}

// === Builds, instances, logs ===

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Build {
    pub id: Uuid,
    pub status: BuildStatus,
    pub source_version: Option<String>,
    pub image: Option<String>,
    /// The release this build made, once it succeeded.
    pub release: Option<i32>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BuildDetail {
    pub build: Build,
    /// The build output so far.
    pub log: String,
}

/// One running (or wanted) process of an app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Instance {
    pub id: Uuid,
    pub process_type: String,
    pub release: i32,
    pub node: Option<String>,
    /// What the scheduler wants.
    pub desired_state: InstanceGoal,
    /// What the instance does, as its node last reported.
    pub state: ActualState,
    pub address: Option<String>,
    /// Times its process exited and was started again by the supervisor
    /// (or its container was restarted).
    pub restarts: i32,
    /// The process's last exit status, once it has exited.
    pub exit_status: Option<i32>,
    /// Its last output lines, when it crashed.
    pub last_output: Vec<String>,
    /// The HTTP status a web process last answered its health check with.
    pub http_status: Option<i32>,
    /// What is wrong and how to fix it, when something is.
    pub hint: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A line of app or build output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogLine {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Process type, or `build`.
    pub process_type: String,
    pub instance_id: Option<Uuid>,
    pub line: String,
}

/// A node join token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JoinToken {
    pub id: Uuid,
    pub token: String,
}
