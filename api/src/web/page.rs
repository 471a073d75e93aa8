//! What every dashboard page is built with: the templates (embedded,
//! parsed once), the dashboard's state, and small helpers for contexts,
//! redirects, form errors and notices.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use tera::{Context, Tera};

use super::error::WebError;
use crate::config::ConfigError;
use crate::state::AppState;

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
    "invite.html",
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
    "app/addons.html",
    "app/logs.html",
);

pub(crate) const CSS: &str = include_str!("../../../web-ui/static/dashboard.css");
pub(crate) const JS: &str = include_str!("../../../web-ui/static/dashboard.js");

/// The dashboard's share of the application state.
pub struct Web {
    pub(super) tera: Tera,
    pub(super) csrf_key: Vec<u8>,
    pub(super) cookie_secure: bool,
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

/// The dashboard's state: the core state plus its templates and keys.
#[derive(Clone)]
pub struct WebState {
    pub core: AppState,
    pub web: Arc<Web>,
}

/// Pages read the core state (`state.db`, `state.settings`) directly.
impl Deref for WebState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.core
    }
}

impl FromRef<WebState> for AppState {
    fn from_ref(state: &WebState) -> AppState {
        state.core.clone()
    }
}

pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// Times as pages show them.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
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
        "backup-started" => "Backup started; it appears below when it is done (reload).",
        "rolled-back" => "Rolled back: a new release with the old build and config is rolling out.",
        "token-revoked" => "Token revoked; it stops working at once.",
        "member-added" => "Member added.",
        "member-removed" => "Member removed.",
        "joined" => "Invitation accepted: you are now a member of the team.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_a_fixed_list() {
        assert_eq!(notice(Some("scaled")), Some("Formation updated; the scheduler is placing the instances."));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
