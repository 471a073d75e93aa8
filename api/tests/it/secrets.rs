//! Secrets at rest: config var values, release snapshots, one-off
//! environments and add-on logins are sealed in Postgres under the
//! operator's key (a `pg_dump` shows none of them), bound to their row, read
//! back decrypted where they are needed, and resealed by key rotation.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use paas_types::agent::DesiredState;
use paas_types::routing::RouteTable;
use paas_types::session::{RunRequest, SessionTarget};
use paas_types::ReleaseDetail;
use reqwest::Method;
use serde_json::json;
use test_support::node::FakeNode;
use test_support::{decode, set_vars, tarball, PgCluster, TestApi, JWT_SECRET, ROUTER_TOKEN, SECRET_KEY};
use uuid::Uuid;

/// A value no schema, fixture or log line holds by chance.
fn distinctive(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// An app with a build (release with an image), a node running its web
/// instance, config vars and an attached Postgres add-on; returns the
/// admin token, the node, the add-on's name and URL.
async fn deployed_app(api: &TestApi, app: &str, vars: &[(&str, &str)]) -> (String, FakeNode, String, String) {
    let admin = api.admin(&format!("ops@{app}.example")).await;
    let node = FakeNode::register(api, &admin, &format!("{app}-node")).await;
    api.create_app(&admin, app).await;
    api.rest(&admin).update_config(app, &set_vars(vars)).await.expect("config set");
    let (status, build) = api.upload_build(&admin, app, tarball(&[("wsgi.py", "application = None\n")])).await;
    assert_eq!(status, 202, "{build}");
    node.build(&["-----> built"]).await;
    let (status, addon) = api.post(&format!("/v1/apps/{app}/addons"), &admin, json!({ "kind": "postgres" })).await;
    assert_eq!(status, 201, "{addon}");
    let url = addon["url"].as_str().expect("the new add-on's URL").to_string();
    (admin, node, addon["name"].as_str().unwrap().to_string(), url)
}

/// The password inside `scheme://user:password@host/...`.
fn password_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let userinfo = rest.split_once('@').unwrap().0;
    userinfo.split_once(':').unwrap().1.to_string()
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

async fn config_of(api: &TestApi, token: &str, app: &str) -> BTreeMap<String, String> {
    let (status, config) = api.get(&format!("/v1/apps/{app}/config"), token).await;
    assert_eq!(status, 200, "{config}");
    decode(&config)
}

#[tokio::test]
async fn a_database_dump_holds_no_secret_and_the_api_serves_them_decrypted() {
    let api = TestApi::start().await;
    let session = distinctive("session-secret");
    let db_password = distinctive("pw");
    let external = format!("postgres://shop:{db_password}@db.internal:5432/shop");
    let vars = [("SESSION_SECRET", session.as_str()), ("EXTERNAL_DATABASE_URL", external.as_str())];
    let (admin, node, addon, url) = deployed_app(&api, "vault", &vars).await;
    let login = password_of(&url);
    let run: RunRequest = serde_json::from_value(json!({ "command": ["env"], "detach": true })).unwrap();
    api.rest(&admin).create_run("vault", &run).await.expect("a one-off process");

    // Served decrypted where the plaintext is needed: config show, the
    // release snapshot, the add-on's URL, the node's desired state and runs.
    let config = config_of(&api, &admin, "vault").await;
    assert_eq!(config["SESSION_SECRET"], session);
    assert_eq!(config["EXTERNAL_DATABASE_URL"], external);
    assert_eq!(config["DATABASE_URL"], url, "the add-on's attachment");
    let (status, release) = api.get("/v1/apps/vault/releases/3", &admin).await;
    assert_eq!(status, 200, "{release}");
    let release: ReleaseDetail = decode(&release);
    assert_eq!(release.config, config, "v3 (the attachment) snapshots every var");
    let (status, shown) = api.get(&format!("/v1/addons/{addon}"), &admin).await;
    assert_eq!((status.as_u16(), shown["url"].as_str()), (200, Some(url.as_str())));
    let desired: DesiredState = node.desired().await;
    let instance = desired.instances.iter().filter(|i| i.app == "vault").max_by_key(|i| i.release).expect("web");
    assert_eq!(instance.release, 3, "the release with the add-on attached rolls out");
    assert_eq!(instance.env["SESSION_SECRET"], session);
    assert_eq!(instance.env["DATABASE_URL"], url);
    let held = desired.addons.iter().find(|a| a.name == addon).expect("the add-on on its node");
    let admin_password = held.admin_password.clone();
    assert_eq!(admin_password.len(), 32, "the agent gets the admin password");
    assert!(held.logins.iter().any(|l| l.password == login), "and the apps' login");
    let jobs = node.client.claim_runs(Duration::from_secs(0)).await.expect("runs claimed");
    let SessionTarget::Container { env, .. } = &jobs.jobs[0].target else { panic!("a container run: {jobs:?}") };
    assert_eq!((env["SESSION_SECRET"].as_str(), env["PAAS_PROCESS_TYPE"].as_str()), (session.as_str(), "run"));

    // What an operator's backup holds: names, no values.
    let dump = PgCluster::shared().dump(&api.database_url);
    assert!(dump.len() > 10_000, "a whole dump ({} bytes)", dump.len());
    for present in ["COPY public.config_vars", "SESSION_SECRET", "EXTERNAL_DATABASE_URL", "COPY public.runs", &addon] {
        assert!(dump.contains(present), "the dump holds {present:?} (so the greps below can fail)");
    }
    let secrets = [&session, &db_password, &external, &login, &url, &admin_password];
    for secret in secrets {
        assert!(!dump.contains(secret.as_str()), "the dump reveals {secret:?}");
        assert!(!dump.contains(&hex_of(secret)), "the dump reveals {secret:?} as bytea hex");
    }
    let plain: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM config_vars WHERE value IS NOT NULL)
              + (SELECT count(*) FROM releases WHERE config <> '{}'::jsonb)
              + (SELECT count(*) FROM runs WHERE env <> '{}'::jsonb)
              + (SELECT count(*) FROM addons WHERE admin_password IS NOT NULL)
              + (SELECT count(*) FROM addon_credentials WHERE password IS NOT NULL OR url IS NOT NULL)",
    )
    .fetch_one(&api.db)
    .await
    .unwrap();
    assert_eq!(plain, 0, "no plain column holds anything");
}

#[tokio::test]
async fn a_value_sealed_for_one_row_does_not_open_in_another() {
    let api = TestApi::start().await;
    let admin = api.admin("ops@rows.example").await;
    let secret = distinctive("only-for-alpha");
    for (app, value) in [("alpha", secret.as_str()), ("beta", "beta-value")] {
        api.create_app(&admin, app).await;
        api.rest(&admin).update_config(app, &set_vars(&[("TOKEN", value)])).await.expect("v1");
        api.rest(&admin).update_config(app, &set_vars(&[("OTHER", "x")])).await.expect("v2");
    }
    // alpha's sealed TOKEN copied into beta's row, and into alpha's OTHER.
    let moved = sqlx::query(
        "UPDATE config_vars v SET value_sealed = s.value_sealed
         FROM config_vars s JOIN apps a ON a.id = s.app_id AND a.name = 'alpha'
         WHERE s.key = 'TOKEN' AND ((v.app_id = (SELECT id FROM apps WHERE name = 'beta') AND v.key = 'TOKEN')
                                    OR (v.app_id = s.app_id AND v.key = 'OTHER'))",
    )
    .execute(&api.db)
    .await
    .unwrap();
    assert_eq!(moved.rows_affected(), 2);
    for app in ["beta", "alpha"] {
        let (status, body) = api.get(&format!("/v1/apps/{app}/config"), &admin).await;
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (500, Some("internal")), "{app}: {body}");
        assert!(!body.to_string().contains(&secret), "{body}");
    }
    // A release snapshot moved to another release does not open either.
    sqlx::query(
        "UPDATE releases SET config_sealed = (SELECT r.config_sealed FROM releases r JOIN apps a ON a.id = r.app_id
                                             WHERE a.name = 'alpha' AND r.version = 1)
         WHERE app_id = (SELECT id FROM apps WHERE name = 'alpha') AND version = 2",
    )
    .execute(&api.db)
    .await
    .unwrap();
    assert_eq!(api.get("/v1/apps/alpha/releases/1", &admin).await.0, 200, "in its own row it opens");
    assert_eq!(api.get("/v1/apps/alpha/releases/2", &admin).await.0, 500);
}

#[tokio::test]
async fn plain_text_rows_from_before_sealing_are_sealed_at_startup() {
    let api = TestApi::start().await;
    let admin = api.admin("ops@upgrade.example").await;
    api.create_app(&admin, "legacy").await;
    api.rest(&admin).update_config("legacy", &set_vars(&[("OLD", "x")])).await.expect("set");
    let database_url = api.database_url.clone();
    let old = distinctive("stored-in-plain-text");
    // The rows as the schema before sealing had them (its checks lifted to write them).
    for statement in [
        "ALTER TABLE config_vars DROP CONSTRAINT config_vars_sealed".to_string(),
        "ALTER TABLE releases DROP CONSTRAINT releases_config_sealed".to_string(),
        format!("UPDATE config_vars SET value = '{old}', value_sealed = NULL"),
        format!("UPDATE releases SET config = '{{\"OLD\": \"{old}\"}}', config_sealed = NULL"),
    ] {
        sqlx::query(&statement).execute(&api.db).await.unwrap();
    }
    drop(api);

    let api = TestApi::start_with(|c| c.database_url = database_url).await;
    assert_eq!(config_of(&api, &admin, "legacy").await["OLD"], old);
    let (_, release) = api.get("/v1/apps/legacy/releases/1", &admin).await;
    assert_eq!(decode::<ReleaseDetail>(&release).config["OLD"], old);
    let dump = PgCluster::shared().dump(&api.database_url);
    assert!(dump.contains("\tOLD\t"), "the dump holds the var's name");
    let leaks: Vec<&str> = dump.lines().filter(|l| l.contains(&old)).collect();
    assert!(leaks.is_empty(), "sealed, and the plain text is gone: {leaks:?}");
}

/// `paas-api rotate-secret-key` on the database, with these keys; its report.
fn rotate(database_url: &str, key: &str, previous: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_paas-api"))
        .arg("rotate-secret-key")
        .env("DATABASE_URL", database_url)
        .env("PAAS_JWT_SECRET", JWT_SECRET)
        .env("PAAS_SECRET_KEY", key)
        .env("PAAS_SECRET_KEY_PREVIOUS", previous)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run paas-api rotate-secret-key");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "rotation failed: {report}{}", String::from_utf8_lossy(&out.stderr));
    report
}

/// `(resealed, already current)` of one column in a rotation report.
fn counts(report: &str, column: &str) -> (u64, u64) {
    let line = report.lines().find(|l| l.trim_start().starts_with(column)).unwrap_or_else(|| panic!("{report}"));
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    (numbers[0], numbers[1])
}

#[tokio::test]
async fn rotation_reseals_everything_and_the_old_key_can_go() {
    let api = TestApi::start().await;
    let session = distinctive("rotate-me");
    let (admin, _node, addon, url) = deployed_app(&api, "spin", &[("SESSION_SECRET", session.as_str())]).await;
    // A certificate key and an ACME account, sealed under the old key as the ACME worker seals them.
    let old_keys = test_support::keyring();
    let (status, _) = api.post("/v1/apps/spin/domains", &admin, json!({ "hostname": "www.spin.example" })).await;
    assert_eq!(status, 201);
    let domain_id: Uuid = sqlx::query_scalar("SELECT id FROM domains WHERE hostname = 'www.spin.example'")
        .fetch_one(&api.db)
        .await
        .unwrap();
    let key_pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", distinctive("k"));
    sqlx::query(
        "UPDATE certificates SET state = 'issued', chain_pem = '-----BEGIN CERTIFICATE-----', key_sealed = $2,
                not_after = now() + interval '60 days' WHERE domain_id = $1",
    )
    .bind(domain_id)
    .bind(old_keys.seal(&api::db::certificates::key_purpose(domain_id), key_pem.as_bytes()))
    .execute(&api.db)
    .await
    .unwrap();
    let directory = "https://acme.test/directory";
    let account = old_keys.seal(&api::db::certificates::account_purpose(directory), b"{\"id\":\"acct\"}");
    api::db::certificates::insert_account(&api.db, directory, &account).await.unwrap();
    let database_url = api.database_url.clone();
    drop(api);

    // Step 1: the API runs with the new key, the old one still read.
    let new_key = api::crypto::SecretKey::generate_hex();
    let (key, previous) = (new_key.clone(), SECRET_KEY.to_string());
    let api = TestApi::start_with(|c| {
        c.database_url = database_url.clone();
        c.tls.secret_key = Some(key);
        c.tls.secret_key_previous = Some(previous);
    })
    .await;
    assert_eq!(config_of(&api, &admin, "spin").await["SESSION_SECRET"], session);
    api.rest(&admin).update_config("spin", &set_vars(&[("NEW_VAR", "sealed-under-the-new-key")])).await.unwrap();

    // Step 2: rotate; everything sealed under the old key is resealed, once.
    let report = rotate(&database_url, &new_key, SECRET_KEY);
    assert_eq!(counts(&report, "config_vars.value_sealed"), (2, 1), "SESSION_SECRET, DATABASE_URL; NEW_VAR\n{report}");
    for column in [
        "releases.config_sealed",
        "addons.admin_password_sealed",
        "addon_credentials.password_sealed",
        "addon_credentials.url_sealed",
        "certificates.key_sealed",
        "acme_accounts.credentials_sealed",
    ] {
        assert!(counts(&report, column).0 >= 1, "{column} resealed\n{report}");
    }
    let again = rotate(&database_url, &new_key, SECRET_KEY);
    assert!(again.contains("resealed 0 value(s)"), "idempotent: {again}");
    assert_eq!(counts(&again, "config_vars.value_sealed"), (0, 3), "{again}");
    drop(api);

    // Step 3: only the new key; everything still opens.
    let key = new_key.clone();
    let api = TestApi::start_with(|c| {
        c.database_url = database_url.clone();
        c.tls.secret_key = Some(key);
    })
    .await;
    let config = config_of(&api, &admin, "spin").await;
    assert_eq!((config["SESSION_SECRET"].as_str(), config["DATABASE_URL"].as_str()), (session.as_str(), url.as_str()));
    let (status, release) = api.get("/v1/apps/spin/releases/2", &admin).await;
    assert_eq!(status, 200, "{release}");
    assert_eq!(decode::<ReleaseDetail>(&release).config["SESSION_SECRET"], session);
    let (_, shown) = api.get(&format!("/v1/addons/{addon}"), &admin).await;
    assert_eq!(shown["url"].as_str(), Some(url.as_str()));
    let (status, table) = api.call(Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    assert_eq!(status, 200);
    let table: RouteTable = decode(&table);
    let served = table.certificates.iter().find(|c| c.hostnames == ["www.spin.example"]).expect("the certificate");
    assert_eq!(served.key_pem, key_pem, "the certificate key opens under the new key");
    let new_keys = api::crypto::Keyring::new(api::crypto::SecretKey::parse(&new_key).unwrap(), Vec::new());
    let sealed = api::db::certificates::account(&api.db, directory).await.unwrap().expect("the account");
    let purpose = api::db::certificates::account_purpose(directory);
    assert_eq!(new_keys.open(&purpose, &sealed).unwrap(), b"{\"id\":\"acct\"}");
    drop(api);

    // And the old key alone no longer opens anything.
    let api = TestApi::start_with(|c| c.database_url = database_url.clone()).await;
    let (status, body) = api.get("/v1/apps/spin/config", &admin).await;
    assert_eq!(status, 500, "{body}");
}

#[tokio::test]
async fn the_api_refuses_to_start_without_a_secret_key_and_says_how_to_make_one() {
    for command in ["serve", "migrate"] {
        let out = Command::new(env!("CARGO_BIN_EXE_paas-api"))
            .arg(command)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", PgCluster::shared().create_database().await)
            .env("PAAS_JWT_SECRET", JWT_SECRET)
            .env("PAAS_LISTEN", "127.0.0.1:0")
            .output()
            .expect("run paas-api");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command} without a key must fail");
        assert!(
            stderr.contains("PAAS_SECRET_KEY (or PAAS_SECRET_KEY_FILE) must be set")
                && stderr.contains("openssl rand -hex 32 > /etc/paas/secret-key"),
            "{command}: {stderr}"
        );
    }
}
