//! The dashboard: server-rendered HTML pages for app developers, from the
//! tera templates and static files in `web-ui/` (compiled into the binary and
//! parsed once at startup).
//!
//! Pages call the same functions as the JSON API (often the API handlers
//! themselves), so authorization and validation are the API's: another
//! tenant's app is a 404 on every app page. The session is the API's session
//! JWT in an HttpOnly, SameSite=Lax cookie, and every POST carries a CSRF
//! token bound to it (see `session`). The JSON API never reads the cookie.

mod account;
mod apps;
mod auth;
mod config;
mod domains;
mod error;
mod logs;
mod releases;
mod session;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use chrono::{DateTime, Utc};
use tera::{Context, Tera};

use crate::config::ConfigError;
use crate::state::AppState;

pub(crate) use error::WebError;
pub(crate) use session::{Visitor, WebForm, WebUser};
pub use session::{CSRF_FIELD, SESSION_COOKIE};

/// Templates, embedded so the binary needs no files at run time.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../web-ui/templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "signup.html",
    "login.html",
    "apps.html",
    "tokens.html",
    "team.html",
    "nodes.html",
    "app/base.html",
    "app/overview.html",
    "app/releases.html",
    "app/builds.html",
    "app/build.html",
    "app/config.html",
    "app/domains.html",
    "app/logs.html",
);

const CSS: &str = include_str!("../../../web-ui/static/dashboard.css");
const JS: &str = include_str!("../../../web-ui/static/dashboard.js");

/// The dashboard's share of the application state.
pub struct Web {
    tera: Tera,
    csrf_key: Vec<u8>,
    cookie_secure: bool,
}

impl Web {
    /// Parses the templates; `secret` keys the CSRF tokens (the JWT secret).
    pub fn new(secret: &[u8], cookie_secure: bool) -> Result<Web, ConfigError> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied()).map_err(|e| ConfigError::Templates(Box::new(e)))?;
        Ok(Web { tera, csrf_key: secret.to_vec(), cookie_secure })
    }

    /// Renders a page with `status`; pages are never cached (they may show secrets).
    pub(crate) fn render(&self, status: StatusCode, name: &str, context: &Context) -> Result<Response, WebError> {
        let body = self.tera.render(name, context)?;
        let mut response = (status, Html(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }
}

/// A dashboard route scoped to one app, with the methods it answers.
struct AppRoute {
    path: &'static str,
    methods: &'static [&'static str],
    handler: MethodRouter<AppState>,
}

fn app_routes() -> Vec<AppRoute> {
    let route = |path, methods, handler| AppRoute { path, methods, handler };
    vec![
        route("/apps/{app}", &["GET"], get(apps::show_app)),
        route("/apps/{app}/instances.json", &["GET"], get(apps::list_instances)),
        route("/apps/{app}/formation", &["POST"], post(apps::scale_app)),
        route("/apps/{app}/releases", &["GET"], get(releases::list_releases)),
        route("/apps/{app}/releases/{version}/rollback", &["POST"], post(releases::rollback_release)),
        route("/apps/{app}/builds", &["GET"], get(releases::list_builds)),
        route("/apps/{app}/builds/{id}", &["GET"], get(releases::show_build)),
        route("/apps/{app}/config", &["GET", "POST"], get(config::show_config).post(config::set_config_var)),
        route("/apps/{app}/config/unset", &["POST"], post(config::unset_config_var)),
        route("/apps/{app}/domains", &["GET", "POST"], get(domains::list_domains).post(domains::add_domain)),
        route("/apps/{app}/domains/remove", &["POST"], post(domains::remove_domain)),
        route("/apps/{app}/logs", &["GET"], get(logs::show_logs)),
        route("/apps/{app}/logs/stream", &["GET"], get(logs::stream_logs)),
    ]
}

/// `(method, path template)` of every dashboard route scoped to one app; the
/// isolation test walks this list, so a new app page is covered at once.
pub fn app_pages() -> Vec<(&'static str, &'static str)> {
    app_routes().into_iter().flat_map(|r| r.methods.iter().map(move |m| (*m, r.path))).collect()
}

/// The dashboard's routes (all outside `/v1`, `/healthz` and `/git`).
pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/", get(auth::home))
        .route("/static/dashboard.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/static/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route("/tokens", get(account::list_tokens).post(account::create_token))
        .route("/tokens/{id}/revoke", post(account::revoke_token))
        .route("/team", get(account::show_team))
        .route("/team/{tenant}/members", post(account::add_member))
        .route("/team/{tenant}/members/remove", post(account::remove_member))
        .route("/nodes", get(account::list_nodes));
    for route in app_routes() {
        router = router.route(route.path, route.handler);
    }
    router
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// Times as pages show them.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A 303 to `location` (after a successful form: the browser then GETs it).
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static("/apps"))]).into_response(),
    }
}

/// The context every signed-in page starts from: who, their CSRF token, the nav section.
pub(crate) fn user_context(user: &WebUser, section: &str) -> Context {
    let mut context = Context::new();
    context.insert("user", &serde_json::json!({ "email": user.user.email, "is_admin": user.user.is_admin }));
    context.insert("csrf", &user.csrf);
    context.insert("section", section);
    context
}

/// Splits a failed action: mistakes the user can fix (4xx) come back as the
/// status and message to show on the form; anything else fails the page.
pub(crate) fn form_error(err: crate::error::ApiError) -> Result<(StatusCode, String), WebError> {
    let (status, _) = err.status_and_code();
    if status.is_client_error() {
        Ok((status, err.to_string()))
    } else {
        Err(err.into())
    }
}

/// Messages shown after a redirect (`?done=<code>`): a fixed list, so a link
/// cannot put arbitrary text on a page.
pub(crate) fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "created" => "App created.",
        "scaled" => "Formation updated; the scheduler is placing the instances.",
        "config-set" => "Config var set. A new release is rolling out.",
        "config-unset" => "Config var removed. A new release is rolling out.",
        "domain-added" => "Domain added.",
        "domain-removed" => "Domain removed.",
        "rolled-back" => "Rolled back: a new release with the old build and config is rolling out.",
        "token-revoked" => "Token revoked; it stops working at once.",
        "member-added" => "Member added.",
        "member-removed" => "Member removed.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile_and_routes_are_unique() {
        Web::new(b"0123456789abcdef0123456789abcdef", false).expect("templates parse");
        let pages = app_pages();
        let mut seen = std::collections::HashSet::new();
        assert!(pages.iter().all(|p| seen.insert(*p)), "duplicate app page {pages:?}");
        assert!(pages.iter().all(|(_, path)| path.starts_with("/apps/{app}")));
    }

    #[test]
    fn notices_are_a_fixed_list() {
        assert_eq!(notice(Some("scaled")), Some("Formation updated; the scheduler is placing the instances."));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
