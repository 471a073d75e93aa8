//! Accounts: sign up (a user with their own tenant, or into the tenant of
//! an invitation), log in (throttled per account and address), platform
//! administrators (`paas-api create-admin`).

use std::net::IpAddr;

use paas_types::{Role, Session};
use serde_json::json;
use sqlx::PgPool;

use crate::auth::jwt::JwtKeys;
use crate::auth::password;
use crate::auth::throttle::{self, Subject, ThrottlePolicy};
use crate::config::SignupPolicy;
use crate::db;
use crate::db::users::UserRow;
use crate::error::{ApiError, ApiResult};
use crate::ops::invitations;
use crate::validate;

/// What a sign-up asks for.
#[derive(Debug, Clone)]
pub struct SignUp<'a> {
    pub email: &'a str,
    pub password: String,
    /// Name of the new user's own tenant (not with an invitation).
    pub tenant: Option<&'a str>,
    /// An invitation token: the user joins its tenant instead.
    pub invitation: Option<&'a str>,
}

/// Creates a user, as `policy` allows, and opens a session: with their own
/// tenant (as owner), or as a member of the tenant that invited them.
pub async fn sign_up(db: &PgPool, jwt: &JwtKeys, policy: SignupPolicy, request: SignUp<'_>) -> ApiResult<Session> {
    let email = request.email.trim();
    let invitation = request.invitation.map(str::trim).filter(|t| !t.is_empty());
    check_policy(policy, invitation.is_some())?;
    check_email(email)?;
    check_password(&request.password)?;
    let user = match invitation {
        None => create_user_with_tenant(db, email, request.password, request.tenant, false).await?,
        Some(_) if request.tenant.is_some() => {
            return Err(ApiError::Refused {
                code: "invitation_with_tenant",
                message: "a sign-up with an invitation joins the inviting tenant and makes no tenant of its own; \
                          leave out `tenant`"
                    .into(),
            })
        }
        Some(secret) => create_invited_user(db, email, request.password, secret).await?,
    };
    open_session(jwt, user)
}

/// Refuses sign-ups the platform does not allow, saying what to do instead.
fn check_policy(policy: SignupPolicy, invited: bool) -> ApiResult<()> {
    match (policy, invited) {
        (SignupPolicy::Closed, _) => Err(ApiError::Refused {
            code: "signup_closed",
            message: "sign-up is closed on this platform: ask its operator for an account \
                      (`paas-api create-admin`); an invitation then adds it to a tenant \
                      (`paas invitations accept TOKEN`)"
                .into(),
        }),
        (SignupPolicy::Invite, false) => Err(ApiError::Refused {
            code: "invitation_required",
            message: "sign-up needs an invitation on this platform: ask a tenant owner or admin to run \
                      `paas members invite EMAIL`, then sign up with `paas signup --invite TOKEN` or the link you get"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// Exchanges email and password for a session, unless the account or the
/// client address is locked by earlier failures: then 429 without the
/// password being checked. Failures count against both; a success resets
/// the account's count.
pub async fn log_in(
    db: &PgPool,
    jwt: &JwtKeys,
    policy: &ThrottlePolicy,
    client: IpAddr,
    email: &str,
    password: String,
) -> ApiResult<Session> {
    let account = Subject::account(email);
    let address = Subject::Address(client);
    throttle::check(db, &[account.clone(), address.clone()]).await?;
    let user = match check_password_of(db, email, password).await? {
        Some(user) => user,
        None => {
            failed_login(db, policy, &account, &address, email, client).await?;
            return Err(ApiError::Unauthorized("email or password is wrong".into()));
        }
    };
    throttle::reset(db, &account).await?;
    db::events::record_for_user(db, user.id, "auth.login", json!({ "address": client.to_string() })).await?;
    open_session(jwt, user)
}

/// The user whose password this is; `None` for a wrong password or an unknown email.
async fn check_password_of(db: &PgPool, email: &str, password: String) -> ApiResult<Option<UserRow>> {
    if password.chars().count() > password::MAX_LENGTH {
        return Ok(None);
    }
    let Some(user) = db::users::find_by_email(db, email.trim()).await? else {
        // Same work as a real check, so timing does not reveal which emails exist.
        password::verify(password, password::dummy_hash().await.to_string()).await?;
        return Ok(None);
    };
    Ok(password::verify(password, user.password_hash.clone()).await?.then_some(user))
}

/// Counts a failed login against the account and the address; a lock of a
/// real account goes into its audit log.
async fn failed_login(
    db: &PgPool,
    policy: &ThrottlePolicy,
    account: &Subject,
    address: &Subject,
    email: &str,
    client: IpAddr,
) -> ApiResult<()> {
    throttle::fail(db, policy, address).await?;
    let Some(lockout) = throttle::fail(db, policy, account).await? else { return Ok(()) };
    if let Some(user) = db::users::find_by_email(db, email.trim()).await? {
        let data = json!({
            "address": client.to_string(),
            "failures": lockout.failures,
            "locked_ms": u64::try_from(lockout.delay.as_millis()).unwrap_or(u64::MAX),
        });
        db::events::record_for_user(db, user.id, "auth.lockout", data).await?;
    }
    Ok(())
}

/// Creates a platform administrator with their own tenant.
pub async fn create_admin(db: &PgPool, email: &str, password: String) -> ApiResult<UserRow> {
    check_email(email)?;
    create_user_with_tenant(db, email, password, None, true).await
}

fn check_email(email: &str) -> ApiResult<()> {
    if validate::is_email(email) {
        Ok(())
    } else {
        Err(ApiError::validation("email is not a valid address"))
    }
}

fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < password::MIN_LENGTH {
        return Err(ApiError::validation(format!("password must be at least {} characters", password::MIN_LENGTH)));
    }
    if password.chars().count() > password::MAX_LENGTH {
        return Err(ApiError::validation(format!("password must be at most {} characters", password::MAX_LENGTH)));
    }
    Ok(())
}

/// Creates a user who joins the tenant of invitation `secret` (no tenant of
/// their own), using the invitation up, in one transaction.
async fn create_invited_user(db: &PgPool, email: &str, password: String, secret: &str) -> ApiResult<UserRow> {
    // The invitation first: without a valid one for this email nothing else is
    // looked at (which emails have accounts) or spent (an argon2 hash).
    let mut tx = db.begin().await?;
    let invitation = invitations::pending_for_update(&mut tx, secret, email).await?;
    if db::users::find_by_email(db, email).await?.is_some() {
        return Err(ApiError::Conflict(
            "a user with this email already exists: log in and accept the invitation (`paas invitations accept TOKEN`)"
                .into(),
        ));
    }
    let hash = password::hash(password).await?;
    let user = db::users::insert(&mut *tx, email, &hash, false).await?;
    invitations::join(&mut tx, &invitation, user.id).await?;
    let event = db::events::NewEvent {
        tenant_id: invitation.tenant_id,
        app: None,
        actor_id: Some(user.id),
        action: "user.signup",
        data: json!({ "email": email, "tenant": invitation.tenant, "invitation": invitation.id }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(user)
}

fn open_session(jwt: &JwtKeys, user: UserRow) -> ApiResult<Session> {
    let (token, expires_at) = jwt.issue(user.id).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Session { token, expires_at, user: user.into() })
}

/// Creates a user, a tenant named `tenant` (or one derived from the email)
/// and the owner membership, in one transaction.
async fn create_user_with_tenant(
    db: &PgPool,
    email: &str,
    password: String,
    tenant: Option<&str>,
    is_admin: bool,
) -> ApiResult<UserRow> {
    let tenant_name = match tenant {
        Some(name) if validate::is_tenant_name(name) => name.to_string(),
        Some(_) => {
            return Err(ApiError::validation(
                "tenant names are 2-40 characters of a-z, 0-9 and '-', starting with a letter",
            ))
        }
        None => free_tenant_name(db, email).await?,
    };
    if db::users::find_by_email(db, email).await?.is_some() {
        return Err(ApiError::Conflict("a user with this email already exists".into()));
    }
    let hash = password::hash(password).await?;
    let mut tx = db.begin().await?;
    let user = db::users::insert(&mut *tx, email, &hash, is_admin).await?;
    let tenant_id = db::tenants::insert(&mut *tx, &tenant_name).await?;
    db::tenants::add_member(&mut *tx, tenant_id, user.id, Role::Owner).await?;
    let event = db::events::NewEvent {
        tenant_id,
        app: None,
        actor_id: Some(user.id),
        action: "user.signup",
        data: json!({ "email": email, "tenant": tenant_name }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(user)
}

/// A tenant name derived from the email, with a numeric suffix if taken.
async fn free_tenant_name(db: &PgPool, email: &str) -> ApiResult<String> {
    let base = validate::tenant_name_from_email(email);
    let mut candidate = base.clone();
    for n in 2..50 {
        if !db::tenants::name_taken(db, &candidate).await? {
            return Ok(candidate);
        }
        candidate = format!("{base}-{n}");
    }
    Err(ApiError::Conflict("could not find a free tenant name; pass `tenant` explicitly".into()))
}
