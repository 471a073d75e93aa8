//! Config vars of an app. Values stay hidden until the user reveals them (one
//! var or all); set and unset go through the same operation as the API, so
//! each change is a release.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tera::Context;

use super::apps::app_page;
use super::error::{form_error, WebError};
use super::page::{notice, WebState};
use super::redirect::see_other;
use super::session::{WebForm, WebUser};
use crate::db;
use crate::ops;

#[derive(Debug, Deserialize)]
pub(crate) struct ConfigQuery {
    done: Option<String>,
    /// A var name, or `*` for all.
    reveal: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SetVarForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UnsetVarForm {
    key: String,
}

pub(crate) async fn show_config(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    Query(query): Query<ConfigQuery>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "config").await?;
    context.insert("notice", &notice(query.done.as_deref()));
    let reveal = query.reveal.as_deref().unwrap_or_default();
    render_config(&state, &row, context, StatusCode::OK, reveal, &SetVarForm::default(), None).await
}

async fn render_config(
    state: &WebState,
    row: &db::apps::AppRow,
    mut context: Context,
    status: StatusCode,
    reveal: &str,
    form: &SetVarForm,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let vars: Vec<_> = db::apps::config(&state.db, &state.settings.keys, row.id)
        .await?
        .into_iter()
        .map(|(key, value)| {
            let shown = reveal == "*" || reveal == key;
            json!({ "key": key, "value": if shown { Some(value) } else { None } })
        })
        .collect();
    context.insert("vars", &vars);
    context.insert("all_revealed", &(reveal == "*"));
    context.insert("form", form);
    context.insert("error", &error);
    state.web.render(status, "app/config.html", &context)
}

pub(crate) async fn set_config_var(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    WebForm(form): WebForm<SetVarForm>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "config").await?;
    match ops::config::set_var(&state.db, &state.settings.keys, &user.user, &row, &form.key, &form.value).await {
        Ok(_) => Ok(see_other(&format!("/apps/{}/config?done=config-set", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_config(&state, &row, context, status, "", &form, Some(&message)).await
        }
    }
}

pub(crate) async fn unset_config_var(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    WebForm(form): WebForm<UnsetVarForm>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "config").await?;
    match ops::config::unset_var(&state.db, &state.settings.keys, &user.user, &row, &form.key).await {
        Ok(_) => Ok(see_other(&format!("/apps/{}/config?done=config-unset", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_config(&state, &row, context, status, "", &SetVarForm::default(), Some(&message)).await
        }
    }
}
