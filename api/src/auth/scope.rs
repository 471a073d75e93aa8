//! What each route lets a credential do: the one table of the JSON API's
//! routes (method + route template) with the token scope each needs and how
//! it relates to a token limited to one app, and the check the `AuthUser`
//! extractor runs on every request against it.
//!
//! Fail-closed: a route missing from the table needs an `admin` token that
//! is not limited to an app. The API's tests walk the OpenAPI document and
//! fail on any route the table does not name.

use axum::http::Method;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use paas_types::TokenScope as Scope;

use crate::error::ApiError;

/// How a route relates to a token limited to one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The route names an app in `{app}`: allowed when it is the token's app.
    App,
    /// A listing the handler narrows to the token's app (`GET /v1/apps`).
    Narrowed,
    /// Who the caller is (`GET /v1/me`): harmless for any token.
    Identity,
    /// About a tenant, the account, add-ons or the platform: refused.
    Account,
}

/// The credential a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A user's API token (or session) of at least `scope`.
    User { scope: Scope, binding: Binding },
    /// No credential (health, sign-up, login).
    Public,
    /// A node token or a join token (the agent protocol).
    Agent,
    /// The routers' shared token.
    Router,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
}

/// What any route absent from the table needs from a user's credential.
pub const UNCLASSIFIED: (Scope, Binding) = (Scope::Admin, Binding::Account);

const fn user(method: &'static str, path: &'static str, scope: Scope, binding: Binding) -> Rule {
    Rule { method, path, need: Need::User { scope, binding } }
}

const fn other(method: &'static str, path: &'static str, need: Need) -> Rule {
    Rule { method, path, need }
}

use Binding::{Account, App, Identity, Narrowed};
use Scope::{Admin, Deploy, Read};

/// Every route of the JSON API. `read` is GET only; `deploy` adds what
/// ships and runs code; the rest is `admin`.
pub const RULES: &[Rule] = &[
    // === Without a user credential ===
    other("GET", "/healthz", Need::Public),
    other("POST", "/v1/auth/signup", Need::Public),
    other("POST", "/v1/auth/login", Need::Public),
    other("GET", "/v1/router/table", Need::Router),
    other("GET", "/v1/router/statics/{id}", Need::Router),
    other("POST", "/v1/agent/register", Need::Agent),
    other("POST", "/v1/agent/heartbeat", Need::Agent),
    other("GET", "/v1/agent/desired", Need::Agent),
    other("POST", "/v1/agent/report", Need::Agent),
    other("POST", "/v1/agent/logs", Need::Agent),
    other("POST", "/v1/agent/builds/claim", Need::Agent),
    other("GET", "/v1/agent/builds/{id}/source", Need::Agent),
    other("PUT", "/v1/agent/builds/{id}/static", Need::Agent),
    other("POST", "/v1/agent/builds/{id}/log", Need::Agent),
    other("POST", "/v1/agent/builds/{id}/finish", Need::Agent),
    other("GET", "/v1/agent/sources/{id}", Need::Agent),
    other("POST", "/v1/agent/runs/claim", Need::Agent),
    other("GET", "/v1/agent/runs/{id}/attach", Need::Agent),
    other("PUT", "/v1/agent/backups/{id}", Need::Agent),
    other("POST", "/v1/agent/backups/{id}/fail", Need::Agent),
    other("GET", "/v1/agent/restores/{id}/source", Need::Agent),
    other("POST", "/v1/agent/restores/{id}/finish", Need::Agent),
    // === The caller, tokens, tenants ===
    user("GET", "/v1/me", Read, Identity),
    user("GET", "/v1/tokens", Read, Account),
    // A token never mints one with more rights than itself (ops::tokens).
    user("POST", "/v1/tokens", Deploy, Account),
    user("DELETE", "/v1/tokens/{id}", Admin, Account),
    user("GET", "/v1/tenants", Read, Account),
    user("GET", "/v1/tenants/{tenant}/members", Read, Account),
    user("POST", "/v1/tenants/{tenant}/members", Admin, Account),
    user("DELETE", "/v1/tenants/{tenant}/members/{email}", Admin, Account),
    user("GET", "/v1/tenants/{tenant}/invitations", Read, Account),
    user("POST", "/v1/tenants/{tenant}/invitations", Admin, Account),
    user("DELETE", "/v1/tenants/{tenant}/invitations/{id}", Admin, Account),
    // Joining a tenant is the account's own act: sessions, or unrestricted admin tokens.
    user("POST", "/v1/invitations/accept", Admin, Account),
    user("GET", "/v1/events", Read, Account),
    user("GET", "/v1/me/events", Read, Account),
    user("GET", "/v1/nodes", Read, Account),
    user("POST", "/v1/nodes/join-tokens", Admin, Account),
    // === Apps ===
    user("GET", "/v1/apps", Read, Narrowed),
    user("POST", "/v1/apps", Admin, Account),
    user("GET", "/v1/apps/{app}", Read, App),
    user("PATCH", "/v1/apps/{app}", Admin, App),
    user("DELETE", "/v1/apps/{app}", Admin, App),
    user("GET", "/v1/apps/{app}/events", Read, App),
    // Values are masked for read tokens (ops::config::for_caller).
    user("GET", "/v1/apps/{app}/config", Read, App),
    user("PATCH", "/v1/apps/{app}/config", Deploy, App),
    user("DELETE", "/v1/apps/{app}/config/{key}", Deploy, App),
    user("GET", "/v1/apps/{app}/domains", Read, App),
    user("POST", "/v1/apps/{app}/domains", Deploy, App),
    user("DELETE", "/v1/apps/{app}/domains/{hostname}", Deploy, App),
    user("POST", "/v1/apps/{app}/cache/purge", Deploy, App),
    user("GET", "/v1/apps/{app}/formation", Read, App),
    user("PATCH", "/v1/apps/{app}/formation", Deploy, App),
    user("GET", "/v1/apps/{app}/routes", Read, App),
    user("PATCH", "/v1/apps/{app}/routes", Deploy, App),
    user("GET", "/v1/apps/{app}/builds", Read, App),
    user("POST", "/v1/apps/{app}/builds", Deploy, App),
    user("GET", "/v1/apps/{app}/builds/{id}", Read, App),
    user("GET", "/v1/apps/{app}/releases", Read, App),
    // The config snapshot is masked for read tokens.
    user("GET", "/v1/apps/{app}/releases/{version}", Read, App),
    user("POST", "/v1/apps/{app}/releases/{version}/rollback", Deploy, App),
    user("GET", "/v1/apps/{app}/instances", Read, App),
    user("GET", "/v1/apps/{app}/logs", Read, App),
    user("GET", "/v1/apps/{app}/logs/stream", Read, App),
    user("POST", "/v1/apps/{app}/runs", Deploy, App),
    user("GET", "/v1/apps/{app}/runs/{id}", Read, App),
    // Attaching types into the process: as much a change as starting it.
    user("GET", "/v1/apps/{app}/runs/{id}/attach", Deploy, App),
    user("GET", "/v1/apps/{app}/volumes", Read, App),
    user("POST", "/v1/apps/{app}/volumes", Admin, App),
    user("DELETE", "/v1/apps/{app}/volumes/{volume}", Admin, App),
    user("GET", "/v1/apps/{app}/addons", Read, App),
    user("POST", "/v1/apps/{app}/addons", Admin, App),
    // === Add-ons (a tenant's, shared between apps) ===
    user("GET", "/v1/addons", Read, Account),
    // The URL (with its password) is left out for read tokens.
    user("GET", "/v1/addons/{addon}", Read, Account),
    user("DELETE", "/v1/addons/{addon}", Admin, Account),
    user("POST", "/v1/addons/{addon}/attachments", Admin, Account),
    user("DELETE", "/v1/addons/{addon}/attachments/{attached}", Admin, Account),
    user("POST", "/v1/addons/{addon}/credentials/rotate", Admin, Account),
    // A console reads and writes the data, like `paas run`.
    user("POST", "/v1/addons/{addon}/console", Deploy, Account),
    user("GET", "/v1/addons/{addon}/backups", Read, Account),
    user("POST", "/v1/addons/{addon}/backups", Deploy, Account),
    user("GET", "/v1/addons/{addon}/backups/{backup}", Read, Account),
    // A dump is all the data: as secret as the credentials.
    user("GET", "/v1/addons/{addon}/backups/{backup}/download", Deploy, Account),
    user("POST", "/v1/addons/{addon}/backups/{backup}/restore", Admin, Account),
    user("POST", "/v1/addons/{addon}/restore-to-node", Admin, Account),
    user("GET", "/v1/addons/{addon}/restores/{restore}", Read, Account),
];

/// The table's row for a request (`HEAD` is answered by the `GET` route).
pub fn rule(method: &Method, path: &str) -> Option<&'static Rule> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    RULES.iter().find(|r| r.method == method && r.path == path)
}

/// What a route needs; `UNCLASSIFIED` for a route the table does not name.
pub fn need(method: &Method, route: Option<&str>) -> Need {
    let (scope, binding) = UNCLASSIFIED;
    route.and_then(|path| rule(method, path)).map_or(Need::User { scope, binding }, |r| r.need)
}

// === The caller's rights ===

/// The one app a token is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLimit {
    pub id: Uuid,
    pub name: String,
}

/// The rights a request's credential carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub scope: Scope,
    pub app: Option<AppLimit>,
    /// When the credential stops working; `None` for sessions and tokens without expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Access {
    /// A session login (password, dashboard): every right of the user.
    pub const fn session() -> Access {
        Access { scope: Scope::Admin, app: None, expires_at: None }
    }

    /// Whether config values, add-on URLs and other secrets may be shown.
    pub fn sees_secrets(&self) -> bool {
        self.scope >= Scope::Deploy
    }

    /// Checks a request to `route` (a template, `None` when unknown) that
    /// names `app` in its path, if it does.
    pub fn authorize(&self, method: &Method, route: Option<&str>, app: Option<&str>) -> Result<(), ApiError> {
        let what = format!("{method} {}", route.unwrap_or("this route"));
        let (scope, binding) = match need(method, route) {
            Need::User { scope, binding } => (scope, binding),
            // These routes take another credential (or none): should one ever
            // ask for a user's, it gets no more than an unclassified route.
            Need::Public | Need::Agent | Need::Router => UNCLASSIFIED,
        };
        self.allow(&what, scope, binding, app)
    }

    /// Checks a git request on `app`: fetching needs `read`, pushing `deploy`.
    pub fn authorize_git(&self, push: bool, app: &str) -> Result<(), ApiError> {
        let (what, scope) = if push { ("git push", Scope::Deploy) } else { ("git fetch", Scope::Read) };
        self.allow(what, scope, Binding::App, Some(app))
    }

    fn allow(&self, what: &str, scope: Scope, binding: Binding, app: Option<&str>) -> Result<(), ApiError> {
        if self.scope < scope {
            return Err(ApiError::TokenScope(format!(
                "{what} needs a token of scope {scope}, and this one is {have}; create one with \
                 `paas tokens create NAME --scope {scope}` (or log in) and use it instead",
                have = self.scope,
            )));
        }
        let Some(limit) = &self.app else { return Ok(()) };
        let refuse = |about: String| {
            Err(ApiError::TokenApp(format!(
                "this token is limited to app {:?} and {what} is {about}; use a token without --app for it",
                limit.name
            )))
        };
        match (binding, app) {
            (Binding::App, Some(app)) if app == limit.name => Ok(()),
            (Binding::App, Some(app)) => refuse(format!("about app {app:?}")),
            (Binding::Narrowed | Binding::Identity, _) => Ok(()),
            (Binding::App, None) | (Binding::Account, _) => refuse("not about that app".into()),
        }
    }

    /// Checks that a new token with `scope`, `app` and `expires_at` has no
    /// right this credential lacks.
    pub fn may_mint(
        &self,
        scope: Scope,
        app: Option<&AppLimit>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), ApiError> {
        if scope > self.scope {
            return Err(ApiError::TokenScope(format!(
                "a {have} token cannot create a token of scope {scope}; ask for --scope {have} or lower, \
                 or log in to create one of scope {scope}",
                have = self.scope,
            )));
        }
        if let Some(limit) = &self.app {
            if app.map(|a| a.id) != Some(limit.id) {
                return Err(ApiError::TokenApp(format!(
                    "this token is limited to app {:?}; a token it creates must be limited to the same app (--app {})",
                    limit.name, limit.name
                )));
            }
        }
        if let Some(own) = self.expires_at {
            if expires_at.is_none_or(|new| new > own) {
                return Err(ApiError::TokenScope(format!(
                    "this token expires at {own}, and a token it creates cannot outlive it; ask for a shorter --expires"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(scope: Scope, app: Option<&str>) -> Access {
        let app = app.map(|name| AppLimit { id: Uuid::nil(), name: name.into() });
        Access { scope, app, expires_at: None }
    }

    fn code(result: Result<(), ApiError>) -> Option<&'static str> {
        result.err().map(|e| e.status_and_code().1)
    }

    #[test]
    fn every_row_is_unique_and_read_is_get_only() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(!RULES[i + 1..].iter().any(|b| a.method == b.method && a.path == b.path), "{a:?} twice");
            if let Need::User { scope: Scope::Read, .. } = a.need {
                assert_eq!(a.method, "GET", "{a:?}: read tokens never change anything");
            }
            if let Need::User { binding: Binding::App, .. } = a.need {
                assert!(a.path.contains("{app}"), "{a:?} is app-bound without naming an app");
            }
        }
    }

    #[test]
    fn unknown_routes_need_an_unrestricted_admin() {
        let deploy = token(Scope::Deploy, None);
        assert_eq!(code(deploy.authorize(&Method::GET, Some("/v1/new-thing"), None)), Some("token_scope"));
        assert_eq!(code(deploy.authorize(&Method::GET, None, None)), Some("token_scope"));
        let limited = token(Scope::Admin, Some("shop"));
        assert_eq!(code(limited.authorize(&Method::GET, Some("/v1/new-thing"), None)), Some("token_app"));
        assert_eq!(code(Access::session().authorize(&Method::GET, Some("/v1/new-thing"), None)), None);
    }

    #[test]
    fn app_limited_tokens_stay_on_their_app() {
        let shop = token(Scope::Deploy, Some("shop"));
        let config = Some("/v1/apps/{app}/config");
        assert_eq!(code(shop.authorize(&Method::PATCH, config, Some("shop"))), None);
        assert_eq!(code(shop.authorize(&Method::PATCH, config, Some("blog"))), Some("token_app"));
        assert_eq!(code(shop.authorize(&Method::GET, Some("/v1/apps"), None)), None);
        assert_eq!(code(shop.authorize(&Method::GET, Some("/v1/tenants"), None)), Some("token_app"));
        assert_eq!(code(shop.authorize(&Method::DELETE, Some("/v1/apps/{app}"), Some("shop"))), Some("token_scope"));
        assert_eq!(code(shop.authorize_git(true, "shop")), None);
        assert_eq!(code(shop.authorize_git(true, "blog")), Some("token_app"));
        assert_eq!(code(token(Scope::Read, None).authorize_git(true, "shop")), Some("token_scope"));
        assert_eq!(code(token(Scope::Read, None).authorize_git(false, "shop")), None);
    }

    #[test]
    fn minted_tokens_never_exceed_their_maker() {
        let deploy = token(Scope::Deploy, None);
        assert_eq!(code(deploy.may_mint(Scope::Admin, None, None)), Some("token_scope"));
        assert_eq!(code(deploy.may_mint(Scope::Read, None, None)), None);
        let shop = token(Scope::Deploy, Some("shop"));
        let limit = AppLimit { id: Uuid::nil(), name: "shop".into() };
        assert_eq!(code(shop.may_mint(Scope::Read, None, None)), Some("token_app"));
        assert_eq!(code(shop.may_mint(Scope::Read, Some(&limit), None)), None);
        let soon = Utc::now() + chrono::Duration::hours(1);
        let brief = Access { expires_at: Some(soon), ..token(Scope::Admin, None) };
        assert_eq!(code(brief.may_mint(Scope::Read, None, None)), Some("token_scope"));
        assert_eq!(
            code(brief.may_mint(Scope::Read, None, Some(soon + chrono::Duration::days(1)))),
            Some("token_scope")
        );
        assert_eq!(code(brief.may_mint(Scope::Read, None, Some(soon))), None);
    }
}
