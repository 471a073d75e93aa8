//! `GitError`: failures of the git endpoints, answered in plain text (git
//! shows the text to the user) with `WWW-Authenticate` on 401.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::repo::RepoError;
use crate::error::{ApiError, PlainTextError};

/// Failures of the git endpoints, answered in plain text (git shows it).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("authentication required: use your API token as the password")]
    Unauthorized,
    #[error("repository not found")]
    NotFound,
    #[error("unsupported service")]
    BadService,
    #[error("another push to this app is in progress; try again when it has finished")]
    Busy,
    #[error("the request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("repository error")]
    Repo(#[from] RepoError),
    #[error("git process error")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for GitError {
    fn into_response(self) -> Response {
        let mut response = self.plain_response();
        response.extensions_mut().insert(PlainTextError);
        response
    }
}

impl GitError {
    fn plain_response(self) -> Response {
        let status = match &self {
            GitError::Unauthorized => StatusCode::UNAUTHORIZED,
            GitError::NotFound => StatusCode::NOT_FOUND,
            GitError::BadService => StatusCode::FORBIDDEN,
            GitError::Busy => StatusCode::CONFLICT,
            GitError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GitError::Api(e) if e.status_and_code().0 == StatusCode::UNAUTHORIZED => StatusCode::UNAUTHORIZED,
            GitError::Api(e) => return ApiErrorRef(e).into_response(),
            GitError::Repo(_) | GitError::Io(_) => {
                tracing::error!(error = &self as &dyn std::error::Error, "git request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = (status, format!("{self}\n")).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"paas\""));
        }
        response
    }
}

/// Renders a borrowed ApiError (its status and message) as plain text.
struct ApiErrorRef<'a>(&'a ApiError);

impl IntoResponse for ApiErrorRef<'_> {
    fn into_response(self) -> Response {
        let (status, _) = self.0.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = self.0 as &dyn std::error::Error, "git request failed");
            return (status, "internal error\n").into_response();
        }
        let mut response = (status, format!("{}\n", self.0)).into_response();
        if let Some(secs) = self.0.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        response
    }
}
