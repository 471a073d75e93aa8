//! The image recipe of a build: the docker build context (Dockerfile, the
//! source, the requirements with gunicorn added when needed), one
//! supervisord config per process type (the static-files bundle is `statics.rs`).

use std::collections::HashMap;
use std::path::Path;

use super::error::{BuildError, BuildSettings};
use crate::detect::{self, AppSpec};

pub(super) fn build_args(settings: &BuildSettings) -> HashMap<String, String> {
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

pub(super) fn describe_statics(spec: &AppSpec) -> String {
    spec.statics.iter().map(|m| format!("{} -> {}/", m.url_prefix, m.dir)).collect::<Vec<_>>().join(", ")
}

/// The docker build context: Dockerfile, the source, and generated files.
pub(super) fn build_context(src: &Path, spec: &AppSpec, settings: &BuildSettings) -> Result<Vec<u8>, BuildError> {
    let mut files: Vec<(String, Vec<u8>)> = vec![("Dockerfile".into(), dockerfile(spec, settings).into_bytes())];
    files.extend(super::statics::context_files());
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
