//! The caller's long-lived API tokens: create (secret shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{ApiToken, CreateTokenRequest, CreatedToken};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// Lists the caller's live API tokens (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = paas_types::ErrorBody)))]
pub async fn list_tokens(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Vec<ApiToken>>> {
    let rows = db::tokens::list(&state.db, user.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Creates an API token; the response is the only time the secret is shown.
/// A token never gets a right the credential creating it lacks (403 `token_scope`/`token_app`).
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, ApiJson<CreatedToken>)> {
    let created = ops::tokens::create_token(&state.db, &user, &req).await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 404, body = paas_types::ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    ops::tokens::revoke_token(&state.db, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
