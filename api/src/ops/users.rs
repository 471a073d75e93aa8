//! Accounts: sign up (a user with their own tenant), log in, platform
//! administrators (`paas-api create-admin`).

use paas_types::{Role, Session};
use serde_json::json;
use sqlx::PgPool;

use crate::auth::jwt::JwtKeys;
use crate::auth::password;
use crate::db;
use crate::db::users::UserRow;
use crate::error::{ApiError, ApiResult};
use crate::validate;

/// Creates a user and their own tenant (as owner) and opens a session.
pub async fn sign_up(
    db: &PgPool,
    jwt: &JwtKeys,
    email: &str,
    password: String,
    tenant: Option<&str>,
) -> ApiResult<Session> {
    let email = email.trim();
    check_email(email)?;
    check_password(&password)?;
    let user = create_user_with_tenant(db, email, password, tenant, false).await?;
    open_session(jwt, user)
}

/// Exchanges email and password for a session.
pub async fn log_in(db: &PgPool, jwt: &JwtKeys, email: &str, password: String) -> ApiResult<Session> {
    let wrong = || ApiError::Unauthorized("email or password is wrong".into());
    if password.chars().count() > password::MAX_LENGTH {
        return Err(wrong());
    }
    let Some(user) = db::users::find_by_email(db, email.trim()).await? else {
        // Same work as a real check, so timing does not reveal which emails exist.
        password::verify(password, password::dummy_hash().await.to_string()).await?;
        return Err(wrong());
    };
    if !password::verify(password, user.password_hash.clone()).await? {
        return Err(wrong());
    }
    open_session(jwt, user)
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
