//! The dashboard in a real headless Chromium against the real API, with a
//! scripted node speaking the agent protocol: sign up, create an app, set a
//! config var, deploy, scale, watch the instances turn running without a
//! reload, follow live logs, roll back. Screenshots of every page go to
//! `target/dashboard-screenshots/`.

use fantoccini::Locator;
use test_support::node::FakeNode;
use test_support::{tarball, TestApi};

use crate::support::{admin, Browser};

const EMAIL: &str = "dev@example.org";

#[tokio::test]
async fn a_developer_runs_an_app_from_the_dashboard() {
    let api = TestApi::start_with(|c| c.node_timeout_secs = 3600).await;
    let ops = admin(&api, "ops@example.org").await;
    let node = FakeNode::register(&api, &ops, "node-1").await;
    let browser = Browser::start().await;
    let b = &browser;
    let url = |path: &str| format!("{}{path}", api.url);

    // Sign up: a taken email first (the browser checks lengths and syntax
    // itself; the server's answer comes back on the form, nothing lost).
    b.client.goto(&url("/signup")).await.unwrap();
    b.fill("email", "ops@example.org").await;
    b.fill("password", "correct horse battery").await;
    b.click_button("Sign up").await;
    assert!(b.text(".form-error").await.contains("a user with this email already exists"));
    let value = |id: &'static str| async move {
        b.client.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default()
    };
    assert_eq!(value("email").await, "ops@example.org", "the email survives a rejected form");
    assert_eq!(value("password").await, "correct horse battery", "so does the password");
    b.fill("email", EMAIL).await;
    b.screenshot("01-signup").await;
    b.click_button("Sign up").await;
    b.expect_path("/apps").await;

    // Create an app.
    b.fill("app-name", "demo").await;
    b.click_button("Create app").await;
    b.expect_path("/apps/demo?done=created").await;
    assert!(b.text("h1").await.ends_with("demo"));
    assert!(b.text("#instances").await.contains("Deploy a build first"));

    // Set a config var (release v1); its value is hidden until revealed.
    b.client.find(Locator::LinkText("Config")).await.unwrap().click().await.unwrap();
    b.fill("config-key", "GREETING").await;
    b.fill("config-value", "hello").await;
    b.click_button("Set config var").await;
    b.expect_path("/apps/demo/config?done=config-set").await;
    let row = b.text("#var-GREETING").await;
    assert!(row.contains("Reveal") && !row.contains("hello"), "{row}");
    b.client.find(Locator::Css("#var-GREETING a")).await.unwrap().click().await.unwrap();
    assert!(b.text("#var-GREETING").await.contains("hello"));
    b.screenshot("04-config").await;

    // An API token (shown once) deploys a build, which the node builds: release v2.
    b.client.goto(&url("/tokens")).await.unwrap();
    b.fill("token-name", "laptop").await;
    b.click_button("Create token").await;
    let secret = b.client.find(Locator::Id("new-token")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(secret.starts_with("paas_"), "{secret}");
    b.screenshot("08-tokens").await;
    let (status, body) = api.upload_build(&secret, "demo", tarball(&[("app.py", "app = None\n")])).await;
    assert_eq!(status, 202, "{body}");
    let build = node.build(&["-----> Installing requirements", "-----> Procfile: web"]).await;

    // Scale web to 2 on the app page; the scheduler places both on the node.
    b.client.goto(&url("/apps/demo")).await.unwrap();
    b.fill("quantity-web", "2").await;
    b.click_button("Apply scale").await;
    b.expect_path("/apps/demo?done=scaled").await;
    let table = b.text("#instances tbody").await;
    assert_eq!(table.matches("node-1").count(), 2, "{table}");
    assert!(!table.contains("running"), "nothing runs before the node says so: {table}");

    // The node reports them running: the table changes without a reload.
    let instances = node.report_all("running").await;
    assert_eq!(instances.len(), 2);
    b.wait_text("#instances tbody", "two running instances", |t| t.matches("running").count() == 2).await;
    assert_eq!(b.path().await, "/apps/demo?done=scaled", "no navigation happened");
    assert_eq!(b.text("#app-state").await, "running 2/2");
    b.screenshot("03-app").await;
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.refresh().await.unwrap();
    b.screenshot("03-app-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // Live logs over SSE.
    b.client.goto(&url("/apps/demo/logs")).await.unwrap();
    b.wait_text("#log-status", "the stream to connect", |t| t.contains("connected")).await;
    node.ship_log(instances[0], "GET / 200 in 3 ms").await;
    b.wait_text("#log", "the shipped line", |t| t.contains("GET / 200 in 3 ms")).await;
    b.screenshot("07-logs").await;

    // Build log.
    b.client.goto(&url(&format!("/apps/demo/builds/{build}"))).await.unwrap();
    assert!(b.text("pre.log").await.contains("-----> Installing requirements"));
    b.screenshot("06-build-log").await;

    // Change the config (v3), then roll back to v2: the old value returns.
    b.client.goto(&url("/apps/demo/config")).await.unwrap();
    b.fill("config-key", "GREETING").await;
    b.fill("config-value", "changed").await;
    b.click_button("Set config var").await;
    b.expect_path("/apps/demo/config?done=config-set").await;
    b.client.goto(&url("/apps/demo/releases")).await.unwrap();
    assert!(b.text("#releases tbody tr:first-child").await.contains("v3"));
    b.click_button("Roll back to v2").await;
    b.expect_path("/apps/demo/releases?done=rolled-back").await;
    let newest = b.text("#releases tbody tr:first-child").await;
    assert!(newest.contains("v4") && newest.contains("Rollback to v2") && newest.contains("current"), "{newest}");
    b.screenshot("05-releases").await;
    b.client.goto(&url("/apps/demo/config?reveal=GREETING")).await.unwrap();
    assert!(b.text("#var-GREETING").await.contains("hello"), "the rollback restored the config");

    // Domains: a bad hostname is refused and kept; a good one is added.
    b.client.goto(&url("/apps/demo/domains")).await.unwrap();
    b.fill("domain-hostname", "not a host").await;
    b.click_button("Add domain").await;
    assert!(b.text(".form-error").await.contains("not a valid hostname"));
    b.fill("domain-hostname", "www.demo.example").await;
    b.click_button("Add domain").await;
    assert!(b.text("main table").await.contains("www.demo.example"));
    b.screenshot("09-domains").await;

    // The apps list shows the state; team; nodes (after becoming an admin).
    b.client.goto(&url("/apps")).await.unwrap();
    assert!(b.text("main table").await.contains("demo"));
    b.screenshot("02-apps").await;
    b.client.goto(&url("/team")).await.unwrap();
    assert!(b.text("main").await.contains(EMAIL));
    b.screenshot("10-team").await;
    b.client.goto(&url("/nodes")).await.unwrap();
    assert!(b.text("h1").await.contains("Not allowed"), "nodes are for administrators");
    api.make_admin(EMAIL).await;
    b.client.goto(&url("/nodes")).await.unwrap();
    assert!(b.text("main table").await.contains("node-1"));
    b.screenshot("11-nodes").await;

    // Log out: the pages want a login again.
    b.click_button("Log out").await;
    b.expect_path("/login").await;
    b.screenshot("00-login").await;
    b.client.goto(&url("/apps/demo")).await.unwrap();
    b.expect_path("/login?next=%2Fapps%2Fdemo").await;
    browser.close().await;
}
