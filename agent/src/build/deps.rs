//! The app's dependency inputs: which files decide the cached dependency
//! layer (requirement files and everything they reference, lock files,
//! project metadata) and what the install step does with them. Nothing else
//! of the tree reaches that layer, so a code-only push reuses it.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::locks;
use crate::detect::read_small;

/// Where generated requirement files live in the install container.
pub(super) const GEN_DIR: &str = "/tmp/paas/gen";
/// Where the dependency inputs of the tree are copied in the install container.
pub(super) const APP_DIR: &str = "/tmp/paas/app";
/// Largest total size of the files the dependency layer depends on.
const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Which file the dependencies come from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencySource {
    UvLock,
    PoetryLock,
    PipfileLock,
    Requirements,
    Pyproject,
}

impl DependencySource {
    /// The file name, as shown in the build output.
    pub fn file(self) -> &'static str {
        match self {
            DependencySource::UvLock => "uv.lock",
            DependencySource::PoetryLock => "poetry.lock",
            DependencySource::PipfileLock => "Pipfile.lock",
            DependencySource::Requirements => "requirements.txt",
            DependencySource::Pyproject => "pyproject.toml",
        }
    }
}

/// The app's own project (`.` in requirements, or a pyproject.toml app),
/// installed after the code is copied, since it is the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInstall {
    pub editable: bool,
    /// Its dependencies are not static metadata, so they install with it
    /// (and are not cached).
    pub with_deps: bool,
}

/// What the dependency step installs, read from the app's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyPlan {
    pub source: DependencySource,
    /// Tree files the layer depends on (relative path -> contents).
    pub files: BTreeMap<String, Vec<u8>>,
    /// Generated files (name in [`GEN_DIR`] -> contents).
    pub generated: BTreeMap<String, String>,
    /// Requirement files to install, absolute paths in the install container.
    pub install_from: Vec<String>,
    /// The requirement set is a complete lock: install it without resolving.
    pub locked: bool,
    /// `uv export` turns uv.lock into [`GEN_DIR`]`/locked.txt` first.
    pub uv_export: bool,
    pub project: Option<ProjectInstall>,
    /// Lines for the build output (files ignored, dependencies not cached).
    pub notes: Vec<String>,
}

/// Why the dependency inputs cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DepsError {
    #[error("{file} line {line}: {reason}")]
    Requirement { file: String, line: usize, reason: String },
    #[error("{file} is invalid: {reason}")]
    Invalid { file: String, reason: String },
    #[error("the files the dependencies refer to are larger than 256 MiB")]
    TooLarge,
}

/// Reads the dependency inputs of the tree at `root`; `None` when the app
/// declares no dependencies at all.
pub fn plan(root: &Path) -> Result<Option<DependencyPlan>, DepsError> {
    let found: Vec<DependencySource> = [
        DependencySource::UvLock,
        DependencySource::PoetryLock,
        DependencySource::PipfileLock,
        DependencySource::Requirements,
        DependencySource::Pyproject,
    ]
    .into_iter()
    .filter(|s| root.join(s.file()).is_file())
    .collect();
    let Some(&source) = found.first() else { return Ok(None) };
    let mut plan = DependencyPlan {
        source,
        files: BTreeMap::new(),
        generated: BTreeMap::new(),
        install_from: Vec::new(),
        locked: false,
        uv_export: false,
        project: None,
        notes: Vec::new(),
    };
    let ignored: Vec<&str> = found[1..].iter().map(|s| s.file()).filter(|f| *f != "pyproject.toml").collect();
    if !ignored.is_empty() {
        plan.notes.push(format!("Using {}; ignoring {}", source.file(), ignored.join(", ")));
    }
    let mut inputs = Inputs { root, plan: &mut plan, total: 0 };
    match source {
        DependencySource::Requirements => inputs.requirements("requirements.txt", 0)?,
        DependencySource::Pyproject => inputs.project_itself(false, &[], "pyproject.toml")?,
        DependencySource::UvLock => inputs.uv_lock()?,
        DependencySource::PoetryLock => inputs.poetry_lock()?,
        DependencySource::PipfileLock => inputs.pipfile_lock()?,
    }
    Ok(Some(plan))
}

/// Every requirement name the plan installs, lowercased (to add gunicorn
/// only when the app does not bring its own).
pub fn mentions(plan: &DependencyPlan, name: &str) -> bool {
    let texts = plan
        .files
        .iter()
        .filter(|(path, _)| path.ends_with(".txt") || path.ends_with(".lock") || path.ends_with(".toml"))
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).to_ascii_lowercase())
        .chain(plan.generated.values().map(|t| t.to_ascii_lowercase()));
    texts.into_iter().any(|text| {
        text.lines().any(|line| {
            let line = line.trim_start_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
            let line = line.strip_prefix("name = \"").unwrap_or(line);
            line.strip_prefix(name).is_some_and(|rest| {
                rest.is_empty() || !rest.starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_')
            })
        })
    })
}

struct Inputs<'a> {
    root: &'a Path,
    plan: &'a mut DependencyPlan,
    total: u64,
}

impl Inputs<'_> {
    fn add_file(&mut self, rel: &str) -> Result<(), DepsError> {
        let bytes = std::fs::read(self.root.join(rel))
            .map_err(|e| DepsError::Invalid { file: rel.to_string(), reason: e.to_string() })?;
        self.total += bytes.len() as u64;
        if self.total > MAX_INPUT_BYTES {
            return Err(DepsError::TooLarge);
        }
        self.plan.files.insert(rel.to_string(), bytes);
        Ok(())
    }

    fn add_dir(&mut self, rel: &str) -> Result<(), DepsError> {
        let entries = std::fs::read_dir(self.root.join(rel))
            .map_err(|e| DepsError::Invalid { file: rel.to_string(), reason: e.to_string() })?;
        let mut names: Vec<String> =
            entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        for name in names {
            if name == ".git" || name == "__pycache__" {
                continue;
            }
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let meta = std::fs::symlink_metadata(self.root.join(&child))
                .map_err(|e| DepsError::Invalid { file: child.clone(), reason: e.to_string() })?;
            if meta.is_dir() {
                self.add_dir(&child)?;
            } else if meta.is_file() {
                self.add_file(&child)?;
            }
        }
        Ok(())
    }

    /// A requirements file and everything it refers to inside the tree.
    fn requirements(&mut self, rel: &str, depth: usize) -> Result<(), DepsError> {
        if self.plan.files.contains_key(rel) {
            return Ok(());
        }
        let text = read_small(&self.root.join(rel))
            .map_err(|e| DepsError::Invalid { file: rel.to_string(), reason: e.to_string() })?;
        let base_dir = Path::new(rel).parent().map(Path::to_path_buf).unwrap_or_default();
        // Lines naming the app itself are commented out; every other byte
        // stays, so any edit of a requirement file makes a new layer.
        let mut own_lines = Vec::new();
        for (number, line) in logical_lines(&text) {
            let err = |reason: String| DepsError::Requirement { file: rel.to_string(), line: number, reason };
            match classify(&line) {
                Line::Include(target) => {
                    let target = inside(&base_dir.join(target)).ok_or_else(|| err(outside(target)))?;
                    if depth > 10 {
                        return Err(err("requirement files nest more than 10 deep".into()));
                    }
                    self.requirements(&target, depth + 1)?;
                }
                Line::Local { path, editable, extras } => {
                    let target = inside(Path::new(path)).ok_or_else(|| err(outside(path)))?;
                    if target.is_empty() {
                        self.project_itself(editable, &extras, rel).map_err(|e| match e {
                            DepsError::Invalid { reason, .. } => err(reason),
                            other => other,
                        })?;
                        own_lines.push(number);
                        continue;
                    }
                    let full = self.root.join(&target);
                    if full.is_dir() {
                        self.add_dir(&target)?;
                    } else if full.is_file() {
                        self.add_file(&target)?;
                    } else {
                        return Err(err(format!("{path} is not in the app")));
                    }
                }
                Line::FindLinks(path) => {
                    if let Some(target) = inside(Path::new(path)).filter(|t| self.root.join(t).is_dir()) {
                        self.add_dir(&target)?;
                    }
                }
                Line::Other => {}
            }
        }
        let rewritten = comment_out(&text, &own_lines);
        self.total += text.len() as u64;
        self.plan.files.insert(rel.to_string(), rewritten.into_bytes());
        if depth == 0 {
            self.plan.install_from.push(format!("{APP_DIR}/{rel}"));
        }
        Ok(())
    }

    /// The app's own project: its metadata files are inputs of the layer;
    /// static dependencies install there, the project itself with the code.
    fn project_itself(&mut self, editable: bool, extras: &[String], from: &str) -> Result<(), DepsError> {
        let metadata = ["pyproject.toml", "setup.cfg", "setup.py"];
        let present: Vec<&str> = metadata.into_iter().filter(|f| self.root.join(f).is_file()).collect();
        if present.is_empty() {
            return Err(DepsError::Invalid {
                file: from.to_string(),
                reason: "`.` names the app itself, but it has no pyproject.toml, setup.cfg or setup.py".into(),
            });
        }
        for file in &present {
            self.add_file(file)?;
        }
        let pyproject = match read_small(&self.root.join("pyproject.toml")) {
            Ok(text) => Some(parse_toml("pyproject.toml", &text)?),
            Err(_) => None,
        };
        let dependencies = pyproject.as_ref().and_then(|p| static_dependencies(p, extras));
        let installable =
            from != "pyproject.toml" || pyproject.as_ref().is_some_and(|p| p.get("build-system").is_some());
        if let Some(deps) = &dependencies {
            let name = "project-deps.txt";
            self.plan.generated.insert(name.into(), deps.join("\n") + "\n");
            self.plan.install_from.push(format!("{GEN_DIR}/{name}"));
        }
        if installable {
            self.plan.project = Some(ProjectInstall { editable, with_deps: dependencies.is_none() });
            if dependencies.is_none() {
                self.plan.notes.push(
                    "The project's dependencies are not static [project] metadata: they install with the code, \
                     uncached"
                        .into(),
                );
            }
        }
        Ok(())
    }

    fn uv_lock(&mut self) -> Result<(), DepsError> {
        self.add_file("uv.lock")?;
        self.add_file("pyproject.toml")?;
        let pyproject =
            parse_toml("pyproject.toml", &read_small(&self.root.join("pyproject.toml")).unwrap_or_default())?;
        let package = pyproject.get("tool").and_then(|t| t.get("uv")).and_then(|u| u.get("package"));
        let virtual_project = package.and_then(toml::Value::as_bool) == Some(false);
        if pyproject.get("build-system").is_some() && !virtual_project {
            self.plan.project = Some(ProjectInstall { editable: false, with_deps: false });
        }
        self.plan.uv_export = true;
        self.plan.locked = true;
        self.plan.install_from.push(format!("{GEN_DIR}/locked.txt"));
        Ok(())
    }

    fn poetry_lock(&mut self) -> Result<(), DepsError> {
        self.add_file("poetry.lock")?;
        self.add_file("pyproject.toml")?;
        let pyproject =
            parse_toml("pyproject.toml", &read_small(&self.root.join("pyproject.toml")).unwrap_or_default())?;
        let lock = parse_toml("poetry.lock", &String::from_utf8_lossy(&self.plan.files["poetry.lock"]))?;
        let pinned = locks::poetry(&pyproject, &lock)
            .map_err(|reason| DepsError::Invalid { file: "poetry.lock".into(), reason })?;
        let package_mode = pyproject.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("package-mode"));
        if pyproject.get("build-system").is_some() && package_mode.and_then(toml::Value::as_bool) != Some(false) {
            self.plan.project = Some(ProjectInstall { editable: false, with_deps: false });
        }
        self.locked(pinned);
        Ok(())
    }

    fn pipfile_lock(&mut self) -> Result<(), DepsError> {
        self.add_file("Pipfile.lock")?;
        let text = String::from_utf8_lossy(&self.plan.files["Pipfile.lock"]).to_string();
        let (pinned, project) =
            locks::pipfile(&text).map_err(|reason| DepsError::Invalid { file: "Pipfile.lock".into(), reason })?;
        if let Some(editable) = project {
            self.project_itself(editable, &[], "Pipfile.lock")?;
        }
        self.locked(pinned);
        Ok(())
    }

    fn locked(&mut self, pinned: String) {
        self.plan.generated.insert("locked.txt".into(), pinned);
        self.plan.install_from.insert(0, format!("{GEN_DIR}/locked.txt"));
        self.plan.locked = true;
    }
}

fn parse_toml(file: &str, text: &str) -> Result<toml::Table, DepsError> {
    text.parse::<toml::Table>().map_err(|e| DepsError::Invalid { file: file.into(), reason: e.message().to_string() })
}

/// `[project] dependencies` (plus the asked extras), unless they are dynamic.
fn static_dependencies(pyproject: &toml::Table, extras: &[String]) -> Option<Vec<String>> {
    let project = pyproject.get("project")?.as_table()?;
    let dynamic = project.get("dynamic").and_then(toml::Value::as_array);
    if dynamic.is_some_and(|d| d.iter().any(|v| v.as_str() == Some("dependencies"))) {
        return None;
    }
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut deps = strings(project.get("dependencies"));
    let optional = project.get("optional-dependencies");
    for extra in extras {
        deps.extend(strings(optional.and_then(|o| o.get(extra.as_str()))));
    }
    Some(deps)
}

/// The Python requirement the project declares (`requires-python`).
pub fn requires_python(root: &Path) -> Option<String> {
    let table = read_small(&root.join("pyproject.toml")).ok()?.parse::<toml::Table>().ok()?;
    Some(table.get("project")?.get("requires-python")?.as_str()?.to_string())
}

/// A relative path inside the tree, normalized ("" is the root); `None`
/// when it is absolute or leaves the tree.
fn inside(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => parts.push(part.to_str()?.to_string()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

fn outside(path: &str) -> String {
    format!("{path} is outside the app (only files inside the pushed tree can be installed)")
}

/// `text` with the logical lines starting at `numbers` (and their `\`
/// continuations) turned into comments.
fn comment_out(text: &str, numbers: &[usize]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut continuing = false;
    for (index, line) in text.lines().enumerate() {
        let own = continuing || numbers.contains(&(index + 1));
        if own {
            out.push_str("# (paas) the app's own project, installed with its code: ");
        }
        out.push_str(line);
        out.push('\n');
        continuing = own && line.trim_end().ends_with('\\');
    }
    out
}

/// Lines with `\` continuations joined and comments removed, numbered
/// from the line they start on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        // pip's rule: `#` at the start or after whitespace begins a comment.
        let at = raw.char_indices().find(|&(i, c)| c == '#' && (i == 0 || raw[..i].ends_with(char::is_whitespace)));
        let line = at.map_or(raw, |(i, _)| &raw[..i]);
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (line, false),
        };
        let entry = current.get_or_insert_with(|| (index + 1, String::new()));
        entry.1.push_str(body);
        if !continues {
            let (number, text) = current.take().unwrap_or_default();
            if !text.trim().is_empty() {
                out.push((number, text.trim().to_string()));
            }
        }
    }
    out.extend(current.filter(|(_, t)| !t.trim().is_empty()));
    out
}

/// What a requirements line means for the layer's inputs.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    /// `-r` / `-c`: another file of the tree.
    Include(&'a str),
    /// A path inside the tree (`.`, `./libs/x`, a wheel), maybe editable.
    Local {
        path: &'a str,
        editable: bool,
        extras: Vec<String>,
    },
    /// `--find-links` / `-f` with a local directory.
    FindLinks(&'a str),
    Other,
}

fn classify(line: &str) -> Line<'_> {
    let option = |long: &str, short: &str| -> Option<&str> {
        let value = line
            .strip_prefix(&format!("{long}="))
            .or_else(|| line.strip_prefix(&format!("{long} ")))
            .or_else(|| line.strip_prefix(short))?;
        Some(value.trim().trim_start_matches('=').trim())
    };
    if let Some(target) = option("--requirement", "-r").or_else(|| option("--constraint", "-c")) {
        return if target.contains("://") { Line::Other } else { Line::Include(target) };
    }
    if let Some(target) = option("--editable", "-e") {
        return local(target, true).unwrap_or(Line::Other);
    }
    if let Some(target) = option("--find-links", "-f") {
        return if target.contains("://") { Line::Other } else { Line::FindLinks(target) };
    }
    if line.starts_with('-') {
        return Line::Other;
    }
    let first = line.split_whitespace().next().unwrap_or(line);
    local(first.split(';').next().unwrap_or(first).trim(), false).unwrap_or(Line::Other)
}

/// A requirement that is a path: starts with `.` or `file:`, has a `/`, or
/// names an archive; `name @ url` and URLs are not.
fn local(spec: &str, editable: bool) -> Option<Line<'_>> {
    let spec = spec.strip_prefix("file:").unwrap_or(spec);
    if spec.contains("://") || spec.contains('@') {
        return None;
    }
    let (path, extras) = match spec.split_once('[') {
        Some((path, rest)) => {
            (path, rest.trim_end_matches(']').split(',').map(|e| e.trim().to_string()).collect::<Vec<_>>())
        }
        None => (spec, Vec::new()),
    };
    let archive = [".whl", ".tar.gz", ".zip", ".tgz"].iter().any(|ext| path.ends_with(ext));
    (path.starts_with('.') || path.starts_with('/') || path.contains('/') || archive).then_some(Line::Local {
        path,
        editable,
        extras,
    })
}

#[cfg(test)]
#[path = "deps_tests.rs"]
mod tests;
