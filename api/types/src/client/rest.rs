//! [`RestClient`]: the user-facing REST API (`/v1/...`) as typed calls, with
//! a user's session JWT or API token as the bearer credential.

mod routes;
mod volumes;

use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::connection::segment;
use super::connection::Connection;
use super::error::ClientError;
use super::sse::Events;
use crate::accounts::{AcceptInvitationRequest, AccountEvent, CreateInvitationRequest, CreatedInvitation, Invitation};
use crate::session::{Run, RunRequest};
use crate::{
    AddDomainRequest, AddMemberRequest, ApiToken, App, AppList, Build, BuildDetail, CachePurgeRecord, ConfigPatch,
    ConfigVars, CreateAppRequest, CreateTokenRequest, CreatedToken, Domain, Event, FormationPatch, Health, Instance,
    JoinToken, LogLine, LoginRequest, Me, Member, Node, ProcessFormation, PurgeCacheRequest, Release, ReleaseDetail,
    Session, SignupRequest, Tenant, UpdateAppRequest,
};

/// Query of `GET /v1/apps`: one page of the caller's apps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppsQuery {
    /// Only apps of this tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Start after this app name (the previous page's `next_after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Page size, 1-1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// Query of the log endpoints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogsQuery {
    /// Only lines of this process type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// How many recent lines, 1-5000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<i64>,
}

/// Query of the event listings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventsQuery {
    /// Only events older than this event id (paging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// Page size, 1-500.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The REST API as seen by a user (or by nobody, for signup and login).
#[derive(Debug, Clone)]
pub struct RestClient {
    connection: Connection,
    token: Option<String>,
}

// === Plumbing ===

impl RestClient {
    /// A client sending `token` (a session JWT or an API token) on every call.
    pub fn new(connection: Connection, token: Option<String>) -> RestClient {
        RestClient { connection, token }
    }

    /// The same API with another credential.
    pub fn with_token(&self, token: Option<String>) -> RestClient {
        RestClient { connection: self.connection.clone(), token }
    }

    /// The connection this client sends through.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        self.connection.base()
    }

    /// The credential sent, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A request with this client's credential, for calls without a typed method.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.connection.request(method, path, self.token.as_deref())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.connection.json(self.request(Method::GET, path)).await
    }

    async fn get_with<Q: Serialize, T: DeserializeOwned>(&self, path: &str, query: &Q) -> Result<T, ClientError> {
        self.connection.json(self.request(Method::GET, path).query(query)).await
    }

    async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.connection.json(self.request(method, path).json(body)).await
    }

    async fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.connection.empty(self.request(Method::DELETE, path)).await
    }
}

// === Auth, tokens, tenants ===

impl RestClient {
    /// `POST /v1/auth/signup`: a new user with their own tenant.
    pub async fn signup(&self, request: &SignupRequest) -> Result<Session, ClientError> {
        self.send_json(Method::POST, "/v1/auth/signup", request).await
    }

    /// `POST /v1/auth/login`.
    pub async fn login(&self, request: &LoginRequest) -> Result<Session, ClientError> {
        self.send_json(Method::POST, "/v1/auth/login", request).await
    }

    /// `GET /v1/me`: the caller and their tenants.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.get("/v1/me").await
    }

    /// The caller's API tokens (metadata only).
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, ClientError> {
        self.get("/v1/tokens").await
    }

    /// Creates an API token; the secret is in the answer only.
    pub async fn create_token(&self, request: &CreateTokenRequest) -> Result<CreatedToken, ClientError> {
        self.send_json(Method::POST, "/v1/tokens", request).await
    }

    /// Revokes one of the caller's tokens.
    pub async fn revoke_token(&self, id: Uuid) -> Result<(), ClientError> {
        self.delete(&format!("/v1/tokens/{id}")).await
    }

    /// The tenants the caller belongs to, with their role.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, ClientError> {
        self.get("/v1/tenants").await
    }

    /// Members of a tenant.
    pub async fn list_members(&self, tenant: &str) -> Result<Vec<Member>, ClientError> {
        self.get(&format!("/v1/tenants/{}/members", segment(tenant))).await
    }

    /// Adds an existing user to a tenant (owners and admins).
    pub async fn add_member(&self, tenant: &str, request: &AddMemberRequest) -> Result<Member, ClientError> {
        self.send_json(Method::POST, &format!("/v1/tenants/{}/members", segment(tenant)), request).await
    }

    /// Invites an email address to a tenant (owners and admins); the token is in the answer only.
    pub async fn create_invitation(
        &self,
        tenant: &str,
        request: &CreateInvitationRequest,
    ) -> Result<CreatedInvitation, ClientError> {
        self.send_json(Method::POST, &format!("/v1/tenants/{}/invitations", segment(tenant)), request).await
    }

    /// Invitations of a tenant (owners and admins).
    pub async fn list_invitations(&self, tenant: &str) -> Result<Vec<Invitation>, ClientError> {
        self.get(&format!("/v1/tenants/{}/invitations", segment(tenant))).await
    }

    /// Revokes a pending invitation.
    pub async fn revoke_invitation(&self, tenant: &str, id: Uuid) -> Result<(), ClientError> {
        self.delete(&format!("/v1/tenants/{}/invitations/{id}", segment(tenant))).await
    }

    /// Joins the tenant of an invitation as the caller.
    pub async fn accept_invitation(&self, request: &AcceptInvitationRequest) -> Result<Tenant, ClientError> {
        self.send_json(Method::POST, "/v1/invitations/accept", request).await
    }

    /// Events about the caller's own account (logins, lockouts, API tokens), newest first.
    pub async fn account_events(&self, query: &EventsQuery) -> Result<Vec<AccountEvent>, ClientError> {
        self.get_with("/v1/me/events", query).await
    }

    /// Removes a member from a tenant (owners and admins).
    pub async fn remove_member(&self, tenant: &str, email: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/tenants/{}/members/{}", segment(tenant), segment(email))).await
    }
}

// === Apps and their resources ===

impl RestClient {
    /// One page of the caller's apps, by name.
    pub async fn list_apps(&self, query: &AppsQuery) -> Result<AppList, ClientError> {
        self.get_with("/v1/apps", query).await
    }

    /// Creates an app (`tenant` optional when the caller has one).
    pub async fn create_app(&self, request: &CreateAppRequest) -> Result<App, ClientError> {
        self.send_json(Method::POST, "/v1/apps", request).await
    }

    /// One app.
    pub async fn app(&self, app: &str) -> Result<App, ClientError> {
        self.get(&app_path(app, "")).await
    }

    /// Changes the app's settings (those given in `request`).
    pub async fn update_app(&self, app: &str, request: &UpdateAppRequest) -> Result<App, ClientError> {
        self.send_json(Method::PATCH, &app_path(app, ""), request).await
    }

    /// Deletes the app and everything it runs.
    pub async fn delete_app(&self, app: &str) -> Result<(), ClientError> {
        self.delete(&app_path(app, "")).await
    }

    /// The app's config vars.
    pub async fn config(&self, app: &str) -> Result<ConfigVars, ClientError> {
        self.get(&app_path(app, "/config")).await
    }

    /// Sets (string) and unsets (`None`) config vars; a new release. Returns all vars.
    pub async fn update_config(&self, app: &str, patch: &ConfigPatch) -> Result<ConfigVars, ClientError> {
        self.send_json(Method::PATCH, &app_path(app, "/config"), patch).await
    }

    /// Unsets one config var; returns the remaining vars.
    pub async fn unset_config_var(&self, app: &str, key: &str) -> Result<ConfigVars, ClientError> {
        self.connection.json(self.request(Method::DELETE, &app_path(app, &format!("/config/{}", segment(key))))).await
    }

    /// The app's custom domains.
    pub async fn list_domains(&self, app: &str) -> Result<Vec<Domain>, ClientError> {
        self.get(&app_path(app, "/domains")).await
    }

    /// Routes a custom hostname to the app.
    pub async fn add_domain(&self, app: &str, request: &AddDomainRequest) -> Result<Domain, ClientError> {
        self.send_json(Method::POST, &app_path(app, "/domains"), request).await
    }

    /// Stops routing a custom hostname to the app.
    pub async fn remove_domain(&self, app: &str, hostname: &str) -> Result<(), ClientError> {
        self.delete(&app_path(app, &format!("/domains/{}", segment(hostname)))).await
    }

    /// Drops the app's cached responses (one path, or all) from every router.
    pub async fn purge_cache(&self, app: &str, request: &PurgeCacheRequest) -> Result<CachePurgeRecord, ClientError> {
        self.send_json(Method::POST, &app_path(app, "/cache/purge"), request).await
    }

    /// Quantity and size of each process type.
    pub async fn formation(&self, app: &str) -> Result<Vec<ProcessFormation>, ClientError> {
        self.get(&app_path(app, "/formation")).await
    }

    /// Scales process types (quantity and/or size); returns the whole formation.
    pub async fn update_formation(
        &self,
        app: &str,
        patch: &FormationPatch,
    ) -> Result<Vec<ProcessFormation>, ClientError> {
        self.send_json(Method::PATCH, &app_path(app, "/formation"), patch).await
    }

    /// Releases, newest first; `limit` 1-500.
    pub async fn list_releases(&self, app: &str, limit: Option<i64>) -> Result<Vec<Release>, ClientError> {
        let query: &[(&str, i64)] = match &limit {
            Some(limit) => &[("limit", *limit)],
            None => &[],
        };
        self.get_with(&app_path(app, "/releases"), &query).await
    }

    /// One release with its config snapshot.
    pub async fn release(&self, app: &str, version: i32) -> Result<ReleaseDetail, ClientError> {
        self.get(&app_path(app, &format!("/releases/{version}"))).await
    }

    /// Makes a new release of `version`'s build and config.
    pub async fn rollback(&self, app: &str, version: i32) -> Result<Release, ClientError> {
        self.send_json(Method::POST, &app_path(app, &format!("/releases/{version}/rollback")), &()).await
    }

    /// Events of one app, newest first.
    pub async fn app_events(&self, app: &str, query: &EventsQuery) -> Result<Vec<Event>, ClientError> {
        self.get_with(&app_path(app, "/events"), query).await
    }

    /// Events of the caller's tenants, newest first.
    pub async fn events(&self, query: &EventsQuery) -> Result<Vec<Event>, ClientError> {
        self.get_with("/v1/events", query).await
    }
}

// === Builds, instances, logs ===

impl RestClient {
    /// Uploads a gzip tarball of the source as a new build (a deploy without git).
    pub async fn create_build(&self, app: &str, tarball: Vec<u8>, version: Option<&str>) -> Result<Build, ClientError> {
        let mut request =
            self.request(Method::POST, &app_path(app, "/builds")).header("content-type", "application/gzip");
        if let Some(version) = version {
            request = request.query(&[("version", version)]);
        }
        self.connection.json(request.body(tarball)).await
    }

    /// The app's builds, newest first.
    pub async fn list_builds(&self, app: &str) -> Result<Vec<Build>, ClientError> {
        self.get(&app_path(app, "/builds")).await
    }

    /// A build with its output so far.
    pub async fn build(&self, app: &str, build: Uuid) -> Result<BuildDetail, ClientError> {
        self.get(&app_path(app, &format!("/builds/{build}"))).await
    }

    /// The app's instances with desired and actual state.
    pub async fn list_instances(&self, app: &str) -> Result<Vec<Instance>, ClientError> {
        self.get(&app_path(app, "/instances")).await
    }

    /// Recent output lines, oldest first.
    pub async fn logs(&self, app: &str, query: &LogsQuery) -> Result<Vec<LogLine>, ClientError> {
        self.get_with(&app_path(app, "/logs"), query).await
    }

    /// Follows the app's output (server-sent events), starting with the recent lines.
    pub async fn follow_logs(&self, app: &str, query: &LogsQuery) -> Result<Events<LogLine>, ClientError> {
        let request = self.request(Method::GET, &app_path(app, "/logs/stream")).query(query);
        let response = self.connection.send(request).await?;
        Ok(Events::new(self.connection.clone(), response))
    }
}

// === One-off processes ===

impl RestClient {
    /// `POST /v1/apps/{app}/runs`: starts a one-off process of the current release.
    pub async fn create_run(&self, app: &str, request: &RunRequest) -> Result<Run, ClientError> {
        self.send_json(Method::POST, &app_path(app, "/runs"), request).await
    }

    /// One run of the app.
    pub async fn run(&self, app: &str, run: Uuid) -> Result<Run, ClientError> {
        self.get(&app_path(app, &format!("/runs/{run}"))).await
    }

    /// Path of the WebSocket a run's terminal is attached through.
    pub fn run_attach_path(app: &str, run: Uuid) -> String {
        app_path(app, &format!("/runs/{run}/attach"))
    }
}

// === Platform ===

impl RestClient {
    /// Nodes (platform admins only).
    pub async fn list_nodes(&self) -> Result<Vec<Node>, ClientError> {
        self.get("/v1/nodes").await
    }

    /// A join token for a new node's agent (platform admins only).
    pub async fn create_join_token(&self) -> Result<JoinToken, ClientError> {
        self.connection.json(self.request(Method::POST, "/v1/nodes/join-tokens")).await
    }

    /// `GET /healthz`: 200 while the API and its database answer.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/healthz").await
    }
}

/// `/v1/apps/<app><rest>`.
fn app_path(app: &str, rest: &str) -> String {
    format!("/v1/apps/{}{rest}", segment(app))
}
