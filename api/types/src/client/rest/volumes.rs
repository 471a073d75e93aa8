//! Volumes of an app (`/v1/apps/{app}/volumes`).

use reqwest::Method;

use super::super::connection::segment;
use super::{app_path, ClientError, RestClient};
use crate::{CreateVolumeRequest, Volume};

impl RestClient {
    /// The app's volumes, with their nodes.
    pub async fn list_volumes(&self, app: &str) -> Result<Vec<Volume>, ClientError> {
        self.get(&app_path(app, "/volumes")).await
    }

    /// Creates a volume mounted into every process of the app (a new release).
    pub async fn create_volume(&self, app: &str, request: &CreateVolumeRequest) -> Result<Volume, ClientError> {
        self.send_json(Method::POST, &app_path(app, "/volumes"), request).await
    }

    /// Destroys a volume and its data; `confirm` (the volume's name) is
    /// required while instances of the app run.
    pub async fn destroy_volume(&self, app: &str, name: &str, confirm: Option<&str>) -> Result<(), ClientError> {
        let mut request = self.request(Method::DELETE, &app_path(app, &format!("/volumes/{}", segment(name))));
        if let Some(confirm) = confirm {
            request = request.query(&[("confirm", confirm)]);
        }
        self.connection.empty(request).await
    }
}
