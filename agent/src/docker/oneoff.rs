//! One-off containers that outlive their process: run a command to its exit,
//! copy files out of the stopped container, then remove it. The release
//! phase and the static-files probe use these.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::container::{
    CreateContainerOptions, DownloadFromContainerOptions, LogsOptions, RemoveContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use paas_types::agent::VolumeMount;

use super::{docker_err, release_container, Engine, EngineError};

impl Engine {
    /// Runs `command` in a new container of `image` (with `mounts`) until it exits (or
    /// `limit` passes), handing each output line to `on_line`. Returns the
    /// container id, to copy from and then [`Engine::remove_quietly`], and
    /// the exit code.
    pub async fn run_kept(
        &self,
        image: &str,
        command: &str,
        env: &BTreeMap<String, String>,
        mounts: &[VolumeMount],
        limit: Duration,
        mut on_line: impl FnMut(String),
    ) -> Result<(String, Result<i64, EngineError>), EngineError> {
        let config = release_container(&self.sandbox, &self.node, image, command, env, mounts);
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions<String>>, config)
            .await
            .map_err(docker_err("create one-off container"))?;
        let run = async {
            self.start(&created.id).await?;
            let options = LogsOptions::<String> { follow: true, stdout: true, stderr: true, ..Default::default() };
            let mut logs = self.docker.logs(&created.id, Some(options));
            while let Some(Ok(output)) = logs.next().await {
                for line in String::from_utf8_lossy(output.as_ref()).lines() {
                    on_line(line.to_string());
                }
            }
            let mut wait = self.docker.wait_container(&created.id, None::<WaitContainerOptions<String>>);
            let mut code = 0;
            while let Some(item) = wait.next().await {
                match item {
                    Ok(response) => code = response.status_code,
                    // bollard reports a non-zero exit as an error carrying the code.
                    Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                    Err(e) => return Err(docker_err("wait for one-off container")(e)),
                }
            }
            Ok(code)
        };
        // A command that never ends must not hold the node's builder.
        let result = match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => Err(EngineError::Build(format!("`{command}` ran longer than {limit:?}"))),
        };
        Ok((created.id, result))
    }

    /// A tarball of `path` inside container `id` (running or stopped); its
    /// entries start with the last component of `path`.
    pub async fn copy_out(&self, id: &str, path: &str) -> Result<Vec<u8>, EngineError> {
        let mut stream = self.docker.download_from_container(id, Some(DownloadFromContainerOptions { path }));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            tar.extend_from_slice(&chunk.map_err(docker_err("copy from container"))?);
        }
        Ok(tar)
    }

    /// Removes a container, logging (not failing) when that does not work.
    pub async fn remove_quietly(&self, id: &str) {
        let remove = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        if let Err(error) = self.docker.remove_container(id, Some(remove)).await {
            tracing::warn!(container.id = id, error = %error, "removing a one-off container failed");
        }
    }
}
