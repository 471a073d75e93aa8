//! The processes of interactive sessions (`paas run`): a new confined
//! container of a release, or a command exec'd in a running container of
//! this node (an add-on's server: `psql`, `redis-cli`). Either way the
//! caller gets the process's output stream and stdin writer, can resize its
//! terminal, signal it and read its exit status.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;

use bollard::container::{
    AttachContainerOptions, Config as ContainerConfig, CreateContainerOptions, KillContainerOptions, LogOutput,
    ResizeContainerTtyOptions, WaitContainerOptions,
};
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::HostConfig;
use futures::{Stream, StreamExt};
use paas_types::Size;
use tokio::io::AsyncWrite;
use uuid::Uuid;

use super::{docker_err, label, policy, Engine, EngineError, RUN_KIND};

/// What a new session container runs.
#[derive(Debug, Clone)]
pub struct RunSpec<'a> {
    pub run_id: Uuid,
    pub app: &'a str,
    pub image: &'a str,
    /// Run by `bash -c`.
    pub command: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub size: Size,
    pub tty: bool,
    /// Whether anything will be written to its standard input.
    pub stdin: bool,
    /// The app's volumes.
    pub mounts: &'a [paas_types::agent::VolumeMount],
}

/// A session's process, as the engine knows it.
#[derive(Debug, Clone)]
pub enum SessionProcess {
    /// A container of its own (removed at the end).
    Container(String),
    /// An exec in someone else's container.
    Exec { exec_id: String, container: String },
}

/// What a session's process writes, chunk by chunk.
pub type SessionOutput = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// The process's byte streams.
pub struct SessionIo {
    pub output: SessionOutput,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Engine {
    /// Creates the container of a run, attaches to it and starts it (so no
    /// output is lost), confined like the app's processes at `spec.size`,
    /// on the app's network, with an init process that forwards signals.
    pub async fn start_run(&self, spec: &RunSpec<'_>) -> Result<(SessionProcess, SessionIo), EngineError> {
        let network = self.app_network(spec.app).await?;
        let config = run_container(&self.sandbox, &self.node, network, spec);
        let name = format!("paas-{}-{}-run-{}", self.node, spec.app, &spec.run_id.simple().to_string()[..8]);
        let created = self
            .docker
            .create_container(Some(CreateContainerOptions { name, platform: None }), config)
            .await
            .map_err(docker_err("create run container"))?;
        let process = SessionProcess::Container(created.id.clone());
        let attach = AttachContainerOptions::<String> {
            stdin: Some(spec.stdin),
            stdout: Some(true),
            stderr: Some(true),
            stream: Some(true),
            logs: Some(false),
            detach_keys: None,
        };
        let attached = match self.docker.attach_container(&created.id, Some(attach)).await {
            Ok(attached) => attached,
            Err(error) => {
                self.remove_quietly(&created.id).await;
                return Err(docker_err("attach to run container")(error));
            }
        };
        if let Err(error) = self.start(&created.id).await {
            self.remove_quietly(&created.id).await;
            return Err(error);
        }
        Ok((process, SessionIo { output: attached.output, input: attached.input }))
    }

    /// Starts `command` in the running container `container` of this node,
    /// as that container's user, attached.
    pub async fn start_exec(
        &self,
        container: &str,
        command: &[String],
        tty: bool,
    ) -> Result<(SessionProcess, SessionIo), EngineError> {
        self.start_exec_as(container, command, None, Vec::new(), tty).await
    }

    /// [`Engine::start_exec`] as `user` (else the container's) with `env`
    /// added (`KEY=value`; secrets go here, never into the command line).
    pub async fn start_exec_as(
        &self,
        container: &str,
        command: &[String],
        user: Option<&str>,
        env: Vec<String>,
        tty: bool,
    ) -> Result<(SessionProcess, SessionIo), EngineError> {
        let inspected =
            self.docker.inspect_container(container, None).await.map_err(docker_err("inspect exec target"))?;
        let labels = inspected.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(label::NODE) != Some(&self.node) {
            return Err(EngineError::Build(format!("container {container} is not one of this node's")));
        }
        let options = CreateExecOptions::<String> {
            cmd: Some(command.to_vec()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            user: user.map(str::to_string),
            env: (!env.is_empty()).then_some(env),
            ..Default::default()
        };
        let exec = self.docker.create_exec(container, options).await.map_err(docker_err("create session exec"))?;
        let start = StartExecOptions { detach: false, tty, output_capacity: None };
        match self.docker.start_exec(&exec.id, Some(start)).await.map_err(docker_err("start session exec"))? {
            StartExecResults::Attached { output, input } => Ok((
                SessionProcess::Exec { exec_id: exec.id, container: container.to_string() },
                SessionIo { output, input },
            )),
            StartExecResults::Detached => Err(EngineError::Build("the exec started detached".into())),
        }
    }

    /// Sets the size of the process's terminal.
    pub async fn resize_session(&self, process: &SessionProcess, cols: u16, rows: u16) -> Result<(), EngineError> {
        match process {
            SessionProcess::Container(id) => self
                .docker
                .resize_container_tty(id, ResizeContainerTtyOptions { width: cols, height: rows })
                .await
                .map_err(docker_err("resize run terminal")),
            SessionProcess::Exec { exec_id, .. } => self
                .docker
                .resize_exec(exec_id, ResizeExecOptions { width: cols, height: rows })
                .await
                .map_err(docker_err("resize exec terminal")),
        }
    }

    /// Sends `signal` (`SIGINT`, ...) to a run container's process (its
    /// init forwards it); an exec cannot be signalled from outside.
    pub async fn signal_session(&self, process: &SessionProcess, signal: &str) -> Result<(), EngineError> {
        let SessionProcess::Container(id) = process else { return Ok(()) };
        self.docker
            .kill_container(id, Some(KillContainerOptions { signal }))
            .await
            .map_err(docker_err("signal run container"))
    }

    /// The exit status of a process whose output has ended.
    pub async fn session_exit(&self, process: &SessionProcess) -> Result<i64, EngineError> {
        match process {
            SessionProcess::Container(id) => {
                let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions<String>>);
                let mut code = 0;
                while let Some(item) = wait.next().await {
                    match item {
                        Ok(response) => code = response.status_code,
                        Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                        Err(e) => return Err(docker_err("wait for run container")(e)),
                    }
                }
                Ok(code)
            }
            SessionProcess::Exec { exec_id, .. } => {
                // The output ends a moment before the engine records the exit code.
                for _ in 0..50 {
                    let inspected = self.docker.inspect_exec(exec_id).await.map_err(docker_err("inspect exec"))?;
                    if inspected.running != Some(true) {
                        return Ok(inspected.exit_code.unwrap_or(-1));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(EngineError::Build("the exec did not end after its output did".into()))
            }
        }
    }

    /// Ends the process: a run container is killed and removed; an exec's
    /// process ends when its input closes (it cannot be killed from outside
    /// without stopping its container).
    pub async fn end_session(&self, process: &SessionProcess) {
        if let SessionProcess::Container(id) = process {
            self.remove_quietly(id).await;
        }
    }
}

/// The container of a run: `bash -c` the command, with a TTY when asked,
/// stdin kept open for the session, labelled as this node's run.
pub(super) fn run_container(
    sandbox: &policy::Sandbox,
    node: &str,
    network: String,
    spec: &RunSpec<'_>,
) -> ContainerConfig<String> {
    let labels = HashMap::from([
        (label::MANAGED.to_string(), RUN_KIND.to_string()),
        (label::NODE.to_string(), node.to_string()),
        (label::APP.to_string(), spec.app.to_string()),
        (label::RUN.to_string(), spec.run_id.to_string()),
    ]);
    let config = ContainerConfig {
        image: Some(spec.image.to_string()),
        cmd: Some(run_command(spec)),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels),
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin),
        stdin_once: Some(spec.stdin),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(HostConfig {
            network_mode: Some(network),
            init: Some(true),
            mounts: super::mounts::docker_mounts(spec.mounts),
            ..Default::default()
        }),
        ..Default::default()
    };
    policy::confine(sandbox, spec.size, config)
}

/// Waits (at most 1 s) for the terminal to get the user's size, which the
/// agent sets only once the container has started: a command that reads its
/// size at once (a REPL, `createsuperuser`) would otherwise see 0x0. Docker
/// 20.10 (API 1.41) cannot create a container with a console size.
const AWAIT_TERMINAL_SIZE: &str =
    r#"for _ in $(seq 100); do [ "$(stty size 2>/dev/null)" = "0 0" ] || break; sleep 0.01; done; exec bash -c "$0""#;

/// `bash -c` the command; with a TTY, once the terminal has its size.
fn run_command(spec: &RunSpec<'_>) -> Vec<String> {
    if spec.tty {
        vec!["bash".into(), "-c".into(), AWAIT_TERMINAL_SIZE.into(), spec.command.into()]
    } else {
        vec!["bash".into(), "-c".into(), spec.command.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_containers_get_the_policy_of_their_size() {
        let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let spec = RunSpec {
            run_id: Uuid::new_v4(),
            app: "shop",
            image: "paas-app/shop:abc",
            command: "python manage.py createsuperuser",
            env: &env,
            size: Size::Small,
            tty: true,
            stdin: true,
            mounts: &[],
        };
        let config = run_container(&policy::Sandbox::default(), "n1", "paas-n1-shop".into(), &spec);
        assert_eq!(config.user.as_deref(), Some(policy::APP_USER));
        assert_eq!((config.tty, config.open_stdin, config.stdin_once), (Some(true), Some(true), Some(true)));
        let host = config.host_config.unwrap();
        assert_eq!(host.memory, Some(256 << 20));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.network_mode.as_deref(), Some("paas-n1-shop"));
        assert_eq!(host.init, Some(true), "signals reach the command");
        assert!(host.port_bindings.is_none(), "nothing published");
    }
}
