//! Git over smart HTTP at `/git/<app>.git`, served by real git
//! (`git upload-pack` / `git receive-pack --stateless-rpc`), authenticated by
//! HTTP basic auth whose password is an API token (or a session token).
//! Another tenant's app answers exactly like a missing repository.

mod error;
mod handlers;
mod push;
mod repo;
mod service;
mod state;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use error::GitError;
pub use repo::{RepoCache, RepoError};
pub use state::GitState;

/// The git endpoints; `max_body` bounds a push's pack.
pub fn router(max_body: usize) -> Router<GitState> {
    Router::new()
        .route("/git/{repo}/info/refs", get(handlers::info_refs))
        .route("/git/{repo}/git-upload-pack", post(handlers::upload_pack))
        .route("/git/{repo}/git-receive-pack", post(handlers::receive_pack))
        .layer(DefaultBodyLimit::max(max_body))
}
