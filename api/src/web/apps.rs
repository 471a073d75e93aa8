//! The apps list (with each app's state), app creation, and the app page:
//! process table with live instance state, and the scale control.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paas_types::{ActualState, CreateAppRequest, FormationChange, FormationPatch, Instance, InstanceGoal, Size};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tera::Context;

use super::error::{form_error, WebError};
use super::page::{notice, when, WebState};
use super::redirect::see_other;
use super::session::{user_context, WebForm, WebUser};
use crate::db;
use crate::db::instances::InstanceRow;
use crate::ops;

#[derive(Debug, Deserialize)]
pub(crate) struct DoneQuery {
    pub(super) done: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct CreateAppForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant: String,
}

/// The user's app `name` and the context every app page starts from (404 for other tenants' apps).
pub(super) async fn app_page(
    state: &WebState,
    user: &WebUser,
    name: &str,
    tab: &str,
) -> Result<(db::apps::AppRow, Context), WebError> {
    let row = ops::apps::app_for_user(&state.db, user.user.id, name).await?;
    let mut context = user_context(user, "apps");
    context.insert("tab", tab);
    context.insert(
        "app",
        &json!({
            "name": row.name,
            "tenant": row.tenant_name,
            "hostname": row.hostname,
            "web_url": state.settings.app_url(&row.hostname),
            "current_release": row.current_release,
            "role": row.role,
        }),
    );
    Ok((row, context))
}

/// One word and a style class for the state of an app's instances.
fn summarize(instances: &[InstanceRow], has_release: bool) -> (String, &'static str) {
    let wanted: Vec<&InstanceRow> = instances.iter().filter(|i| i.desired_state == InstanceGoal::Running).collect();
    let running = wanted.iter().filter(|i| i.actual_state == ActualState::Running).count();
    let failing = wanted.iter().any(|i| i.actual_state.is_failing());
    match (wanted.len(), has_release) {
        (0, false) => ("not deployed".into(), "idle"),
        (0, true) => ("no processes".into(), "idle"),
        (n, _) if running == n => (format!("running {running}/{n}"), "ok"),
        (n, _) if failing => (format!("failing, {running}/{n} running"), "bad"),
        (n, _) => (format!("starting, {running}/{n} running"), "warn"),
    }
}

pub(crate) async fn list_apps(
    State(state): State<WebState>,
    user: WebUser,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let mut context = user_context(&user, "apps");
    context.insert("notice", &notice(query.done.as_deref()));
    render_apps(&state, &user, context, StatusCode::OK, &CreateAppForm::default(), None).await
}

async fn render_apps(
    state: &WebState,
    user: &WebUser,
    mut context: Context,
    status: StatusCode,
    form: &CreateAppForm,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let rows = db::apps::list_for_user(&state.db, user.user.id, None, None, None, 500).await?;
    let mut apps = Vec::with_capacity(rows.len());
    for row in rows {
        let instances = db::instances::list_for_app(&state.db, row.id).await?;
        let (label, class) = summarize(&instances, row.current_release.is_some());
        apps.push(json!({
            "name": row.name, "tenant": row.tenant_name, "hostname": row.hostname,
            "release": row.current_release, "state": label, "state_class": class,
        }));
    }
    let tenants: Vec<String> =
        db::tenants::list_for_user(&state.db, user.user.id).await?.into_iter().map(|t| t.name).collect();
    context.insert("apps", &apps);
    context.insert("tenants", &tenants);
    context.insert("form", form);
    context.insert("error", &error);
    state.web.render(status, "apps.html", &context)
}

pub(crate) async fn create_app(
    State(state): State<WebState>,
    user: WebUser,
    WebForm(form): WebForm<CreateAppForm>,
) -> Result<Response, WebError> {
    let name = form.name.trim().to_string();
    let tenant = Some(form.tenant.clone()).filter(|t| !t.is_empty());
    let request = CreateAppRequest { name: name.clone(), tenant };
    match ops::apps::create_app(&state.db, &state.settings, &user.user, &request).await {
        Ok(_) => Ok(see_other(&format!("/apps/{name}?done=created"))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            let context = user_context(&user, "apps");
            render_apps(&state, &user, context, status, &form, Some(&message)).await
        }
    }
}

pub(crate) async fn show_app(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "overview").await?;
    context.insert("notice", &notice(query.done.as_deref()));
    render_overview(&state, &row, context, StatusCode::OK, &BTreeMap::new(), None).await
}

async fn render_overview(
    state: &WebState,
    row: &db::apps::AppRow,
    mut context: Context,
    status: StatusCode,
    typed: &BTreeMap<String, String>,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let instances = db::instances::list_for_app(&state.db, row.id).await?;
    let (label, class) = summarize(&instances, row.current_release.is_some());
    let instances: Vec<_> = instances.iter().map(instance_json).collect();
    let formation: Vec<_> = db::apps::formation(&state.db, row.id)
        .await?
        .into_iter()
        .map(|f| {
            let quantity = typed.get(&format!("quantity:{}", f.process_type)).cloned();
            let size = typed.get(&format!("size:{}", f.process_type)).cloned();
            json!({
                "process_type": f.process_type,
                "quantity": quantity.unwrap_or_else(|| f.quantity.to_string()),
                "size": size.unwrap_or_else(|| f.size.as_str().to_string()),
            })
        })
        .collect();
    context.insert("state", &label);
    context.insert("state_class", class);
    context.insert("instances", &instances);
    context.insert("formation", &formation);
    context.insert("sizes", &["small", "standard", "large"]);
    context.insert("error", &error);
    context.insert("volumes", &volumes_json(ops::volumes::list(&state.db, row).await?));
    state.web.render(status, "app/overview.html", &context)
}

/// The app's volumes as the overview shows them.
fn volumes_json(volumes: Vec<paas_types::Volume>) -> Vec<serde_json::Value> {
    volumes
        .into_iter()
        .map(|v| {
            json!({
                "name": v.name, "mount": v.mount, "size_mb": v.size_mb, "node": v.node,
                "node_state": v.node_state, "used_mb": v.used_bytes.map(|b| b >> 20), "hint": v.hint,
                "created_at": when(v.created_at),
            })
        })
        .collect()
}

fn instance_json(row: &InstanceRow) -> serde_json::Value {
    json!({
        "id": row.id, "short_id": &row.id.simple().to_string()[..8], "process_type": row.process_type,
        "release": row.release, "node": row.node, "desired_state": row.desired_state,
        "state": row.actual_state, "restarts": row.restarts, "updated_at": when(row.updated_at),
        "exit_status": row.exit_status, "hint": row.hint(),
        // The last output matters while it crashes; later it is history (`paas logs`).
        "last_output": if row.actual_state == paas_types::ActualState::Crashed {
            &row.last_output.0[row.last_output.0.len().saturating_sub(5)..]
        } else {
            &[]
        },
    })
}

/// The instances as JSON for the page's live table (same data as `GET /v1/apps/{app}/instances`).
pub(crate) async fn list_instances(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
) -> Result<Response, WebError> {
    let row = ops::apps::app_for_user(&state.db, user.user.id, &app).await?;
    let instances: Vec<Instance> =
        db::instances::list_for_app(&state.db, row.id).await?.into_iter().map(Into::into).collect();
    Ok(axum::Json(instances).into_response())
}

/// The scale control: `quantity:<type>` and `size:<type>` for each process type.
pub(crate) async fn scale_app(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    WebForm(form): WebForm<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "overview").await?;
    let result = match parse_scale(&form) {
        Ok(patch) => ops::formation::scale(&state.db, &user.user, &row, &patch).await.map(|_| ()),
        Err(message) => Err(crate::error::ApiError::validation(message)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/apps/{}?done=scaled", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_overview(&state, &row, context, status, &form, Some(&message)).await
        }
    }
}

fn parse_scale(form: &BTreeMap<String, String>) -> Result<FormationPatch, String> {
    let mut patch = FormationPatch::new();
    for (key, value) in form {
        let Some(process_type) = key.strip_prefix("quantity:") else { continue };
        let quantity = value
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("the number of {process_type} processes must be a whole number"))?;
        let size = match form.get(&format!("size:{process_type}")) {
            Some(size) => Some(Size::parse(size).ok_or_else(|| format!("{size:?} is not a size"))?),
            None => None,
        };
        patch.insert(process_type.to_string(), FormationChange::Spec { quantity: Some(quantity), size });
    }
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_form_becomes_a_formation_patch() {
        let form: BTreeMap<String, String> = [("quantity:web", "3"), ("size:web", "small"), ("csrf", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let patch = parse_scale(&form).unwrap();
        assert_eq!(serde_json::to_value(&patch).unwrap(), json!({ "web": { "quantity": 3, "size": "small" } }));
        let bad: BTreeMap<String, String> = [("quantity:web".to_string(), "two".to_string())].into();
        assert_eq!(parse_scale(&bad).unwrap_err(), "the number of web processes must be a whole number");
    }
}
