//! Invitations to a tenant: owners and admins create, list and revoke them;
//! the invited person accepts with the token.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::accounts::{AcceptInvitationRequest, CreateInvitationRequest, CreatedInvitation, Invitation};
use paas_types::Tenant;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// Invitations of a tenant, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/invitations", tag = "tenants", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, body = Vec<Invitation>), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Invitation>>> {
    let tenant = ops::members::tenant_for_user(&state.db, &user, &tenant).await?;
    Ok(ApiJson(ops::invitations::list_invitations(&state.db, &tenant).await?))
}

/// Invites an email address to a tenant (owners and admins); the token is
/// in this answer only. It is single use and expires (default 7 days).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/invitations", tag = "tenants", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = CreateInvitationRequest,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn create_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(req): ApiJson<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, ApiJson<CreatedInvitation>)> {
    let tenant = ops::members::tenant_for_user(&state.db, &user, &tenant).await?;
    let created =
        ops::invitations::create_invitation(&state.db, &user, &tenant, &req.email, req.role, req.expires_in_days)
            .await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Revokes a pending invitation (owners and admins).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/invitations/{id}", tag = "tenants", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = Uuid, Path, description = "invitation id")),
    responses((status = 204), (status = 403, body = paas_types::ErrorBody), (status = 404, body = paas_types::ErrorBody)))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((tenant, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    let tenant = ops::members::tenant_for_user(&state.db, &user, &tenant).await?;
    ops::invitations::revoke_invitation(&state.db, &user, &tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins the tenant of an invitation as the caller (whose email must be the
/// invited one). A used, revoked or expired invitation answers 409.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "tenants", security(("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses((status = 200, body = Tenant), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<AcceptInvitationRequest>,
) -> ApiResult<ApiJson<Tenant>> {
    Ok(ApiJson(ops::invitations::accept_invitation(&state.db, &user, &req.token).await?))
}
