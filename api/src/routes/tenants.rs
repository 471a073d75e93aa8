//! Tenants the caller belongs to, and their members. Owners and admins add
//! and remove members; only owners grant or remove the owner role, and the
//! last owner cannot leave.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{AddMemberRequest, Member, Tenant};

use super::extract::{ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiResult;
use crate::ops;
use crate::state::AppState;

/// Tenants the caller belongs to, with the caller's role.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = Vec<Tenant>)))]
pub async fn list_tenants(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Vec<Tenant>>> {
    let rows = db::tenants::list_for_user(&state.db, user.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Members of a tenant (any member may look).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/members", tag = "tenants", security(("bearer" = [])),
    params(("tenant" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Member>>> {
    let tenant = ops::members::tenant_for_user(&state.db, &user, &tenant).await?;
    let rows = db::tenants::list_members(&state.db, tenant.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Adds an existing user to a tenant (owners and admins; only owners add owners).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/members", tag = "tenants", security(("bearer" = [])),
    params(("tenant" = String, Path)), request_body = AddMemberRequest,
    responses((status = 201, body = Member), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, ApiJson<Member>)> {
    let tenant = ops::members::tenant_for_user(&state.db, &user, &tenant).await?;
    let member = ops::members::add_member(&state.db, &user, &tenant, &req.email, req.role).await?;
    Ok((StatusCode::CREATED, ApiJson(member)))
}

/// Removes a member (owners and admins; a member may remove themself).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/members/{email}", tag = "tenants", security(("bearer" = [])),
    params(("tenant" = String, Path), ("email" = String, Path)),
    responses((status = 204), (status = 403, body = paas_types::ErrorBody),
              (status = 404, body = paas_types::ErrorBody), (status = 409, body = paas_types::ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((tenant, email)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = ops::members::tenant_for_user(&state.db, &user, &tenant).await?;
    ops::members::remove_member(&state.db, &user, &tenant, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}
