//! The git endpoint's state: the core state plus the local repository cache.

use std::ops::Deref;

use axum::extract::FromRef;

use super::repo::RepoCache;
use crate::state::AppState;

#[derive(Clone)]
pub struct GitState {
    pub core: AppState,
    /// Local copies of the apps' repositories (the history is in Postgres).
    pub repos: RepoCache,
}

/// Handlers read the core state (`state.db`, `state.settings`) directly.
impl Deref for GitState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.core
    }
}

impl FromRef<GitState> for AppState {
    fn from_ref(state: &GitState) -> AppState {
        state.core.clone()
    }
}
