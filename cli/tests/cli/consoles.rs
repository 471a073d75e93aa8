//! `paas redis cli` and `paas pg psql` on the real engine: the add-on's
//! own client runs in its container, logged in as the app (not as a
//! superuser), with piped input and output; another tenant's add-on is
//! refused exactly like a missing one.

use std::path::Path;
use std::time::Duration;

use paas_types::addons::{AddonKind, CreateAddonRequest};
use test_support::agent::{admin, wait_for, TestAgent};
use test_support::TestApi;

use crate::{piped, text, Paas};

const APP: &str = "consoles";

#[tokio::test]
async fn addon_consoles_run_the_addons_own_client_as_the_app() {
    let api = TestApi::start().await;
    let token = admin(&api, "console@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, APP).await;
    let rest = api.rest(&token);
    let mut names = Vec::new();
    for kind in [AddonKind::Redis, AddonKind::Postgres] {
        let request = CreateAddonRequest { kind, plan: None, alias: None };
        names.push(rest.create_addon(APP, &request).await.expect("add-on created").name);
    }
    for name in &names {
        wait_for(&format!("{name} available"), Duration::from_secs(120), || async {
            let addon = rest.addon(name).await.ok()?;
            (addon.state.as_str() == "available").then_some(())
        })
        .await;
    }
    let paas = Paas::new(&api.url);
    paas.login("console@example.org", "correct horse battery").await;

    let (status, stdout, stderr) =
        piped(&paas, &["-a", APP, "redis", "cli"], "SET greeting hello-redis\nGET greeting\nACL WHOAMI\n").await;
    assert_eq!(status, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("OK") && stdout.contains("hello-redis"), "{stdout}");
    assert!(!stdout.contains("paas-admin"), "logged in as the app, not the agent's admin user: {stdout}");

    let sql = "CREATE TABLE t (x int); INSERT INTO t VALUES (40), (2);\nSELECT 'total=' || sum(x) FROM t;\n\
               SELECT 'super=' || rolsuper::text FROM pg_roles WHERE rolname = session_user;\n";
    let (status, stdout, stderr) = piped(&paas, &["-a", APP, "pg", "psql"], sql).await;
    assert_eq!(status, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("total=42"), "{stdout}");
    assert!(stdout.contains("super=false"), "logged in as the app's login, not a superuser: {stdout}");
    // An error in psql is psql's exit status (3 with ON_ERROR_STOP), passed through.
    let (status, _, stderr) =
        piped(&paas, &["-a", APP, "pg", "psql"], "\\set ON_ERROR_STOP on\nSELECT * FROM no_such_table;\n").await;
    assert_eq!(status, Some(3), "{stderr}");

    // Another tenant: exactly like a missing add-on.
    api.signup("mallory@example.org").await;
    let mallory = Paas::new(&api.url);
    mallory.login("mallory@example.org", "correct horse battery").await;
    let theirs = mallory.run(Path::new("/"), &["redis", "cli", &names[0]]).await;
    let missing = mallory.run(Path::new("/"), &["redis", "cli", "zz-missing"]).await;
    assert_eq!(theirs.status.code(), Some(1), "{}", text(&theirs.stderr));
    assert_eq!(text(&theirs.stderr).replace(&names[0], "NAME"), text(&missing.stderr).replace("zz-missing", "NAME"));
    drop(agent); // stops the agent, removes its containers
}
