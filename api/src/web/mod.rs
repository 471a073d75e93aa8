//! The dashboard: server-rendered HTML pages for app developers, from the
//! tera templates and static files in `web-ui/` (compiled into the binary and
//! parsed once at startup).
//!
//! Pages call the same operations as the JSON API (`ops`), so authorization
//! and validation are the API's: another tenant's app is a 404 on every app
//! page. The session is the API's session JWT in an HttpOnly, SameSite=Lax
//! cookie, and every POST carries a CSRF token bound to it (see `session`).
//! The JSON API never reads the cookie.
//!
//! `page` holds the templates and the dashboard's state (`WebState`);
//! `session` the cookie, CSRF and form extractors; `error` the error pages;
//! the rest one module per group of pages.

mod account;
mod addons;
mod apps;
mod auth;
mod config;
mod domains;
mod error;
mod logs;
mod page;
mod redirect;
mod releases;
mod session;

use axum::routing::{get, post, MethodRouter};
use axum::Router;

pub use page::{Web, WebState};
pub use session::{CSRF_FIELD, SESSION_COOKIE};

use page::{asset, CSS, JS};

/// A dashboard route scoped to one app, with the methods it answers.
struct AppRoute {
    path: &'static str,
    methods: &'static [&'static str],
    handler: MethodRouter<WebState>,
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
        route("/apps/{app}/addons", &["GET"], get(addons::list_addons)),
        route("/apps/{app}/addons/backups", &["POST"], post(addons::capture_backup)),
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
pub fn router() -> Router<WebState> {
    let mut router = Router::new()
        .route("/", get(auth::home))
        .route("/static/dashboard.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/static/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/invite/{token}", get(auth::invite_page).post(auth::accept_invite))
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
}
