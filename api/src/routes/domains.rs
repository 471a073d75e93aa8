//! Custom domains of an app. A hostname belongs to at most one app, and
//! never shadows another app's default hostname.

use axum::extract::State;
use axum::http::StatusCode;
use paas_types::{AddDomainRequest, Domain};
use serde_json::json;

use super::app_for_user;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate;

/// The app's custom domains.
#[utoipa::path(get, path = "/v1/apps/{app}/domains", tag = "domains", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")),
    responses((status = 200, body = Vec<Domain>), (status = 404, body = paas_types::ErrorBody)))]
pub async fn list_domains(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<Domain>>> {
    let app = app_for_user(&state, user.id, &app).await?;
    let rows = db::apps::domains(&state.db, app.id).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}

/// Adds a custom domain; the router sends its traffic to the app.
#[utoipa::path(post, path = "/v1/apps/{app}/domains", tag = "domains", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name")), request_body = AddDomainRequest,
    responses((status = 201, body = Domain), (status = 404, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn add_domain(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(app): ApiPath<String>,
    ApiJson(req): ApiJson<AddDomainRequest>,
) -> ApiResult<(StatusCode, ApiJson<Domain>)> {
    let app = app_for_user(&state, user.id, &app).await?;
    let hostname = req.hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    if !validate::is_hostname(&hostname) {
        return Err(ApiError::validation(format!("{:?} is not a valid hostname", req.hostname)));
    }
    if hostname == state.settings.base_domain || hostname.ends_with(&format!(".{}", state.settings.base_domain)) {
        return Err(ApiError::validation("hostnames under the platform's base domain are reserved for apps"));
    }
    if db::apps::hostname_taken(&state.db, &hostname).await? {
        return Err(ApiError::Conflict("this hostname is already in use by an app".into()));
    }
    let mut tx = state.db.begin().await?;
    let row = db::apps::add_domain(&mut *tx, app.id, &hostname).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "domain.add",
        data: json!({ "hostname": hostname }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

/// Removes a custom domain.
#[utoipa::path(delete, path = "/v1/apps/{app}/domains/{hostname}", tag = "domains", security(("bearer" = [])),
    params(("app" = String, Path, description = "app name"), ("hostname" = String, Path)),
    responses((status = 204), (status = 404, body = paas_types::ErrorBody)))]
pub async fn remove_domain(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((app, hostname)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = app_for_user(&state, user.id, &app).await?;
    let hostname = hostname.to_ascii_lowercase();
    let mut tx = state.db.begin().await?;
    if !db::apps::remove_domain(&mut *tx, app.id, &hostname).await? {
        return Err(ApiError::not_found(format!("domain {hostname:?}")));
    }
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "domain.remove",
        data: json!({ "hostname": hostname }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
