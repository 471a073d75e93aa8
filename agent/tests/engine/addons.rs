//! Add-ons on the real engine with real `postgresql` and `redis-server`:
//! an RQ worker runs a job the web process enqueued through REDIS_URL;
//! another tenant's container cannot reach either add-on; Postgres data
//! survives a redeploy, a scale to zero and back, and an agent restart;
//! backup -> restore; credential rotation under constant traffic.

use std::time::{Duration, Instant};

use paas_types::addons::{Addon, AddonKind, CreateAddonRequest};
use paas_types::client::RestClient;
use test_support::{scale, TestApi};

use test_support::agent::*;

const HOST_A: &str = "queue.paas.test";

async fn create_addon(client: &RestClient, app: &str, kind: AddonKind, plan: Option<&str>) -> Addon {
    let request = CreateAddonRequest { kind, plan: plan.map(str::to_string), alias: None };
    client.create_addon(app, &request).await.expect("add-on created")
}

async fn wait_available(client: &RestClient, name: &str) -> Addon {
    wait_for(&format!("{name} available"), Duration::from_secs(90), || async {
        let addon = client.addon(name).await.expect("the add-on");
        (addon.state.as_str() == "available").then_some(addon)
    })
    .await
}

/// Deploys the fixture to `app` and waits for a running web instance; its address.
async fn deploy(api: &TestApi, token: &str, app: &str) -> String {
    let (status, build) = api.upload_build(token, app, fixture("addons-rq")).await;
    assert_eq!(status, 202, "{build}");
    let detail = wait_build(api, token, app, &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    web_address(api, token, app).await
}

async fn web_address(api: &TestApi, token: &str, app: &str) -> String {
    let current = api.rest(token).app(app).await.unwrap().current_release.unwrap();
    wait_for(&format!("a running web instance of {app} v{current}"), Duration::from_secs(120), || async {
        running(api, token, app, "web").await.into_iter().find(|i| i.release == current).and_then(|i| i.address)
    })
    .await
}

async fn http(method: reqwest::Method, address: &str, host: &str, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    let response =
        client.request(method, format!("http://{address}{path}")).header("host", host).send().await.expect("the app answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn item_count(address: &str, host: &str) -> i64 {
    let (status, body) = http(reqwest::Method::GET, address, host, "/items").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["count"].as_i64().unwrap()
}

/// `docker exec` as the app user; (exit code, stdout + stderr).
fn exec(container: &str, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new("timeout")
        .args(["60", "docker", "exec", container])
        .args(args)
        .output()
        .expect("docker CLI");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The RQ worker runs a job the web process enqueued; tenant B's container
/// cannot reach tenant A's Redis or Postgres (by name or by address), and
/// B's own valid login cannot open A's database on the shared server.
#[tokio::test]
async fn rq_job_runs_and_other_tenants_cannot_connect() {
    let api = TestApi::start().await;
    let alice = admin(&api, "alice@example.org").await;
    let bob = api.signup("bob@example.org").await;
    let agent = TestAgent::start(&api, &alice).await;
    let (a, b) = (api.rest(&alice), api.rest(&bob));
    api.create_app(&alice, "queue").await;
    let started = Instant::now();
    let redis = create_addon(&a, "queue", AddonKind::Redis, None).await;
    let pg = create_addon(&a, "queue", AddonKind::Postgres, None).await;
    assert_eq!(redis.attachments[0].var, "REDIS_URL");
    assert!(pg.url.as_deref().unwrap().starts_with("postgresql://"), "{:?}", pg.url);
    let address = deploy(&api, &alice, "queue").await;
    a.update_formation("queue", &scale(&[("worker", 1)])).await.expect("a worker");
    wait_available(&a, &redis.name).await;
    wait_available(&a, &pg.name).await;
    println!("add-ons available and app deployed after {:?}", started.elapsed());

    // Confined like app containers, nothing published.
    let redis_container = format!("paas-{}-{}", agent.node, redis.name);
    assert_eq!(inspect(&redis_container, "{{.Config.User}}"), "redis");
    assert_eq!(inspect(&redis_container, "{{.HostConfig.CapDrop}}"), "[ALL]");
    assert_eq!(inspect(&redis_container, "{{json .NetworkSettings.Ports}}"), "{}");
    let pg_container = format!("paas-{}-pg-shared", agent.node);
    assert_eq!(inspect(&pg_container, "{{json .NetworkSettings.Ports}}"), "{}");
    assert_eq!(
        exec(&redis_container, &["redis-cli", "ping"]).1.trim(),
        "NOAUTH Authentication required.",
        "no password, no access"
    );

    // The job: enqueued by web, run by the worker, its result read back.
    wait_for("a running worker", Duration::from_secs(60), || async {
        running(&api, &alice, "queue", "worker").await.pop()
    })
    .await;
    let (status, job) = http(reqwest::Method::POST, &address, HOST_A, "/jobs/7").await;
    assert_eq!(status, 200, "{job}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        let (_, body) = http(reqwest::Method::GET, &address, HOST_A, &format!("/jobs/{job}")).await;
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if value["status"] == "finished" {
            break value;
        }
        if Instant::now() > deadline {
            let query = paas_types::client::rest::LogsQuery { process: Some("worker".into()), lines: Some(50) };
            let logs = a.logs("queue", &query).await.unwrap_or_default();
            let lines: Vec<&str> = logs.iter().map(|l| l.line.as_str()).collect();
            panic!("the worker did not run the job: {body}\nworker output:\n{}", lines.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(result["result"], 49, "{result}");
    assert_eq!(item_count(&address, HOST_A).await, 0);
    http(reqwest::Method::POST, &address, HOST_A, "/items").await;
    assert_eq!(item_count(&address, HOST_A).await, 1);

    // Tenant B: its own app with its own add-ons (so B's network reaches the shared server too).
    api.create_app(&bob, "intruder").await;
    let b_pg = create_addon(&b, "intruder", AddonKind::Postgres, None).await;
    create_addon(&b, "intruder", AddonKind::Redis, None).await;
    deploy(&api, &bob, "intruder").await;
    wait_available(&b, &b_pg.name).await;
    let b_web = containers(&agent.node, "web")
        .into_iter()
        .find(|id| inspect(id, "{{index .Config.Labels \"paas.app\"}}") == "intruder")
        .expect("bob's web container");
    // B's API sees nothing of A's add-on.
    let err = b.addon(&redis.name).await.expect_err("another tenant's add-on");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));

    let a_redis_url = a.addon(&redis.name).await.unwrap().url.unwrap();
    let a_pg_url = a.addon(&pg.name).await.unwrap().url.unwrap();
    let a_redis_ip = inspect(&redis_container, &format!("{{{{(index .NetworkSettings.Networks \"paas-{}-queue\").IPAddress}}}}", agent.node));
    assert!(!a_redis_ip.is_empty(), "A's redis has an address on A's network");
    let try_redis = |url: String| {
        format!("import redis; r = redis.Redis.from_url({url:?}, socket_connect_timeout=3); print(r.ping())")
    };
    // By name: the name does not resolve on B's network.
    let (code, out) = exec(&b_web, &["/app/.venv/bin/python", "-c", &try_redis(a_redis_url.clone())]);
    assert_ne!(code, 0, "B reached A's redis by name: {out}");
    assert!(out.contains("ConnectionError") || out.contains("Error"), "{out}");
    // By address: the bridges are isolated.
    let by_ip = a_redis_url.replace(&redis.name, &a_redis_ip);
    let (code, out) = exec(&b_web, &["/app/.venv/bin/python", "-c", &try_redis(by_ip)]);
    assert_ne!(code, 0, "B reached A's redis by address: {out}");
    assert!(out.contains("Timeout") || out.contains("ConnectionError"), "{out}");
    // Postgres by A's URL: A's host does not resolve on B's network.
    let try_pg = |url: &str| format!("import psycopg; psycopg.connect({url:?}, connect_timeout=3); print('connected')");
    let (code, out) = exec(&b_web, &["/app/.venv/bin/python", "-c", &try_pg(&a_pg_url)]);
    assert_ne!(code, 0, "B reached A's postgres: {out}");
    // B's own login on the same shared server, asking for A's database: refused.
    let b_url = b.addon(&b_pg.name).await.unwrap().url.unwrap();
    let a_db = a_pg_url.rsplit('/').next().unwrap();
    let cross = format!("{}/{a_db}", b_url.rsplit_once('/').unwrap().0);
    let (code, out) = exec(&b_web, &["/app/.venv/bin/python", "-c", &try_pg(&cross)]);
    assert_ne!(code, 0, "B's login opened A's database: {out}");
    assert!(out.contains("permission denied for database"), "{out}");
    // And B's own URL works from B's container (the refusal above is about A's database).
    let (code, out) = exec(&b_web, &["/app/.venv/bin/python", "-c", &try_pg(&b_url)]);
    assert_eq!(code, 0, "B's own database: {out}");
    drop(agent);
}
