//! Tenants the caller belongs to, and their members. Owners and admins add
//! and remove members; only owners grant or remove the owner role, and the
//! last owner cannot leave.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{AddMemberRequest, Member, Role, Tenant};
use serde_json::json;

use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
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
    let tenant = tenant_for_user(&state, &user, &tenant).await?;
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
    let tenant = tenant_for_user(&state, &user, &tenant).await?;
    require_manager(tenant.role(), req.role)?;
    let new_member = db::users::find_by_email(&state.db, req.email.trim())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {:?}", req.email.trim())))?;
    let mut tx = state.db.begin().await?;
    db::tenants::add_member(&mut *tx, tenant.id, new_member.id, req.role).await?;
    let event = db::events::NewEvent {
        tenant_id: tenant.id,
        app: None,
        actor_id: Some(user.id),
        action: "member.add",
        data: json!({ "email": new_member.email, "role": req.role }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    let member =
        Member { user_id: new_member.id, email: new_member.email, role: req.role, created_at: chrono::Utc::now() };
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
    let tenant = tenant_for_user(&state, &user, &tenant).await?;
    let target = db::users::find_by_email(&state.db, &email)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("member {email:?}")))?;
    let mut tx = state.db.begin().await?;
    let target_role = db::tenants::member_role(&mut *tx, tenant.id, target.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("member {email:?}")))?;
    if target.id != user.id {
        require_manager(tenant.role(), target_role)?;
    }
    if target_role == Role::Owner && db::tenants::count_owners_for_update(&mut *tx, tenant.id).await? <= 1 {
        return Err(ApiError::Conflict("a tenant needs at least one owner; make someone else owner first".into()));
    }
    db::tenants::remove_member(&mut *tx, tenant.id, target.id).await?;
    let event = db::events::NewEvent {
        tenant_id: tenant.id,
        app: None,
        actor_id: Some(user.id),
        action: "member.remove",
        data: json!({ "email": target.email }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tenant_for_user(state: &AppState, user: &AuthUser, name: &str) -> ApiResult<db::tenants::TenantRow> {
    db::tenants::find_for_user(&state.db, user.id, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tenant {name:?}")))
}

/// Owners manage anyone; admins manage members and admins, not owners.
fn require_manager(actor: Role, target: Role) -> ApiResult<()> {
    match actor {
        Role::Owner => Ok(()),
        Role::Admin if target != Role::Owner => Ok(()),
        Role::Admin => Err(ApiError::Forbidden("only owners can add or remove owners".into())),
        Role::Member => Err(ApiError::Forbidden("only owners and admins can manage members".into())),
    }
}
