//! Paths to other process types of an app (`/v1/apps/{app}/routes`).

use reqwest::Method;

use super::{app_path, ClientError, RestClient};
use crate::process_routes::{PathRoute, RoutesPatch};

impl RestClient {
    /// The app's routes in force, longest prefix first.
    pub async fn routes(&self, app: &str) -> Result<Vec<PathRoute>, ClientError> {
        self.get(&app_path(app, "/routes")).await
    }

    /// Sets (a process type) and unsets (`None`) CLI-set routes; answers the routes in force.
    pub async fn update_routes(&self, app: &str, patch: &RoutesPatch) -> Result<Vec<PathRoute>, ClientError> {
        self.send_json(Method::PATCH, &app_path(app, "/routes"), patch).await
    }
}
