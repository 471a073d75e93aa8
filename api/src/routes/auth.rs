//! Signup, login and the caller's own profile.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{LoginRequest, Me, Role, Session, SignupRequest};
use serde_json::json;

use crate::auth::{password, AuthUser};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::validate;

/// Creates a user and their own tenant (as owner), and opens a session.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = Session), (status = 409, body = paas_types::ErrorBody),
              (status = 422, body = paas_types::ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, ApiJson<Session>)> {
    let email = req.email.trim().to_string();
    if !validate::is_email(&email) {
        return Err(ApiError::validation("email is not a valid address"));
    }
    check_password(&req.password)?;
    let user = create_user_with_tenant(&state, &email, req.password, req.tenant.as_deref(), false).await?;
    let session = open_session(&state, user)?;
    Ok((StatusCode::CREATED, ApiJson(session)))
}

/// Exchanges email and password for a session token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, body = paas_types::ErrorBody)))]
pub async fn login(State(state): State<AppState>, ApiJson(req): ApiJson<LoginRequest>) -> ApiResult<ApiJson<Session>> {
    let wrong = || ApiError::Unauthorized("email or password is wrong".into());
    if req.password.len() > password::MAX_LENGTH {
        return Err(wrong());
    }
    let Some(user) = db::users::find_by_email(&state.db, req.email.trim()).await? else {
        // Same work as a real check, so timing does not reveal which emails exist.
        password::verify(req.password, password::dummy_hash().await.to_string()).await?;
        return Err(wrong());
    };
    if !password::verify(req.password, user.password_hash.clone()).await? {
        return Err(wrong());
    }
    Ok(ApiJson(open_session(&state, user)?))
}

/// The caller and their tenants.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = paas_types::ErrorBody)))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Me>> {
    let row = db::users::find(&state.db, user.id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let tenants = db::tenants::list_for_user(&state.db, user.id).await?;
    Ok(ApiJson(Me { user: row.into(), tenants: tenants.into_iter().map(Into::into).collect() }))
}

fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < password::MIN_LENGTH {
        return Err(ApiError::validation(format!("password must be at least {} characters", password::MIN_LENGTH)));
    }
    if password.len() > password::MAX_LENGTH {
        return Err(ApiError::validation(format!("password must be at most {} bytes", password::MAX_LENGTH)));
    }
    Ok(())
}

fn open_session(state: &AppState, user: db::users::UserRow) -> ApiResult<Session> {
    let (token, expires_at) = state.jwt.issue(user.id).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Session { token, expires_at, user: user.into() })
}

/// Creates a user, a tenant named `tenant` (or one derived from the email)
/// and the owner membership, in one transaction. Also used by `create-admin`.
pub async fn create_user_with_tenant(
    state: &AppState,
    email: &str,
    password: String,
    tenant: Option<&str>,
    is_admin: bool,
) -> ApiResult<db::users::UserRow> {
    let tenant_name = match tenant {
        Some(name) if validate::is_tenant_name(name) => name.to_string(),
        Some(_) => {
            return Err(ApiError::validation(
                "tenant names are 2-40 characters of a-z, 0-9 and '-', starting with a letter",
            ))
        }
        None => free_tenant_name(state, email).await?,
    };
    if db::users::find_by_email(&state.db, email).await?.is_some() {
        return Err(ApiError::Conflict("a user with this email already exists".into()));
    }
    let hash = password::hash(password).await?;
    let mut tx = state.db.begin().await?;
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
async fn free_tenant_name(state: &AppState, email: &str) -> ApiResult<String> {
    let base = validate::tenant_name_from_email(email);
    let mut candidate = base.clone();
    for n in 2..50 {
        if !db::tenants::name_taken(&state.db, &candidate).await? {
            return Ok(candidate);
        }
        candidate = format!("{base}-{n}");
    }
    Err(ApiError::Conflict("could not find a free tenant name; pass `tenant` explicitly".into()))
}
