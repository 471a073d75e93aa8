//! Pages about the user rather than one app: API tokens, team members and,
//! for platform administrators, the nodes.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use paas_types::{CreateTokenRequest, Role, TokenScope};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tera::Context;
use uuid::Uuid;

use super::apps::DoneQuery;
use super::auth::Empty;
use super::error::{form_error, WebError};
use super::page::{notice, when, WebState};
use super::redirect::see_other;
use super::session::{user_context, WebForm, WebUser};
use crate::db;
use crate::error::ApiError;
use crate::ops;

// === API tokens ===

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
    /// `read`, `deploy` or `admin` (empty: admin).
    #[serde(default)]
    scope: String,
    /// The one app the token is limited to (empty: every app).
    #[serde(default)]
    app: String,
}

impl TokenForm {
    /// The API request this form asks for, or what is wrong with it.
    fn request(&self) -> Result<CreateTokenRequest, ApiError> {
        let expiry = self.expires_in_days.trim();
        let expires_in_days = match expiry.parse::<u32>() {
            _ if expiry.is_empty() => None,
            Ok(days) => Some(days),
            Err(_) => return Err(ApiError::validation("expiry must be a whole number of days, or empty for none")),
        };
        let scope = match self.scope.trim() {
            "" => None,
            word => {
                Some(word.parse::<TokenScope>().map_err(|_| ApiError::validation("scope is read, deploy or admin"))?)
            }
        };
        let app = Some(self.app.trim().to_string()).filter(|a| !a.is_empty());
        Ok(CreateTokenRequest { name: self.name.clone(), expires_in_days, scope, app, ..Default::default() })
    }
}

pub(crate) async fn list_tokens(
    State(state): State<WebState>,
    user: WebUser,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let mut context = user_context(&user, "tokens");
    context.insert("notice", &notice(query.done.as_deref()));
    render_tokens(&state, &user, context, StatusCode::OK, &TokenForm::default(), None).await
}

async fn render_tokens(
    state: &WebState,
    user: &WebUser,
    mut context: Context,
    status: StatusCode,
    form: &TokenForm,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let tokens: Vec<_> = db::tokens::list(&state.db, user.user.id)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "prefix": t.prefix, "scope": t.scope, "app": t.app,
                "created_at": when(t.created_at),
                "expires_at": t.expires_at.map(when), "last_used_at": t.last_used_at.map(when),
            })
        })
        .collect();
    context.insert("tokens", &tokens);
    context.insert("form", form);
    context.insert("error", &error);
    state.web.render(status, "tokens.html", &context)
}

/// Creates a token and shows its secret on this one response (never again).
pub(crate) async fn create_token(
    State(state): State<WebState>,
    user: WebUser,
    WebForm(form): WebForm<TokenForm>,
) -> Result<Response, WebError> {
    let result = match form.request() {
        Ok(request) => ops::tokens::create_token(&state.db, &user.user, &request).await,
        Err(err) => Err(err),
    };
    let mut context = user_context(&user, "tokens");
    match result {
        Ok(created) => {
            context.insert("created", &json!({ "name": created.info.name, "token": created.token }));
            render_tokens(&state, &user, context, StatusCode::CREATED, &TokenForm::default(), None).await
        }
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_tokens(&state, &user, context, status, &form, Some(&message)).await
        }
    }
}

pub(crate) async fn revoke_token(
    State(state): State<WebState>,
    user: WebUser,
    Path(id): Path<Uuid>,
    WebForm(_): WebForm<Empty>,
) -> Result<Response, WebError> {
    ops::tokens::revoke_token(&state.db, &user.user, id).await?;
    Ok(see_other("/tokens?done=token-revoked"))
}

// === Team ===

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct MemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub(crate) async fn show_team(
    State(state): State<WebState>,
    user: WebUser,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let mut context = user_context(&user, "team");
    context.insert("notice", &notice(query.done.as_deref()));
    render_team(&state, &user, context, StatusCode::OK, None).await
}

/// `failed`: the tenant whose add-member form was rejected, what was typed, and why.
async fn render_team(
    state: &WebState,
    user: &WebUser,
    mut context: Context,
    status: StatusCode,
    failed: Option<(&str, &MemberForm, &str)>,
) -> Result<Response, WebError> {
    let mut tenants = Vec::new();
    for tenant in db::tenants::list_for_user(&state.db, user.user.id).await? {
        let members: Vec<_> = db::tenants::list_members(&state.db, tenant.id)
            .await?
            .into_iter()
            .map(|m| json!({ "email": m.email, "role": m.role, "since": when(m.created_at) }))
            .collect();
        let (form, error) = match failed {
            Some((name, form, error)) if name == tenant.name => (json!(form), Some(error)),
            _ => (json!(MemberForm { role: "member".into(), ..MemberForm::default() }), None),
        };
        let manager = tenant.role() >= Role::Admin;
        tenants.push(json!({
            "name": tenant.name, "role": tenant.role, "manager": manager, "members": members,
            "form": form, "error": error,
        }));
    }
    context.insert("tenants", &tenants);
    context.insert("roles", &["member", "admin", "owner"]);
    state.web.render(status, "team.html", &context)
}

pub(crate) async fn add_member(
    State(state): State<WebState>,
    user: WebUser,
    Path(tenant): Path<String>,
    WebForm(form): WebForm<MemberForm>,
) -> Result<Response, WebError> {
    let result = match Role::parse(&form.role) {
        Some(role) => match ops::members::tenant_for_user(&state.db, &user.user, &tenant).await {
            Ok(row) => ops::members::add_member(&state.db, &user.user, &row, &form.email, role).await.map(|_| ()),
            Err(err) => Err(err),
        },
        None => Err(ApiError::validation("choose a role: member, admin or owner")),
    };
    match result {
        Ok(()) => Ok(see_other("/team?done=member-added")),
        Err(err) => {
            let (status, message) = form_error(err)?;
            let context = user_context(&user, "team");
            render_team(&state, &user, context, status, Some((&tenant, &form, &message))).await
        }
    }
}

pub(crate) async fn remove_member(
    State(state): State<WebState>,
    user: WebUser,
    Path(tenant): Path<String>,
    WebForm(form): WebForm<MemberForm>,
) -> Result<Response, WebError> {
    let result = match ops::members::tenant_for_user(&state.db, &user.user, &tenant).await {
        Ok(row) => ops::members::remove_member(&state.db, &user.user, &row, &form.email).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Ok(see_other("/team?done=member-removed")),
        Err(err) => {
            let (status, message) = form_error(err)?;
            let mut context = user_context(&user, "team");
            context.insert("page_error", &message);
            render_team(&state, &user, context, status, None).await
        }
    }
}

// === Nodes ===

pub(crate) async fn list_nodes(State(state): State<WebState>, user: WebUser) -> Result<Response, WebError> {
    if !user.user.is_admin {
        return Err(ApiError::Forbidden("only platform administrators can see the nodes".into()).into());
    }
    let nodes: Vec<_> = db::nodes::list(&state.db)
        .await?
        .into_iter()
        .map(|n| {
            json!({
                "name": n.name, "address": n.address, "cpu_millis": n.cpu_millis, "memory_mb": n.memory_mb,
                "state": n.state, "last_heartbeat_at": when(n.last_heartbeat_at), "instances": n.instances,
            })
        })
        .collect();
    let mut context = user_context(&user, "nodes");
    context.insert("nodes", &nodes);
    state.web.render(StatusCode::OK, "nodes.html", &context)
}
