//! The Docker engine, through bollard: the containers this node owns (found
//! by labels, so a restarted agent adopts them), image builds, and logs.
//! Every container is confined by [`policy::confine`].

pub mod addons;
pub mod label;
mod mounts;
mod oneoff;
pub mod policy;
pub mod session;
pub mod snapshot;
pub mod volumes;

use std::collections::HashMap;
use std::time::Duration;

use bollard::container::{
    Config as ContainerConfig, CreateContainerOptions, ListContainersOptions, LogOutput, LogsOptions,
    RemoveContainerOptions, StopContainerOptions,
};
use bollard::image::BuildImageOptions;
use bollard::models::{HostConfig, PortBinding};
use bollard::Docker;
use futures::StreamExt;
use paas_types::agent::{DesiredInstance, ShippedLine};
use uuid::Uuid;

/// `paas.managed` of `paas run` containers.
pub const RUN_KIND: &str = "run";

pub use policy::APP_USER;

/// Port a web (or routed) process listens on inside its container (`$PORT`).
pub const WEB_PORT: u16 = 5000;

/// Whether the instance listens on `$PORT` for the router: `web`, and
/// process types a route points at (`web` counts even when an older API
/// does not say).
pub fn serves_http(instance: &DesiredInstance) -> bool {
    instance.serves_http || instance.process_type == "web"
}
/// Size of release-phase containers.
const RELEASE_SIZE: paas_types::Size = paas_types::Size::Standard;

/// A failed engine call, naming the operation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("docker {op} failed")]
    Docker {
        op: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image build failed: {0}")]
    Build(String),
    #[error(
        "the container runtime {runtime:?} is not registered with Docker (it knows: {known}); \
         register it under \"runtimes\" in /etc/docker/daemon.json and restart Docker, or unset PAAS_AGENT_RUNTIME"
    )]
    UnknownRuntime { runtime: String, known: String },
}

fn docker_err(op: &'static str) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    move |source| EngineError::Docker { op, source }
}

/// One of this node's containers as the engine reports it.
#[derive(Debug, Clone)]
pub struct ManagedContainer {
    pub id: String,
    pub instance_id: Uuid,
    pub running: bool,
    /// Host port the web port is published on.
    pub host_port: Option<u16>,
}

#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    node: String,
    address: String,
    /// Held while an app network is looked up or created: instances and
    /// `paas run` containers start concurrently, and Docker allows two
    /// networks of one name (which then cannot be joined by name).
    network_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// How app containers are sandboxed on this node.
    sandbox: policy::Sandbox,
}

impl Engine {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket),
    /// speaking the highest API version both sides know.
    pub async fn connect(node: &str, address: &str) -> Result<Engine, EngineError> {
        let docker = Docker::connect_with_local_defaults().map_err(docker_err("connect"))?;
        let docker = docker.negotiate_version().await.map_err(docker_err("version negotiation"))?;
        Ok(Engine {
            docker,
            node: node.to_string(),
            address: address.to_string(),
            network_lock: Default::default(),
            sandbox: policy::Sandbox::default(),
        })
    }

    /// Runs app containers under the OCI runtime `runtime` (`runsc`), which
    /// must be registered with the engine (`/etc/docker/daemon.json`);
    /// `None` keeps the engine's default.
    pub async fn with_runtime(mut self, runtime: Option<String>) -> Result<Engine, EngineError> {
        if let Some(name) = &runtime {
            let info = self.docker.info().await.map_err(docker_err("info"))?;
            let known: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
            if !known.contains(name) {
                return Err(EngineError::UnknownRuntime { runtime: name.clone(), known: known.join(", ") });
            }
        }
        self.sandbox.runtime = runtime;
        Ok(self)
    }

    /// Containers labelled as this node's, running or not.
    pub async fn list(&self) -> Result<Vec<ManagedContainer>, EngineError> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{}={}", label::NODE, self.node)])]);
        let options = ListContainersOptions { all: true, filters, ..Default::default() };
        let containers = self.docker.list_containers(Some(options)).await.map_err(docker_err("list containers"))?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                let instance_id = labels.get(label::INSTANCE).and_then(|v| v.parse().ok())?;
                let host_port = c
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .find(|p| p.private_port == WEB_PORT && p.public_port.is_some())
                    .and_then(|p| p.public_port);
                Some(ManagedContainer {
                    id: c.id?,
                    instance_id,
                    running: c.state.as_deref() == Some("running"),
                    host_port,
                })
            })
            .collect())
    }

    /// Creates and starts the container of an instance: supervisord as PID 1
    /// running the process type, confined by the policy, on the app's network.
    pub async fn run(&self, instance: &DesiredInstance) -> Result<String, EngineError> {
        let network = self.app_network(&instance.app).await?;
        let config = instance_container(&self.sandbox, &self.node, &self.address, network, instance);
        let name = format!(
            "paas-{}-{}-{}-{}",
            self.node,
            instance.app,
            instance.process_type,
            &instance.instance_id.simple().to_string()[..8]
        );
        let created = self
            .docker
            .create_container(Some(CreateContainerOptions { name: name.clone(), platform: None }), config)
            .await
            .map_err(docker_err("create container"))?;
        self.start(&created.id).await?;
        Ok(created.id)
    }

    /// The app's own bridge network, created on first use. Docker isolates
    /// user-defined bridges from each other, so one tenant's containers
    /// cannot reach another's directly (only through published ports).
    pub(crate) async fn app_network(&self, app: &str) -> Result<String, EngineError> {
        // Per node as well as per app: agents sharing one engine never race
        // to create the same network (Docker allows duplicate names).
        let name = format!("paas-{}-{app}", self.node);
        let _one_at_a_time = self.network_lock.lock().await;
        if self.docker.inspect_network::<String>(&name, None).await.is_ok() {
            return Ok(name);
        }
        let options = bollard::network::CreateNetworkOptions {
            name: name.clone(),
            check_duplicate: true,
            driver: "bridge".to_string(),
            labels: HashMap::from([
                (label::MANAGED.to_string(), "true".to_string()),
                (label::NODE.to_string(), self.node.clone()),
                (label::APP.to_string(), app.to_string()),
            ]),
            ..Default::default()
        };
        match self.docker.create_network(options).await {
            Ok(_) => Ok(name),
            // Another instance of the app created it meanwhile.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(name),
            Err(e) if self.docker.inspect_network::<String>(&name, None).await.is_ok() => {
                tracing::debug!(error = %e, "network appeared concurrently");
                Ok(name)
            }
            Err(e) => Err(docker_err("create app network")(e)),
        }
    }

    pub async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.docker.start_container::<String>(id, None).await.map_err(docker_err("start container"))
    }

    /// Removes this node's build, release-phase and `paas run` containers: an
    /// agent that died mid-job leaves them behind (created, running or exited), and no job
    /// of this agent runs before its loops start; then the app directories no
    /// container uses. Returns how many containers it removed.
    pub async fn remove_leftover_jobs(&self) -> Result<usize, EngineError> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{}={}", label::NODE, self.node)])]);
        let options = ListContainersOptions { all: true, filters, ..Default::default() };
        let containers = self.docker.list_containers(Some(options)).await.map_err(docker_err("list containers"))?;
        let mut removed = 0;
        for container in containers {
            let kind = container.labels.as_ref().and_then(|l| l.get(label::MANAGED)).map(String::as_str);
            let (Some("build" | "release-phase" | "volume-init" | RUN_KIND), Some(id)) = (kind, container.id) else {
                continue;
            };
            let remove = RemoveContainerOptions { force: true, v: true, ..Default::default() };
            self.docker
                .remove_container(&id, Some(remove))
                .await
                .map_err(docker_err("remove a leftover job container"))?;
            removed += 1;
        }
        self.prune_app_dirs().await?;
        Ok(removed)
    }

    /// Removes this node's app-directory volumes that no container uses
    /// (their containers were removed without `v`, by hand or by a lost node).
    async fn prune_app_dirs(&self) -> Result<(), EngineError> {
        let labels =
            vec![format!("{}={}", label::NODE, self.node), format!("{}={}", label::MANAGED, policy::APP_DIR_VOLUME)];
        let options = bollard::volume::PruneVolumesOptions { filters: HashMap::from([("label".to_string(), labels)]) };
        let pruned = self.docker.prune_volumes(Some(options)).await.map_err(docker_err("prune app directories"))?;
        let count = pruned.volumes_deleted.map_or(0, |v| v.len());
        if count > 0 {
            tracing::info!(count, "removed app directories no container uses");
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL after `grace`; then the container is removed.
    pub async fn stop_and_remove(&self, id: &str, grace: Duration) -> Result<(), EngineError> {
        let stop = StopContainerOptions { t: grace.as_secs() as i64 };
        if let Err(error) = self.docker.stop_container(id, Some(stop)).await {
            tracing::debug!(container.id = id, error = %error, "stop failed (removing anyway)");
        }
        // `v`: with its anonymous app-directory volume (named volumes stay).
        let remove = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        self.docker.remove_container(id, Some(remove)).await.map_err(docker_err("remove container"))
    }

    /// Runs `command` once in a throwaway container of `image` (the same
    /// policy as app processes, no published port, the app's `mounts`), handing each output
    /// line to `on_line`; returns the exit code.
    pub async fn run_once(
        &self,
        image: &str,
        command: &str,
        env: &std::collections::BTreeMap<String, String>,
        mounts: &[paas_types::agent::VolumeMount],
        limit: std::time::Duration,
        on_line: impl FnMut(String),
    ) -> Result<i64, EngineError> {
        let (id, result) = self.run_kept(image, command, env, mounts, limit, on_line).await?;
        self.remove_quietly(&id).await;
        result
    }

    pub async fn image_exists(&self, image: &str) -> bool {
        self.docker.inspect_image(image).await.is_ok()
    }

    /// Builds an image from a tar build context, handing each output line to
    /// `on_line` as it arrives.
    pub async fn build(
        &self,
        context: Vec<u8>,
        tag: &str,
        build_args: HashMap<String, String>,
        mut on_line: impl FnMut(String),
    ) -> Result<(), EngineError> {
        let options = BuildImageOptions {
            t: tag.to_string(),
            rm: true,
            forcerm: true,
            pull: false,
            buildargs: build_args,
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(context.into()));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| EngineError::Build(e.to_string()))?;
            if let Some(error) = info.error {
                return Err(EngineError::Build(error.trim().to_string()));
            }
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    on_line(line.to_string());
                }
            }
        }
        Ok(())
    }

    /// Runs `cmd` in a running container (as its user) and returns its
    /// standard output, at most 64 KiB of it.
    pub async fn exec_output(&self, id: &str, cmd: &[&str]) -> Result<String, EngineError> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let options = CreateExecOptions {
            cmd: Some(cmd.iter().map(|c| c.to_string()).collect()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self.docker.create_exec(id, options).await.map_err(docker_err("create exec"))?;
        let started = self.docker.start_exec(&exec.id, None).await.map_err(docker_err("start exec"))?;
        let mut stdout = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(item) = output.next().await {
                if let LogOutput::StdOut { message } = item.map_err(docker_err("read exec output"))? {
                    if stdout.len() < 65536 {
                        stdout.extend_from_slice(&message);
                    }
                }
            }
        }
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }

    /// The container's last `lines` lines of output.
    pub async fn tail(&self, id: &str, lines: usize) -> Result<Vec<String>, EngineError> {
        let options =
            LogsOptions::<String> { stdout: true, stderr: true, tail: lines.to_string(), ..Default::default() };
        let mut stream = self.docker.logs(id, Some(options));
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            let output = item.map_err(docker_err("read logs"))?;
            out.extend(String::from_utf8_lossy(output.as_ref()).lines().map(str::to_string));
        }
        let skip = out.len().saturating_sub(lines);
        Ok(out.split_off(skip))
    }

    /// Follows a container's output from now on, sending each line to
    /// `lines` tagged with the instance, until the container stops.
    pub async fn forward_logs(&self, id: &str, instance_id: Uuid, lines: tokio::sync::mpsc::Sender<ShippedLine>) {
        let options = LogsOptions::<String> {
            follow: true,
            stdout: true,
            stderr: true,
            since: chrono::Utc::now().timestamp(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(options));
        while let Some(Ok(output)) = stream.next().await {
            let message = match output {
                LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message } => {
                    message
                }
                LogOutput::StdIn { .. } => continue,
            };
            for line in String::from_utf8_lossy(&message).lines() {
                if lines.send(ShippedLine { instance_id, line: line.to_string() }).await.is_err() {
                    return;
                }
            }
        }
    }
}

// === Container specs ===

/// The container of an app instance: labels for adoption, the process
/// type's supervisord config, the port of a process that serves HTTP
/// (web, routed types) published on the node address.
fn instance_container(
    sandbox: &policy::Sandbox,
    node: &str,
    address: &str,
    network: String,
    instance: &DesiredInstance,
) -> ContainerConfig<String> {
    let web = serves_http(instance);
    let port_key = format!("{WEB_PORT}/tcp");
    let labels = HashMap::from([
        (label::MANAGED.to_string(), "true".to_string()),
        (label::NODE.to_string(), node.to_string()),
        (label::APP.to_string(), instance.app.clone()),
        (label::RELEASE.to_string(), instance.release.to_string()),
        (label::PROCESS_TYPE.to_string(), instance.process_type.clone()),
        (label::INSTANCE.to_string(), instance.instance_id.to_string()),
    ]);
    let host_config = HostConfig {
        network_mode: Some(network),
        mounts: mounts::docker_mounts(&instance.mounts),
        port_bindings: web.then(|| {
            HashMap::from([(
                port_key.clone(),
                Some(vec![PortBinding { host_ip: Some(address.to_string()), host_port: Some(String::new()) }]),
            )])
        }),
        ..Default::default()
    };
    let config = ContainerConfig {
        image: Some(instance.image.clone()),
        cmd: Some(vec![
            "supervisord".to_string(),
            "-c".to_string(),
            format!("/etc/paas/supervisor/{}.conf", instance.process_type),
        ]),
        env: Some(instance.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels),
        exposed_ports: web.then(|| HashMap::from([(port_key.clone(), HashMap::new())])),
        stop_signal: Some("SIGTERM".to_string()),
        host_config: Some(host_config),
        ..Default::default()
    };
    policy::confine(sandbox, instance.size, config)
}

/// The throwaway container of a release-phase command (`bash -c`, as Procfile commands run).
fn release_container(
    sandbox: &policy::Sandbox,
    node: &str,
    image: &str,
    command: &str,
    env: &std::collections::BTreeMap<String, String>,
    mounts: &[paas_types::agent::VolumeMount],
) -> ContainerConfig<String> {
    let config = ContainerConfig {
        image: Some(image.to_string()),
        cmd: Some(vec!["bash".to_string(), "-c".to_string(), command.to_string()]),
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(HashMap::from([
            (label::MANAGED.to_string(), "release-phase".to_string()),
            (label::NODE.to_string(), node.to_string()),
        ])),
        host_config: Some(HostConfig { mounts: mounts::docker_mounts(mounts), ..Default::default() }),
        ..Default::default()
    };
    policy::confine(sandbox, RELEASE_SIZE, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(process_type: &str, size: paas_types::Size) -> DesiredInstance {
        DesiredInstance {
            instance_id: Uuid::new_v4(),
            app: "shop".into(),
            release: 3,
            process_type: process_type.into(),
            image: "paas-app/shop:abc".into(),
            build_id: Uuid::new_v4(),
            env: [("PORT".to_string(), "5000".to_string())].into(),
            size,
            hostname: "shop.paas.test".into(),
            mounts: Vec::new(),
            serves_http: false,
        }
    }

    /// Every kind of app container the agent starts on a node sandboxed by
    /// `sandbox`, with the size it runs at.
    fn every_kind(sandbox: &policy::Sandbox) -> Vec<(&'static str, paas_types::Size, ContainerConfig<String>)> {
        use paas_types::Size::*;
        let process =
            |kind, size| instance_container(sandbox, "n1", "127.0.0.1", "paas-n1-shop".into(), &instance(kind, size));
        let env = std::collections::BTreeMap::new();
        let run = super::session::RunSpec {
            run_id: Uuid::new_v4(),
            app: "shop",
            image: "paas-app/shop:abc",
            command: "python3 manage.py shell",
            env: &env,
            size: Small,
            tty: true,
            stdin: true,
            mounts: &[],
        };
        vec![
            ("one-off run", Small, super::session::run_container(sandbox, "n1", "paas-n1-shop".into(), &run)),
            ("web", Standard, process("web", Standard)),
            ("web (large)", Large, process("web", Large)),
            ("worker", Small, process("worker", Small)),
            (
                "release phase",
                RELEASE_SIZE,
                release_container(sandbox, "n1", "paas-app/shop:abc", "python3 migrate.py", &[].into(), &[]),
            ),
        ]
    }

    #[test]
    fn every_container_kind_gets_the_same_policy() {
        for (kind, size, config) in every_kind(&policy::Sandbox::default()) {
            assert_eq!(config.user.as_deref(), Some(APP_USER), "{kind}: not root");
            let host = config.host_config.expect("a host config");
            assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]), "{kind}: capabilities");
            assert_eq!(host.cap_add, None, "{kind}");
            assert_eq!(host.privileged, None, "{kind}");
            assert_eq!(host.security_opt, Some(vec!["no-new-privileges:true".to_string()]), "{kind}");
            assert_eq!(host.pids_limit, Some(policy::PIDS_LIMIT), "{kind}");
            let memory = i64::from(size.memory_mb()) * 1024 * 1024;
            assert_eq!((host.memory, host.memory_swap), (Some(memory), Some(memory)), "{kind}: memory");
            assert_eq!(host.nano_cpus, Some(i64::from(size.cpu_millis()) * 1_000_000), "{kind}: CPU");
            let logs = host.log_config.expect("bounded logs");
            assert_eq!(logs.config.unwrap()["max-size"], "10m", "{kind}");
            assert_eq!(host.readonly_rootfs, Some(true), "{kind}: read-only root");
            assert!(host.tmpfs.expect("a /tmp").contains_key("/tmp"), "{kind}");
            let app_dir = host.mounts.expect("mounts").into_iter().find(|m| m.target.as_deref() == Some("/app"));
            assert!(app_dir.is_some_and(|m| m.source.is_none()), "{kind}: a writable app directory");
            let limits: Vec<_> = host.ulimits.expect("ulimits").into_iter().filter_map(|u| u.name).collect();
            assert_eq!(limits, ["nofile"], "{kind}");
            assert_eq!(host.runtime, None, "{kind}: the engine's default runtime");
            assert!(host.binds.is_none(), "{kind}: no host directories");
        }
    }

    #[test]
    fn the_node_runtime_reaches_every_app_container() {
        let sandbox = policy::Sandbox { runtime: Some("runsc".into()) };
        for (kind, _, config) in every_kind(&sandbox) {
            let host = config.host_config.unwrap();
            assert_eq!(host.runtime.as_deref(), Some("runsc"), "{kind}");
            assert_eq!(host.readonly_rootfs, Some(true), "{kind}: and the rest of the policy");
        }
    }

    #[test]
    fn volumes_are_mounted_into_processes_and_the_release_phase_under_the_same_policy() {
        let mounts =
            vec![paas_types::agent::VolumeMount { volume: "paas-n1-shop-data-1".into(), target: "/data".into() }];
        let web = instance_container(
            &policy::Sandbox::default(),
            "n1",
            "127.0.0.1",
            "net".into(),
            &DesiredInstance { mounts: mounts.clone(), ..instance("web", paas_types::Size::Standard) },
        );
        let release = release_container(
            &policy::Sandbox::default(),
            "n1",
            "paas-app/shop:abc",
            "python3 migrate.py",
            &[].into(),
            &mounts,
        );
        for (kind, config) in [("web", web), ("release phase", release)] {
            assert_eq!(config.user.as_deref(), Some(APP_USER), "{kind}");
            let host = config.host_config.unwrap();
            assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]), "{kind}");
            let mount = &host.mounts.expect("mounts")[1];
            assert_eq!(
                (mount.source.as_deref(), mount.target.as_deref()),
                (Some("paas-n1-shop-data-1"), Some("/data"))
            );
        }
        let plain = instance_container(
            &policy::Sandbox::default(),
            "n1",
            "127.0.0.1",
            "net".into(),
            &instance("web", paas_types::Size::Standard),
        );
        let mounts = plain.host_config.unwrap().mounts.unwrap();
        assert_eq!(mounts.len(), 1, "only the app directory: {mounts:?}");
    }

    #[test]
    fn only_processes_serving_http_publish_their_port_on_the_node_address() {
        let web = instance_container(
            &policy::Sandbox::default(),
            "n1",
            "10.0.0.5",
            "net".into(),
            &instance("web", paas_types::Size::Standard),
        );
        let bindings = web.host_config.unwrap().port_bindings.expect("web publishes");
        let binding = &bindings["5000/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("10.0.0.5"));
        let worker = instance_container(
            &policy::Sandbox::default(),
            "n1",
            "10.0.0.5",
            "net".into(),
            &instance("worker", paas_types::Size::Small),
        );
        assert!(worker.host_config.unwrap().port_bindings.is_none());
        assert!(worker.exposed_ports.is_none());
        let routed = DesiredInstance { serves_http: true, ..instance("async", paas_types::Size::Small) };
        let routed = instance_container(&policy::Sandbox::default(), "n1", "10.0.0.5", "net".into(), &routed);
        let bindings = routed.host_config.unwrap().port_bindings.expect("a routed process type publishes");
        assert_eq!(bindings["5000/tcp"].as_ref().unwrap()[0].host_ip.as_deref(), Some("10.0.0.5"));
    }
}
