//! Commands that need no engine: login, apps, config, errors, JSON output.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use test_support::TestApi;

use crate::{text, Paas};

#[tokio::test]
async fn login_saves_a_private_token_and_commands_work() {
    let api = TestApi::start().await;
    api.signup("cli@example.org").await;
    let paas = Paas::new(&api.url);
    paas.login("cli@example.org", "correct horse battery").await;
    let saved = paas.config_dir.path().join("credentials.json");
    assert_eq!(std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600);
    let credentials: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert!(credentials["token"].as_str().unwrap().starts_with("paas_"), "an API token, not the password");
    assert!(!std::fs::read_to_string(&saved).unwrap().contains("correct horse"));

    let root = Path::new("/");
    let out = paas.run(root, &["apps", "create", "cli-app"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("http://cli-app.paas.test/"));

    let out = paas.run(root, &["--json", "apps", "list"]).await;
    let apps: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(apps[0]["name"], "cli-app");

    let out = paas.run(root, &["-a", "cli-app", "config", "set", "A=1", "B=two words"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paas.run(root, &["-a", "cli-app", "config", "get", "B"]).await;
    assert_eq!(text(&out.stdout), "two words\n");
    let out = paas.run(root, &["-a", "cli-app", "config", "unset", "A"]).await;
    assert_eq!(text(&out.stdout), "B=two words\n");

    let out = paas.run(root, &["-a", "cli-app", "scale", "web=2", "worker=1:small"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("web=2:standard worker=1:small"), "{}", text(&out.stdout));

    let out = paas.run(root, &["-a", "cli-app", "apps", "set", "--request-timeout", "90"]).await;
    assert_eq!(text(&out.stdout), "Set cli-app: request timeout 90 s\n", "{}", text(&out.stderr));
    let out = paas.run(root, &["-a", "cli-app", "apps", "info"]).await;
    assert!(text(&out.stdout).contains("timeout:  90 s (request)"), "{}", text(&out.stdout));

    let out = paas.run(root, &["-a", "cli-app", "domains", "add", "www.cli.example"]).await;
    assert!(out.status.success());
    let out = paas.run(root, &["-a", "cli-app", "domains", "list"]).await;
    let listing = text(&out.stdout);
    assert!(listing.contains("www.cli.example"), "{listing}");
    // The test API runs without ACME, and says so on each domain.
    assert!(listing.contains("off: the platform does not obtain certificates"), "{listing}");
    assert!(listing.contains("http://www.cli.example/"), "{listing}");

    let out = paas.run(root, &["-a", "cli-app", "apps", "set", "--https-redirect", "off", "--hsts", "on"]).await;
    assert_eq!(text(&out.stdout), "Set cli-app: HTTPS redirect off, HSTS on\n", "{}", text(&out.stderr));
    let out = paas.run(root, &["-a", "cli-app", "apps", "info"]).await;
    assert!(text(&out.stdout).contains("https:    redirect off, HSTS on"), "{}", text(&out.stdout));
    let out = paas.run(root, &["-a", "cli-app", "apps", "set", "--hsts", "maybe"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("neither on nor off"), "{}", text(&out.stderr));

    let out = paas.run(root, &["-a", "cli-app", "cache", "purge", "/pricing"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Purged /pricing from cli-app's cache on every router"),
        "{}",
        text(&out.stdout)
    );
    let out = paas.run(root, &["-a", "cli-app", "cache", "purge"]).await;
    assert!(text(&out.stdout).starts_with("Purged everything cli-app had cached"), "{}", text(&out.stdout));
    let out = paas.run(root, &["-a", "cli-app", "cache", "purge", "pricing"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("must start with `/` (validation_failed)"), "{}", text(&out.stderr));

    let out = paas.run(root, &["-a", "cli-app", "releases"]).await;
    let listing = text(&out.stdout);
    assert!(listing.contains("v2 (current)") && listing.contains("Unset A"), "{listing}");

    let out = paas.run(root, &["tokens", "create", "ci"]).await;
    assert!(text(&out.stdout).trim().starts_with("paas_"));
    let out = paas.run(root, &["tokens", "list"]).await;
    assert!(text(&out.stdout).contains("ci"));
    let out = paas
        .run(root, &["-a", "cli-app", "tokens", "create", "deployer", "--scope", "deploy", "--expires", "12h"])
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let deployer = text(&out.stdout).trim().to_string();
    assert!(text(&out.stderr).contains("Scope deploy, app cli-app only, expires "), "{}", text(&out.stderr));
    let out = paas.run(root, &["tokens"]).await;
    let listing = text(&out.stdout);
    let row = listing.lines().find(|l| l.contains("deployer")).unwrap_or_else(|| panic!("{listing}"));
    assert!(row.contains("deploy") && row.contains("cli-app"), "{listing}");
    let out = paas.run(root, &["--json", "tokens"]).await;
    let tokens: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let made = tokens.as_array().unwrap().iter().find(|t| t["name"] == "deployer").expect("listed");
    assert!(made["expires_at"].is_string() && made["scope"] == "deploy", "{made}");
    assert!(listing.lines().next().unwrap().to_lowercase().contains("last used"), "{listing}");
    // The scoped token works for its app and is refused the rest, with the fix.
    let out = paas.run(root, &["--token", &deployer, "-a", "cli-app", "config", "get", "B"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paas.run(root, &["--token", &deployer, "tokens", "create", "root", "--scope", "admin"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("token_app"), "{}", text(&out.stderr));
    let out = paas.run(root, &["tokens", "create", "x", "--expires", "3w"]).await;
    assert!(!out.status.success() && text(&out.stderr).contains("12h, 30d"), "{}", text(&out.stderr));

    // Destroy needs the name typed back.
    let out = paas.run(root, &["-a", "cli-app", "apps", "destroy", "--confirm", "wrong"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("does not match"));
    let out = paas.run(root, &["-a", "cli-app", "apps", "destroy", "--confirm", "cli-app"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = paas.run(root, &["completions", "bash"]).await;
    assert!(text(&out.stdout).contains("_paas()"));
}

#[tokio::test]
async fn api_errors_are_one_line_and_exit_non_zero() {
    let api = TestApi::start().await;
    let token = api.signup("err@example.org").await;
    api.create_app(&token, "err-app").await;
    let paas = Paas::new(&api.url);
    paas.login("err@example.org", "correct horse battery").await;
    let root = Path::new("/");
    let cases: [(&[&str], &str); 6] = [
        (&["-a", "missing-app", "apps", "info"], "error: app \"missing-app\" not found (not_found)\n"),
        (&["apps", "create", "Bad_Name"], "(validation_failed)\n"),
        (
            &["-a", "err-app", "apps", "set", "--request-timeout", "0"],
            "error: request_timeout_secs must be between 1 and 3600 seconds (got 0) (validation_failed)\n",
        ),
        (&["-a", "err-app", "apps", "set"], "error: name a setting to change, e.g. --request-timeout 60\n"),
        (&["-a", "x1", "scale", "web=lots"], "error: \"web=lots\" is not TYPE=QUANTITY or TYPE=QUANTITY:SIZE\n"),
        (&["ps"], "which app?"),
    ];
    for (args, expected) in cases {
        let out = paas.run(root, args).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line, no backtrace: {stderr:?}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    }
    // Without a login there is a clear message, and a wrong password fails cleanly.
    let stranger = Paas::new(&api.url);
    let out = stranger.run(root, &["apps", "list"]).await;
    assert_eq!(text(&out.stderr), "error: not logged in: run `paas login` (or set PAAS_TOKEN)\n");
    let out = Paas::new("http://127.0.0.1:9").run(root, &["--token", "x", "apps", "list"]).await;
    assert!(
        text(&out.stderr).starts_with("error: cannot reach the API at http://127.0.0.1:9"),
        "{}",
        text(&out.stderr)
    );
}
