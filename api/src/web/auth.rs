//! Signup, login and logout pages. They call the same operations as the JSON
//! API, so the rules (password length, email syntax, timing-safe login) are the API's.

use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::Response;
use paas_types::Session;
use serde::{Deserialize, Serialize};
use tera::Context;

use super::error::{form_error, WebError};
use super::page::WebState;
use super::redirect::see_other;
use super::session::{Visitor, WebForm, WebUser};
use crate::auth::ClientAddr;
use crate::config::SignupPolicy;
use crate::ops;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    tenant: String,
    /// An invitation token (the form of `/invite/<token>`).
    #[serde(default)]
    invitation: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}

/// `/`: the apps when signed in, else the login page.
pub(crate) async fn home(visitor: Visitor) -> Response {
    see_other(if visitor.signed_in { "/apps" } else { "/login" })
}

pub(crate) async fn signup_page(State(state): State<WebState>, visitor: Visitor) -> Result<Response, WebError> {
    if visitor.signed_in {
        return Ok(see_other("/apps"));
    }
    render(&state, visitor, "signup.html", StatusCode::OK, &SignupForm::default(), None)
}

pub(crate) async fn signup(
    State(state): State<WebState>,
    visitor: Visitor,
    WebForm(form): WebForm<SignupForm>,
) -> Result<Response, WebError> {
    let tenant = Some(form.tenant.trim().to_string()).filter(|t| !t.is_empty());
    let invitation = Some(form.invitation.trim().to_string()).filter(|t| !t.is_empty());
    let request = ops::users::SignUp {
        email: &form.email,
        password: form.password.clone(),
        tenant: tenant.as_deref(),
        invitation: invitation.as_deref(),
    };
    match ops::users::sign_up(&state.db, &state.jwt, state.settings.signup, request).await {
        Ok(session) => Ok(open_session(&state, &session, "/apps")),
        Err(err) => {
            let (status, message) = form_error(err)?;
            let template = if invitation.is_some() { "invite.html" } else { "signup.html" };
            let mut context = Context::new();
            if let Some(secret) = &invitation {
                context.insert("invitation", &ops::invitations::find_invitation(&state.db, secret).await.ok());
                context.insert("token", secret);
            }
            render_with(&state, visitor, template, status, &form, Some(&message), context)
        }
    }
}

/// `/invite/<token>`: what the invitation is, and either a sign-up form (the
/// email fixed to the invited one) or, when signed in, a button to join.
pub(crate) async fn invite_page(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let invitation = match ops::invitations::find_invitation(&state.db, &token).await {
        Ok(invitation) => Some(invitation),
        Err(err) => {
            let (status, message) = form_error(err)?;
            let mut context = Context::new();
            context.insert("token", &token);
            context.insert("invitation", &None::<()>);
            return render_with(
                &state,
                visitor,
                "invite.html",
                status,
                &SignupForm::default(),
                Some(&message),
                context,
            );
        }
    };
    let email = invitation.as_ref().map(|i| i.email.clone()).unwrap_or_default();
    let form = SignupForm { email, invitation: token.clone(), ..SignupForm::default() };
    let mut context = Context::new();
    context.insert("invitation", &invitation);
    context.insert("token", &token);
    render_with(&state, visitor, "invite.html", StatusCode::OK, &form, None, context)
}

/// Joins the invitation's tenant as the signed-in user.
pub(crate) async fn accept_invite(
    State(state): State<WebState>,
    user: WebUser,
    Path(token): Path<String>,
    WebForm(_): WebForm<Empty>,
) -> Result<Response, WebError> {
    ops::invitations::accept_invitation(&state.db, &user.user, &token).await?;
    Ok(see_other("/team?done=joined"))
}

pub(crate) async fn login_page(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(query.next.as_deref().unwrap_or_default()).to_string();
    if visitor.signed_in {
        return Ok(see_other(&next));
    }
    let form = LoginForm { next, ..LoginForm::default() };
    render(&state, visitor, "login.html", StatusCode::OK, &form, None)
}

pub(crate) async fn login(
    State(state): State<WebState>,
    visitor: Visitor,
    ClientAddr(client): ClientAddr,
    WebForm(form): WebForm<LoginForm>,
) -> Result<Response, WebError> {
    let throttle = &state.settings.throttle;
    match ops::users::log_in(&state.db, &state.jwt, throttle, client, &form.email, form.password.clone()).await {
        Ok(session) => Ok(open_session(&state, &session, safe_next(&form.next))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            // The email stays; a wrong password is typed again.
            let form = LoginForm { password: String::new(), ..form };
            render(&state, visitor, "login.html", status, &form, Some(&message))
        }
    }
}

/// Ends the session (a POST with the CSRF token, so other sites cannot log you out).
pub(crate) async fn logout(State(state): State<WebState>, WebForm(_): WebForm<Empty>) -> Response {
    let mut response = see_other("/login");
    response.headers_mut().append(SET_COOKIE, state.web.clear_session_cookie());
    response
}

fn render<T: Serialize>(
    state: &WebState,
    visitor: Visitor,
    template: &str,
    status: StatusCode,
    form: &T,
    error: Option<&str>,
) -> Result<Response, WebError> {
    render_with(state, visitor, template, status, form, error, Context::new())
}

/// Renders an auth page; every one knows the sign-up policy and whether the visitor is signed in.
fn render_with<T: Serialize>(
    state: &WebState,
    visitor: Visitor,
    template: &str,
    status: StatusCode,
    form: &T,
    error: Option<&str>,
    mut context: Context,
) -> Result<Response, WebError> {
    let signup = match state.settings.signup {
        SignupPolicy::Open => "open",
        SignupPolicy::Invite => "invite",
        SignupPolicy::Closed => "closed",
    };
    context.insert("signup", signup);
    context.insert("signed_in", &visitor.signed_in);
    context.insert("csrf", &visitor.csrf);
    context.insert("form", form);
    context.insert("error", &error);
    let page = state.web.render(status, template, &context)?;
    Ok(visitor.respond(page))
}

fn open_session(state: &WebState, session: &Session, next: &str) -> Response {
    let max_age = (session.expires_at - chrono::Utc::now()).num_seconds();
    let mut response = see_other(next);
    response.headers_mut().append(SET_COOKIE, state.web.session_cookie(&session.token, max_age));
    response
}

/// Where to go after login: a local path only (no open redirects).
fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and newlines in URLs ("/\t/evil" becomes "//evil"): refuse any.
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if local {
        next
    } else {
        "/apps"
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_local_path() {
        assert_eq!(safe_next("/apps/shop"), "/apps/shop");
        assert_eq!(safe_next("/\t/evil.example"), "/apps");
        assert_eq!(safe_next("/\n/evil.example"), "/apps");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "", "apps"] {
            assert_eq!(safe_next(bad), "/apps", "{bad}");
        }
    }
}
