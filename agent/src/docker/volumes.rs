//! App volumes on this node: named Docker volumes labelled with the node
//! (`paas.managed=volume`, `paas.node`), named `paas-<node>-...` by the API.
//! A new volume is handed to the app user (uid 10000) by a one-shot
//! container that only runs `chown` on its empty root; removal is refused
//! by Docker while a container still mounts it, and retried.

use std::collections::HashMap;

use bollard::container::{Config as ContainerConfig, CreateContainerOptions, WaitContainerOptions};
use bollard::models::HostConfig;
use bollard::volume::{CreateVolumeOptions, ListVolumesOptions};
use futures::StreamExt;
use paas_types::agent::{VolumeMount, VolumeUsage};

use super::mounts::docker_mounts;
use super::{docker_err, label, Engine, EngineError};

/// `paas.managed` value of app volumes.
const MANAGED_VOLUME: &str = "volume";
/// `paas.managed` value of the one-shot container that hands a volume to the app user.
const MANAGED_INIT: &str = "volume-init";
/// Where that container sees the volume.
const INIT_TARGET: &str = "/volume";

impl Engine {
    /// The app volumes of this node, by name.
    pub async fn node_volumes(&self) -> Result<Vec<String>, EngineError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{}={}", label::NODE, self.node), format!("{}={MANAGED_VOLUME}", label::MANAGED)],
        )]);
        let listed =
            self.docker.list_volumes(Some(ListVolumesOptions { filters })).await.map_err(docker_err("list volumes"))?;
        Ok(listed.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect())
    }

    /// Creates the volume `name` of `app` unless it exists, owned by the app
    /// user; `init_image` runs the `chown`. Returns whether it was created.
    pub async fn ensure_volume(&self, name: &str, app: &str, init_image: &str) -> Result<bool, EngineError> {
        if self.docker.inspect_volume(name).await.is_ok() {
            return Ok(false);
        }
        let options = CreateVolumeOptions {
            name: name.to_string(),
            driver: "local".to_string(),
            driver_opts: HashMap::new(),
            labels: HashMap::from([
                (label::MANAGED.to_string(), MANAGED_VOLUME.to_string()),
                (label::NODE.to_string(), self.node.clone()),
                (label::APP.to_string(), app.to_string()),
            ]),
        };
        self.docker.create_volume(options).await.map_err(docker_err("create volume"))?;
        if let Err(error) = self.hand_to_app_user(name, init_image).await {
            // Leave no half-made volume: the next pass makes it again.
            let _ = self.docker.remove_volume(name, None).await;
            return Err(error);
        }
        Ok(true)
    }

    /// Removes the volume; `false` while a container still uses it.
    pub async fn remove_volume(&self, name: &str) -> Result<bool, EngineError> {
        match self.docker.remove_volume(name, None).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(false),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(true),
            Err(e) => Err(docker_err("remove volume")(e)),
        }
    }

    /// Bytes each of this node's app volumes holds (Docker's disk-usage report).
    pub async fn volume_usage(&self) -> Result<Vec<VolumeUsage>, EngineError> {
        let usage = self.docker.df().await.map_err(docker_err("disk usage"))?;
        Ok(usage
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| {
                v.labels.get(label::NODE) == Some(&self.node)
                    && v.labels.get(label::MANAGED).map(String::as_str) == Some(MANAGED_VOLUME)
            })
            .filter_map(|v| {
                let size = v.usage_data?.size;
                (size >= 0).then_some(VolumeUsage { name: v.name, used_bytes: size })
            })
            .collect())
    }

    /// `chown 10000:10000` of the new volume's root, in a container of
    /// `image` as root with only CAP_CHOWN, no network, no other command.
    async fn hand_to_app_user(&self, name: &str, image: &str) -> Result<(), EngineError> {
        let config = volume_init_container(&self.node, name, image);
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions<String>>, config)
            .await
            .map_err(docker_err("create volume-init container"))?;
        let result = async {
            self.start(&created.id).await?;
            let mut wait = self.docker.wait_container(&created.id, None::<WaitContainerOptions<String>>);
            while let Some(item) = wait.next().await {
                match item {
                    Ok(_) => {}
                    Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => {
                        return Err(EngineError::Build(format!("chown of volume {name} exited with {code}")));
                    }
                    Err(e) => return Err(docker_err("wait for volume-init container")(e)),
                }
            }
            Ok(())
        }
        .await;
        self.remove_quietly(&created.id).await;
        result
    }
}

/// The one-shot container that gives a new, empty volume to the app user.
/// Not [`super::policy::confine`]d: it must run as root to `chown`, so it
/// runs the platform's own fixed command with every capability but CHOWN
/// dropped, no privilege escalation, no network and a read-only root.
fn volume_init_container(node: &str, volume: &str, image: &str) -> ContainerConfig<String> {
    let mount = VolumeMount { volume: volume.to_string(), target: INIT_TARGET.to_string() };
    ContainerConfig {
        image: Some(image.to_string()),
        user: Some("0:0".to_string()),
        cmd: Some(vec!["chown".into(), super::APP_USER.into(), INIT_TARGET.into()]),
        labels: Some(HashMap::from([
            (label::MANAGED.to_string(), MANAGED_INIT.to_string()),
            (label::NODE.to_string(), node.to_string()),
        ])),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            mounts: docker_mounts(&[mount]),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(vec!["CHOWN".into()]),
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            network_mode: Some("none".into()),
            memory: Some(64 << 20),
            pids_limit: Some(16),
            // It writes only the volume's root (an ownership change).
            readonly_rootfs: Some(true),
            ulimits: Some(super::policy::ulimits(64)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_container_can_only_chown() {
        let config = volume_init_container("n1", "paas-n1-shop-data-1234", "paas/python-base:bookworm");
        assert_eq!(config.cmd.as_deref(), Some(&["chown".to_string(), APP_USER_ARG.into(), "/volume".into()][..]));
        let host = config.host_config.unwrap();
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.cap_add, Some(vec!["CHOWN".to_string()]));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.privileged, None);
        assert_eq!(host.readonly_rootfs, Some(true));
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[0].source.as_deref(), Some("paas-n1-shop-data-1234"));
    }

    const APP_USER_ARG: &str = super::super::APP_USER;
}
