//! Builds: claim a queued build, unpack its source, detect how to run it,
//! pack its static files, install its dependencies into a cached image and
//! build the app image on it. Output streams to the API line by line, as
//! `-----> ` steps with their times; a failure is reported with its command
//! and last output, and never touches the running release.
//!
//! One job per module: `unpack` (source tarball -> workspace), `deps`
//! (which files decide the dependency layer) with `locks` (lock files ->
//! pinned lists), `installer` (uv or pip), `install` (the cached dependency image), `python` (the
//! asked-for Python version), `recipe` (Dockerfile, supervisord configs,
//! build context), `statics` (ask the app for its static files, Django's
//! collectstatic, the router's bundle), `clean` + `steps` (output for
//! people), `output` (build log streaming and the lease).

mod clean;
mod deps;
mod error;
mod install;
mod installer;
mod locks;
mod output;
mod python;
mod recipe;
mod statics;
mod steps;
mod unpack;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use paas_types::agent::{BuildJob, BuildResult};
use tokio::sync::mpsc::UnboundedSender;

pub use self::deps::{DependencyPlan, DependencySource, DepsError};
pub use self::error::{BuildError, BuildSettings};
pub use self::installer::Installer;
use self::output::BuildLog;
use self::recipe::{build_args, build_context, describe_statics, Recipe};
use self::steps::{failure_report, seconds, Output, Step, INDENT};
use self::unpack::{unpack_source, Workspace};
use crate::client::{AgentClient, ClientError};
use crate::detect::AppSpec;
use crate::docker::snapshot::{ImageFacts, Snapshot};
use crate::docker::{Engine, EngineError};
use crate::errors::error_chain;

/// Runs one build to completion and reports the result. Returns an error
/// only when the API could not be told (the lease then expires and the build
/// is retried elsewhere).
pub async fn run(
    api: Arc<AgentClient>,
    engine: Engine,
    settings: &BuildSettings,
    job: BuildJob,
) -> Result<(), ClientError> {
    let started = Instant::now();
    let log = BuildLog::start(api.clone(), job.build_id);
    let outcome = match tokio::time::timeout(settings.timeout, build(&api, &engine, settings, &job, &log)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(BuildError::Image(format!("the build ran longer than {:?}", settings.timeout))),
    };
    let result = match outcome {
        Ok((spec, image)) => {
            log.line(format!("-----> Built image {image}"));
            log.line(format!("-----> Build finished in {}", seconds(started)));
            BuildResult {
                success: true,
                image: Some(image),
                process_types: spec.processes,
                static_mappings: spec.statics,
                routes: spec.routes,
                release_command: spec.release_command,
                error: None,
            }
        }
        Err(error) => {
            let message = error_chain(&error);
            for line in failure_report(&error, &message) {
                log.line(line);
            }
            log.line(format!(" !     Build failed after {}", seconds(started)));
            BuildResult {
                success: false,
                image: None,
                process_types: Default::default(),
                static_mappings: Vec::new(),
                routes: Default::default(),
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

async fn build(
    api: &AgentClient,
    engine: &Engine,
    settings: &BuildSettings,
    job: &BuildJob,
    log: &BuildLog,
) -> Result<(AppSpec, String), BuildError> {
    let tx = log.sender();
    let step = Step::begin(&tx, format!("Detecting {} (building on {})", job.app, settings.base_image));
    let source = api.build_source(job.build_id).await.map_err(BuildError::Fetch)?;
    let Workspace { _dir, src, mut spec, skipped } = unpack_source(source).await?;
    if skipped > 0 {
        log.line(format!("{INDENT}Ignored {skipped} symlinks or special files (only files and directories are used)"));
    }
    for (name, command) in &spec.processes {
        log.line(format!("{INDENT}Process type {name}: {command}"));
    }
    if let Some(command) = &spec.release_command {
        log.line(format!("{INDENT}Release command: {command}"));
    }
    let plan = deps::plan(&src)?;
    if let Some(plan) = &plan {
        log.line(format!("{INDENT}Dependencies: {}", plan.source.file()));
        for note in &plan.notes {
            log.line(format!("{INDENT}{note}"));
        }
    }
    step.done();
    let tag = format!("paas-app/{}:{}", job.app, &job.build_id.simple().to_string()[..12]);
    make_image(engine, settings, &src, &spec, plan.as_ref(), &tag, Some(&tx)).await?;
    // === static files: asked from the app in the built image (build/statics.rs) ===
    let sender = log.sender();
    let say = move |line: String| {
        let _ = sender.send(line);
    };
    let collected = statics::collect(engine, (&tag, &tag), &src, &spec, &job.env, settings, true, &say).await?;
    spec.statics = collected.mappings;
    match collected.bundle {
        Some(bundle) => {
            log.line(format!("-----> Static files: {} ({} bytes packed)", describe_statics(&spec), bundle.len()));
            api.upload_static(job.build_id, bundle).await.map_err(BuildError::Static)?;
        }
        None => log.line("-----> No static files for the router; the app serves any it has".into()),
    }
    if let Some(command) = &spec.release_command {
        // The release phase runs here, once, before any instance of the new
        // release starts; its failure fails the build, so nothing rolls out.
        let step = Step::begin(&tx, format!("Running release command: {command}"));
        for mount in &job.mounts {
            // Builds of an app with volumes are claimed only by their node.
            engine.ensure_volume(&mount.volume, &job.app, &settings.base_image).await.map_err(|e| {
                BuildError::Image(format!("cannot prepare the volume at {}: {}", mount.target, error_chain(&e)))
            })?;
            log.line(format!("{INDENT}With the volume at {}", mount.target));
        }
        let mut out = Output::new(&tx);
        out.push(&format!("paas-run: {command}"));
        let code = engine
            .run_once(&tag, command, &job.env, &job.mounts, settings.timeout, |line| out.push(&line))
            .await
            .map_err(|e| BuildError::Image(error_chain(&e)))?;
        if code != 0 {
            let detail = Some("the previous release keeps running".to_string());
            return Err(out.failed("the release command", Some(code), detail));
        }
        step.done();
    }
    Ok((spec, tag))
}

/// The dependency image (cached by its inputs) and the app image on it.
/// `tx` receives the build output; `None` builds quietly (rebuilds).
async fn make_image(
    engine: &Engine,
    settings: &BuildSettings,
    src: &Path,
    spec: &AppSpec,
    plan: Option<&DependencyPlan>,
    tag: &str,
    tx: Option<&UnboundedSender<String>>,
) -> Result<(), BuildError> {
    let (quiet, _) = tokio::sync::mpsc::unbounded_channel();
    let tx = tx.unwrap_or(&quiet);
    let base = engine.image_facts(&settings.base_image).await.ok_or_else(|| {
        BuildError::Image(format!(
            "the base image {} is not on this node (build it with deploy/base-image/build.sh)",
            settings.base_image
        ))
    })?;
    let requested = python::requested(src);
    let running = base.labels.get("paas.python");
    let warning = requested.as_ref().zip(running).and_then(|(r, running)| r.warning(running));
    if let Some(warning) = &warning {
        let _ = tx.send(format!("-----> {warning}"));
    }
    let from = match plan {
        Some(plan) => dependency_image(engine, settings, spec, plan, &base, tx).await?,
        None => settings.base_image.clone(),
    };
    let asked = warning.and(requested.and_then(|r| r.version()));
    let project_command = plan.and_then(|p| install::project_command(p, settings.installer, asked.as_deref()));
    let recipe = Recipe { from: &from, venv: plan.is_some(), project_command };
    let step = Step::begin(tx, "Building the image");
    let context = build_context(src, spec, settings, &recipe)?;
    let mut out = Output::new(tx);
    let built = engine.build(context, tag, build_args(settings), |line| out.push(&line)).await;
    if let Err(error) = built {
        let detail = match error {
            EngineError::Build(message) => message,
            other => error_chain(&other),
        };
        return Err(out.failed("building the image", None, Some(detail)));
    }
    step.done();
    Ok(())
}

/// `paas-deps:<hash>` for the plan: reused when it exists, else installed.
async fn dependency_image(
    engine: &Engine,
    settings: &BuildSettings,
    spec: &AppSpec,
    plan: &DependencyPlan,
    base: &ImageFacts,
    tx: &UnboundedSender<String>,
) -> Result<String, BuildError> {
    let uses_gunicorn = spec.processes.values().any(|c| c.split_whitespace().next() == Some("gunicorn"));
    let add_gunicorn = uses_gunicorn && !deps::mentions(plan, "gunicorn");
    let script = install::script(plan, settings.installer, add_gunicorn);
    let files = install::files(plan, settings)?;
    let tag = install::tag(&base.id, &script, &files, settings);
    if engine.image_exists(&tag).await {
        let _ = tx.send(format!(
            "-----> Dependencies unchanged ({} and what it refers to): using the cached install {tag}",
            plan.source.file()
        ));
        return Ok(tag);
    }
    let installer = settings.installer.name();
    let step = Step::begin(tx, format!("Installing dependencies from {} with {installer}", plan.source.file()));
    if add_gunicorn {
        let _ = tx.send(format!("{INDENT}Adding gunicorn (a process runs it; the app does not list it)"));
    }
    let mut out = Output::new(tx);
    let job = Snapshot {
        from: &settings.base_image,
        files,
        script: &script,
        env: install::env(settings),
        cache_dir: &settings.cache_dir,
        cache_target: install::CACHE_MOUNT,
        tag: &tag,
        image_env: base.env.clone(),
        limit: settings.timeout,
    };
    let code = engine.snapshot(job, |line| out.push(&line)).await;
    match code {
        Ok(0) => {}
        Ok(code) => return Err(out.failed("installing dependencies", Some(code), None)),
        Err(error) => return Err(out.failed("installing dependencies", None, Some(error_chain(&error)))),
    }
    step.done();
    Ok(tag)
}

/// Creates the node's build cache directory, writable by the app user the
/// installs run as.
pub fn prepare_cache_dir(dir: &Path) -> std::io::Result<PathBuf> {
    for sub in ["", "uv", "pip"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path)?;
        std::os::unix::fs::chown(&path, Some(10000), Some(10000))?;
    }
    Ok(dir.to_path_buf())
}

/// Rebuilds a release's image on this node from the build's stored source,
/// under the same tag: images stay node-local when no registry is
/// configured, so a node that must run an image it lacks makes it itself
/// (reusing its own cached dependency images). The static-files step runs
/// again with the release's config (`env`) so the image holds what
/// collectstatic wrote; the bundle and the release command are not repeated.
pub async fn rebuild_image(
    api: &AgentClient,
    engine: &Engine,
    settings: &BuildSettings,
    build_id: uuid::Uuid,
    image: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<(), BuildError> {
    let source = api.built_source(build_id).await.map_err(BuildError::Fetch)?;
    let workspace = unpack_source(source).await?;
    let plan = deps::plan(&workspace.src)?;
    // Built under a staging tag: the reconcile loop starts instances as soon
    // as `image` exists, which must be after the static-files step.
    let staging = format!("{image}-staging");
    make_image(engine, settings, &workspace.src, &workspace.spec, plan.as_ref(), &staging, None).await?;
    let say = |line: String| tracing::debug!(image, line, "rebuild statics");
    statics::collect(engine, (&staging, image), &workspace.src, &workspace.spec, env, settings, false, &say).await?;
    Ok(())
}
