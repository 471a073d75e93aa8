//! An app's add-ons in the dashboard: state, node, the config var each
//! sets, a Postgres add-on's recent backups, and a button to capture one,
//! through the same operations as the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use paas_types::addons::{Addon, AddonBackup, AddonKind};
use serde_json::json;
use tera::Context;

use super::apps::{app_page, DoneQuery};
use super::error::{form_error, WebError};
use super::page::{notice, when, WebState};
use super::redirect::see_other;
use super::session::{WebForm, WebUser};
use crate::db;
use crate::ops;

/// Backups listed per Postgres add-on (the CLI lists them all).
const BACKUPS_SHOWN: usize = 5;

pub(crate) async fn list_addons(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "addons").await?;
    context.insert("notice", &notice(query.done.as_deref()));
    render_addons(&state, &row, context, StatusCode::OK, None).await
}

async fn render_addons(
    state: &WebState,
    row: &db::apps::AppRow,
    mut context: Context,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let rows = db::addons::list_for_app(&state.db, row.id).await?;
    let mut addons = Vec::new();
    for (addon_row, view) in
        rows.clone().into_iter().zip(ops::addons::views(&state.db, &state.settings.keys, rows, false).await?)
    {
        let backups = match view.kind {
            AddonKind::Postgres => ops::addons::backups::list(&state.db, &addon_row).await?,
            AddonKind::Redis => Vec::new(),
        };
        addons.push(addon_json(&row.name, &view, &backups));
    }
    context.insert("addons", &addons);
    context.insert("error", &error);
    state.web.render(status, "app/addons.html", &context)
}

fn addon_json(app: &str, addon: &Addon, backups: &[AddonBackup]) -> serde_json::Value {
    let var = addon.attachments.iter().find(|a| a.app == app).map_or("-", |a| a.var.as_str());
    let others: Vec<&str> = addon.attachments.iter().filter(|a| a.app != app).map(|a| a.app.as_str()).collect();
    let backups: Vec<_> = backups
        .iter()
        .take(BACKUPS_SHOWN)
        .map(|b| {
            json!({
                "short_id": &b.id.simple().to_string()[..8], "trigger": b.trigger, "state": b.state,
                "size": b.size_bytes.map_or_else(|| "-".to_string(), human_bytes), "message": b.message, "created_at": when(b.created_at),
            })
        })
        .collect();
    json!({
        "name": addon.name, "kind": addon.kind.as_str(), "plan": addon.plan, "state": addon.state.as_str(),
        "message": addon.message, "node": addon.node.as_deref().unwrap_or("waiting for a node"), "var": var, "others": others,
        "postgres": addon.kind == AddonKind::Postgres, "backups": backups,
        "created_at": when(addon.created_at),
    })
}

/// `1.2 MB`.
fn human_bytes(bytes: i64) -> String {
    match bytes {
        b if b < 1_000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        b if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.1} GB", b as f64 / 1e9),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct CaptureForm {
    #[serde(default)]
    addon: String,
}

pub(crate) async fn capture_backup(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    WebForm(form): WebForm<CaptureForm>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "addons").await?;
    let captured = async {
        let addon = ops::addons::addon_for_user(&state.db, user.user.id, &form.addon).await?;
        ops::addons::backups::capture(&state.db, &user.user, &addon).await
    };
    match captured.await {
        Ok(_) => Ok(see_other(&format!("/apps/{}/addons?done=backup-started", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_addons(&state, &row, context, status, Some(&message)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2_345), "2.3 kB");
        assert_eq!(human_bytes(104_857_600), "104.9 MB");
        assert_eq!(human_bytes(3_000_000_000), "3.0 GB");
    }
}
