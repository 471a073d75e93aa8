//! Paths to other process types (`paas routes`): URL prefixes an app sends
//! to a process type other than `web`. The release's paas.json declares
//! routes; `paas routes set` overrides them per prefix, without a build or
//! a release (the route table changes at once; agents publish the process
//! type's port when its instances next converge).

use paas_types::process_routes::{prefix_problem, PathRoute, RoutesPatch};
use serde_json::json;
use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::db;
use crate::db::apps::AppRow;
use crate::db::process_routes::ReleaseFacts;
use crate::error::{ApiError, ApiResult};
use crate::validate;

/// Most routes in force for one app.
pub const MAX_ROUTES: usize = 50;

/// The app's routes in force (the newest release's paas.json under the CLI-set ones), longest prefix first.
pub async fn list(db: &PgPool, app: &AppRow) -> ApiResult<Vec<PathRoute>> {
    let facts = db::process_routes::release_facts(db, app.id).await?.unwrap_or_default();
    Ok(db::process_routes::effective(db, app.id, &facts.routes.0).await?)
}

/// Applies a patch to the CLI-set routes (a process type sets, `None`
/// unsets), records the event; answers the routes in force.
pub async fn change(db: &PgPool, user: &AuthUser, app: &AppRow, patch: &RoutesPatch) -> ApiResult<Vec<PathRoute>> {
    if patch.is_empty() {
        return Err(ApiError::validation("name at least one route, e.g. {\"/ws/\": \"async\"}"));
    }
    let mut tx = db.begin().await?;
    db::apps::lock(&mut tx, app.id).await?;
    let facts = db::process_routes::release_facts(&mut *tx, app.id).await?;
    for (prefix, target) in patch {
        check_shape(prefix, target.as_deref())?;
        match target {
            Some(process_type) => {
                check_target(facts.as_ref(), prefix, process_type)?;
                db::process_routes::set(&mut tx, app.id, prefix, process_type).await?;
            }
            None if db::process_routes::unset(&mut tx, app.id, prefix).await? => {}
            None => return Err(not_set(facts.as_ref(), prefix)),
        }
    }
    let manifest = facts.map(|f| f.routes.0).unwrap_or_default();
    let routes = db::process_routes::effective(&mut *tx, app.id, &manifest).await?;
    if routes.len() > MAX_ROUTES {
        return Err(ApiError::Conflict(format!("an app can have at most {MAX_ROUTES} routes")));
    }
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "routes.change",
        data: json!(patch),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(routes)
}

/// The rules of a route's shape (422 when broken): the prefix's syntax, and
/// a process type (when given) of valid syntax other than `web`.
pub fn check_shape(prefix: &str, process_type: Option<&str>) -> ApiResult<()> {
    if let Some(problem) = prefix_problem(prefix) {
        return Err(ApiError::validation(format!("route {prefix:?}: {problem}")));
    }
    match process_type {
        Some(name) if !validate::is_process_type(name) => Err(ApiError::validation(format!(
            "route {prefix}: process type {name:?} is invalid: use a-z, 0-9, '_' and '-', starting with a letter"
        ))),
        Some("web") => Err(ApiError::validation(format!(
            "route {prefix}: everything no route names already goes to web; name another process type, \
             or drop the route with `paas routes unset {prefix}`"
        ))),
        _ => Ok(()),
    }
}

/// A route may point only at a process type of the release's Procfile.
fn check_target(facts: Option<&ReleaseFacts>, prefix: &str, process_type: &str) -> ApiResult<()> {
    // Valid input that the app's current state refuses: 409, as the status policy says.
    let Some(facts) = facts else {
        return Err(ApiError::Conflict(
            "the app has no release yet: deploy it first, then route prefixes to process types of its Procfile".into(),
        ));
    };
    if !facts.process_types.0.contains_key(process_type) {
        let known: Vec<&str> = facts.process_types.0.keys().map(String::as_str).collect();
        return Err(ApiError::Conflict(format!(
            "route {prefix}: the Procfile has no {process_type:?} process type (it has: {}); add a line such as \
             `{process_type}: uvicorn asgi:app --host 0.0.0.0 --port $PORT` and deploy",
            known.join(", ")
        )));
    }
    Ok(())
}

/// Why a prefix without a CLI-set route cannot be unset.
fn not_set(facts: Option<&ReleaseFacts>, prefix: &str) -> ApiError {
    match facts.and_then(|f| f.routes.0.get(prefix)) {
        Some(process_type) => ApiError::Conflict(format!(
            "route {prefix} -> {process_type} comes from paas.json: remove it there and deploy, or point it \
             elsewhere with `paas routes set {prefix}=TYPE`"
        )),
        None => ApiError::not_found(format!("route {prefix} set with `paas routes set`")),
    }
}
