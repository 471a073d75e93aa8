//! `ApiError`: every failure a handler can return, and the one place that maps
//! it to an HTTP status and the JSON error envelope.
//!
//! Status policy: 400 malformed request, 401 no or bad credentials, 403 known
//! object but the caller's role is too low (never used to hide objects: an
//! object of another tenant is a 404, like a missing one), 404 missing or not
//! yours, 409 conflicts with existing state (an invitation used up or expired too), 413 body too large, 415 wrong
//! content type, 422 well-formed but invalid values, 429 credential checks
//! locked after failures (with `Retry-After`), 500 our bug (logged, the
//! body says nothing more), 503 the database is unreachable or saturated.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use paas_types::{ErrorBody, ErrorDetail};

/// An error the API answers with; the variant decides status and code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The token's scope is too low for the route (`token_scope`).
    #[error("{0}")]
    TokenScope(String),
    /// The token is limited to another app, or to one app and the route is not about it (`token_app`).
    #[error("{0}")]
    TokenApp(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A sign-up or invitation refused by policy, with its own stable code
    /// (`signup_closed`, `invitation_required`, `invitation_email_mismatch`).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// An invitation that was used, revoked or has expired: a conflict with
    /// its state (`invitation_used`, `invitation_revoked`, `invitation_expired`).
    #[error("{message}")]
    Spent { code: &'static str, message: String },
    /// Credential checks are locked for this account or address (answered with `Retry-After`).
    #[error(
        "too many failed attempts; try again in {retry_after_secs} s \
         (failed logins and invalid tokens are slowed down per account and per address)"
    )]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the database is unavailable, try again shortly")]
    Unavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Database(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// HTTP status and stable error code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TokenScope(_) => (StatusCode::FORBIDDEN, "token_scope"),
            ApiError::TokenApp(_) => (StatusCode::FORBIDDEN, "token_app"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Refused { code, .. } => (StatusCode::FORBIDDEN, *code),
            ApiError::Spent { code, .. } => (StatusCode::CONFLICT, *code),
            ApiError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            ApiError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Database(_) | ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// Seconds a client must wait before trying again, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation(message.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => ApiError::NotFound("resource".into()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => ApiError::Unavailable(err),
            // The server is shutting down, starting up, or the link broke: retry later.
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) => {
                ApiError::Unavailable(err)
            }
            // NUL bytes (or text the database cannot encode) in a path, query or body.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => {
                ApiError::BadRequest("text must not contain NUL bytes".into())
            }
            sqlx::Error::Database(db) => match db.constraint() {
                Some(constraint) => constraint_error(constraint).unwrap_or(ApiError::Database(err)),
                None => ApiError::Database(err),
            },
            _ => ApiError::Database(err),
        }
    }
}

/// Turns a violated, named constraint into the message a user can act on.
fn constraint_error(constraint: &str) -> Option<ApiError> {
    let conflict = |m: &str| Some(ApiError::Conflict(m.to_string()));
    let invalid = |m: &str| Some(ApiError::Validation(m.to_string()));
    match constraint {
        "apps_name_key" => conflict("an app with this name already exists"),
        "apps_hostname_key" | "domains_hostname_key" => conflict("this hostname is already in use by an app"),
        "users_email_key" => conflict("a user with this email already exists"),
        "tenants_name_key" => conflict("a tenant with this name already exists"),
        "memberships_pkey" => conflict("this user is already a member of the tenant"),
        "apps_name_syntax" => invalid("app names are 2-30 characters of a-z, 0-9 and '-', starting with a letter"),
        "formation_quantity_range" => invalid("quantity must be between 0 and 100"),
        "apps_tenant_id_fkey" => conflict("the tenant still owns apps"),
        // Every other CHECK on a value's shape or size is the caller's input.
        other if ["_syntax", "_length", "_range", "_size"].iter().any(|s| other.ends_with(s)) => {
            Some(ApiError::Validation(format!("a value is invalid ({other})")))
        }
        _ => None,
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "send the request body as JSON with `Content-Type: application/json`".into(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Validation(rejection.body_text()),
            _ => ApiError::InvalidJson(rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// Marks a response as carrying an `ApiError`, so the envelope middleware
/// can add the request id without re-parsing the body.
#[derive(Debug, Clone)]
pub struct ErrorMarker(pub ErrorDetail);

/// Marks an error answered in plain text on purpose, which the envelope
/// middleware leaves alone: git shows a `text/plain` error body to the
/// person pushing (as `remote: ...`), and nothing of a JSON one.
#[derive(Debug, Clone, Copy)]
pub struct PlainTextError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            // Logged once, here; the client only sees a generic message.
            tracing::error!(error = &self as &dyn std::error::Error, source = ?std::error::Error::source(&self), "request failed");
        } else {
            tracing::debug!(code, message = %self, "request rejected");
        }
        let message = match &self {
            ApiError::PayloadTooLarge { limit: 0 } => "request body is too large".to_string(),
            other => other.to_string(),
        };
        let detail = ErrorDetail { code: code.to_string(), message, request_id: None };
        let mut response = error_response(status, detail);
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// Renders an error envelope and marks the response for the middleware.
pub fn error_response(status: StatusCode, detail: ErrorDetail) -> Response {
    let mut response = (status, Json(ErrorBody { error: detail.clone() })).into_response();
    response.extensions_mut().insert(ErrorMarker(detail));
    response
}

/// Result type of every handler.
pub type ApiResult<T> = Result<T, ApiError>;
