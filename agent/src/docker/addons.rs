//! Engine calls for add-on servers: their named volumes, their containers
//! (found by name, so a restarted agent adopts them), the networks they
//! join, and `docker exec` with stdin, exit status and binary output (how
//! the agent provisions, dumps and restores).
//!
//! Every add-on container starts on the node's add-on network
//! (`paas-<node>-addons`: internal, no traffic between its members), so it
//! is reachable by nothing until the agent connects it to the networks of
//! the apps attached to it, under its network alias (the host of its URL).
//! Nothing is published on host ports.

use std::collections::{BTreeSet, HashMap};

use bollard::container::{
    Config as ContainerConfig, CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{EndpointSettings, HostConfig, Mount, MountTypeEnum};
use bollard::network::{ConnectNetworkOptions, CreateNetworkOptions, DisconnectNetworkOptions, ListNetworksOptions};
use bollard::volume::{CreateVolumeOptions, RemoveVolumeOptions};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{docker_err, label, policy, Engine, EngineError};

/// Label naming the add-on (or `postgres-shared`) a container or volume serves.
pub const ADDON_LABEL: &str = "paas.addon";

/// How to run one add-on server container.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Container and volume name.
    pub name: String,
    pub image: String,
    /// The value of the `paas.addon` label.
    pub addon: String,
    /// Where the volume is mounted.
    pub data_dir: String,
    pub env: Vec<String>,
    pub memory_mb: i32,
}

/// An add-on container as the engine reports it.
#[derive(Debug, Clone)]
pub struct ServerContainer {
    pub id: String,
    pub running: bool,
    /// Network name -> the aliases the container has on it.
    pub networks: HashMap<String, BTreeSet<String>>,
}

/// What an exec printed and how it ended.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl ExecOutput {
    /// The last line of stderr, for messages.
    pub fn error_line(&self) -> String {
        let line = self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        if line.is_empty() {
            format!("exit status {}", self.exit_code)
        } else {
            format!("{line} (exit status {})", self.exit_code)
        }
    }
}

impl Engine {
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The node's add-on network: internal (no route out) and without
    /// traffic between its members.
    async fn addon_network(&self) -> Result<String, EngineError> {
        let name = format!("paas-{}-addons", self.node);
        if self.docker.inspect_network::<String>(&name, None).await.is_ok() {
            return Ok(name);
        }
        let options = CreateNetworkOptions {
            name: name.clone(),
            check_duplicate: true,
            driver: "bridge".to_string(),
            internal: true,
            options: HashMap::from([("com.docker.network.bridge.enable_icc".to_string(), "false".to_string())]),
            labels: HashMap::from([
                (label::MANAGED.to_string(), "addon".to_string()),
                (label::NODE.to_string(), self.node.clone()),
            ]),
            ..Default::default()
        };
        match self.docker.create_network(options).await {
            Ok(_) => Ok(name),
            Err(_) if self.docker.inspect_network::<String>(&name, None).await.is_ok() => Ok(name),
            Err(e) => Err(docker_err("create the add-on network")(e)),
        }
    }

    /// The container called `name`, if any.
    pub async fn server(&self, name: &str) -> Result<Option<ServerContainer>, EngineError> {
        match self.docker.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(info) => {
                let networks = info
                    .network_settings
                    .and_then(|s| s.networks)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(net, endpoint)| (net, endpoint.aliases.unwrap_or_default().into_iter().collect()))
                    .collect();
                Ok(Some(ServerContainer {
                    id: info.id.unwrap_or_default(),
                    running: info.state.and_then(|s| s.running).unwrap_or(false),
                    networks,
                }))
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(docker_err("inspect an add-on container")(e)),
        }
    }

    /// Creates and starts a server container on its named volume (created
    /// if missing: its data outlives the container).
    pub async fn create_server(&self, spec: &ServerSpec) -> Result<String, EngineError> {
        let labels = HashMap::from([
            (label::MANAGED.to_string(), "addon".to_string()),
            (label::NODE.to_string(), self.node.clone()),
            (ADDON_LABEL.to_string(), spec.addon.clone()),
        ]);
        let volume = CreateVolumeOptions {
            name: spec.name.clone(),
            driver: "local".to_string(),
            labels: labels.clone(),
            ..Default::default()
        };
        self.docker.create_volume(volume).await.map_err(docker_err("create an add-on volume"))?;
        let network = self.addon_network().await?;
        let host_config = HostConfig {
            network_mode: Some(network),
            mounts: Some(vec![Mount {
                target: Some(spec.data_dir.clone()),
                source: Some(spec.name.clone()),
                typ: Some(MountTypeEnum::VOLUME),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let config = ContainerConfig {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            labels: Some(labels),
            hostname: Some(spec.addon.clone()),
            host_config: Some(host_config),
            ..Default::default()
        };
        let config = policy::confine_service(spec.memory_mb, config);
        let created = self
            .docker
            .create_container(Some(CreateContainerOptions { name: spec.name.clone(), platform: None }), config)
            .await
            .map_err(docker_err("create an add-on container"))?;
        self.start(&created.id).await?;
        Ok(created.id)
    }

    /// Removes a server container and, with `volume`, its data.
    pub async fn remove_server(&self, name: &str, volume: bool) -> Result<(), EngineError> {
        let remove = RemoveContainerOptions { force: true, ..Default::default() };
        match self.docker.remove_container(name, Some(remove)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(docker_err("remove an add-on container")(e)),
        }
        if volume {
            match self.docker.remove_volume(name, Some(RemoveVolumeOptions { force: true })).await {
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
                Err(e) => return Err(docker_err("remove an add-on volume")(e)),
            }
        }
        Ok(())
    }

    /// The networks of an app's instances on this engine (this node's,
    /// created here if missing, and any other node's sharing the engine).
    pub async fn networks_of_app(&self, app: &str) -> Result<Vec<String>, EngineError> {
        let own = self.app_network(app).await?;
        let filters = HashMap::from([("label".to_string(), vec![format!("{}={app}", label::APP)])]);
        let listed = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters }))
            .await
            .map_err(docker_err("list app networks"))?;
        let mut names: Vec<String> = listed.into_iter().filter_map(|n| n.name).collect();
        names.push(own);
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Connects a container to a network under `aliases` (its host names there).
    pub async fn join_network(&self, container: &str, network: &str, aliases: &[String]) -> Result<(), EngineError> {
        let options = ConnectNetworkOptions {
            container: container.to_string(),
            endpoint_config: EndpointSettings { aliases: Some(aliases.to_vec()), ..Default::default() },
        };
        self.docker.connect_network(network, options).await.map_err(docker_err("connect an add-on to a network"))
    }

    pub async fn leave_network(&self, container: &str, network: &str) -> Result<(), EngineError> {
        let options = DisconnectNetworkOptions { container: container.to_string(), force: true };
        self.docker
            .disconnect_network(network, options)
            .await
            .map_err(docker_err("disconnect an add-on from a network"))
    }

    /// Runs `cmd` in a running container as `user` with `env`, feeding it
    /// `stdin`; returns its exit code, standard output (bytes, whole) and
    /// standard error (at most 64 KiB).
    pub async fn exec(
        &self,
        id: &str,
        user: &str,
        cmd: &[&str],
        env: &[String],
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, EngineError> {
        let options = CreateExecOptions {
            cmd: Some(cmd.iter().map(|c| c.to_string()).collect()),
            user: Some(user.to_string()),
            env: Some(env.to_vec()),
            attach_stdin: Some(stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self.docker.create_exec(id, options).await.map_err(docker_err("create exec"))?;
        let started = self.docker.start_exec(&exec.id, None).await.map_err(docker_err("start exec"))?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached { mut output, mut input } = started {
            let feed = async move {
                if let Some(data) = stdin {
                    // A command that stops reading early ends the write; its exit code tells.
                    let _ = input.write_all(&data).await;
                }
                let _ = input.shutdown().await;
            };
            let read = async {
                while let Some(item) = output.next().await {
                    match item.map_err(docker_err("read exec output"))? {
                        bollard::container::LogOutput::StdOut { message } => stdout.extend_from_slice(&message),
                        bollard::container::LogOutput::StdErr { message } if stderr.len() < 65536 => {
                            stderr.extend_from_slice(&message)
                        }
                        _ => {}
                    }
                }
                Ok::<(), EngineError>(())
            };
            let ((), read) = tokio::join!(feed, read);
            read?;
        }
        let inspected = self.docker.inspect_exec(&exec.id).await.map_err(docker_err("inspect exec"))?;
        Ok(ExecOutput {
            exit_code: inspected.exit_code.unwrap_or(-1),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }
}
