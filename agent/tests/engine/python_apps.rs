//! Python app shapes on the real engine, installed from PyPI with uv: a
//! Flask app factory that installs itself (`.` in requirements.txt), a
//! pyproject.toml-only app, a uv.lock app, a Django project without a
//! Procfile; and the build output a person reads.

use std::time::{Duration, Instant};

use test_support::agent::*;
use test_support::TestApi;

/// Uploads `source` to a new app `name`, waits for the build and a running
/// web instance, and GETs `path` from it. Returns the build log and body.
async fn deploy(api: &TestApi, token: &str, name: &str, source: Vec<u8>, path: &str) -> (String, String) {
    let started = Instant::now();
    let (status, build) = api.upload_build(token, name, source).await;
    assert_eq!(status, 202, "{build}");
    let detail = wait_build(api, token, name, &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let release = detail.build.release.expect("a release");
    let web = wait_for("the new release's web instance", Duration::from_secs(90), || async {
        running(api, token, name, "web").await.into_iter().find(|w| w.release >= release)
    })
    .await;
    let host = format!("{name}.paas.test");
    let (status, body) = http_get(web.address.as_deref().unwrap(), &host, path).await.expect("the instance answers");
    println!("{name}: upload to first 200 in {:?}", started.elapsed());
    assert_eq!(status, 200, "{body}");
    (detail.log, body)
}

/// `pyproject.toml` of a fixture with a comment no earlier run had, so the
/// dependency image is new (and really installed) in every run.
fn fresh_pyproject(fixture: &str) -> String {
    let text = std::fs::read_to_string(fixture_dir(&format!("{fixture}/pyproject.toml"))).unwrap();
    format!("{text}# run {}\n", uuid::Uuid::new_v4().simple())
}

fn fixture_dir(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps").join(path)
}

/// What no build log shows: engine step noise and terminal escapes.
fn assert_readable(log: &str) {
    for noise in ["Step ", "Running in ", "Removing intermediate container", " ---> ", "Successfully built", "\u{1b}"] {
        assert!(!log.contains(noise), "{noise:?} in the build log:\n{log}");
    }
    assert!(log.contains("-----> Build finished in "), "{log}");
    assert!(log.contains("done in "), "{log}");
}

#[tokio::test]
async fn flask_factory_installs_itself_and_a_code_push_reuses_its_dependencies() {
    let api = TestApi::start().await;
    let token = admin(&api, "factory@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "factory").await;

    let (log, body) = deploy(&api, &token, "factory", fixture("flask-factory"), "/installed").await;
    assert!(log.contains("Process type web: gunicorn 'shop:create_app()'"), "{log}");
    assert_eq!(body, "flask-factory 1.2.0\n", "the project itself is installed");
    assert_readable(&log);

    // A code-only push (code no earlier run had): the dependency image is
    // reused, only the project itself (its code) is installed again.
    let run = uuid::Uuid::new_v4().simple();
    let changed = std::fs::read_to_string(fixture_dir("flask-factory/shop/__init__.py"))
        .unwrap()
        .replace("hello from flask-factory", &format!("hello again from flask-factory {run}"));
    let (log, body) =
        deploy(&api, &token, "factory", fixture_with("flask-factory", &[("shop/__init__.py", &changed)]), "/").await;
    println!("code-only push build log:\n{log}");
    assert_eq!(body, format!("hello again from flask-factory {run}\n"));
    assert!(log.contains("Building flask-factory @ file:///app"), "the project is rebuilt: {log}");
    assert!(log.contains("-----> Dependencies unchanged (requirements.txt"), "{log}");
    assert!(!log.contains("Installing dependencies"), "{log}");
    assert_readable(&log);
    drop(agent); // stops the agent, removes its containers
}

#[tokio::test]
async fn pyproject_only_app_installs_itself_and_warns_about_its_python() {
    let api = TestApi::start().await;
    let token = admin(&api, "pyproject@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "greeter").await;
    let pyproject = fresh_pyproject("pyproject-only");
    let source = fixture_with("pyproject-only", &[(".python-version", "3.13\n"), ("pyproject.toml", &pyproject)]);
    let (log, body) = deploy(&api, &token, "greeter", source, "/hi").await;
    assert_eq!(body, "hello from pyproject-only at /hi\n", "the src/ package was installed");
    assert!(log.contains("Installing dependencies from pyproject.toml with uv"), "{log}");
    let warning = "-----> Warning: .python-version asks for Python 3.13, this platform runs Python 3.11";
    assert_eq!(log.matches(warning).count(), 1, "{log}");
    assert_readable(&log);
    drop(agent); // stops the agent, removes its containers
}

#[tokio::test]
async fn uv_locked_app_installs_what_the_lock_pins() {
    let api = TestApi::start().await;
    let token = admin(&api, "uvlock@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "locked").await;
    let source = fixture_with("uv-locked", &[("pyproject.toml", &fresh_pyproject("uv-locked"))]);
    let (log, body) = deploy(&api, &token, "locked", source, "/").await;
    assert_eq!(body, "hello from uv-locked, flask 3.0.3\n", "{log}");
    assert!(log.contains("Installing dependencies from uv.lock with uv"), "{log}");
    assert_readable(&log);
    drop(agent); // stops the agent, removes its containers
}

#[tokio::test]
async fn django_project_is_detected_from_manage_py() {
    let api = TestApi::start().await;
    let token = admin(&api, "django@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "djangoish").await;
    let (log, body) = deploy(&api, &token, "djangoish", fixture("django-project"), "/").await;
    assert_eq!(body, "hello from django-project\n");
    assert!(log.contains("Process type web: gunicorn mysite.wsgi:application"), "{log}");
    assert_readable(&log);
    drop(agent); // stops the agent, removes its containers
}

/// A failed install ends with what failed, its command and last lines,
/// and the total time.
#[tokio::test]
async fn a_failed_install_names_its_command_and_last_output() {
    let api = TestApi::start().await;
    let token = admin(&api, "failing@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "failing").await;
    let (_, build) = api.upload_build(&token, "failing", fixture("bad-requirements")).await;
    let detail = wait_build(&api, &token, "failing", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "failed");
    let log = &detail.log;
    println!("failed build log:\n{log}");
    assert!(log.contains(" !     Build failed: installing dependencies failed (exit code 1)"), "{log}");
    assert!(log.contains(" !     Command: uv pip install --python /app/.venv/bin/python"), "{log}");
    assert!(log.contains(" !     Last output:\n !       "), "{log}");
    assert!(log.contains("this-package-does-not-exist-paas-test"), "{log}");
    let last = log.lines().last().unwrap();
    assert!(last.starts_with(" !     Build failed after "), "{last}");
    assert!(!log.contains("Docker stream error") && !log.contains('\u{1b}'), "{log}");
    drop(agent); // stops the agent, removes its containers
}
