//! `WebError`: what a dashboard page fails with, rendered as an HTML page
//! (or a redirect to the login page). Form mistakes are not errors: their
//! pages re-render the form with the message and what the user typed.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::redirect::see_other;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("sign in first")]
    LoginRequired { next: String },
    #[error("the form's CSRF token or origin is wrong")]
    Csrf,
    #[error("a dashboard template failed to render")]
    Render(#[from] tera::Error),
}

impl From<sqlx::Error> for WebError {
    fn from(err: sqlx::Error) -> Self {
        WebError::Api(err.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            WebError::LoginRequired { next } => {
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                return see_other(&format!("/login?{query}"));
            }
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form is out of date or was sent from another site. Go back, reload the page and try again."
                    .to_string(),
            ),
            WebError::Api(err) => {
                let (status, _) = err.status_and_code();
                if status.is_server_error() {
                    tracing::error!(error = err as &dyn std::error::Error, source = ?std::error::Error::source(err), "dashboard request failed");
                }
                (status, title_for(status), err.to_string())
            }
            WebError::Render(err) => {
                tracing::error!(error = err as &dyn std::error::Error, "dashboard template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "internal error".to_string())
            }
        };
        tracing::debug!(%status, message = %message, "dashboard request rejected");
        (status, Html(error_page(status, title, &message))).into_response()
    }
}

/// Splits a failed action: mistakes the user can fix (4xx) come back as the
/// status and message to show on the form; anything else fails the page.
pub(crate) fn form_error(err: ApiError) -> Result<(StatusCode, String), WebError> {
    let (status, _) = err.status_and_code();
    if status.is_client_error() {
        Ok((status, err.to_string()))
    } else {
        Err(err.into())
    }
}

fn title_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::SERVICE_UNAVAILABLE => "Try again shortly",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    }
}

/// A self-contained page (error paths must not depend on templates rendering).
fn error_page(status: StatusCode, title: &str, message: &str) -> String {
    let (title, message) = (escape(title), escape(message));
    let code = status.as_u16();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · paas</title><link rel=\"stylesheet\" href=\"/static/dashboard.css\"></head>\
         <body><header class=\"top\"><a class=\"brand\" href=\"/apps\">paas</a></header>\
         <main id=\"main\" class=\"error-page\"><h1>{title}</h1><p>{message}</p>\
         <p class=\"muted\">HTTP {code}</p><p><a href=\"/apps\">Back to your apps</a></p></main></body></html>"
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_escape_messages() {
        let page = error_page(StatusCode::NOT_FOUND, "Not found", "app \"<script>\" not found");
        assert!(page.contains("app &quot;&lt;script&gt;&quot; not found"), "{page}");
        assert!(!page.contains("<script>"));
    }
}
