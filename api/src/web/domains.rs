//! Custom domains of an app, through the same operations as the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use paas_types::{CertificateState, DomainCertificate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tera::Context;

use super::apps::{app_page, DoneQuery};
use super::error::{form_error, WebError};
use super::page::{notice, when, WebState};
use super::redirect::see_other;
use super::session::{WebForm, WebUser};
use crate::db;
use crate::ops;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct DomainForm {
    #[serde(default)]
    hostname: String,
}

pub(crate) async fn list_domains(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let (row, mut context) = app_page(&state, &user, &app, "domains").await?;
    context.insert("notice", &notice(query.done.as_deref()));
    render_domains(&state, &row, context, StatusCode::OK, &DomainForm::default(), None).await
}

async fn render_domains(
    state: &WebState,
    row: &db::apps::AppRow,
    mut context: Context,
    status: StatusCode,
    form: &DomainForm,
    error: Option<&str>,
) -> Result<Response, WebError> {
    let domains: Vec<_> = db::apps::domains(&state.db, row.id)
        .await?
        .into_iter()
        .map(|d| {
            let created_at = when(d.created_at);
            let d = ops::domains::view(d, &state.settings);
            let (word, class) = certificate_badge(&d.certificate);
            json!({
                "hostname": d.hostname,
                "url": d.url,
                "created_at": created_at,
                "cert_word": word,
                "cert_class": class,
                "cert_detail": certificate_detail(&d.certificate),
            })
        })
        .collect();
    context.insert("domains", &domains);
    context.insert("form", form);
    context.insert("error", &error);
    state.web.render(status, "app/domains.html", &context)
}

/// The certificate's state as a badge: word and style.
fn certificate_badge(cert: &DomainCertificate) -> (String, &'static str) {
    match cert.state {
        CertificateState::Issued => match &cert.expires_at {
            Some(t) => (format!("issued, expires {}", t.format("%Y-%m-%d")), "ok"),
            None => ("issued".into(), "ok"),
        },
        CertificateState::Pending => ("pending".into(), "warn"),
        CertificateState::Failed => ("failed".into(), "bad"),
        CertificateState::Disabled => ("off".into(), "idle"),
    }
}

/// What to say under the badge: the reason of a failure and when the next try is.
fn certificate_detail(cert: &DomainCertificate) -> Option<String> {
    let next = cert.next_attempt_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    match (cert.state, &cert.error, next) {
        (CertificateState::Pending, _, _) => Some(
            "Ordering a certificate; the CA checks this hostname over HTTP, so its DNS must point at the routers."
                .into(),
        ),
        (CertificateState::Failed, Some(error), Some(next)) => Some(format!("{error}. Next attempt {next}.")),
        (CertificateState::Issued, Some(error), Some(next)) => {
            Some(format!("Renewal failed: {error}. Next attempt {next}."))
        }
        (_, Some(error), _) => Some(error.clone()),
        (CertificateState::Issued, None, Some(next)) => Some(format!("Renews {next}.")),
        _ => None,
    }
}

pub(crate) async fn add_domain(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    WebForm(form): WebForm<DomainForm>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "domains").await?;
    match ops::domains::add_domain(&state.db, &state.settings, &user.user, &row, &form.hostname).await {
        Ok(_) => Ok(see_other(&format!("/apps/{}/domains?done=domain-added", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_domains(&state, &row, context, status, &form, Some(&message)).await
        }
    }
}

pub(crate) async fn remove_domain(
    State(state): State<WebState>,
    user: WebUser,
    Path(app): Path<String>,
    WebForm(form): WebForm<DomainForm>,
) -> Result<Response, WebError> {
    let (row, context) = app_page(&state, &user, &app, "domains").await?;
    match ops::domains::remove_domain(&state.db, &user.user, &row, &form.hostname).await {
        Ok(_) => Ok(see_other(&format!("/apps/{}/domains?done=domain-removed", row.name))),
        Err(err) => {
            let (status, message) = form_error(err)?;
            render_domains(&state, &row, context, status, &DomainForm::default(), Some(&message)).await
        }
    }
}
