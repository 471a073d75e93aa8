//! Releases (with rollback) and builds (with their logs) of an app.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use tera::Context;
use uuid::Uuid;

use super::apps::{app_page, DoneQuery};
use super::auth::Empty;
use super::error::{form_error, WebError};
use super::page::{notice, when, WebState};
use super::redirect::see_other;
use super::session::{WebForm, WebUser};
use crate::db;
use crate::error::ApiError;
use crate::ops;

pub(crate) async fn list_releases(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "releases").await?;
    context.insert("notice", &notice(query.done.as_deref()));
    render_releases(&state, &row, context, StatusCode::OK, None).await
}

async fn render_releases(
    state: &WebState,
    row: &db::apps::AppRow,
    mut context: Context,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let releases: Vec<_> = db::releases::list(&state.db, row.id, 100)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "version": r.version, "description": r.description, "author": r.author,
                "created_at": when(r.created_at), "current": r.current, "has_build": r.build_id.is_some(),
                "build_id": r.build_id,
            })
        })
        .collect();
    context.insert("releases", &releases);
    context.insert("error", &error);
    state.web.render(status, "app/releases.html", &context)
}

/// Rolls back to `version` (a new release with its build and config).
pub(crate) async fn rollback_release(
    State(state): State<WebState>,
    user: WebUser,
    Path((app, version)): Path<(String, i32)>,
    WebForm(_): WebForm<Empty>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "releases").await?;
    match ops::releases::rollback(&state.db, &state.settings.keys, &user.user, &row, version).await {
        Ok(_) => Ok(see_other(&format!("/apps/{}/releases?done=rolled-back", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_releases(&state, &row, context, status, Some(&message)).await
        }
    }
}

fn build_json(build: db::builds::BuildRow) -> serde_json::Value {
    json!({
        "id": build.id, "short_id": &build.id.simple().to_string()[..8], "status": build.status,
        "version": build.source_version, "release": build.release, "error": build.error,
        "created_at": when(build.created_at), "finished_at": build.finished_at.map(when),
    })
}

pub(crate) async fn list_builds(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "builds").await?;
    let builds: Vec<_> = db::builds::list(&state.db, row.id, 50).await?.into_iter().map(build_json).collect();
    context.insert("builds", &builds);
    state.web.render(StatusCode::OK, "app/builds.html", &context)
}

pub(crate) async fn show_build(
    State(state): State<WebState>,
    user: WebUser,
    Path((app, id)): Path<(String, Uuid)>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "builds").await?;
    let build =
        db::builds::find(&state.db, row.id, id).await?.ok_or_else(|| ApiError::not_found(format!("build {id}")))?;
    let log = db::builds::log_from(&state.db, id, 0).await?.map(|(log, _)| log).unwrap_or_default();
    let in_progress = !build.status.is_finished();
    context.insert("build", &build_json(build));
    context.insert("log", &log);
    context.insert("in_progress", &in_progress);
    state.web.render(StatusCode::OK, "app/build.html", &context)
}
