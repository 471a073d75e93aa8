//! Signup, login and the caller's own profile.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{LoginRequest, Me, Session, SignupRequest};

use super::extract::ApiJson;
use crate::auth::{AuthUser, ClientAddr};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::state::AppState;

/// Creates a user and opens a session: with their own tenant (as owner), or,
/// with an invitation, as a member of the inviting tenant. The platform's
/// `PAAS_SIGNUP` decides who may: `open`, `invite` (an invitation is needed)
/// or `closed` (403 `signup_closed`).
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = Session), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, ApiJson<Session>)> {
    let request = ops::users::SignUp {
        email: &req.email,
        password: req.password,
        tenant: req.tenant.as_deref(),
        invitation: req.invitation.as_deref(),
    };
    let session = ops::users::sign_up(&state.db, &state.jwt, state.settings.signup, request).await?;
    Ok((StatusCode::CREATED, ApiJson(session)))
}

/// Exchanges email and password for a session token. Repeated failures
/// lock the account and the client address for growing delays (429 with
/// `Retry-After`, code `too_many_attempts`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, body = paas_types::ErrorBody),
              (status = 429, body = paas_types::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<ApiJson<Session>> {
    let throttle = &state.settings.throttle;
    Ok(ApiJson(ops::users::log_in(&state.db, &state.jwt, throttle, client, &req.email, req.password).await?))
}

/// The caller and their tenants.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = paas_types::ErrorBody)))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Me>> {
    let row = db::users::find(&state.db, user.id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let tenants = db::tenants::list_for_user(&state.db, user.id).await?;
    Ok(ApiJson(Me { user: row.into(), tenants: tenants.into_iter().map(Into::into).collect() }))
}
