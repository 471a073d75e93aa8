//! The `AuthUser` extractor: `Authorization: Bearer <jwt | api token>`,
//! checked against the route's entry in `scope::RULES` on every request.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::client::ClientAddr;
use super::scope::{Access, AppLimit};
use super::throttle::{self, Subject};
use super::token;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub is_admin: bool,
    /// What the credential may do (a session may do everything).
    pub access: Access,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientAddr(client) = ClientAddr::of(parts, state);
        let user = AuthUser::from_credential_throttled(state, client, bearer(parts)?).await?;
        // The route template, not the raw path: `scope::RULES` is keyed by it.
        let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned());
        let params = RawPathParams::from_request_parts(parts, state).await.ok();
        let app = params.as_ref().and_then(|p| p.iter().find(|(key, _)| *key == "app").map(|(_, value)| value));
        user.access.authorize(&parts.method, route.as_deref(), app)?;
        Ok(user)
    }
}

impl AuthUser {
    /// Like [`AuthUser::from_credential`], but a rejected credential counts as
    /// a failure of the client address, and an address locked by earlier
    /// failures gets 429 instead of 401. A valid credential is never slowed:
    /// tokens and session JWTs cannot be guessed, and checking it first keeps
    /// users behind a shared address (NAT, CI) working while junk tokens from
    /// the same address are refused; it also saves a query per request.
    pub async fn from_credential_throttled(
        state: &AppState,
        client: std::net::IpAddr,
        credential: &str,
    ) -> Result<AuthUser, ApiError> {
        match AuthUser::from_credential(state, credential).await {
            Err(ApiError::Unauthorized(message)) => {
                let address = Subject::Address(client);
                throttle::check(&state.db, std::slice::from_ref(&address)).await?;
                throttle::fail(&state.db, &state.settings.throttle, &address).await?;
                Err(ApiError::Unauthorized(message))
            }
            other => other,
        }
    }

    /// The user an API token (`paas_...`) or a session JWT belongs to, with
    /// the rights of that credential (routes are not checked here).
    pub async fn from_credential(state: &AppState, credential: &str) -> Result<AuthUser, ApiError> {
        let (user_id, access) = if credential.starts_with(token::PREFIX) {
            let grant = db::tokens::authenticate(&state.db, &token::hash(credential))
                .await?
                .ok_or_else(|| ApiError::Unauthorized("the API token is invalid, expired or revoked".into()))?;
            let app = match (grant.app_id, grant.app_name) {
                (None, _) => None,
                (Some(id), Some(name)) => Some(AppLimit { id, name }),
                // Never unrestricted by accident: a limit whose app is gone refuses.
                (Some(_), None) => {
                    return Err(ApiError::Unauthorized("the app of this API token no longer exists".into()))
                }
            };
            (grant.user_id, Access { scope: grant.scope, app, expires_at: grant.expires_at })
        } else {
            let claims = state.jwt.verify(credential).map_err(|e| {
                tracing::debug!(error = %e, "JWT rejected");
                ApiError::Unauthorized("the session token is invalid or expired; log in again".into())
            })?;
            (claims.sub, Access::session())
        };
        let user = db::users::find(&state.db, user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
        Ok(AuthUser { id: user.id, email: user.email, is_admin: user.is_admin, access })
    }

    /// A signed-in dashboard user (a session: every right).
    pub fn session(id: Uuid, email: String, is_admin: bool) -> AuthUser {
        AuthUser { id, email, is_admin, access: Access::session() }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let missing =
        || ApiError::Unauthorized("send `Authorization: Bearer <token>`; log in or create an API token".into());
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(missing());
    }
    Ok(credential.trim())
}

/// An agent, authenticated by the node token it got at registration.
#[derive(Debug, Clone)]
pub struct AgentNode {
    pub id: Uuid,
    pub name: String,
}

impl FromRequestParts<AppState> for AgentNode {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let credential = bearer(parts)?;
        let (id, name) = db::nodes::authenticate(&state.db, &token::hash(credential))
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the node token is invalid; register the node again".into()))?;
        Ok(AgentNode { id, name })
    }
}

/// A router, authenticated by the shared router token of the API's config.
#[derive(Debug, Clone)]
pub struct RouterClient;

impl FromRequestParts<AppState> for RouterClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let credential = bearer(parts)?;
        // Comparing digests keeps the comparison's timing independent of the secret.
        match &state.settings.router_token_hash {
            Some(expected) if *expected == token::hash(credential) => Ok(RouterClient),
            _ => Err(ApiError::Unauthorized("the router token is invalid".into())),
        }
    }
}

/// Who presents a join token (to register a node).
#[derive(Debug, Clone)]
pub struct JoinCredential(pub String);

impl FromRequestParts<AppState> for JoinCredential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let credential = bearer(parts)?.to_string();
        if !db::nodes::join_token_valid(&state.db, &token::hash(&credential)).await? {
            return Err(ApiError::Unauthorized("the join token is invalid or revoked".into()));
        }
        Ok(JoinCredential(credential))
    }
}
