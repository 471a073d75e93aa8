//! Shared state handed to every handler.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::JwtKeys;

/// Settings handlers need at request time.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_domain: String,
    pub app_scheme: String,
    pub max_json_bytes: usize,
}

impl Settings {
    /// The default hostname of an app.
    pub fn app_hostname(&self, app: &str) -> String {
        format!("{app}.{}", self.base_domain)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub jwt: Arc<JwtKeys>,
    pub settings: Arc<Settings>,
}
