//! Builds: claim a queued build, unpack its source, detect how to run it,
//! pack its static files, and build an image on the base image whose
//! dependency layer is cached between pushes that keep `requirements.txt`.
//! Output streams to the API line by line; a failure is reported with its
//! log and never touches the running release.
//!
//! One job per module: `unpack` (source tarball -> workspace), `recipe`
//! (Dockerfile, supervisord configs, build context, static bundle),
//! `output` (build log streaming and the lease), `statics` (ask the app for
//! its static files, Django's collectstatic, the router's bundle).

mod error;
mod output;
mod recipe;
mod statics;
mod unpack;

use std::sync::Arc;

use paas_types::agent::{BuildJob, BuildResult};

pub use self::error::{BuildError, BuildSettings};
use self::output::BuildLog;
use self::recipe::{build_args, build_context, describe_statics};
use self::unpack::{unpack_source, Workspace};
use crate::client::{AgentClient, ClientError};
use crate::detect::AppSpec;
use crate::docker::Engine;
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

async fn build(
    api: &AgentClient,
    engine: &Engine,
    settings: &BuildSettings,
    job: &BuildJob,
    log: &BuildLog,
) -> Result<(AppSpec, String), BuildError> {
    log.line(format!("-----> Building {} on {}", job.app, settings.base_image));
    let source = api.build_source(job.build_id).await.map_err(BuildError::Fetch)?;
    let Workspace { _dir, src, mut spec, skipped } = unpack_source(source).await?;
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
/// (reusing its own cached dependency layers). The static-files step runs
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
    let context = build_context(&workspace.src, &workspace.spec, settings)?;
    // Built under a staging tag: the reconcile loop starts instances as soon
    // as `image` exists, which must be after the static-files step.
    let staging = format!("{image}-staging");
    engine
        .build(context, &staging, build_args(settings), |line| tracing::debug!(image, line, "rebuild"))
        .await
        .map_err(|e| BuildError::Image(error_chain(&e)))?;
    let say = |line: String| tracing::debug!(image, line, "rebuild statics");
    statics::collect(engine, (&staging, image), &workspace.src, &workspace.spec, env, settings, false, &say).await?;
    Ok(())
}
