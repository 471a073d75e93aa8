//! `deploy`: upload the source as a tarball, follow the build, wait for the release.

use std::path::Path;
use std::time::{Duration, Instant};

use paas_types::{ActualState, App, Build, BuildDetail, BuildStatus, Instance};

use crate::context::Context;
use crate::error::CliError;
use crate::output;

/// Directories never uploaded.
const SKIPPED: &[&str] = &[".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache"];

pub async fn run(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    let tarball = pack(dir).map_err(CliError::io(format!("cannot pack {}", dir.display())))?;
    let spinner = output::spinner(&format!("Uploading {} KiB", tarball.len() / 1024));
    let build: Build = client.create_build(&app, tarball, None).await?;
    spinner.finish_and_clear();
    eprintln!("-----> Build {} queued", &build.id.simple().to_string()[..8]);
    let detail = follow_build(ctx, &app, build.id).await?;
    if detail.build.status != BuildStatus::Succeeded {
        return Err(CliError::Failed(format!(
            "build failed: {}; the running release is unchanged",
            detail.build.error.unwrap_or_else(|| "see the log above".into())
        )));
    }
    let release = detail.build.release.ok_or_else(|| CliError::Failed("the build made no release".into()))?;
    eprintln!("-----> Released v{release}");
    let info: App = client.app(&app).await?;
    let spinner = output::spinner(&format!("Waiting for v{release} to pass health checks"));
    let serving = wait_for_release(ctx, &app, release, Duration::from_secs(120)).await?;
    spinner.finish_and_clear();
    if serving {
        eprintln!("-----> {} deployed (v{release} is serving)", info.web_url);
    } else {
        eprintln!("-----> v{release} released, but no web instance is healthy yet; see `paas ps` and `paas logs`");
    }
    if ctx.json {
        output::json(&detail.build);
    }
    Ok(())
}

/// Prints the build log as it grows; returns the finished build.
async fn follow_build(ctx: &Context, app: &str, build: uuid::Uuid) -> Result<BuildDetail, CliError> {
    let client = ctx.client()?;
    let mut printed = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3600) {
        let detail: BuildDetail = client.build(app, build).await?;
        if detail.log.len() > printed {
            eprint!("{}", &detail.log[printed..]);
            printed = detail.log.len();
        }
        if detail.build.status.is_finished() {
            return Ok(detail);
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    Err(CliError::Failed("gave up waiting for the build after an hour".into()))
}

/// True once a web instance of `release` is healthy (or the app runs no web).
async fn wait_for_release(ctx: &Context, app: &str, release: i32, limit: Duration) -> Result<bool, CliError> {
    let client = ctx.client()?;
    let started = Instant::now();
    while started.elapsed() < limit {
        let instances: Vec<Instance> = client.list_instances(app).await?;
        if instances.iter().any(|i| i.process_type == "web" && i.release == release && i.state == ActualState::Running)
        {
            return Ok(true);
        }
        let formation: Vec<paas_types::ProcessFormation> = client.formation(app).await?;
        if !formation.iter().any(|f| f.process_type == "web" && f.quantity > 0) {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(false)
}

/// A gzip tarball of `dir`, without VCS and cache directories.
fn pack(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    tar.follow_symlinks(false);
    add_dir(&mut tar, dir, Path::new(""))?;
    tar.into_inner()?.finish()
}

fn add_dir<W: std::io::Write>(tar: &mut tar::Builder<W>, root: &Path, relative: &Path) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        let path = relative.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            add_dir(tar, root, &path)?;
        } else if kind.is_file() || kind.is_symlink() {
            tar.append_path_with_name(root.join(&path), &path)?;
        }
    }
    Ok(())
}
