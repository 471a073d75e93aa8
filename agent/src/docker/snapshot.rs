//! Images made by running a command and committing the container: how a
//! build installs dependencies with a node-local cache directory mounted.
//! The classic builder (Docker 20.10 without BuildKit) has no cache mounts
//! for `RUN`, so the dependency layer is made here instead, outside the
//! Dockerfile, and the app's Dockerfile starts `FROM` it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::container::{
    Config as ContainerConfig, CreateContainerOptions, LogsOptions, RemoveContainerOptions, UploadToContainerOptions,
    WaitContainerOptions,
};
use bollard::image::CommitContainerOptions;
use bollard::models::HostConfig;
use futures::StreamExt;

use super::{docker_err, label, policy, Engine, EngineError};

/// What to run and where its result goes.
pub struct Snapshot<'a> {
    pub from: &'a str,
    /// Tar archive unpacked at `/` before the command starts.
    pub files: Vec<u8>,
    pub script: &'a str,
    pub env: Vec<String>,
    /// Host directory mounted read-write at `cache_target`.
    pub cache_dir: &'a Path,
    pub cache_target: &'a str,
    /// `repo:tag` of the committed image.
    pub tag: &'a str,
    /// Environment the committed image keeps (the install's own is dropped:
    /// it may carry proxy settings).
    pub image_env: Vec<String>,
    pub limit: Duration,
}

/// What a build needs to know of an image.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub id: String,
    pub labels: HashMap<String, String>,
    pub env: Vec<String>,
}

impl Engine {
    /// The image's id, labels and environment, if it exists.
    pub async fn image_facts(&self, image: &str) -> Option<ImageFacts> {
        let info = self.docker.inspect_image(image).await.ok()?;
        let config = info.config.unwrap_or_default();
        Some(ImageFacts {
            id: info.id.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
        })
    }

    /// Runs `script` with bash in a confined container of `from` (the app
    /// user, no capabilities) and commits it as `tag` when it exits 0.
    /// Returns the exit code; the container is removed either way.
    pub async fn snapshot(&self, job: Snapshot<'_>, mut on_line: impl FnMut(String)) -> Result<i64, EngineError> {
        let config = ContainerConfig {
            image: Some(job.from.to_string()),
            cmd: Some(vec!["bash".into(), "-euo".into(), "pipefail".into(), "-c".into(), job.script.to_string()]),
            env: Some(job.env.clone()),
            labels: Some(HashMap::from([
                (label::MANAGED.to_string(), "build".to_string()),
                (label::NODE.to_string(), self.node.clone()),
            ])),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:{}", job.cache_dir.display(), job.cache_target)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        // Installs run setup.py and build backends: the app's code, so the
        // same confinement as its processes (at the largest size).
        let config = policy::confine_build(paas_types::Size::Large, config);
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions<String>>, config)
            .await
            .map_err(docker_err("create build container"))?;
        let id = created.id;
        let run = async {
            let upload = UploadToContainerOptions { path: "/".to_string(), ..Default::default() };
            self.docker
                .upload_to_container(&id, Some(upload), job.files.into())
                .await
                .map_err(docker_err("copy files into the build container"))?;
            self.start(&id).await?;
            let options = LogsOptions::<String> { follow: true, stdout: true, stderr: true, ..Default::default() };
            let mut logs = self.docker.logs(&id, Some(options));
            while let Some(Ok(output)) = logs.next().await {
                for line in String::from_utf8_lossy(output.as_ref()).lines() {
                    on_line(line.to_string());
                }
            }
            let mut code = 0;
            let mut wait = self.docker.wait_container(&id, None::<WaitContainerOptions<String>>);
            while let Some(item) = wait.next().await {
                match item {
                    Ok(response) => code = response.status_code,
                    Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                    Err(e) => return Err(docker_err("wait for the build container")(e)),
                }
            }
            if code == 0 {
                let (repo, tag) = job.tag.rsplit_once(':').unwrap_or((job.tag, "latest"));
                let options = CommitContainerOptions {
                    container: id.clone(),
                    repo: repo.into(),
                    tag: tag.into(),
                    ..Default::default()
                };
                // The image keeps the base's settings, not the install command's.
                let image = ContainerConfig::<String> {
                    cmd: Some(vec!["bash".into()]),
                    user: Some("0:0".into()),
                    env: Some(job.image_env),
                    ..Default::default()
                };
                self.docker.commit_container(options, image).await.map_err(docker_err("commit the build container"))?;
            }
            Ok(code)
        };
        let result = match tokio::time::timeout(job.limit, run).await {
            Ok(result) => result,
            Err(_) => Err(EngineError::Build(format!("the install ran longer than {:?}", job.limit))),
        };
        let remove = RemoveContainerOptions { force: true, ..Default::default() };
        let _ = self.docker.remove_container(&id, Some(remove)).await;
        result
    }
}
