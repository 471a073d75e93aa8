//! The `AuthUser` extractor: `Authorization: Bearer <jwt | api token>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

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
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let credential = bearer(parts)?;
        let user_id = if credential.starts_with(token::PREFIX) {
            db::tokens::authenticate(&state.db, &token::hash(credential))
                .await?
                .ok_or_else(|| ApiError::Unauthorized("the API token is invalid, expired or revoked".into()))?
        } else {
            state
                .jwt
                .verify(credential)
                .map_err(|e| {
                    tracing::debug!(error = %e, "JWT rejected");
                    ApiError::Unauthorized("the session token is invalid or expired; log in again".into())
                })?
                .sub
        };
        let user = db::users::find(&state.db, user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
        Ok(AuthUser { id: user.id, email: user.email, is_admin: user.is_admin })
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
