//! The JSON surface (`/v1`, `/healthz`): one module per resource, each
//! handler parsing input, calling `ops` (or a `db` read) and answering JSON.
//! Every route is registered through `OpenApiRouter::routes(routes!(...))`,
//! so the OpenAPI document is built from the same list the router serves
//! (and the isolation tests walk it).

mod addons;
mod agent;
mod agent_addons;
mod apps;
mod auth;
mod builds;
mod cache;
mod config;
mod domains;
mod events;
mod extract;
mod formation;
mod health;
mod instances;
mod invitations;
mod nodes;
mod openapi;
mod params;
mod process_routes;
mod releases;
mod router_table;
mod run_relay;
mod runs;
mod tenants;
mod tokens;
mod volumes;

use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "PaaS API", description = "Control plane of a self-hosted PaaS for Python WSGI apps."),
    modifiers(&BearerAuth),
    components(schemas(paas_types::ErrorBody, paas_types::ErrorDetail))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT or paas_ API token").build(),
            ),
        );
    }
}

/// Largest request body of the agent protocol.
const AGENT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// All routes with the OpenAPI document describing them (served at
/// `/v1/openapi.json`). `max_upload` is the body limit of the routes that
/// take tarballs; the rest keep the JSON limit.
pub fn router(max_upload: usize, base_domain: &str) -> (axum::Router<AppState>, serde_json::Value) {
    let uploads = OpenApiRouter::new()
        .routes(routes!(builds::create_build, builds::list_builds))
        .routes(routes!(agent::upload_static_bundle))
        .layer(DefaultBodyLimit::max(max_upload));
    // Agents send batches of reports and log lines: a larger JSON limit.
    let agents = OpenApiRouter::new()
        .routes(routes!(agent::register_node))
        .routes(routes!(agent::heartbeat))
        .routes(routes!(agent::desired_state))
        .routes(routes!(agent::report_instances))
        .routes(routes!(agent::claim_build))
        .routes(routes!(agent::build_source))
        .routes(routes!(agent::built_source))
        .routes(routes!(agent::append_build_log))
        .routes(routes!(agent::finish_build))
        .routes(routes!(agent::ship_logs))
        .routes(routes!(runs::claim_runs))
        .routes(routes!(runs::agent_attach_run))
        .layer(DefaultBodyLimit::max(AGENT_BODY_LIMIT));
    // Add-ons: backup dumps can be large.
    let addon_dumps = OpenApiRouter::new()
        .routes(routes!(agent_addons::upload_backup))
        .layer(DefaultBodyLimit::max(crate::ops::addons::backups::MAX_BACKUP_BYTES));
    let addon_routes = OpenApiRouter::new()
        .routes(routes!(agent_addons::fail_backup))
        .routes(routes!(agent_addons::restore_source))
        .routes(routes!(agent_addons::finish_restore))
        .routes(routes!(addons::list_addons))
        .routes(routes!(addons::list_app_addons, addons::create_addon))
        .routes(routes!(addons::show_addon, addons::destroy_addon))
        .routes(routes!(addons::attach_addon))
        .routes(routes!(addons::detach_addon))
        .routes(routes!(addons::rotate_credentials))
        .routes(routes!(addons::list_backups, addons::capture_backup))
        .routes(routes!(addons::show_backup))
        .routes(routes!(addons::download_backup))
        .routes(routes!(addons::restore_backup))
        .routes(routes!(addons::restore_to_node))
        .routes(routes!(addons::show_restore));
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(uploads)
        .merge(agents)
        .merge(addon_dumps)
        .merge(addon_routes)
        .routes(routes!(health::health))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::me))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(tenants::list_tenants))
        .routes(routes!(tenants::list_members, tenants::add_member))
        .routes(routes!(tenants::remove_member))
        .routes(routes!(invitations::list_invitations, invitations::create_invitation))
        .routes(routes!(invitations::revoke_invitation))
        .routes(routes!(invitations::accept_invitation))
        .routes(routes!(apps::list_apps, apps::create_app))
        .routes(routes!(apps::show_app, apps::update_app, apps::delete_app))
        .routes(routes!(config::show_config, config::update_config))
        .routes(routes!(config::unset_config_var))
        .routes(routes!(domains::list_domains, domains::add_domain))
        .routes(routes!(domains::remove_domain))
        .routes(routes!(cache::purge_cache))
        .routes(routes!(volumes::list_volumes, volumes::create_volume))
        .routes(routes!(volumes::destroy_volume))
        .routes(routes!(formation::show_formation, formation::update_formation))
        .routes(routes!(process_routes::list_routes, process_routes::update_routes))
        .routes(routes!(releases::list_releases))
        .routes(routes!(releases::show_release))
        .routes(routes!(releases::rollback_release))
        .routes(routes!(events::list_app_events))
        .routes(routes!(events::list_events))
        .routes(routes!(events::list_account_events))
        .routes(routes!(nodes::list_nodes))
        .routes(routes!(nodes::create_join_token))
        .routes(routes!(builds::show_build))
        .routes(routes!(instances::list_instances))
        .routes(routes!(instances::show_logs))
        .routes(routes!(instances::stream_logs))
        .routes(routes!(runs::create_run))
        .routes(routes!(runs::create_console))
        .routes(routes!(runs::show_run))
        .routes(routes!(runs::attach_run))
        .routes(routes!(router_table::route_table))
        .routes(routes!(router_table::static_bundle))
        .split_for_parts();
    (router, openapi::finish(doc, base_domain))
}
