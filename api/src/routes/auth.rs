//! Signup, login and the caller's own profile.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{LoginRequest, Me, Session, SignupRequest};

use super::extract::ApiJson;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::state::AppState;

/// Creates a user and their own tenant (as owner), and opens a session.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = Session), (status = 409, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, ApiJson<Session>)> {
    let tenant = req.tenant.as_deref();
    let session = ops::users::sign_up(&state.db, &state.jwt, &req.email, req.password, tenant).await?;
    Ok((StatusCode::CREATED, ApiJson(session)))
}

/// Exchanges email and password for a session token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, body = paas_types::ErrorBody)))]
pub async fn login(State(state): State<AppState>, ApiJson(req): ApiJson<LoginRequest>) -> ApiResult<ApiJson<Session>> {
    Ok(ApiJson(ops::users::log_in(&state.db, &state.jwt, &req.email, req.password).await?))
}

/// The caller and their tenants.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = paas_types::ErrorBody)))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Me>> {
    let row = db::users::find(&state.db, user.id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let tenants = db::tenants::list_for_user(&state.db, user.id).await?;
    Ok(ApiJson(Me { user: row.into(), tenants: tenants.into_iter().map(Into::into).collect() }))
}
