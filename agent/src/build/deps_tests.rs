//! Table-driven tests of the dependency inputs (`deps.rs`).

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

const PYPROJECT: &str = "[project]\nname = \"shop\"\nversion = \"1\"\ndependencies = [\"flask>=3\"]\n\
    [project.optional-dependencies]\nredis = [\"redis\"]\n\
    [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";

#[test]
fn requirement_lines_are_classified() {
    let cases: &[(&str, Line)] = &[
        ("flask==3.0", Line::Other),
        ("flask[async]>=3 ; python_version > '3.8'", Line::Other),
        (".", Line::Local { path: ".", editable: false, extras: vec![] }),
        ("-e .", Line::Local { path: ".", editable: true, extras: vec![] }),
        ("--editable=.[redis]", Line::Local { path: ".", editable: true, extras: vec!["redis".into()] }),
        ("./libs/util", Line::Local { path: "./libs/util", editable: false, extras: vec![] }),
        (
            "wheels/x-1.0-py3-none-any.whl",
            Line::Local { path: "wheels/x-1.0-py3-none-any.whl", editable: false, extras: vec![] },
        ),
        ("file:./libs/util", Line::Local { path: "./libs/util", editable: false, extras: vec![] }),
        ("-r base.txt", Line::Include("base.txt")),
        ("-rbase.txt", Line::Include("base.txt")),
        ("--requirement=base.txt", Line::Include("base.txt")),
        ("-c constraints.txt", Line::Include("constraints.txt")),
        ("-r https://example.org/r.txt", Line::Other),
        ("-e git+https://github.com/x/y#egg=y", Line::Other),
        ("pkg @ https://example.org/pkg.whl", Line::Other),
        ("--find-links wheels", Line::FindLinks("wheels")),
        ("--index-url https://example.org/simple", Line::Other),
    ];
    for (line, expected) in cases {
        assert_eq!(&classify(line), expected, "{line}");
    }
}

#[test]
fn a_comment_is_a_change_of_the_inputs() {
    let t = tree(&[("requirements.txt", "flask\n# pinned later\n")]);
    let p = plan(t.path()).unwrap().unwrap();
    assert_eq!(p.files["requirements.txt"], b"flask\n# pinned later\n");
}

#[test]
fn continuations_and_comments() {
    let lines = logical_lines("# top\nflask==3.0 \\\n    --hash=sha256:aa  # pinned\n\nredis\n");
    assert_eq!(lines, vec![(2, "flask==3.0     --hash=sha256:aa".to_string()), (5, "redis".to_string())]);
}

#[test]
fn sources_in_order_of_precedence() {
    let cases: &[(Files<'_>, Option<DependencySource>)] = &[
        (&[("wsgi.py", "")], None),
        (&[("requirements.txt", "flask\n")], Some(DependencySource::Requirements)),
        (&[("pyproject.toml", PYPROJECT)], Some(DependencySource::Pyproject)),
        (&[("pyproject.toml", PYPROJECT), ("requirements.txt", ".\n")], Some(DependencySource::Requirements)),
        (&[("pyproject.toml", PYPROJECT), ("uv.lock", ""), ("requirements.txt", "")], Some(DependencySource::UvLock)),
        (&[("Pipfile.lock", "{\"default\": {}}"), ("requirements.txt", "")], Some(DependencySource::PipfileLock)),
    ];
    for (files, expected) in cases {
        let t = tree(files);
        assert_eq!(plan(t.path()).unwrap().map(|p| p.source), *expected, "{files:?}");
    }
}

#[test]
fn the_app_itself_in_requirements_caches_its_static_dependencies() {
    let t = tree(&[
        ("requirements.txt", "-r base.txt\n-e .[redis]\n./libs/util\n"),
        ("base.txt", "gunicorn\n-c constraints.txt\n"),
        ("constraints.txt", "flask<4\n"),
        ("libs/util/pyproject.toml", "[project]\nname = \"util\"\n"),
        ("pyproject.toml", PYPROJECT),
        ("shop/__init__.py", "code that must not reach the layer"),
    ]);
    let p = plan(t.path()).unwrap().unwrap();
    let files: Vec<&str> = p.files.keys().map(String::as_str).collect();
    assert_eq!(
        files,
        ["base.txt", "constraints.txt", "libs/util/pyproject.toml", "pyproject.toml", "requirements.txt"],
        "only dependency inputs, never the code"
    );
    assert_eq!(p.generated["project-deps.txt"], "flask>=3\nredis\n");
    assert_eq!(p.project, Some(ProjectInstall { editable: true, with_deps: false }));
    let rewritten = String::from_utf8(p.files["requirements.txt"].clone()).unwrap();
    assert_eq!(
        rewritten, "-r base.txt\n# (paas) the app's own project, installed with its code: -e .[redis]\n./libs/util\n",
        "only the line naming the app changes"
    );
    assert_eq!(p.install_from, ["/tmp/paas/gen/project-deps.txt", "/tmp/paas/app/requirements.txt"]);
    assert!(mentions(&p, "gunicorn"));
    assert!(!mentions(&p, "django"));
}

#[test]
fn dynamic_dependencies_install_with_the_code() {
    let t = tree(&[
        ("requirements.txt", ".\n"),
        ("pyproject.toml", "[project]\nname = \"x\"\ndynamic = [\"dependencies\", \"version\"]\n"),
    ]);
    let p = plan(t.path()).unwrap().unwrap();
    assert_eq!(p.project, Some(ProjectInstall { editable: false, with_deps: true }));
    assert!(p.generated.is_empty());
    assert_eq!(p.notes.len(), 1);
}

#[test]
fn locks_install_as_locked() {
    let t = tree(&[("pyproject.toml", PYPROJECT), ("uv.lock", "version = 1\n")]);
    let p = plan(t.path()).unwrap().unwrap();
    assert!(p.uv_export && p.locked);
    assert_eq!(p.install_from, ["/tmp/paas/gen/locked.txt"]);
    assert_eq!(p.project, Some(ProjectInstall { editable: false, with_deps: false }));
    let virtual_project = format!("{PYPROJECT}[tool.uv]\npackage = false\n");
    let t = tree(&[("pyproject.toml", &virtual_project), ("uv.lock", "")]);
    assert_eq!(plan(t.path()).unwrap().unwrap().project, None);
}

#[test]
fn bad_references_name_the_file_and_line() {
    let cases: &[(&str, &str)] = &[
        ("flask\n../outside\n", "requirements.txt line 2: ../outside is outside the app"),
        ("-r /etc/passwd\n", "requirements.txt line 1: /etc/passwd is outside the app"),
        ("./missing\n", "requirements.txt line 1: ./missing is not in the app"),
        (".\n", "requirements.txt line 1: `.` names the app itself, but it has no pyproject.toml"),
    ];
    for (requirements, message) in cases {
        let t = tree(&[("requirements.txt", requirements)]);
        let error = plan(t.path()).unwrap_err().to_string();
        assert!(error.starts_with(message), "{requirements:?}: {error}");
    }
}
