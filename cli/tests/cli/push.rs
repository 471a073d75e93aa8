//! `git push` deploys through the CLI's remote, releases, config changes
//! and rollbacks, on the real engine.

use std::time::{Duration, Instant};

use test_support::agent::{admin, http_get, running, wait_for, TestAgent};
use test_support::TestApi;

use crate::{git, repo_with, text, Paas};

const HOST: &str = "pushy.paas.test";

/// Waits until a web instance of `release` answers `path` with `expect` in its body.
async fn wait_serving(api: &TestApi, token: &str, release: i32, path: &str, expect: &str) -> Instant {
    wait_for(&format!("v{release} serving {expect:?}"), Duration::from_secs(120), || async {
        for web in running(api, token, "pushy", "web").await {
            if web.release == release {
                if let Some((_, body)) = http_get(web.address.as_deref()?, HOST, path).await {
                    if body.contains(expect) {
                        return Some(Instant::now());
                    }
                }
            }
        }
        None
    })
    .await
}

#[tokio::test]
async fn git_push_config_rollback_and_a_rejected_push() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_path_buf();
    let api = TestApi::start_with(move |c| c.git_cache_dir = Some(cache_dir)).await;
    let token = admin(&api, "dev@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    let paas = Paas::new(&api.url);
    paas.login("dev@example.org", "correct horse battery").await;
    let repo = repo_with("flask-app", &paas).await;
    // A unique requirements file: this first build cannot reuse a cached layer.
    let marker = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(repo.path().join("requirements.txt"), format!("flask\n# cold build {marker}\n")).unwrap();
    git(repo.path(), &["commit", "-qam", "cold requirements"], &paas, false).await;

    let out = paas.run(repo.path(), &["apps", "create", "pushy"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paas.run(repo.path(), &["git", "remote", "-a", "pushy"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // From now on the app comes from the remote.
    let out = paas.run(repo.path(), &["apps", "info"]).await;
    assert!(text(&out.stdout).contains("pushy"), "{}", text(&out.stderr));

    // Cold push: build output streams back, ending with the release and URL.
    let started = Instant::now();
    let out = git(repo.path(), &["push", "paas", "main"], &paas, true).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "push failed: {stderr}");
    for expected in [
        "remote: -----> Building pushy",
        "remote:        Process type web: gunicorn app:app",
        "remote: -----> Installing dependencies from requirements.txt with uv",
        "+ flask==",
        "remote: -----> Released v1",
        "http://pushy.paas.test/ deployed",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in push output:\n{stderr}");
    }
    let first_200 = wait_serving(&api, &token, 1, "/health", "ok").await;
    println!("flask push to first 200, cold: {:?}", first_200 - started);

    // Warm push: a code-only change reuses the dependency layer.
    std::fs::write(repo.path().join("VERSION"), "2\n").unwrap();
    git(repo.path(), &["add", "VERSION"], &paas, false).await;
    git(repo.path(), &["commit", "-qm", "code only"], &paas, false).await;
    let started = Instant::now();
    let out = git(repo.path(), &["push", "paas", "main"], &paas, true).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Dependencies unchanged") && !stderr.contains("Installing dependencies"), "{stderr}");
    assert!(stderr.contains("Released v2"), "{stderr}");
    let first_200 = wait_serving(&api, &token, 2, "/health", "ok").await;
    println!("flask push to first 200, warm: {:?}", first_200 - started);

    // A config change makes v3 and restarts the app with the new env.
    let out = paas.run(repo.path(), &["config", "set", "GREETING=hello there"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_serving(&api, &token, 3, "/env/GREETING", "hello there").await;

    // Rollback to v2: v4 runs v2's build with v2's config (no GREETING).
    let out = paas.run(repo.path(), &["rollback", "v2"]).await;
    assert!(text(&out.stdout).contains("now v4"), "{}{}", text(&out.stdout), text(&out.stderr));
    wait_serving(&api, &token, 4, "/env/GREETING", "unset").await;
    let out = paas.run(repo.path(), &["config", "get"]).await;
    assert!(!text(&out.stdout).contains("GREETING"), "config vars follow the rollback");

    // A push whose build fails is rejected; v4 keeps serving.
    std::fs::write(repo.path().join("requirements.txt"), "flask\nthis-package-does-not-exist-paas-test==9.9.9\n")
        .unwrap();
    git(repo.path(), &["commit", "-qam", "broken"], &paas, false).await;
    let out = git(repo.path(), &["push", "paas", "main"], &paas, true).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a failed build must fail the push: {stderr}");
    assert!(stderr.contains("Build failed") && stderr.contains("pre-receive hook declined"), "{stderr}");
    let app = api.rest(&token).app("pushy").await.unwrap();
    assert_eq!(app.current_release, Some(4));
    wait_serving(&api, &token, 4, "/health", "ok").await;

    // Pushed history lives in Postgres: with the API's local repositories
    // wiped, a clone still gets the last accepted commit.
    let accepted = text(&git(repo.path(), &["rev-parse", "HEAD~1"], &paas, false).await.stdout);
    std::fs::remove_dir_all(cache.path()).unwrap();
    let clone_dir = tempfile::tempdir().unwrap();
    let url = format!("{}/git/pushy.git", api.url);
    let clone = git(
        clone_dir.path(),
        &[
            "-c",
            &format!("credential.{url}.helper=!'{}' git credential", env!("CARGO_BIN_EXE_paas")),
            "clone",
            "-q",
            &url,
            "copy",
        ],
        &paas,
        true,
    )
    .await;
    assert!(clone.status.success(), "{}", text(&clone.stderr));
    let head = text(&git(&clone_dir.path().join("copy"), &["rev-parse", "HEAD"], &paas, false).await.stdout);
    assert_eq!(head, accepted, "the rejected commit is not kept, the accepted one is");
    drop(agent); // stops the agent, removes its containers
}

#[tokio::test]
async fn pushing_to_another_tenants_app_fails_like_a_missing_repo() {
    let api = TestApi::start().await;
    let owner = api.signup("owner@example.org").await;
    api.create_app(&owner, "private").await;
    api.signup("other@example.org").await;
    let paas = Paas::new(&api.url);
    paas.login("other@example.org", "correct horse battery").await;
    let repo = repo_with("hello-wsgi", &paas).await;
    let helper = format!("credential.helper=!'{}' git credential", env!("CARGO_BIN_EXE_paas"));
    let mut messages = Vec::new();
    for app in ["private", "does-not-exist"] {
        let url = format!("{}/git/{app}.git", api.url);
        let out = git(repo.path(), &["-c", &helper, "push", &url, "main"], &paas, true).await;
        assert!(!out.status.success());
        messages.push(text(&out.stderr).replace(app, "APP"));
    }
    assert_eq!(messages[0], messages[1]);
    assert!(messages[0].contains("not found"), "{}", messages[0]);
    // Without credentials git is asked to authenticate (and cannot, here).
    let url = format!("{}/git/private.git", api.url);
    let out = git(repo.path(), &["push", &url, "main"], &paas, true).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Authentication failed") || text(&out.stderr).contains("could not read Username"),
        "{}",
        text(&out.stderr)
    );
}
