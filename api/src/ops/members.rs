//! Tenants and their members. Owners and admins add and remove members;
//! only owners grant or remove the owner role, and the last owner cannot leave.

use paas_types::{Member, Role};
use serde_json::json;
use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::db;
use crate::db::tenants::TenantRow;
use crate::error::{ApiError, ApiResult};

/// The tenant `name` if the user belongs to it; otherwise 404.
pub async fn tenant_for_user(db: &PgPool, user: &AuthUser, name: &str) -> ApiResult<TenantRow> {
    db::tenants::find_for_user(db, user.id, name).await?.ok_or_else(|| ApiError::not_found(format!("tenant {name:?}")))
}

/// Adds an existing user to a tenant with `role`.
pub async fn add_member(
    db: &PgPool,
    user: &AuthUser,
    tenant: &TenantRow,
    email: &str,
    role: Role,
) -> ApiResult<Member> {
    require_manager(tenant.role(), role)?;
    let email = email.trim();
    let new_member =
        db::users::find_by_email(db, email).await?.ok_or_else(|| ApiError::not_found(format!("user {email:?}")))?;
    let mut tx = db.begin().await?;
    db::tenants::add_member(&mut *tx, tenant.id, new_member.id, role).await?;
    let event = db::events::NewEvent {
        tenant_id: tenant.id,
        app: None,
        actor_id: Some(user.id),
        action: "member.add",
        data: json!({ "email": new_member.email, "role": role }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Member { user_id: new_member.id, email: new_member.email, role, created_at: chrono::Utc::now() })
}

/// Removes a member (owners and admins; a member may remove themself).
pub async fn remove_member(db: &PgPool, user: &AuthUser, tenant: &TenantRow, email: &str) -> ApiResult<()> {
    let target =
        db::users::find_by_email(db, email).await?.ok_or_else(|| ApiError::not_found(format!("member {email:?}")))?;
    let mut tx = db.begin().await?;
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_manage_owners() {
        assert!(require_manager(Role::Owner, Role::Owner).is_ok());
        assert!(require_manager(Role::Admin, Role::Admin).is_ok());
        assert!(matches!(require_manager(Role::Admin, Role::Owner), Err(ApiError::Forbidden(_))));
        assert!(matches!(require_manager(Role::Member, Role::Member), Err(ApiError::Forbidden(_))));
    }
}
