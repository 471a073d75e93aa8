//! Control-plane faults while apps serve: the API (a real `paas-api`
//! process) is killed and restarted, then Postgres is restarted, while an
//! agent and a router run and traffic flows through the router. Apps keep
//! serving, agents and routers reconnect, nothing is lost.
//!
//! Its own test binary: it restarts the Postgres cluster of its process.

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::json;
use test_support::agent::*;
use test_support::{scale, set_vars, PgCluster, TestApi, JWT_SECRET, ROUTER_TOKEN, SECRET_KEY};

const HOST: &str = "steady.paas.test";

/// `paas-api serve` as a child process on a fixed port.
struct ApiProcess {
    child: Child,
    port: u16,
    database_url: String,
}

impl ApiProcess {
    fn spawn(port: u16, database_url: &str) -> ApiProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_paas-api"))
            .env("DATABASE_URL", database_url)
            .env("PAAS_LISTEN", format!("127.0.0.1:{port}"))
            .env("PAAS_JWT_SECRET", JWT_SECRET)
            .env("PAAS_SECRET_KEY", SECRET_KEY)
            .env("PAAS_ROUTER_TOKEN", ROUTER_TOKEN)
            .env("PAAS_BASE_DOMAIN", "paas.test")
            .env("PAAS_NODE_TIMEOUT_SECS", "15")
            // The test signs its user up: open sign-up, asked for explicitly (the default is invite).
            .env("PAAS_SIGNUP", "open")
            .env("PAAS_LOG_FORMAT", "pretty")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start paas-api");
        ApiProcess { child, port, database_url: database_url.to_string() }
    }

    async fn wait_healthy(&self) {
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build().unwrap();
        wait_for("paas-api healthy", Duration::from_secs(60), || async {
            let r = client.get(&url).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
    }

    /// SIGKILL, then a fresh process on the same port.
    async fn crash_and_restart(&mut self) {
        self.child.kill().expect("kill paas-api");
        let _ = self.child.wait();
        tokio::time::sleep(Duration::from_secs(2)).await;
        *self = ApiProcess::spawn(self.port, &self.database_url.clone());
        self.wait_healthy().await;
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn api_and_postgres_restarts_keep_apps_serving_and_lose_nothing() {
    let database_url = PgCluster::shared().create_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut process = ApiProcess::spawn(port, &database_url);
    process.wait_healthy().await;
    let api = TestApi::attach(&format!("http://127.0.0.1:{port}"), &database_url).await;
    let token = admin(&api, "faults@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "steady").await;
    api.rest(&token).update_config("steady", &set_vars(&[("GREETING", "before")])).await.expect("config set");
    api.rest(&token).update_formation("steady", &scale(&[("web", 2)])).await.expect("scaled");
    let (_, build) = api.upload_build(&token, "steady", fixture("hello-wsgi")).await;
    let detail = wait_build(&api, &token, "steady", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);

    let router = TestRouter::start(&api).await;
    let url = router.url("/");
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    wait_for("2 instances behind the router", Duration::from_secs(60), || async {
        let r = client.get(&url).header("host", HOST).send().await.ok()?;
        (r.status() == 200 && running(&api, &token, "steady", "web").await.len() == 2).then_some(())
    })
    .await;
    let before = snapshot(&api, &token).await;

    let load = Load::start(1, &url, HOST, Duration::from_millis(10), None);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. The API dies (SIGKILL) and comes back.
    let counts = || (load.stats.ok(), load.stats.non_2xx() + load.stats.errors());
    let (ok0, failed0) = counts();
    process.crash_and_restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ok1, failed1) = counts();
    println!("API crash + restart: {} requests served, {} failed", ok1 - ok0, failed1 - failed0);

    // 2. Postgres restarts under the API.
    let pg = tokio::task::spawn_blocking(|| PgCluster::shared().restart());
    pg.await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ok2, failed2) = counts();
    println!("Postgres restart: {} requests served, {} failed", ok2 - ok1, failed2 - failed1);

    // The control plane works again: the agent's node is up, and a config
    // change rolls out through the same agent and router.
    wait_for("the API answering after the Postgres restart", Duration::from_secs(30), || async {
        let (status, _) = api.get("/v1/apps/steady", &token).await;
        (status == 200).then_some(())
    })
    .await;
    let nodes = api.rest(&token).list_nodes().await.unwrap();
    assert_eq!(nodes[0].state.as_str(), "up", "{nodes:?}");
    assert_eq!(snapshot(&api, &token).await, before, "nothing was lost");
    api.rest(&token).update_config("steady", &set_vars(&[("GREETING", "after")])).await.expect("config set");
    wait_for("the new config served through the router", Duration::from_secs(120), || async {
        let r = client.get(&url).header("host", HOST).send().await.ok()?;
        r.text().await.ok()?.contains("after").then_some(())
    })
    .await;
    let stats = load.stop().await;
    let (ok, failed) = (stats.ok(), stats.non_2xx() + stats.errors());
    println!("control-plane faults: {ok} requests served, {failed} failed in total");
    assert_eq!(failed, 0, "requests failed while the control plane restarted");
    assert!(ok > 200, "too little traffic to show anything");
    router.shutdown().await;
    drop(agent); // stops the agent, removes its containers
}

async fn snapshot(api: &TestApi, token: &str) -> serde_json::Value {
    let (_, releases) = api.get("/v1/apps/steady/releases", token).await;
    let (_, builds) = api.get("/v1/apps/steady/builds", token).await;
    let (_, config) = api.get("/v1/apps/steady/config", token).await;
    let (_, formation) = api.get("/v1/apps/steady/formation", token).await;
    json!({ "releases": releases.as_array().map(|r| r.len()), "builds": builds, "config": config, "formation": formation })
}
