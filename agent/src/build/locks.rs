//! Lock files turned into pinned requirement lists (with hashes where the
//! lock has them for every package), so either installer installs exactly
//! what was locked. uv.lock needs no translation (`uv export` does it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Pinned requirements of poetry.lock: the packages reachable from the
/// project's main dependencies (dev groups are left out).
pub(super) fn poetry(pyproject: &toml::Table, lock: &toml::Table) -> Result<String, String> {
    let packages = lock.get("package").and_then(toml::Value::as_array).ok_or("it has no [[package]] entries")?;
    let by_name: BTreeMap<String, &toml::Value> =
        packages.iter().filter_map(|p| Some((normalize(p.get("name")?.as_str()?), p))).collect();
    // Name -> the markers of the edges reaching it (`None`: some edge has none).
    let mut reached: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut queue: VecDeque<(String, Option<String>)> =
        main_dependencies(pyproject).into_iter().map(|n| (n, None)).collect();
    while let Some((name, marker)) = queue.pop_front() {
        match (reached.get_mut(&name), marker) {
            (Some(known), None) => *known = None,
            (Some(Some(known)), Some(marker)) => {
                known.insert(marker);
            }
            (Some(None), Some(_)) => {}
            (None, marker) => {
                reached.insert(name.clone(), marker.map(|m| BTreeSet::from([m])));
                let Some(package) = by_name.get(&name) else { continue };
                for (dep, spec) in package.get("dependencies").and_then(toml::Value::as_table).into_iter().flatten() {
                    // A list of specs means one per environment: each carries its markers.
                    let specs: Vec<&toml::Value> = match spec.as_array() {
                        Some(list) => list.iter().collect(),
                        None => vec![spec],
                    };
                    for spec in specs {
                        if spec.get("optional").and_then(toml::Value::as_bool) == Some(true) {
                            continue;
                        }
                        let marker = spec.get("markers").and_then(toml::Value::as_str).map(str::to_string);
                        queue.push_back((normalize(dep), marker));
                    }
                }
            }
        }
    }
    let chosen: Vec<(&toml::Value, String)> = reached
        .iter()
        .filter_map(|(name, markers)| {
            let marker = match markers {
                Some(set) => format!(" ; {}", set.iter().map(|m| format!("({m})")).collect::<Vec<_>>().join(" or ")),
                None => String::new(),
            };
            Some((*by_name.get(name)?, marker))
        })
        .collect();
    let hashed = chosen.iter().all(|(p, _)| !file_hashes(p).is_empty());
    let mut out = String::new();
    for (package, marker) in chosen {
        let name = package.get("name").and_then(toml::Value::as_str).unwrap_or_default();
        let version = package.get("version").and_then(toml::Value::as_str).unwrap_or_default();
        let source = package.get("source");
        let kind = source.and_then(|s| s.get("type")).and_then(toml::Value::as_str);
        let url = source.and_then(|s| s.get("url")).and_then(toml::Value::as_str).unwrap_or_default();
        match kind {
            Some("git") => {
                let rev = source.and_then(|s| s.get("resolved_reference")).and_then(toml::Value::as_str);
                out.push_str(&format!("{name} @ git+{url}@{}\n", rev.unwrap_or("HEAD")));
            }
            Some("url") => out.push_str(&format!("{name} @ {url}\n")),
            Some("directory") | Some("file") => {
                return Err(format!("{name} comes from the local path {url:?}: list it in requirements.txt instead"))
            }
            _ => {
                out.push_str(&format!("{name}=={version}{marker}"));
                if hashed {
                    for hash in file_hashes(package) {
                        out.push_str(&format!(" \\\n    --hash={hash}"));
                    }
                }
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// Names of the main dependencies: PEP 621 `[project] dependencies`, else
/// `[tool.poetry.dependencies]` without `python`.
fn main_dependencies(pyproject: &toml::Table) -> Vec<String> {
    let pep621 = pyproject.get("project").and_then(|p| p.get("dependencies")).and_then(toml::Value::as_array);
    if let Some(list) = pep621 {
        return list.iter().filter_map(toml::Value::as_str).map(requirement_name).collect();
    }
    let poetry = pyproject.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("dependencies"));
    poetry
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().filter(|k| k.as_str() != "python").map(|k| normalize(k)).collect())
        .unwrap_or_default()
}

fn file_hashes(package: &toml::Value) -> Vec<String> {
    let files = package.get("files").and_then(toml::Value::as_array);
    files.map(|f| f.iter().filter_map(|f| f.get("hash")?.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Pinned requirements of Pipfile.lock's `default` section, and whether
/// it installs the app itself (`{"path": ".", "editable": ...}`).
pub(super) fn pipfile(text: &str) -> Result<(String, Option<bool>), String> {
    let lock: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let default = lock.get("default").and_then(|d| d.as_object()).ok_or("it has no \"default\" section")?;
    let hashed = default
        .values()
        .filter(|p| p.get("path").is_none())
        .all(|p| p.get("hashes").and_then(|h| h.as_array()).is_some_and(|h| !h.is_empty()));
    let mut out = String::new();
    let mut project = None;
    for (name, package) in default {
        let field = |key: &str| package.get(key).and_then(|v| v.as_str());
        if let Some(path) = field("path") {
            if path == "." || path == "./" {
                project = Some(package.get("editable").and_then(|e| e.as_bool()).unwrap_or(false));
                continue;
            }
            return Err(format!("{name} comes from the local path {path:?}: list it in requirements.txt instead"));
        }
        let line = match (field("git"), field("version")) {
            (Some(git), _) => format!("{name} @ git+{git}@{}", field("ref").unwrap_or("HEAD")),
            (None, Some(version)) => format!("{name}{version}"),
            (None, None) => name.clone(),
        };
        out.push_str(&line);
        if let Some(markers) = field("markers") {
            out.push_str(&format!(" ; {markers}"));
        }
        if hashed {
            for hash in package["hashes"].as_array().into_iter().flatten().filter_map(|h| h.as_str()) {
                out.push_str(&format!(" \\\n    --hash={hash}"));
            }
        }
        out.push('\n');
    }
    Ok((out, project))
}

/// The distribution name of a PEP 508 requirement, normalized.
fn requirement_name(requirement: &str) -> String {
    let end = requirement.find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'));
    normalize(&requirement[..end.unwrap_or(requirement.len())])
}

/// PEP 503 normalization: lowercase, runs of `-_.` become `-`.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_lock_keeps_main_dependencies_and_hashes() {
        let pyproject: toml::Table =
            "[tool.poetry.dependencies]\npython = \"^3.9\"\nFlask = \"^3.0\"\n[tool.poetry.group.dev.dependencies]\npytest = \"*\"\n"
                .parse()
                .unwrap();
        let lock: toml::Table = r#"
[[package]]
name = "flask"
version = "3.0.0"
files = [{file = "flask-3.0.0-py3-none-any.whl", hash = "sha256:aa"}]
[package.dependencies]
Werkzeug = ">=3.0"
python-dotenv = {version = "*", optional = true}
colorama = {version = "*", markers = "platform_system == \"Windows\""}

[[package]]
name = "werkzeug"
version = "3.0.1"
files = [{file = "werkzeug-3.0.1-py3-none-any.whl", hash = "sha256:bb"}]

[[package]]
name = "colorama"
version = "0.4.6"
files = [{file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:dd"}]

[[package]]
name = "pytest"
version = "8.0.0"
files = [{file = "pytest-8.0.0-py3-none-any.whl", hash = "sha256:cc"}]
"#
        .parse()
        .unwrap();
        let pinned = poetry(&pyproject, &lock).unwrap();
        assert_eq!(
            pinned,
            "colorama==0.4.6 ; (platform_system == \"Windows\") \\\n    --hash=sha256:dd\n\
             flask==3.0.0 \\\n    --hash=sha256:aa\nwerkzeug==3.0.1 \\\n    --hash=sha256:bb\n",
            "dev and optional packages are left out; edge markers kept"
        );
    }

    #[test]
    fn pipfile_lock_pins_with_markers_and_finds_the_app_itself() {
        let text = r#"{"_meta": {}, "default": {
            "flask": {"version": "==3.0.0", "hashes": ["sha256:aa"]},
            "colorama": {"version": "==0.4.6", "hashes": ["sha256:bb"], "markers": "sys_platform == 'win32'"},
            "myapp": {"path": ".", "editable": true}
        }, "develop": {"pytest": {"version": "==8.0.0"}}}"#;
        let (pinned, project) = pipfile(text).unwrap();
        assert!(pinned.contains("flask==3.0.0 \\\n    --hash=sha256:aa\n"), "{pinned}");
        assert!(pinned.contains("colorama==0.4.6 ; sys_platform == 'win32'"), "{pinned}");
        assert!(!pinned.contains("pytest") && !pinned.contains("myapp"), "{pinned}");
        assert_eq!(project, Some(true));
        assert!(pipfile("{}").is_err());
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(requirement_name("Flask_SQLAlchemy[async]>=3 ; python_version>'3'"), "flask-sqlalchemy");
        assert_eq!(normalize("zope.interface"), "zope-interface");
    }
}
