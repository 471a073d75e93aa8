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
    let response = client
        .request(method, format!("http://{address}{path}"))
        .header("host", host)
        .send()
        .await
        .expect("the app answers");
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
    let a_redis_ip = inspect(
        &redis_container,
        &format!("{{{{(index .NetworkSettings.Networks \"paas-{}-queue\").IPAddress}}}}", agent.node),
    );
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

/// Postgres data survives a redeploy, a scale to zero and back, and an
/// agent restart; credentials rotate under constant traffic without a
/// failed request (the old login is dropped after the rollout); a backup
/// restores the row count it was taken at; destroy takes a final backup.
#[tokio::test]
async fn postgres_data_persists_rotates_and_restores() {
    let api = TestApi::start().await;
    let token = admin(&api, "pg@example.org").await;
    let mut agent = TestAgent::start(&api, &token).await;
    let client = api.rest(&token);
    api.create_app(&token, "keeper").await;
    let pg = create_addon(&client, "keeper", AddonKind::Postgres, None).await;
    create_addon(&client, "keeper", AddonKind::Redis, None).await;
    let host = "keeper.paas.test";
    let address = deploy(&api, &token, "keeper").await;
    wait_available(&client, &pg.name).await;
    for _ in 0..3 {
        http(reqwest::Method::POST, &address, host, "/items").await;
    }
    assert_eq!(item_count(&address, host).await, 3);
    let server = format!("paas-{}-pg-shared", agent.node);
    let server_id = inspect(&server, "{{.Id}}");

    // Redeploy.
    let address = deploy(&api, &token, "keeper").await;
    assert_eq!(item_count(&address, host).await, 3, "after a redeploy");
    // Scale to zero and back.
    client.update_formation("keeper", &scale(&[("web", 0)])).await.unwrap();
    wait_for("no web instance", Duration::from_secs(60), || async {
        containers(&agent.node, "web").is_empty().then_some(())
    })
    .await;
    client.update_formation("keeper", &scale(&[("web", 1)])).await.unwrap();
    let address = web_address(&api, &token, "keeper").await;
    assert_eq!(item_count(&address, host).await, 3, "after scaling to zero and back");
    // Agent restart: the server is adopted, not re-created.
    agent.restart(&api).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(inspect(&server, "{{.Id}}"), server_id, "the agent adopted the server");
    assert_eq!(item_count(&address, host).await, 3, "after an agent restart");

    // Rotation under constant traffic through the router (new connection per request).
    let router = TestRouter::start(&api).await;
    wait_for("the router to route the app", Duration::from_secs(30), || async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let ok = client.get(router.url("/items")).header("host", host).send().await.ok()?.status().is_success();
        ok.then_some(())
    })
    .await;
    let load = Load::start(3, &router.url("/items"), host, Duration::from_millis(20), Some("_g2"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rotated = client.rotate_addon_credentials(&pg.name).await.expect("rotated");
    assert!(rotated.url.as_deref().unwrap().contains("_g2:"));
    let database = pg.url.as_deref().unwrap().rsplit('/').next().unwrap().to_string();
    let roles = |server: String, database: String| {
        let query = format!(
            "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE '{database}_g%'"
        );
        exec(&server, &["psql", "-X", "-At", "-d", "postgres", "-c", &query]).1.trim().to_string()
    };
    wait_for("the old login to be dropped after the rollout", Duration::from_secs(120), || {
        let (server, database) = (server.clone(), database.clone());
        async move { (roles(server, database.clone()) == format!("{database}_g2")).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = load.stop().await;
    println!("rotation under load: {} ok, {} non-2xx, {} errors", stats.ok(), stats.non_2xx(), stats.errors());
    assert_eq!((stats.non_2xx(), stats.errors()), (0, 0), "requests failed during the rotation");
    assert!(stats.matching() > 0, "the new login served traffic");
    router.shutdown().await;
    let address = web_address(&api, &token, "keeper").await;

    // Backup -> more rows -> restore: back to the count at the backup.
    let backup = client.capture_backup(&pg.name).await.unwrap();
    let backup = wait_for("the backup", Duration::from_secs(60), || async {
        let b = client.backup(&pg.name, backup.id).await.unwrap();
        (b.state != "pending").then_some(b)
    })
    .await;
    assert_eq!(backup.state, "succeeded", "{:?}", backup.message);
    let dump = client.download_backup(&pg.name, backup.id).await.unwrap();
    assert!(dump.starts_with(b"PGDMP"), "a pg_dump custom-format archive");
    for _ in 0..2 {
        http(reqwest::Method::POST, &address, host, "/items").await;
    }
    assert_eq!(item_count(&address, host).await, 5);
    let restore = client.restore_backup(&pg.name, backup.id).await.unwrap();
    let restore = wait_for("the restore", Duration::from_secs(60), || async {
        let r = client.addon_restore(&pg.name, restore.id).await.unwrap();
        (r.state != "pending").then_some(r)
    })
    .await;
    assert_eq!(restore.state, "succeeded", "{:?}", restore.message);
    assert_eq!(item_count(&address, host).await, 3, "the rows at the backup");

    // Destroy takes a final backup, then the database is gone.
    client.destroy_addon(&pg.name, Some(&pg.name)).await.expect("destroy");
    wait_for("the add-on gone", Duration::from_secs(90), || async {
        client.addon(&pg.name).await.is_err().then_some(())
    })
    .await;
    let backups = client.list_backups(&pg.name).await;
    // The add-on is gone, so its backups are no longer listed under it by name lookup.
    assert!(backups.is_err());
    let finals: Vec<(String, String)> =
        sqlx::query_as("SELECT trigger, state FROM addon_backups WHERE addon_name = $1 AND trigger = 'final'")
            .bind(&pg.name)
            .fetch_all(&api.db)
            .await
            .unwrap();
    assert_eq!(finals, vec![("final".to_string(), "succeeded".to_string())]);
    let (_, out) = exec(
        &server,
        &[
            "psql",
            "-X",
            "-At",
            "-d",
            "postgres",
            "-c",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{database}'"),
        ],
    );
    assert_eq!(out.trim(), "0", "the database was dropped");
    drop(agent);
}

/// Benchmark (run by `bench/addons/run.sh`, ignored otherwise): `addons
/// create` to the first successful query with the URL the app gets
/// (`SELECT 1` as the add-on's login over TCP; Redis `PING` with its
/// password), `BENCH_RUNS` times per kind; prints each time and the median.
/// A Postgres add-on whose node is lost shows `unavailable`, is never
/// re-created empty elsewhere, and `restore --to-node` brings its newest
/// backup up on another node under the same name and URL.
#[tokio::test]
async fn a_lost_nodes_postgres_comes_back_elsewhere_from_its_backup() {
    let api = TestApi::start_with(|c| c.node_timeout_secs = 3).await;
    let token = admin(&api, "lost-pg@example.org").await;
    let mut agents = [TestAgent::start(&api, &token).await, TestAgent::start(&api, &token).await];
    let client = api.rest(&token);
    api.create_app(&token, "keeper").await;
    let pg = create_addon(&client, "keeper", AddonKind::Postgres, None).await;
    let pg = wait_available(&client, &pg.name).await;
    let home = pg.node.clone().expect("a node holds it");
    let home_index = agents.iter().position(|a| a.node == home).unwrap();
    let other = agents[1 - home_index].node.clone();
    let local = pg.url.clone().unwrap().replace(&pg.name, "127.0.0.1");
    let psql =
        |node: &str, sql: &str| exec(&format!("paas-{node}-pg-shared"), &["psql", "-X", "-At", &local, "-c", sql]);
    let (code, out) = psql(&home, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1), (2), (3)");
    assert_eq!(code, 0, "{out}");
    let backup = client.capture_backup(&pg.name).await.unwrap();
    wait_for("the backup", Duration::from_secs(120), || async {
        let b = client.backup(&pg.name, backup.id).await.ok()?;
        (b.state == "succeeded").then_some(())
    })
    .await;
    let (code, out) = psql(&home, "INSERT INTO kept VALUES (4)");
    assert_eq!(code, 0, "a row written after the backup: {out}");
    let url_before = client.config("keeper").await.unwrap()["DATABASE_URL"].clone();

    // Refused while its node is up: that is a restore in place.
    let error = client.restore_addon_to_node(&pg.name, &other).await.expect_err("the node is up");
    assert!(error.to_string().contains("is up"), "{error}");

    agents[home_index].kill_node().await;
    let lost = wait_for("the add-on unavailable", Duration::from_secs(60), || async {
        let addon = client.addon(&pg.name).await.ok()?;
        (addon.state.as_str() == "unavailable").then_some(addon)
    })
    .await;
    assert!(lost.message.unwrap_or_default().contains(&home), "the reason names the node");
    assert!(
        std::process::Command::new("docker")
            .args(["inspect", &format!("paas-{other}-pg-shared")])
            .output()
            .map(|o| !o.status.success())
            .unwrap(),
        "nothing was re-created empty on the other node"
    );
    let error = client.restore_addon_to_node(&pg.name, &home).await.expect_err("the lost node is not live");
    assert!(error.to_string().contains("no live node"), "{error}");

    let restore = client.restore_addon_to_node(&pg.name, &other).await.expect("restore on the other node");
    let restore = wait_for("the restore on the other node", Duration::from_secs(180), || async {
        let r = client.addon_restore(&pg.name, restore.id).await.ok()?;
        (r.state != "pending").then_some(r)
    })
    .await;
    assert_eq!(restore.state, "succeeded", "{:?}", restore.message);
    assert_eq!(restore.backup_id, backup.id, "the newest backup");
    let moved = wait_available(&client, &pg.name).await;
    assert_eq!(moved.node.as_deref(), Some(other.as_str()));
    let (code, out) = psql(&other, "SELECT count(*) FROM kept");
    assert_eq!((code, out.trim()), (0, "3"), "the backup's rows, under the same login");
    assert_eq!(client.config("keeper").await.unwrap()["DATABASE_URL"], url_before, "the same URL: no new release");
}

#[tokio::test]
#[ignore = "benchmark: bench/addons/run.sh"]
async fn bench_create_to_first_query() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let api = TestApi::start().await;
    let token = admin(&api, "bench@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    let client = api.rest(&token);
    for kind in [AddonKind::Postgres, AddonKind::Redis] {
        let mut times = Vec::new();
        for run in 0..runs {
            let app = format!("bench-{}-{run}", kind.as_str());
            api.create_app(&token, &app).await;
            let started = Instant::now();
            let addon = create_addon(&client, &app, kind, None).await;
            let url = addon.url.clone().unwrap();
            let container = match kind {
                AddonKind::Postgres => format!("paas-{}-pg-shared", agent.node),
                AddonKind::Redis => format!("paas-{}-{}", agent.node, addon.name),
            };
            // redis-cli reads `redis://:pw@` as the user "" (redis-py as `default`): name it.
            let local = url.replace(&addon.name, "127.0.0.1").replace("redis://:", "redis://default:");
            wait_for("the first successful query", Duration::from_secs(120), || {
                let (container, local) = (container.clone(), local.clone());
                async move {
                    let (code, out) = match kind {
                        AddonKind::Postgres => exec(&container, &["psql", "-X", "-At", &local, "-c", "SELECT 1"]),
                        AddonKind::Redis => exec(&container, &["redis-cli", "--no-auth-warning", "-u", &local, "PING"]),
                    };
                    (code == 0 && matches!(out.trim(), "1" | "PONG")).then_some(())
                }
            })
            .await;
            let took = started.elapsed();
            println!("bench: {} run {run}: create -> first query {:.2} s", kind.as_str(), took.as_secs_f64());
            times.push(took);
        }
        times.sort();
        println!(
            "bench: {} median create -> first query over {runs} runs: {:.2} s",
            kind.as_str(),
            times[runs / 2].as_secs_f64()
        );
    }
    drop(agent);
}

/// Benchmark (not a test; `bench/addons/backup.sh`): backup and restore of a
/// Postgres add-on holding about `BENCH_MB` (default 100) MB of table data,
/// through the API as a user runs them (capture -> stored blob, restore ->
/// `pg_restore` into the add-on), `BENCH_RUNS` times each; medians printed.
#[tokio::test]
#[ignore]
async fn bench_backup_and_restore() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let megabytes: u64 = std::env::var("BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let api = TestApi::start().await;
    let token = admin(&api, "bench-backup@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    let client = api.rest(&token);
    api.create_app(&token, "bench-backup").await;
    let pg = create_addon(&client, "bench-backup", AddonKind::Postgres, None).await;
    let pg = wait_available(&client, &pg.name).await;
    let container = format!("paas-{}-pg-shared", agent.node);
    let local = pg.url.clone().unwrap().replace(&pg.name, "127.0.0.1");
    // Rows of 1 KiB of random hex (compresses about 2x in `pg_dump -Fc`).
    let rows = megabytes * 1024;
    let fill = format!(
        "CREATE TABLE big (id int PRIMARY KEY, payload text); \
         INSERT INTO big SELECT g, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 32) WHERE g > 0) \
         FROM generate_series(1, {rows}) g; \
         SELECT pg_database_size(current_database());"
    );
    let started = Instant::now();
    let (code, out) = exec(&container, &["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", &local, "-c", &fill]);
    assert_eq!(code, 0, "{out}");
    let database_bytes: u64 = out.trim().lines().last().unwrap().parse().unwrap();
    println!(
        "bench: filled {rows} rows, database {} MB, in {:.1} s",
        database_bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    let (mut captures, mut restores) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let started = Instant::now();
        let backup = client.capture_backup(&pg.name).await.unwrap();
        let backup = wait_for("the backup", Duration::from_secs(600), || async {
            let b = client.backup(&pg.name, backup.id).await.ok()?;
            (b.state != "pending").then_some(b)
        })
        .await;
        assert_eq!(backup.state, "succeeded", "{:?}", backup.message);
        let captured = started.elapsed();
        let started = Instant::now();
        let restore = client.restore_backup(&pg.name, backup.id).await.unwrap();
        let restore = wait_for("the restore", Duration::from_secs(600), || async {
            let r = client.addon_restore(&pg.name, restore.id).await.ok()?;
            (r.state != "pending").then_some(r)
        })
        .await;
        assert_eq!(restore.state, "succeeded", "{:?}", restore.message);
        let restored = started.elapsed();
        let (code, count) = exec(&container, &["psql", "-X", "-At", &local, "-c", "SELECT count(*) FROM big"]);
        assert_eq!((code, count.trim()), (0, rows.to_string().as_str()), "every row is back");
        println!(
            "bench: run {run}: backup {:.2} s ({} MB dump), restore {:.2} s",
            captured.as_secs_f64(),
            backup.size_bytes.unwrap_or(0) >> 20,
            restored.as_secs_f64()
        );
        captures.push(captured);
        restores.push(restored);
    }
    captures.sort();
    restores.sort();
    println!(
        "bench: {} MB database, median over {runs} runs: backup {:.2} s, restore {:.2} s",
        database_bytes >> 20,
        captures[runs / 2].as_secs_f64(),
        restores[runs / 2].as_secs_f64()
    );
    drop(agent);
}
