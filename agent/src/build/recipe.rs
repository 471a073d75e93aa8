//! The image recipe of a build: the docker build context (a Dockerfile of
//! separate commented steps on the dependency image, the source), one
//! supervisord config per process type (the static-files step and bundle
//! are `statics.rs`).

use std::collections::HashMap;
use std::path::Path;

use super::error::{BuildError, BuildSettings};
use crate::detect::AppSpec;

pub(super) fn build_args(settings: &BuildSettings) -> HashMap<String, String> {
    let mut args = HashMap::new();
    if let Some(proxy) = &settings.https_proxy {
        args.insert("HTTPS_PROXY".to_string(), proxy.clone());
        args.insert("HTTP_PROXY".to_string(), proxy.clone());
    }
    if let Some(index) = &settings.pip_index_url {
        args.insert("PIP_INDEX_URL".to_string(), index.clone());
        args.insert("UV_DEFAULT_INDEX".to_string(), index.clone());
    }
    args
}

pub(super) fn describe_statics(spec: &AppSpec) -> String {
    spec.statics.iter().map(|m| format!("{} -> {}/", m.url_prefix, m.dir)).collect::<Vec<_>>().join(", ")
}

/// What the Dockerfile starts from and adds besides the code.
pub(super) struct Recipe<'a> {
    /// The dependency image (`paas-deps:<hash>`), or the base image when
    /// the app has no dependencies.
    pub from: &'a str,
    /// Whether `from` holds the app's virtualenv.
    pub venv: bool,
    /// Installs the app's own project once its code is in `/app`.
    pub project_command: Option<String>,
}

/// The docker build context: Dockerfile, the source, and generated files.
pub(super) fn build_context(
    src: &Path,
    spec: &AppSpec,
    settings: &BuildSettings,
    recipe: &Recipe<'_>,
) -> Result<Vec<u8>, BuildError> {
    let mut files: Vec<(String, Vec<u8>)> = vec![("Dockerfile".into(), dockerfile(settings, recipe).into_bytes())];
    files.extend(super::statics::context_files());
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

/// The image recipe, one commented step each, cheapest-to-change last.
fn dockerfile(settings: &BuildSettings, recipe: &Recipe<'_>) -> String {
    // Step 1, base and dependencies: the dependency image is made (and
    // cached by a hash of its inputs) before this build, see `install`.
    let mut d = format!("FROM {}\n", recipe.from);
    // Every RUN under bash with pipefail, so a piped command's failure counts.
    d.push_str("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n");
    if settings.ca_bundle.is_some() {
        d.push_str("COPY paas/ca.crt /etc/ssl/certs/ca-certificates.crt\n");
    }
    if recipe.venv {
        d.push_str("ENV PATH=/app/.venv/bin:$PATH VIRTUAL_ENV=/app/.venv\n");
    }
    // Step 2, the code and the generated process configs.
    d.push_str("COPY --chown=10000:10000 src/ /app/\n");
    d.push_str("COPY paas/ /etc/paas/\n");
    d.push_str("ENV HOME=/app PYTHONUNBUFFERED=1\n");
    d.push_str("USER 10000:10000\nWORKDIR /app\n");
    // Step 3, the app's own project (pyproject.toml / setup.py), which is
    // its code: reinstalled on every push, without its (cached) dependencies.
    if let Some(command) = &recipe.project_command {
        d.push_str("ARG HTTPS_PROXY\nARG HTTP_PROXY\nARG PIP_INDEX_URL\nARG UV_DEFAULT_INDEX\n");
        let ca = if settings.ca_bundle.is_some() { "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt " } else { "" };
        // The engine streams each write of the command as it comes; `sed -u`
        // hands them on as whole lines. `paas-run:` names the command.
        d.push_str(&format!(
            "RUN echo 'paas-run: {command}' && {ca}UV_CACHE_DIR=/tmp/uv-cache PIP_NO_CACHE_DIR=1 NO_COLOR=1 \
             UV_COMPILE_BYTECODE=1 UV_NO_PROGRESS=1 {command} 2>&1 | sed -u '' && rm -rf /tmp/uv-cache\n"
        ));
    }
    // Step 4, what a container runs.
    d.push_str("CMD [\"supervisord\", \"-c\", \"/etc/paas/supervisor/web.conf\"]\n");
    d
}

/// supervisord as PID 1 for one process type: restarts it on crash, stops
/// the whole process group on SIGTERM, sends its output to stdout. Its
/// XML-RPC socket (owner-only, in `/tmp`) lets the agent read the
/// program's state (`crate::supervisor`).
fn supervisor_conf(process_type: &str) -> String {
    format!(
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\nlogfile_maxbytes=0\npidfile=/tmp/supervisord.pid\n\n\
         [unix_http_server]\nfile=/tmp/supervisor.sock\nchmod=0700\n\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [program:{process_type}]\ncommand=/bin/bash /etc/paas/run/{process_type}.sh\ndirectory=/app\n\
         autostart=true\nautorestart=true\nstartsecs=1\nstartretries=1000\nstopsignal=TERM\nstopwaitsecs=10\n\
         stopasgroup=true\nkillasgroup=true\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n\
         redirect_stderr=true\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_installs_the_project_after_the_code() {
        let recipe = Recipe {
            from: "paas-deps:abc",
            venv: true,
            project_command: Some("uv pip install --python /app/.venv/bin/python --no-deps /app".into()),
        };
        let d = dockerfile(&BuildSettings { base_image: "base".into(), ..Default::default() }, &recipe);
        assert!(d.starts_with("FROM paas-deps:abc\n"), "{d}");
        let code = d.find("COPY --chown=10000:10000 src/").unwrap();
        let project = d.find("--no-deps /app").unwrap();
        assert!(code < project, "{d}");
        assert!(d.contains("USER 10000:10000"));
        let plain = Recipe { from: "base", venv: false, project_command: None };
        let d = dockerfile(&BuildSettings::default(), &plain);
        assert!(!d.contains("RUN") && !d.contains(".venv"), "{d}");
    }
}
