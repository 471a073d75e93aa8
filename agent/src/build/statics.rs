//! The static-files step of a build, after the image is built: ask the app
//! itself where its static files are (`statics_probe.py` in a one-off
//! container of the new image, with the app's config vars), run Django's
//! `collectstatic` there, bake the collected files into the image (so
//! whitenoise and `{% static %}` find their manifest at run time), and pack
//! the bundle the router serves.
//!
//! Precedence: `paas.json` `static` mappings, then what the app reports
//! (Django `STATIC_URL`/`STATIC_ROOT`, Flask `static_url_path`/
//! `static_folder` per app and blueprint), then the `static/` convention of
//! `detect.rs` for apps that are neither.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use paas_types::routing::StaticMapping;

use super::error::{BuildSettings, StaticsError};
use crate::detect::{self, AppSpec};
use crate::docker::{Engine, APP_USER};

/// Where the probe lands in the image (`paas/` of the context is `/etc/paas/`).
pub(super) const PROBE_PATH: &str = "paas/statics_probe.py";
const PROBE: &str = include_str!("statics_probe.py");
const MARKER: &str = "PAAS-STATICS ";
/// The app's root inside the image.
const APP_DIR: &str = "/app";

/// What the probe reported (its `PAAS-STATICS` line).
#[derive(Debug, Default, serde::Deserialize)]
struct Report {
    framework: Option<String>,
    #[serde(default)]
    mappings: Vec<Reported>,
    /// Django's STATIC_ROOT, when collectstatic filled it.
    collected: Option<String>,
    failed: Option<i64>,
    note: Option<String>,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Reported {
    url_prefix: String,
    /// Absolute path inside the image.
    path: String,
}

/// The static files of a build: mappings for the route table and the gzip
/// tarball the router downloads (`None` when there is nothing to serve).
pub(super) struct Statics {
    pub mappings: Vec<StaticMapping>,
    pub bundle: Option<Vec<u8>>,
}

/// The files the probe needs in the build context.
pub(super) fn context_files() -> Vec<(String, Vec<u8>)> {
    vec![(PROBE_PATH.to_string(), PROBE.as_bytes().to_vec())]
}

/// Where the step's output goes: the build log, or the agent's own log on a rebuild.
pub(super) type Say<'a> = &'a (dyn Fn(String) + Send + Sync);

/// Runs the step on the freshly built image `tag`, leaving the final image
/// as `into` (the same tag on a build; on a rebuild, `tag` is a staging tag
/// so no instance starts from an image without its collected files).
/// `pack` makes the router's bundle too (a rebuild only needs the image).
#[expect(clippy::too_many_arguments, reason = "one step of the build, called from two places")]
pub(super) async fn collect(
    engine: &Engine,
    (tag, into): (&str, &str),
    src: &Path,
    spec: &AppSpec,
    env: &BTreeMap<String, String>,
    settings: &BuildSettings,
    pack: bool,
    say: Say<'_>,
) -> Result<Statics, StaticsError> {
    say("-----> Asking the app where its static files are".into());
    let mut env = env.clone();
    if let Some(web) = spec.processes.get("web") {
        env.insert("PAAS_WEB_COMMAND".into(), web.clone());
    }
    let mut report_line = None;
    let command = format!("python3 /etc/{PROBE_PATH}");
    let (id, code) = engine
        .run_kept(tag, &command, &env, &[], settings.timeout, |line| match line.strip_prefix(MARKER) {
            Some(json) => report_line = Some(json.to_string()),
            None => say(format!("       {line}")),
        })
        .await
        .map_err(StaticsError::Probe)?;
    let outcome = async {
        let code = code.map_err(StaticsError::Probe)?;
        let report = match report_line.as_deref().map(serde_json::from_str::<Report>) {
            Some(Ok(report)) => report,
            _ => {
                say(format!(" !     The static-files probe exited with {code} and no report; using the source tree"));
                Report::default()
            }
        };
        apply(engine, &id, (tag, into), src, spec, report, pack, say).await
    }
    .await;
    engine.remove_quietly(&id).await;
    outcome
}

#[expect(clippy::too_many_arguments, reason = "the step's context, passed once")]
async fn apply(
    engine: &Engine,
    id: &str,
    (tag, into): (&str, &str),
    src: &Path,
    spec: &AppSpec,
    report: Report,
    pack: bool,
    say: Say<'_>,
) -> Result<Statics, StaticsError> {
    if let Some(code) = report.failed {
        return Err(StaticsError::Collectstatic(code));
    }
    for message in report.note.iter().chain(&report.error) {
        say(format!("       {message}"));
    }
    match &report.collected {
        Some(root) => {
            let files =
                engine.copy_out(id, root).await.map_err(|source| StaticsError::Copy { path: root.clone(), source })?;
            bake(engine, (tag, into), Some((root, &files)), say).await?;
        }
        None if tag != into => bake(engine, (tag, into), None, say).await?,
        None => {}
    }
    if !pack {
        return Ok(Statics { mappings: Vec::new(), bundle: None });
    }
    if declared_in_manifest(src) {
        say("       paas.json declares the static mappings".into());
        return from_source(src, spec);
    }
    let Some(framework) = report.framework else { return from_source(src, spec) };
    let mut mappings = Vec::new();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (index, reported) in report.mappings.iter().enumerate() {
        let dir = bundle_dir(&reported.path, index);
        let files = engine
            .copy_out(id, &reported.path)
            .await
            .map_err(|source| StaticsError::Copy { path: reported.path.clone(), source })?;
        rewrap(&files, &dir, &mut tar).map_err(StaticsError::Pack)?;
        say(format!("       {framework}: {} -> {}", reported.url_prefix, reported.path));
        mappings.push(StaticMapping { url_prefix: reported.url_prefix.clone(), dir });
    }
    let bundle = tar.into_inner().and_then(|gz| gz.finish()).map_err(StaticsError::Pack)?;
    Ok(Statics { bundle: (!mappings.is_empty()).then_some(bundle), mappings })
}

/// Whether `paas.json` has a `static` key, which overrides what the app reports.
fn declared_in_manifest(src: &Path) -> bool {
    let Ok(text) = detect::read_small(&src.join("paas.json")) else { return false };
    serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("static").is_some())
}

/// The mappings `detect.rs` found in the source, packed from the source tree.
fn from_source(src: &Path, spec: &AppSpec) -> Result<Statics, StaticsError> {
    if spec.statics.is_empty() {
        return Ok(Statics { mappings: Vec::new(), bundle: None });
    }
    Ok(Statics { bundle: Some(source_bundle(src, spec)?), mappings: spec.statics.clone() })
}

/// A gzip tarball of the source's static directories, paths relative to the app root.
fn source_bundle(src: &Path, spec: &AppSpec) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    tar.follow_symlinks(false);
    for mapping in &spec.statics {
        tar.append_dir_all(&mapping.dir, src.join(&mapping.dir))?;
    }
    tar.into_inner()?.finish()
}

/// The bundle directory of an image path: relative to the app when inside it.
fn bundle_dir(path: &str, index: usize) -> String {
    let inside = path.strip_prefix(APP_DIR).and_then(|rest| rest.strip_prefix('/')).map(|r| r.trim_end_matches('/'));
    match inside {
        Some(rel) if !rel.is_empty() && rel.split('/').all(|p| !p.is_empty() && p != "." && p != "..") => rel.into(),
        _ => format!("paas-static-{index}"),
    }
}

/// Copies the directories and regular files of a `docker cp` tarball (whose
/// entries start with one top directory) into `out` under `dir`.
fn rewrap<W: std::io::Write>(tarball: &[u8], dir: &str, out: &mut tar::Builder<W>) -> std::io::Result<usize> {
    let mut archive = tar::Archive::new(tarball);
    let mut count = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            continue;
        }
        let path = entry.path()?.into_owned();
        let rest: std::path::PathBuf = path.components().skip(1).collect();
        if rest.as_os_str().is_empty() {
            continue;
        }
        let mut data = Vec::with_capacity(entry.header().size()? as usize);
        entry.read_to_end(&mut data)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(entry.header().mtime().unwrap_or(0));
        header.set_cksum();
        out.append_data(&mut header, Path::new(dir).join(rest), data.as_slice())?;
        count += 1;
    }
    Ok(count)
}

/// Makes `into` from `tag` plus the collected STATIC_ROOT, when there is
/// one: the one-off container had the app's config vars, which must not end
/// up in an image layer, so its files are copied, not the container committed.
async fn bake(
    engine: &Engine,
    (tag, into): (&str, &str),
    collected: Option<(&str, &[u8])>,
    say: Say<'_>,
) -> Result<(), StaticsError> {
    let mut context = tar::Builder::new(Vec::new());
    let mut dockerfile = format!("FROM {tag}\n");
    if let Some((root, _)) = collected {
        dockerfile.push_str(&format!("COPY --chown={APP_USER} collected/ {root}/\n"));
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    context.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
    let count = match collected {
        Some((_, files)) => rewrap(files, "collected", &mut context)?,
        None => 0,
    };
    let context = context.into_inner()?;
    engine
        .build(context, into, Default::default(), |line| tracing::debug!(line, "baking static files"))
        .await
        .map_err(StaticsError::Bake)?;
    if let Some((root, _)) = collected {
        say(format!("       {count} collected files added to the image at {root}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_dirs_stay_relative() {
        assert_eq!(bundle_dir("/app/staticfiles", 0), "staticfiles");
        assert_eq!(bundle_dir("/app/app/static/", 0), "app/static");
        assert_eq!(bundle_dir("/srv/static", 1), "paas-static-1");
        assert_eq!(bundle_dir("/app", 2), "paas-static-2");
        assert_eq!(bundle_dir("/app/../etc", 3), "paas-static-3");
        assert_eq!(bundle_dir("/application/x", 4), "paas-static-4");
    }

    #[test]
    fn rewrap_moves_files_under_the_bundle_dir() {
        let mut cp = tar::Builder::new(Vec::new());
        for (path, data) in [("staticfiles/css/app.css", &b"body{}"[..]), ("staticfiles/staticfiles.json", b"{}")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            cp.append_data(&mut header, path, data).unwrap();
        }
        let cp = cp.into_inner().unwrap();
        let mut out = tar::Builder::new(Vec::new());
        assert_eq!(rewrap(&cp, "app/static", &mut out).unwrap(), 2);
        let out = out.into_inner().unwrap();
        let mut names: Vec<String> = tar::Archive::new(out.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["app/static/css/app.css", "app/static/staticfiles.json"]);
    }

    #[test]
    fn probe_reports_parse() {
        let r: Report = serde_json::from_str(
            r#"{"framework": "django", "collected": "/app/staticfiles",
                "mappings": [{"url_prefix": "/static/", "path": "/app/staticfiles"}]}"#,
        )
        .unwrap();
        assert_eq!(r.framework.as_deref(), Some("django"));
        assert_eq!(r.mappings[0].url_prefix, "/static/");
        assert!(r.failed.is_none());
    }
}
