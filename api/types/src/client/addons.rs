//! The add-on calls of [`RestClient`] (`/v1/addons/...`, `/v1/apps/{app}/addons`)
//! and of [`AgentClient`] (backup and restore jobs).

use bytes::Bytes;
use reqwest::Method;
use uuid::Uuid;

use super::connection::segment;
use super::error::ClientError;
use super::{AgentClient, RestClient};
use crate::addons::{
    Addon, AddonBackup, AddonJobResult, AddonRestore, AttachAddonRequest, CreateAddonRequest, RestoreToNodeRequest,
};
use crate::session::{ConsoleRequest, Run};

fn addon_path(addon: &str, rest: &str) -> String {
    format!("/v1/addons/{}{rest}", segment(addon))
}

impl RestClient {
    /// Add-ons of the caller's tenants.
    pub async fn list_addons(&self) -> Result<Vec<Addon>, ClientError> {
        self.connection().json(self.request(Method::GET, "/v1/addons")).await
    }

    /// Add-ons attached to an app.
    pub async fn app_addons(&self, app: &str) -> Result<Vec<Addon>, ClientError> {
        self.connection().json(self.request(Method::GET, &format!("/v1/apps/{}/addons", segment(app)))).await
    }

    /// Creates an add-on attached to `app` (a new release sets its URL var).
    pub async fn create_addon(&self, app: &str, request: &CreateAddonRequest) -> Result<Addon, ClientError> {
        let path = format!("/v1/apps/{}/addons", segment(app));
        self.connection().json(self.request(Method::POST, &path).json(request)).await
    }

    /// One add-on, with its URL.
    pub async fn addon(&self, addon: &str) -> Result<Addon, ClientError> {
        self.connection().json(self.request(Method::GET, &addon_path(addon, ""))).await
    }

    /// Starts an interactive client session with the add-on (a run of an
    /// attached app); attach to it at [`RestClient::run_attach_path`].
    pub async fn addon_console(&self, addon: &str, request: &ConsoleRequest) -> Result<Run, ClientError> {
        self.connection().json(self.request(Method::POST, &addon_path(addon, "/console")).json(request)).await
    }

    /// Brings an add-on whose node is down up on `node` from its newest backup.
    pub async fn restore_addon_to_node(&self, addon: &str, node: &str) -> Result<AddonRestore, ClientError> {
        let request = RestoreToNodeRequest { node: node.to_string() };
        self.connection().json(self.request(Method::POST, &addon_path(addon, "/restore-to-node")).json(&request)).await
    }

    /// Destroys an add-on; `confirm` (its name) allows it while attached.
    pub async fn destroy_addon(&self, addon: &str, confirm: Option<&str>) -> Result<Addon, ClientError> {
        let mut request = self.request(Method::DELETE, &addon_path(addon, ""));
        if let Some(confirm) = confirm {
            request = request.query(&[("confirm", confirm)]);
        }
        self.connection().json(request).await
    }

    /// Attaches an add-on to another app of its tenant.
    pub async fn attach_addon(&self, addon: &str, request: &AttachAddonRequest) -> Result<Addon, ClientError> {
        self.connection().json(self.request(Method::POST, &addon_path(addon, "/attachments")).json(request)).await
    }

    /// Detaches an add-on from an app.
    pub async fn detach_addon(&self, addon: &str, app: &str) -> Result<Addon, ClientError> {
        let path = addon_path(addon, &format!("/attachments/{}", segment(app)));
        self.connection().json(self.request(Method::DELETE, &path)).await
    }

    /// New credentials for the add-on, rolled out to every attached app.
    pub async fn rotate_addon_credentials(&self, addon: &str) -> Result<Addon, ClientError> {
        self.connection().json(self.request(Method::POST, &addon_path(addon, "/credentials/rotate"))).await
    }

    /// Backups of a Postgres add-on, newest first.
    pub async fn list_backups(&self, addon: &str) -> Result<Vec<AddonBackup>, ClientError> {
        self.connection().json(self.request(Method::GET, &addon_path(addon, "/backups"))).await
    }

    /// Queues a backup.
    pub async fn capture_backup(&self, addon: &str) -> Result<AddonBackup, ClientError> {
        self.connection().json(self.request(Method::POST, &addon_path(addon, "/backups"))).await
    }

    /// One backup.
    pub async fn backup(&self, addon: &str, backup: Uuid) -> Result<AddonBackup, ClientError> {
        self.connection().json(self.request(Method::GET, &addon_path(addon, &format!("/backups/{backup}")))).await
    }

    /// The dump of a backup (`pg_restore` reads it).
    pub async fn download_backup(&self, addon: &str, backup: Uuid) -> Result<Bytes, ClientError> {
        let path = addon_path(addon, &format!("/backups/{backup}/download"));
        self.connection().bytes(self.request(Method::GET, &path)).await
    }

    /// Queues a restore of a backup into its add-on.
    pub async fn restore_backup(&self, addon: &str, backup: Uuid) -> Result<AddonRestore, ClientError> {
        let path = addon_path(addon, &format!("/backups/{backup}/restore"));
        self.connection().json(self.request(Method::POST, &path)).await
    }

    /// One restore.
    pub async fn addon_restore(&self, addon: &str, restore: Uuid) -> Result<AddonRestore, ClientError> {
        self.connection().json(self.request(Method::GET, &addon_path(addon, &format!("/restores/{restore}")))).await
    }
}

impl AgentClient {
    /// Uploads the dump of a pending backup.
    pub async fn upload_backup(&self, backup: Uuid, dump: Vec<u8>) -> Result<(), ClientError> {
        let request = self
            .request(Method::PUT, &format!("/v1/agent/backups/{backup}"))
            .header("content-type", "application/octet-stream")
            .body(dump);
        self.connection().empty(request).await
    }

    /// Says a pending backup could not be taken.
    pub async fn fail_backup(&self, backup: Uuid, message: &str) -> Result<(), ClientError> {
        let body = AddonJobResult { success: false, message: Some(message.to_string()) };
        self.connection()
            .empty(self.request(Method::POST, &format!("/v1/agent/backups/{backup}/fail")).json(&body))
            .await
    }

    /// The dump a pending restore loads.
    pub async fn restore_source(&self, restore: Uuid) -> Result<Bytes, ClientError> {
        self.connection().bytes(self.request(Method::GET, &format!("/v1/agent/restores/{restore}/source"))).await
    }

    /// Ends a restore.
    pub async fn finish_restore(&self, restore: Uuid, result: &AddonJobResult) -> Result<(), ClientError> {
        self.connection()
            .empty(self.request(Method::POST, &format!("/v1/agent/restores/{restore}/finish")).json(result))
            .await
    }
}
