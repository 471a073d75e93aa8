//! The dependency step: an image `paas-deps:<hash>` holding `/app/.venv`
//! with the app's dependencies, named by a hash of everything that decides
//! it (base image, installer, the install script, the dependency input
//! files). An unchanged hash reuses the image: a code-only push never
//! reinstalls. A new one is made by running the installer in a container of
//! the base image with the node's download/wheel cache mounted, then
//! committing it (see `docker::snapshot` for why not a Dockerfile `RUN`).

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::deps::{DependencyPlan, APP_DIR, GEN_DIR};
use super::error::{BuildError, BuildSettings};
use super::installer::{Installer, VENV, VENV_DIR};

/// Where the node's cache directory is mounted in install containers.
pub(super) const CACHE_MOUNT: &str = "/var/cache/paas-python";
/// The bash script of the install container: each command is announced on
/// a `paas-run: ` line so the output can name the one that failed.
pub(super) fn script(plan: &DependencyPlan, installer: Installer, add_gunicorn: bool) -> String {
    let mut s = String::from("run() { echo \"paas-run: $*\"; \"$@\"; }\n");
    // `venv` refuses to create through a symlink: it is made where it lives.
    s.push_str(&format!("python3 -m venv --without-pip {VENV_DIR}\ncd {APP_DIR}\n"));
    if plan.uv_export {
        s.push_str(&format!(
            "run uv export --frozen --no-dev --no-emit-project --no-header --quiet -o {GEN_DIR}/locked.txt\n"
        ));
    }
    if !plan.install_from.is_empty() {
        let files: Vec<String> = plan.install_from.iter().map(|f| format!("-r {f}")).collect();
        let no_deps = if plan.locked { "--no-deps " } else { "" };
        s.push_str(&format!("run {}\n", installer.install(&format!("{no_deps}{}", files.join(" ")))));
    }
    if add_gunicorn {
        s.push_str(&format!("run {}\n", installer.install("gunicorn")));
    }
    s
}

/// The Dockerfile command installing the app's own project from `/app`
/// once the code is there (`python_version`: the version the app asked for,
/// when the image's Python does not satisfy it, so the install goes on).
pub(super) fn project_command(
    plan: &DependencyPlan,
    installer: Installer,
    python_version: Option<&str>,
) -> Option<String> {
    let project = plan.project.as_ref()?;
    let mut args = String::new();
    if !project.with_deps {
        args.push_str("--no-deps ");
    }
    if let Some(version) = python_version {
        args.push_str(&match installer {
            Installer::Uv => format!("--python-version {version} "),
            Installer::Pip => "--ignore-requires-python ".to_string(),
        });
    }
    args.push_str(if project.editable { "-e /app" } else { "/app" });
    Some(installer.install(&args))
}

/// Environment of the install container (cache locations, index, proxy,
/// CA bundle); none of it stays in the image.
pub(super) fn env(settings: &BuildSettings) -> Vec<String> {
    let mut env = vec![
        format!("UV_CACHE_DIR={CACHE_MOUNT}/uv"),
        format!("PIP_CACHE_DIR={CACHE_MOUNT}/pip"),
        // The cache is another filesystem: hard links cannot cross it.
        "UV_LINK_MODE=copy".into(),
        "UV_NO_PROGRESS=1".into(),
        // App containers cannot write into the venv: compile its bytecode now.
        "UV_COMPILE_BYTECODE=1".into(),
        "NO_COLOR=1".into(),
        "HOME=/tmp".into(),
    ];
    if settings.ca_bundle.is_some() {
        env.push("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".into());
    }
    if let Some(index) = &settings.pip_index_url {
        env.push(format!("PIP_INDEX_URL={index}"));
        env.push(format!("UV_DEFAULT_INDEX={index}"));
    }
    if let Some(proxy) = &settings.https_proxy {
        env.extend(["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"].map(|k| format!("{k}={proxy}")));
    }
    env
}

/// The files of the install container: the dependency inputs under
/// [`APP_DIR`], generated lists under [`GEN_DIR`], the CA bundle, and the
/// empty [`VENV_DIR`] (the app user's) with its link [`VENV`].
pub(super) fn files(plan: &DependencyPlan, settings: &BuildSettings) -> Result<Vec<u8>, BuildError> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    let mut entries: Vec<(String, &[u8])> =
        plan.files.iter().map(|(p, b)| (format!("{}/{p}", &APP_DIR[1..]), b.as_slice())).collect();
    entries.extend(plan.generated.iter().map(|(p, t)| (format!("{}/{p}", &GEN_DIR[1..]), t.as_bytes())));
    dirs.insert(GEN_DIR[1..].to_string());
    for (path, _) in &entries {
        let mut parent = PathBuf::from(path);
        while parent.pop() && parent.starts_with("tmp/paas") {
            dirs.insert(parent.to_string_lossy().to_string());
        }
    }
    for dir in &dirs {
        let mut header = header(0, 0o755);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_cksum();
        tar.append_data(&mut header, dir, std::io::empty())?;
    }
    for (path, bytes) in entries {
        let mut header = header(bytes.len() as u64, 0o644);
        tar.append_data(&mut header, path, bytes)?;
    }
    venv_entries(&mut tar)?;
    if let Some(ca) = &settings.ca_bundle {
        let mut header = header(ca.len() as u64, 0o644);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, "etc/ssl/certs/ca-certificates.crt", ca.as_slice())?;
    }
    Ok(tar.into_inner()?)
}

/// [`VENV_DIR`]'s parent (root's), the directory (the app user's) and the
/// link to it at [`VENV`].
fn venv_entries(tar: &mut tar::Builder<Vec<u8>>) -> std::io::Result<()> {
    let parent = std::path::Path::new(&VENV_DIR[1..]).parent().expect("VENV_DIR has a parent");
    for (dir, owner) in [(parent.to_string_lossy().to_string(), 0), (VENV_DIR[1..].to_string(), 10000)] {
        let mut header = header(0, 0o755);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_uid(owner);
        header.set_gid(owner);
        header.set_cksum();
        tar.append_data(&mut header, dir, std::io::empty())?;
    }
    let mut link = header(0, 0o777);
    link.set_entry_type(tar::EntryType::Symlink);
    tar.append_link(&mut link, &VENV[1..], VENV_DIR)
}

fn header(size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(10000);
    header.set_gid(10000);
    header
}

/// `paas-deps:<hash>`: the same inputs on the same base give the same tag,
/// whichever app they belong to.
pub(super) fn tag(base_id: &str, script: &str, files: &[u8], settings: &BuildSettings) -> String {
    let mut hash = Sha256::new();
    for part in
        [base_id.as_bytes(), script.as_bytes(), files, settings.pip_index_url.as_deref().unwrap_or("").as_bytes()]
    {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    format!("paas-deps:{}", &hex::encode(hash.finalize())[..20])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::deps::{DependencySource, ProjectInstall};

    fn plan() -> DependencyPlan {
        DependencyPlan {
            source: DependencySource::Requirements,
            files: [("requirements.txt".to_string(), b"flask\n".to_vec())].into(),
            generated: Default::default(),
            install_from: vec![format!("{APP_DIR}/requirements.txt")],
            locked: false,
            uv_export: false,
            project: Some(ProjectInstall { editable: false, with_deps: false }),
            notes: vec![],
        }
    }

    #[test]
    fn scripts_per_installer() {
        let uv = script(&plan(), Installer::Uv, true);
        assert!(uv.contains("run uv pip install --python /app/.venv/bin/python -r /tmp/paas/app/requirements.txt\n"));
        assert!(uv.ends_with("run uv pip install --python /app/.venv/bin/python gunicorn\n"), "{uv}");
        let pip = script(&plan(), Installer::Pip, false);
        assert!(pip.contains("python3 -m pip --python /app/.venv/bin/python install --progress-bar off"), "{pip}");
        assert!(!pip.contains("gunicorn"));
        let project = project_command(&plan(), Installer::Uv, Some("3.12")).unwrap();
        assert_eq!(project, "uv pip install --python /app/.venv/bin/python --no-deps --python-version 3.12 /app");
    }

    #[test]
    fn the_venv_lives_outside_the_app_directory_behind_a_link() {
        assert!(script(&plan(), Installer::Uv, false).starts_with(&format!(
            "run() {{ echo \"paas-run: $*\"; \"$@\"; }}\npython3 -m venv --without-pip {VENV_DIR}\n"
        )));
        let tar = files(&plan(), &BuildSettings::default()).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries: Vec<(String, tar::EntryType, u64, Option<String>)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e.link_name().unwrap().map(|l| l.to_string_lossy().to_string());
                (
                    e.path().unwrap().to_string_lossy().to_string(),
                    e.header().entry_type(),
                    e.header().uid().unwrap(),
                    link,
                )
            })
            .collect();
        assert!(entries.contains(&("opt/paas/venv".into(), tar::EntryType::Directory, 10000, None)), "{entries:?}");
        let link = ("app/.venv".to_string(), tar::EntryType::Symlink, 10000, Some("/opt/paas/venv".to_string()));
        assert!(entries.contains(&link), "{entries:?}");
    }

    #[test]
    fn the_tag_follows_the_inputs_only() {
        let settings = BuildSettings::default();
        let a = files(&plan(), &settings).unwrap();
        assert_eq!(tag("base1", "s", &a, &settings), tag("base1", "s", &files(&plan(), &settings).unwrap(), &settings));
        assert_ne!(tag("base1", "s", &a, &settings), tag("base2", "s", &a, &settings));
        let mut changed = plan();
        changed.files.insert("requirements.txt".into(), b"flask==3.1\n".to_vec());
        assert_ne!(
            tag("base1", "s", &a, &settings),
            tag("base1", "s", &files(&changed, &settings).unwrap(), &settings)
        );
    }
}
