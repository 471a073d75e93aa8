//! Invitations: tenant owners and admins invite an email address; the
//! person holding the token joins the tenant, as an existing user or by
//! signing up (see `ops::users::sign_up`). Single use, expiring, and bound
//! to the invited email.

use paas_types::accounts::{CreatedInvitation, Invitation, InvitationState};
use paas_types::Role;
use rand::RngCore;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{token, AuthUser};
use crate::db;
use crate::db::invitations::{InvitationRow, NewInvitation};
use crate::db::tenants::TenantRow;
use crate::error::{ApiError, ApiResult};
use crate::validate;

/// Prefix of invitation secrets (never accepted as a bearer credential).
pub const PREFIX: &str = "inv_";
/// Days an invitation lasts when none are asked for.
pub const DEFAULT_EXPIRY_DAYS: u32 = 7;
/// Longest an invitation may last, in days.
pub const MAX_EXPIRY_DAYS: u32 = 30;

/// Creates an invitation of `email` into `tenant` as `role` (owners and admins).
pub async fn create_invitation(
    db: &PgPool,
    user: &AuthUser,
    tenant: &TenantRow,
    email: &str,
    role: Role,
    expires_in_days: Option<u32>,
) -> ApiResult<CreatedInvitation> {
    require_inviter(tenant.role())?;
    let email = email.trim();
    if !validate::is_email(email) {
        return Err(ApiError::validation("email is not a valid address"));
    }
    if role == Role::Owner {
        return Err(ApiError::validation(
            "invite as member or admin; an owner can make them owner once they have joined",
        ));
    }
    let days = expires_in_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(ApiError::validation(format!("expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}")));
    }
    let secret = generate();
    let expires_at = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
    let mut tx = db.begin().await?;
    let new = NewInvitation {
        tenant_id: tenant.id,
        email,
        role,
        token_hash: &token::hash(&secret),
        created_by: user.id,
        expires_at,
    };
    let id = db::invitations::insert(&mut *tx, new).await?;
    let event = db::events::NewEvent {
        tenant_id: tenant.id,
        app: None,
        actor_id: Some(user.id),
        action: "invitation.create",
        data: json!({ "email": email, "role": role, "invitation": id, "expires_at": expires_at }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    let row = db::invitations::find(db, id).await?.ok_or_else(|| ApiError::not_found("invitation"))?;
    Ok(CreatedInvitation { accept_path: accept_path(&secret), token: secret, invitation: row.into() })
}

/// Invitations of a tenant, newest first (owners and admins).
pub async fn list_invitations(db: &PgPool, tenant: &TenantRow) -> ApiResult<Vec<Invitation>> {
    require_inviter(tenant.role())?;
    Ok(db::invitations::list(db, tenant.id).await?.into_iter().map(Into::into).collect())
}

/// Revokes a pending invitation: its token stops working at once.
pub async fn revoke_invitation(db: &PgPool, user: &AuthUser, tenant: &TenantRow, id: Uuid) -> ApiResult<()> {
    require_inviter(tenant.role())?;
    let mut tx = db.begin().await?;
    if !db::invitations::revoke(&mut *tx, tenant.id, id).await? {
        return Err(ApiError::not_found("pending invitation"));
    }
    let event = db::events::NewEvent {
        tenant_id: tenant.id,
        app: None,
        actor_id: Some(user.id),
        action: "invitation.revoke",
        data: json!({ "invitation": id }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The existing user `user` joins the tenant of invitation `secret`.
pub async fn accept_invitation(db: &PgPool, user: &AuthUser, secret: &str) -> ApiResult<paas_types::Tenant> {
    let mut tx = db.begin().await?;
    let invitation = pending_for_update(&mut tx, secret, &user.email).await?;
    join(&mut tx, &invitation, user.id).await?;
    tx.commit().await?;
    let tenant = db::tenants::find_for_user(db, user.id, &invitation.tenant).await?;
    tenant.map(Into::into).ok_or_else(|| ApiError::not_found("tenant"))
}

/// The invitation of `secret` as the accept page shows it (404 when unknown).
pub async fn find_invitation(db: &PgPool, secret: &str) -> ApiResult<Invitation> {
    let row = db::invitations::find_by_hash(db, &token::hash(secret.trim())).await?;
    row.map(Into::into).ok_or_else(unknown)
}

/// The pending invitation of `secret` for `email`, locked until the
/// transaction ends (so two accepts of one token cannot both win).
pub(crate) async fn pending_for_update(
    tx: &mut sqlx::PgConnection,
    secret: &str,
    email: &str,
) -> ApiResult<InvitationRow> {
    let row = db::invitations::find_by_hash_for_update(&mut *tx, &token::hash(secret.trim())).await?;
    let row = row.ok_or_else(unknown)?;
    let ask = "ask the tenant's owners or admins for a new invitation";
    match row.state() {
        InvitationState::Pending => {}
        InvitationState::Accepted => {
            return Err(ApiError::Spent {
                code: "invitation_used",
                message: format!("this invitation was already used; {ask}"),
            })
        }
        InvitationState::Revoked => {
            return Err(ApiError::Spent {
                code: "invitation_revoked",
                message: format!("this invitation was revoked; {ask}"),
            })
        }
        InvitationState::Expired => {
            return Err(ApiError::Spent {
                code: "invitation_expired",
                message: format!("this invitation has expired; {ask}"),
            })
        }
    }
    if !row.email.eq_ignore_ascii_case(email.trim()) {
        return Err(ApiError::Refused {
            code: "invitation_email_mismatch",
            message: "this invitation is for another email address; use the invited account's email, \
                      or ask for an invitation to yours"
                .into(),
        });
    }
    Ok(row)
}

/// Makes `user_id` a member by `invitation` and uses the invitation up.
pub(crate) async fn join(tx: &mut sqlx::PgConnection, invitation: &InvitationRow, user_id: Uuid) -> ApiResult<()> {
    if db::tenants::member_role(&mut *tx, invitation.tenant_id, user_id).await?.is_some() {
        return Err(ApiError::Conflict(format!("you are already a member of {}", invitation.tenant)));
    }
    db::tenants::add_member(&mut *tx, invitation.tenant_id, user_id, invitation.role()).await?;
    if !db::invitations::mark_accepted(&mut *tx, invitation.id, user_id).await? {
        return Err(ApiError::Spent { code: "invitation_used", message: "this invitation was just used".into() });
    }
    let event = db::events::NewEvent {
        tenant_id: invitation.tenant_id,
        app: None,
        actor_id: Some(user_id),
        action: "invitation.accept",
        data: json!({ "email": invitation.email, "role": invitation.role(), "invitation": invitation.id }),
    };
    db::events::record(&mut *tx, event).await?;
    Ok(())
}

fn unknown() -> ApiError {
    ApiError::not_found("invitation")
}

/// Owners and admins invite; members do not.
fn require_inviter(role: Role) -> ApiResult<()> {
    match role {
        Role::Owner | Role::Admin => Ok(()),
        Role::Member => Err(ApiError::Forbidden("only owners and admins can manage invitations".into())),
    }
}

/// A new secret: the prefix and 32 random bytes in hex.
fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The dashboard page that accepts an invitation.
pub fn accept_path(secret: &str) -> String {
    format!("/invite/{secret}")
}
