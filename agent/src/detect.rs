//! What an app's source says about how to run it: the Procfile, or a WSGI
//! entry point found by convention (`wsgi.py`/`app.py`, a Flask app
//! factory, a Django project), which directories hold static files, and
//! which URL prefixes go to process types other than `web` (`paas.json`).

use std::collections::BTreeMap;
use std::path::Path;

use paas_types::routing::StaticMapping;

/// How to run an app, as read from its source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// Process type -> shell command (the `release` type excluded).
    pub processes: BTreeMap<String, String>,
    /// The Procfile's `release:` command, run once before a rollout.
    pub release_command: Option<String>,
    pub has_requirements: bool,
    pub statics: Vec<StaticMapping>,
    /// URL prefix -> process type, from `paas.json`'s `routes`.
    pub routes: BTreeMap<String, String>,
}

/// Why a source tree cannot be run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DetectError {
    #[error("Procfile line {line}: {reason}")]
    Procfile { line: usize, reason: String },
    #[error(
        "no Procfile and no WSGI entry point found. Looked for: a Procfile with a `web:` line; wsgi.py or app.py \
         defining `application` or `app`; a package (or src/ package) whose __init__.py defines `create_app()` \
         (Flask app factory); manage.py naming a Django project with <project>/wsgi.py. Add a Procfile with \
         this line (adjust module:variable): `{suggestion}`"
    )]
    NoEntryPoint { suggestion: String },
    #[error("paas.json is invalid: {0}")]
    Manifest(String),
}

/// Reads the source tree at `root`.
pub fn detect(root: &Path) -> Result<AppSpec, DetectError> {
    let (mut processes, release_command) = match read_small(&root.join("Procfile")) {
        Ok(text) => parse_procfile(&text)?,
        Err(_) => (BTreeMap::new(), None),
    };
    if !processes.contains_key("web") {
        if let Some(entry) = find_wsgi_entry(root) {
            processes.insert("web".into(), format!("gunicorn {entry}"));
        } else if processes.is_empty() {
            return Err(DetectError::NoEntryPoint { suggestion: suggest_procfile(root) });
        }
    }
    let manifest = read_manifest(root)?;
    Ok(AppSpec {
        routes: process_routes(manifest.routes, &processes)?,
        processes,
        release_command,
        has_requirements: root.join("requirements.txt").is_file(),
        statics: static_mappings(root, manifest.r#static)?,
    })
}

/// `paas.json`: what an app declares beyond its Procfile. Every key is optional.
#[derive(Debug, Default, serde::Deserialize)]
struct Manifest {
    /// URL prefix -> directory served by the router (`None`: the default `static/`).
    #[serde(default)]
    r#static: Option<BTreeMap<String, String>>,
    /// URL prefix -> process type serving it.
    #[serde(default)]
    routes: BTreeMap<String, String>,
}

fn read_manifest(root: &Path) -> Result<Manifest, DetectError> {
    match read_small(&root.join("paas.json")) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| DetectError::Manifest(e.to_string())),
        Err(_) => Ok(Manifest::default()),
    }
}

/// The `routes` of paas.json, checked: each prefix well-formed, each
/// process type one of the Procfile's other than `web`.
fn process_routes(
    declared: BTreeMap<String, String>,
    processes: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DetectError> {
    for (prefix, process_type) in &declared {
        let problem = |why: String| DetectError::Manifest(format!("routes {prefix:?} -> {process_type:?}: {why}"));
        if let Some(why) = paas_types::process_routes::prefix_problem(prefix) {
            return Err(problem(why.to_string()));
        }
        if process_type == "web" {
            return Err(problem("everything no route names goes to web already: drop this route".into()));
        }
        if !processes.contains_key(process_type) {
            let known: Vec<&str> = processes.keys().map(String::as_str).collect();
            return Err(problem(format!(
                "the Procfile has no {process_type:?} process type (it has: {}). Add a line such as \
                 `{process_type}: uvicorn asgi:app --host 0.0.0.0 --port $PORT` to the Procfile",
                known.join(", ")
            )));
        }
    }
    Ok(declared)
}

/// Reads a small text file of the app (at most 1 MiB, regular files only).
pub(crate) fn read_small(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() || meta.len() > 1024 * 1024 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a small regular file"));
    }
    std::fs::read_to_string(path)
}

/// Parses `type: command` lines; `#` comments and blank lines are skipped.
pub fn parse_procfile(text: &str) -> Result<(BTreeMap<String, String>, Option<String>), DetectError> {
    let mut processes = BTreeMap::new();
    let mut release = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: &str| DetectError::Procfile { line: index + 1, reason: reason.into() };
        let (name, command) = line.split_once(':').ok_or_else(|| err("expected `type: command`"))?;
        let (name, command) = (name.trim(), command.trim());
        let name_ok = !name.is_empty()
            && name.len() <= 30
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(err("process types are a-z, 0-9, '_' and '-', starting with a letter"));
        }
        if command.is_empty() {
            return Err(err("the command is empty"));
        }
        if name == "release" {
            release = Some(command.to_string());
        } else if processes.insert(name.to_string(), command.to_string()).is_some() {
            return Err(err("this process type is defined twice"));
        }
    }
    Ok((processes, release))
}

/// The WSGI target of an app, for `gunicorn <target>`: `wsgi.py` or
/// `app.py` exposing `application` or `app` (or a `create_app()` factory),
/// a package whose `__init__.py` defines `create_app()` (Flask app
/// factory; at the top or under `src/`), or a Django project named by
/// `manage.py` (else any `<project>/` with `wsgi.py` and `settings.py`).
pub fn find_wsgi_entry(root: &Path) -> Option<String> {
    for module in ["wsgi", "app"] {
        if let Ok(source) = read_small(&root.join(format!("{module}.py"))) {
            if let Some(var) = exposed_variable(&source) {
                return Some(format!("{module}:{var}"));
            }
            if defines(&source, "create_app") {
                return Some(format!("'{module}:create_app()'"));
            }
        }
    }
    if let Some(project) = django_project(root) {
        return Some(format!("{project}.wsgi:application"));
    }
    if let Some(package) = factory_package(root) {
        return Some(format!("'{package}:create_app()'"));
    }
    sorted_dirs(root)
        .into_iter()
        .filter(|d| d.join("wsgi.py").is_file() && d.join("settings.py").is_file())
        .find_map(|d| d.file_name()?.to_str().map(|project| format!("{project}.wsgi:application")))
}

/// The project package of a Django `manage.py` (from its
/// `DJANGO_SETTINGS_MODULE` default), when `<project>/wsgi.py` exists.
fn django_project(root: &Path) -> Option<String> {
    let manage = read_small(&root.join("manage.py")).ok()?;
    let line = manage.lines().find_map(|l| l.split_once("DJANGO_SETTINGS_MODULE").map(|(_, rest)| rest))?;
    let dotted =
        |part: &&str| part.contains('.') && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    let module = line.split(['"', '\'']).find(dotted)?;
    let project = module.split('.').next()?;
    let safe = !project.is_empty() && project.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (safe && root.join(project).join("wsgi.py").is_file()).then(|| project.to_string())
}

/// A package (top level, then under `src/`) whose `__init__.py` defines
/// `create_app()`.
fn factory_package(root: &Path) -> Option<String> {
    let candidates = sorted_dirs(root).into_iter().chain(sorted_dirs(&root.join("src")));
    candidates.into_iter().find_map(|dir| {
        let source = read_small(&dir.join("__init__.py")).ok()?;
        let name = dir.file_name()?.to_str()?;
        let importable = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        (importable && defines(&source, "create_app")).then(|| name.to_string())
    })
}

fn sorted_dirs(root: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut dirs: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// A top-level `def name(`.
fn defines(source: &str, name: &str) -> bool {
    source.lines().any(|line| line.strip_prefix("def ").is_some_and(|rest| rest.starts_with(&format!("{name}("))))
}

/// A Procfile line to start from when nothing was detected: the first
/// Python module or package of the tree, else a placeholder.
fn suggest_procfile(root: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(root) else { return "web: gunicorn module:app".into() };
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort();
    let module = names.iter().find_map(|name| {
        let stem = name.strip_suffix(".py").filter(|s| !["setup", "manage", "conftest"].contains(s));
        let package = root.join(name).join("__init__.py").is_file().then_some(name.as_str());
        stem.or(package).filter(|m| m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    });
    format!("web: gunicorn {}:app", module.unwrap_or("module"))
}

/// `application` or `app`, if assigned or defined at the top level.
fn exposed_variable(source: &str) -> Option<&'static str> {
    ["application", "app"].into_iter().find(|var| {
        source.lines().any(|line| {
            let assigned = line
                .strip_prefix(var)
                .is_some_and(|rest| rest.trim_start().starts_with('=') && !rest.trim_start().starts_with("=="));
            let defined = line.strip_prefix("def ").is_some_and(|rest| rest.starts_with(&format!("{var}(")));
            assigned || defined || imported(line, var)
        })
    })
}

/// `from module import a, b as var` binding `var` at the top level.
fn imported(line: &str, var: &str) -> bool {
    let Some((_, names)) = line.strip_prefix("from ").and_then(|rest| rest.split_once(" import ")) else {
        return false;
    };
    let names = names.split('#').next().unwrap_or("").trim_matches(|c: char| c.is_whitespace() || c == '(' || c == ')');
    names.split(',').any(|name| name.split(" as ").last().map(str::trim) == Some(var))
}

/// Static directories: from `paas.json` (`{"static": {"/static/": "static"}}`),
/// else `static/` at `/static/` when that directory exists.
fn static_mappings(root: &Path, declared: Option<BTreeMap<String, String>>) -> Result<Vec<StaticMapping>, DetectError> {
    let declared = match declared {
        Some(declared) => declared,
        None if root.join("static").is_dir() => BTreeMap::from([("/static/".into(), "static".into())]),
        None => BTreeMap::new(),
    };
    declared
        .into_iter()
        .map(|(prefix, dir)| {
            let dir_ok = !dir.is_empty()
                && !dir.starts_with('/')
                && dir.split('/').all(|part| !part.is_empty() && part != "..")
                && root.join(&dir).is_dir();
            if !prefix.starts_with('/') || !prefix.ends_with('/') || prefix.len() < 3 || !dir_ok {
                return Err(DetectError::Manifest(format!(
                    "static {prefix:?} -> {dir:?}: the prefix must look like /static/ and the directory must exist in the app"
                )));
            }
            Ok(StaticMapping { url_prefix: prefix, dir: dir.trim_end_matches('/').to_string() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree as `(path, contents)` pairs.
    type Files<'a> = &'a [(&'a str, &'a str)];

    fn tree(files: Files<'_>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        dir
    }

    #[test]
    fn procfile_types_and_release() {
        let (p, release) =
            parse_procfile("# comment\nweb: gunicorn app:app\n\nworker: python3 worker.py\nrelease: ./migrate\n")
                .unwrap();
        assert_eq!(p["web"], "gunicorn app:app");
        assert_eq!(p["worker"], "python3 worker.py");
        assert_eq!(release.as_deref(), Some("./migrate"));
        assert!(!p.contains_key("release"));
        assert!(parse_procfile("web gunicorn").is_err());
        assert!(parse_procfile("Web: x").is_err());
        assert!(parse_procfile("web:").is_err());
        assert!(parse_procfile("web: a\nweb: b").is_err());
        // Colons inside the command are kept.
        assert_eq!(parse_procfile("web: gunicorn -b :5000 a:b").unwrap().0["web"], "gunicorn -b :5000 a:b");
    }

    #[test]
    fn wsgi_entry_points() {
        let t = tree(&[("wsgi.py", "def application(environ, start_response):\n    pass\n")]);
        assert_eq!(find_wsgi_entry(t.path()).as_deref(), Some("wsgi:application"));
        let t = tree(&[("app.py", "from flask import Flask\napp = Flask(__name__)\n")]);
        assert_eq!(find_wsgi_entry(t.path()).as_deref(), Some("app:app"));
        let t = tree(&[("mysite/wsgi.py", "application = get_wsgi_application()\n"), ("mysite/settings.py", "")]);
        assert_eq!(find_wsgi_entry(t.path()).as_deref(), Some("mysite.wsgi:application"));
        let t = tree(&[("app.py", "if app == 3: pass\n")]);
        assert_eq!(find_wsgi_entry(t.path()), None);
    }

    #[test]
    fn entry_points_by_convention() {
        let cases: &[(Files<'_>, Option<&str>)] = &[
            (&[("wsgi.py", "def application(environ, start_response):\n    pass\n")], Some("wsgi:application")),
            (&[("app.py", "def create_app():\n    return Flask(__name__)\n")], Some("'app:create_app()'")),
            (
                &[("shop/__init__.py", "from flask import Flask\n\ndef create_app(config=None):\n    ...\n")],
                Some("'shop:create_app()'"),
            ),
            (
                &[("src/shop/__init__.py", "def create_app():\n    ...\n"), ("pyproject.toml", "")],
                Some("'shop:create_app()'"),
            ),
            (&[("shop/__init__.py", "# no factory\n")], None),
            (&[("wsgi.py", "from greeter import application  # noqa\n")], Some("wsgi:application")),
            (&[("app.py", "from shop.web import make as app, other\n")], Some("app:app")),
            (&[("app.py", "from shop import application_factory\n")], None),
            (
                &[
                    ("manage.py", "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"config.settings.prod\")\n"),
                    ("config/wsgi.py", "application = get_wsgi_application()\n"),
                    ("config/settings/prod.py", ""),
                    ("blog/__init__.py", "def create_app():\n    ...\n"),
                ],
                Some("config.wsgi:application"),
            ),
            (&[("manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n")], None),
        ];
        for (files, expected) in cases {
            let t = tree(files);
            assert_eq!(find_wsgi_entry(t.path()).as_deref(), *expected, "{files:?}");
        }
    }

    #[test]
    fn nothing_detected_says_what_was_looked_for() {
        let cases: &[(Files<'_>, &str)] = &[
            (&[("README", "")], "web: gunicorn module:app"),
            (&[("setup.py", ""), ("server.py", "x = 1\n")], "web: gunicorn server:app"),
            (&[("shop/__init__.py", "")], "web: gunicorn shop:app"),
        ];
        for (files, suggestion) in cases {
            let t = tree(files);
            let error = detect(t.path()).unwrap_err();
            assert_eq!(error, DetectError::NoEntryPoint { suggestion: suggestion.to_string() });
            let message = error.to_string();
            for looked_for in ["Procfile", "wsgi.py or app.py", "create_app()", "manage.py", suggestion] {
                assert!(message.contains(looked_for), "{message}");
            }
        }
    }

    #[test]
    fn detection_prefers_the_procfile_and_finds_statics() {
        let t = tree(&[("Procfile", "worker: python3 w.py\n"), ("wsgi.py", "application = 1\n"), ("static/a.css", "")]);
        let spec = detect(t.path()).unwrap();
        assert_eq!(spec.processes["web"], "gunicorn wsgi:application");
        assert_eq!(spec.processes["worker"], "python3 w.py");
        assert_eq!(spec.statics, vec![StaticMapping { url_prefix: "/static/".into(), dir: "static".into() }]);
        assert!(!spec.has_requirements);
        let t = tree(&[("wsgi.py", "application = 1\n"), ("paas.json", r#"{"static": {"/assets/": "../etc"}}"#)]);
        assert!(matches!(detect(t.path()), Err(DetectError::Manifest(_))));
    }

    #[test]
    fn paas_json_routes_name_procfile_types_other_than_web() {
        let procfile = ("Procfile", "web: gunicorn app:app\nasync: uvicorn asgi:app --port $PORT\n");
        let t = tree(&[
            procfile,
            ("static/a.css", ""),
            ("paas.json", r#"{"routes": {"/ws/": "async", "/events/": "async"}}"#),
        ]);
        let spec = detect(t.path()).unwrap();
        assert_eq!(spec.routes, BTreeMap::from([("/events/".into(), "async".into()), ("/ws/".into(), "async".into())]));
        assert_eq!(spec.statics.len(), 1, "a paas.json without `static` keeps the default static/ mapping");
        let cases = [
            (r#"{"routes": {"ws/": "async"}}"#, "starts with `/`"),
            (r#"{"routes": {"/ws/": "web"}}"#, "goes to web already"),
            (r#"{"routes": {"/ws/": "asgi"}}"#, "the Procfile has no \"asgi\" process type (it has: async, web)"),
            (r#"{"routes": {"/ws/": 3}}"#, "invalid type"),
        ];
        for (manifest, expected) in cases {
            let t = tree(&[procfile, ("paas.json", manifest)]);
            let message = detect(t.path()).unwrap_err().to_string();
            assert!(
                message.starts_with("paas.json is invalid: ") && message.contains(expected),
                "{manifest}: {message}"
            );
        }
    }
}
