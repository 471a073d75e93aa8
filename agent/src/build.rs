//! Builds: claim a queued build, unpack its source, detect how to run it,
//! pack its static files, and build an image on the base image whose
//! dependency layer is cached between pushes that keep `requirements.txt`.
//! Output streams to the API line by line; a failure is reported with its
//! log and never touches the running release.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use paas_types::agent::{BuildJob, BuildResult};
use tokio::sync::mpsc;

use crate::client::{self, AgentClient, ClientError};
use crate::detect::{self, AppSpec};
use crate::docker::Engine;
use crate::error_chain;

/// Largest unpacked source tree accepted.
const MAX_SOURCE_BYTES: u64 = 1024 * 1024 * 1024;

/// Operator settings that reach the image build.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    pub base_image: String,
    /// PEM bundle installed as the image's CA certificates (for pip behind TLS interception).
    pub ca_bundle: Option<Vec<u8>>,
    pub pip_index_url: Option<String>,
    pub https_proxy: Option<String>,
    /// Longest a build (or its release command) may run.
    pub timeout: std::time::Duration,
}

/// Why a build failed, as shown to the user at the end of the build log.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot fetch the source")]
    Fetch(#[source] ClientError),
    #[error("the source is not a valid gzip tarball: {0}")]
    Unpack(String),
    #[error(transparent)]
    Detect(#[from] detect::DetectError),
    #[error("cannot store the static files")]
    Static(#[source] ClientError),
    #[error("{0}")]
    Image(String),
    #[error("the release command failed (exit code {0}); the previous release keeps running")]
    ReleaseCommand(i64),
    #[error("build workspace error")]
    Io(#[from] std::io::Error),
}

/// Runs one build to completion and reports the result. Returns an error
/// only when the API could not be told (the lease then expires and the build
/// is retried elsewhere).
pub async fn run(
    api: Arc<AgentClient>,
    engine: Engine,
    settings: &BuildSettings,
    job: BuildJob,
) -> Result<(), ClientError> {
    let log = BuildLog::start(api.clone(), job.build_id);
    let outcome = match tokio::time::timeout(settings.timeout, build(&api, &engine, settings, &job, &log)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(BuildError::Image(format!("the build ran longer than {:?}", settings.timeout))),
    };
    let result = match outcome {
        Ok((spec, image)) => {
            log.line(format!("-----> Built image {image}"));
            BuildResult {
                success: true,
                image: Some(image),
                process_types: spec.processes,
                static_mappings: spec.statics,
                release_command: spec.release_command,
                error: None,
            }
        }
        Err(error) => {
            let message = error_chain(&error);
            log.line(format!(" !     Build failed: {message}"));
            BuildResult {
                success: false,
                image: None,
                process_types: Default::default(),
                static_mappings: Vec::new(),
                release_command: None,
                error: Some(message),
            }
        }
    };
    let lease_lost = log.finish().await;
    if lease_lost {
        tracing::warn!(build.id = %job.build_id, "lost the build's lease; not reporting its result");
        return Ok(());
    }
    api.finish_build(job.build_id, &result).await
}

/// A source tree unpacked into a temporary directory (deleted on drop).
struct Workspace {
    _dir: tempfile::TempDir,
    src: std::path::PathBuf,
    spec: AppSpec,
    /// Links and special files left out of the tree.
    skipped: usize,
}

/// Unpacks a source tarball off the runtime and reads how to run it.
async fn unpack_source(source: bytes::Bytes) -> Result<Workspace, BuildError> {
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir(&src)?;
    let unpack_dir = src.clone();
    let skipped = tokio::task::spawn_blocking(move || unpack(&source, &unpack_dir))
        .await
        .map_err(|e| BuildError::Unpack(e.to_string()))??;
    let spec = detect::detect(&src)?;
    Ok(Workspace { _dir: dir, src, spec, skipped })
}

async fn build(
    api: &AgentClient,
    engine: &Engine,
    settings: &BuildSettings,
    job: &BuildJob,
    log: &BuildLog,
) -> Result<(AppSpec, String), BuildError> {
    log.line(format!("-----> Building {} on {}", job.app, settings.base_image));
    let source = api.build_source(job.build_id).await.map_err(BuildError::Fetch)?;
    let Workspace { _dir, src, spec, skipped } = unpack_source(source).await?;
    if skipped > 0 {
        log.line(format!(
            "-----> Ignored {skipped} symlinks or special files in the source (only files and directories are used)"
        ));
    }
    for (name, command) in &spec.processes {
        log.line(format!("-----> Process type {name}: {command}"));
    }
    if let Some(command) = &spec.release_command {
        log.line(format!("-----> Release command: {command}"));
    }
    if !spec.statics.is_empty() {
        let bundle = static_bundle(&src, &spec)?;
        log.line(format!("-----> Static files: {} ({} bytes packed)", describe_statics(&spec), bundle.len()));
        api.upload_static(job.build_id, bundle).await.map_err(BuildError::Static)?;
    }
    if spec.has_requirements {
        log.line(
            "-----> Installing requirements.txt into /app/.venv (cached while requirements.txt is unchanged)".into(),
        );
    }
    let context = build_context(&src, &spec, settings)?;
    let tag = format!("paas-app/{}:{}", job.app, &job.build_id.simple().to_string()[..12]);
    let sender = log.sender();
    engine
        .build(context, &tag, build_args(settings), |line| {
            let _ = sender.send(format!("       {line}"));
        })
        .await
        .map_err(|e| BuildError::Image(error_chain(&e)))?;
    if let Some(command) = &spec.release_command {
        // The release phase runs here, once, before any instance of the new
        // release starts; its failure fails the build, so nothing rolls out.
        log.line(format!("-----> Running release command: {command}"));
        let sender = log.sender();
        let code = engine
            .run_once(&tag, command, &job.env, settings.timeout, |line| {
                let _ = sender.send(format!("       {line}"));
            })
            .await
            .map_err(|e| BuildError::Image(error_chain(&e)))?;
        if code != 0 {
            return Err(BuildError::ReleaseCommand(code));
        }
    }
    Ok((spec, tag))
}

/// Rebuilds a release's image on this node from the build's stored source,
/// under the same tag: images stay node-local when no registry is
/// configured, so a node that must run an image it lacks makes it itself
/// (reusing its own cached dependency layers). Static files and the release
/// command were handled by the original build and are not repeated.
pub async fn rebuild_image(
    api: &AgentClient,
    engine: &Engine,
    settings: &BuildSettings,
    build_id: uuid::Uuid,
    image: &str,
) -> Result<(), BuildError> {
    let source = api.built_source(build_id).await.map_err(BuildError::Fetch)?;
    let workspace = unpack_source(source).await?;
    let context = build_context(&workspace.src, &workspace.spec, settings)?;
    engine
        .build(context, image, build_args(settings), |line| tracing::debug!(image, line, "rebuild"))
        .await
        .map_err(|e| BuildError::Image(error_chain(&e)))
}

fn build_args(settings: &BuildSettings) -> HashMap<String, String> {
    let mut args = HashMap::new();
    if let Some(proxy) = &settings.https_proxy {
        args.insert("HTTPS_PROXY".to_string(), proxy.clone());
        args.insert("HTTP_PROXY".to_string(), proxy.clone());
    }
    if let Some(index) = &settings.pip_index_url {
        args.insert("PIP_INDEX_URL".to_string(), index.clone());
    }
    args
}

/// Unpacks a gzip tarball, refusing paths that escape and oversized trees.
/// Only regular files and directories are unpacked: a symlink or device in
/// a tenant's source would make the agent (root, on the host) read or pack
/// files outside the tree. Returns how many entries were skipped.
fn unpack(data: &[u8], into: &Path) -> Result<usize, BuildError> {
    let bad = |e: std::io::Error| BuildError::Unpack(e.to_string());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut total = 0u64;
    let mut skipped = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            skipped += 1;
            continue;
        }
        total += entry.header().size().map_err(bad)?;
        if total > MAX_SOURCE_BYTES {
            return Err(BuildError::Unpack("the unpacked source is larger than 1 GiB".into()));
        }
        let path = entry.path().map_err(bad)?.into_owned();
        if path.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        // `unpack_in` refuses entries that would land outside `into`.
        entry.unpack_in(into).map_err(bad)?;
    }
    // Drain (bounded) whatever follows the archive, without keeping it.
    std::io::copy(&mut archive.into_inner().take(MAX_SOURCE_BYTES), &mut std::io::sink()).map_err(bad)?;
    Ok(skipped)
}

fn describe_statics(spec: &AppSpec) -> String {
    spec.statics.iter().map(|m| format!("{} -> {}/", m.url_prefix, m.dir)).collect::<Vec<_>>().join(", ")
}

/// A gzip tarball of the static directories, paths relative to the app root.
fn static_bundle(src: &Path, spec: &AppSpec) -> Result<Vec<u8>, BuildError> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    tar.follow_symlinks(false);
    for mapping in &spec.statics {
        tar.append_dir_all(&mapping.dir, src.join(&mapping.dir))?;
    }
    Ok(tar.into_inner()?.finish()?)
}

/// The docker build context: Dockerfile, the source, and generated files.
fn build_context(src: &Path, spec: &AppSpec, settings: &BuildSettings) -> Result<Vec<u8>, BuildError> {
    let mut files: Vec<(String, Vec<u8>)> = vec![("Dockerfile".into(), dockerfile(spec, settings).into_bytes())];
    if spec.has_requirements {
        files.push(("paas/requirements.txt".into(), requirements(src, spec)?.into_bytes()));
    }
    if let Some(ca) = &settings.ca_bundle {
        files.push(("paas/ca.crt".into(), ca.clone()));
    }
    for (name, command) in &spec.processes {
        files.push((format!("paas/supervisor/{name}.conf"), supervisor_conf(name).into_bytes()));
        files.push((format!("paas/run/{name}.sh"), format!("#!/bin/bash\n{command}\n").into_bytes()));
    }
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, data.as_slice())?;
    }
    tar.append_dir_all("src", src)?;
    Ok(tar.into_inner()?)
}

/// The app's requirements, plus gunicorn when a process runs it but the app
/// does not list it (the image's system gunicorn cannot import the venv).
fn requirements(src: &Path, spec: &AppSpec) -> Result<String, BuildError> {
    let mut text = detect::read_small(&src.join("requirements.txt"))?;
    let uses_gunicorn = spec.processes.values().any(|c| c.split_whitespace().next() == Some("gunicorn"));
    let lists_gunicorn = text.lines().any(|l| {
        let l = l.trim().to_ascii_lowercase();
        l.strip_prefix("gunicorn").is_some_and(|rest| {
            rest.is_empty() || !rest.starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_')
        })
    });
    if uses_gunicorn && !lists_gunicorn {
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        text.push_str("gunicorn\n");
    }
    Ok(text)
}

fn dockerfile(spec: &AppSpec, settings: &BuildSettings) -> String {
    let mut d = format!("FROM {}\n", settings.base_image);
    if settings.ca_bundle.is_some() {
        d.push_str("COPY paas/ca.crt /etc/ssl/certs/ca-certificates.crt\n");
    }
    if spec.has_requirements {
        // Only requirements.txt precedes this step, so a code-only change reuses the layer.
        d.push_str("COPY paas/requirements.txt /tmp/paas-requirements.txt\n");
        d.push_str("ARG HTTPS_PROXY\nARG HTTP_PROXY\nARG PIP_INDEX_URL\n");
        d.push_str(
            "RUN python3 -m venv --without-pip /app/.venv \\\n \
             && python3 -m pip --python /app/.venv/bin/python install --no-cache-dir --progress-bar off \
             -r /tmp/paas-requirements.txt\n",
        );
        d.push_str("ENV PATH=/app/.venv/bin:$PATH\n");
    }
    d.push_str("COPY --chown=10000:10000 src/ /app/\n");
    d.push_str("COPY paas/ /etc/paas/\n");
    d.push_str("ENV HOME=/app PYTHONUNBUFFERED=1\n");
    d.push_str("USER 10000:10000\nWORKDIR /app\n");
    d.push_str("CMD [\"supervisord\", \"-c\", \"/etc/paas/supervisor/web.conf\"]\n");
    d
}

/// supervisord as PID 1 for one process type: restarts it on crash, stops
/// the whole process group on SIGTERM, sends its output to stdout.
fn supervisor_conf(process_type: &str) -> String {
    format!(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\nlogfile_maxbytes=0\npidfile=/tmp/supervisord.pid\n\n\
         [program:{process_type}]\ncommand=/bin/bash /etc/paas/run/{process_type}.sh\ndirectory=/app\n\
         autostart=true\nautorestart=true\nstartsecs=1\nstartretries=1000\nstopsignal=TERM\nstopwaitsecs=10\n\
         stopasgroup=true\nkillasgroup=true\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n\
         redirect_stderr=true\n"
    )
}

// === Build log streaming ===

/// Sends build output to the API in small batches as it is produced, which
/// also renews the build's lease.
struct BuildLog {
    tx: mpsc::UnboundedSender<String>,
    flusher: tokio::task::JoinHandle<()>,
    lease_lost: Arc<AtomicBool>,
}

impl BuildLog {
    fn start(api: Arc<AgentClient>, build: uuid::Uuid) -> BuildLog {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let lease_lost = Arc::new(AtomicBool::new(false));
        let lost = lease_lost.clone();
        let flusher = tokio::spawn(async move {
            let mut open = true;
            while open {
                let mut lines = Vec::new();
                // Wait for a first line (or a quiet period: still renew the lease).
                match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                    Ok(Some(line)) => lines.push(line),
                    Ok(None) => open = false,
                    Err(_) => {}
                }
                // Then gather what else arrives within a short window.
                let window = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(window);
                while open && lines.len() < 200 {
                    tokio::select! {
                        line = rx.recv() => match line { Some(l) => lines.push(l), None => open = false },
                        _ = &mut window => break,
                    }
                }
                if let Err(error) = api.append_build_log(build, lines).await {
                    if client::is_lease_lost(&error) {
                        lost.store(true, Ordering::SeqCst);
                    }
                    tracing::warn!(build.id = %build, error = %error, "cannot ship build output");
                }
            }
        });
        BuildLog { tx, flusher, lease_lost }
    }

    fn line(&self, line: String) {
        let _ = self.tx.send(line);
    }

    fn sender(&self) -> mpsc::UnboundedSender<String> {
        self.tx.clone()
    }

    /// Flushes everything; returns whether the lease was lost meanwhile.
    async fn finish(self) -> bool {
        drop(self.tx);
        let _ = self.flusher.await;
        self.lease_lost.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_is_added_only_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let spec = |cmd: &str| AppSpec {
            processes: [("web".to_string(), cmd.to_string())].into(),
            release_command: None,
            has_requirements: true,
            statics: vec![],
        };
        std::fs::write(dir.path().join("requirements.txt"), "flask==3.0\n").unwrap();
        assert_eq!(requirements(dir.path(), &spec("gunicorn app:app")).unwrap(), "flask==3.0\ngunicorn\n");
        assert_eq!(requirements(dir.path(), &spec("python3 serve.py")).unwrap(), "flask==3.0\n");
        std::fs::write(dir.path().join("requirements.txt"), "Gunicorn>=21\nflask").unwrap();
        assert_eq!(requirements(dir.path(), &spec("gunicorn app:app")).unwrap(), "Gunicorn>=21\nflask");
        std::fs::write(dir.path().join("requirements.txt"), "gunicorn-extras\n").unwrap();
        assert!(requirements(dir.path(), &spec("gunicorn a:b")).unwrap().ends_with("gunicorn-extras\ngunicorn\n"));
    }

    #[test]
    fn unpack_refuses_escaping_paths() {
        let mut header = tar::Header::new_gnu();
        let data = b"evil";
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        // `set_path` refuses `..`; write the raw name like a hostile client would.
        header.as_old_mut().name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        tar.append(&header, &data[..]).unwrap();
        let gz = tar.into_inner().unwrap().finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("src");
        std::fs::create_dir(&target).unwrap();
        let _ = unpack(&gz, &target);
        assert!(!dir.path().join("escape").exists(), "an entry escaped the source directory");
    }

    #[test]
    fn unpack_skips_symlinks() {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "static", "/etc").unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(3);
        file.set_mode(0o644);
        file.set_cksum();
        tar.append_data(&mut file, "wsgi.py", &b"x=1"[..]).unwrap();
        let gz = tar.into_inner().unwrap().finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unpack(&gz, dir.path()).unwrap(), 1);
        assert!(dir.path().join("wsgi.py").is_file());
        assert!(std::fs::symlink_metadata(dir.path().join("static")).is_err(), "the symlink was not created");
    }

    #[test]
    fn dockerfile_caches_dependencies_before_code() {
        let spec = AppSpec {
            processes: [("web".to_string(), "gunicorn a:b".to_string())].into(),
            release_command: None,
            has_requirements: true,
            statics: vec![],
        };
        let d = dockerfile(&spec, &BuildSettings { base_image: "base".into(), ..Default::default() });
        let pip = d.find("pip --python").unwrap();
        let code = d.find("COPY --chown=10000:10000 src/").unwrap();
        assert!(pip < code, "{d}");
        assert!(d.contains("USER 10000:10000"));
    }
}
