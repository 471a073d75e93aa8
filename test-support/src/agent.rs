//! Engine test helpers: a real agent in this process, fixture tarballs,
//! polling, HTTP to instances, docker CLI inspection.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use paas_types::{Build, BuildDetail, Instance};
use serde_json::Value;

use crate::TestApi;

/// An agent running in this process on a runtime of its own, so that
/// losing it is like losing the process: every task it spawned (builds,
/// rebuilds, log shipping) stops with it. Dropping it removes its node's
/// containers (`cleanup`).
pub struct TestAgent {
    pub node: String,
    pub state_dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestAgent {
    /// Registers a new node (a fresh join token) and starts its agent.
    pub async fn start(api: &TestApi, admin_token: &str) -> TestAgent {
        let join = api.rest(admin_token).create_join_token().await.expect("an admin issues a join token");
        let node = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let state_dir = tempfile::tempdir().unwrap();
        let runtime = spawn_agent(api, &node, state_dir.path().to_path_buf(), Some(&join.token));
        TestAgent { node, state_dir, runtime: Some(runtime) }
    }

    /// Kills the agent (its containers keep running) and starts a new one for the same node.
    pub async fn restart(&mut self, api: &TestApi) {
        self.stop();
        self.runtime = Some(spawn_agent(api, &self.node, self.state_dir.path().to_path_buf(), None));
    }

    /// Simulates losing the node: the agent dies and its containers vanish.
    pub async fn kill_node(&mut self) {
        self.stop();
        let node = self.node.clone();
        tokio::task::spawn_blocking(move || remove_node_containers(&node)).await.expect("container removal");
    }

    /// Starts the agent again for the same node (after `kill_node`).
    pub fn revive(&mut self, api: &TestApi) {
        self.runtime = Some(spawn_agent(api, &self.node, self.state_dir.path().to_path_buf(), None));
    }

    /// Stops the agent and removes every container and volume of its node.
    pub fn cleanup(&mut self) {
        self.stop();
        remove_node_containers(&self.node);
        remove_node_volumes(&self.node);
    }

    /// Drops the agent's runtime without waiting: its tasks are cancelled
    /// at their next await, as if the process had been killed.
    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn spawn_agent(api: &TestApi, node: &str, state_dir: PathBuf, join_token: Option<&str>) -> tokio::runtime::Runtime {
    let ca = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    let config = agent::config::Config {
        api_url: api.url.clone(),
        join_token: join_token.map(str::to_string),
        node_name: node.to_string(),
        node_address: "127.0.0.1".into(),
        state_dir,
        cpu_millis: Some(4000),
        memory_mb: Some(8192),
        base_image: "paas/python-base:bookworm".into(),
        build_ca_bundle: ca.exists().then_some(ca),
        build_pip_index_url: None,
        build_https_proxy: None,
        python_installer: Default::default(),
        build_cache_dir: "/var/cache/paas-agent/python".into(),
        build_timeout_secs: 600,
        heartbeat_secs: 1,
        reconcile_secs: 1,
        drain_secs: 1,
        stop_grace_secs: 5,
        builds: true,
        runtime: None,
        log_format: "pretty".into(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("agent-{node}"))
        .enable_all()
        .build()
        .expect("an agent runtime");
    runtime.spawn(agent::run(config));
    runtime
}

/// `docker rm -f` of every container labelled with this node, then its
/// networks. A request the dead agent had in flight (a `create`) can still
/// land after a sweep, so sweeps repeat until one finds nothing; each docker
/// command is bounded, as is the number of sweeps.
pub fn remove_node_containers(node: &str) {
    let filter = format!("label=paas.node={node}");
    for sweep in 0..10 {
        let ids = docker_ids(&["ps", "-aq", "--filter", &filter]);
        if ids.is_empty() && sweep > 0 {
            break;
        }
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            docker_bounded(&args);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let networks = docker_ids(&["network", "ls", "-q", "--filter", &filter]);
    if !networks.is_empty() {
        let mut args = vec!["network", "rm"];
        args.extend(networks.iter().map(String::as_str));
        docker_bounded(&args);
    }
}

/// `docker volume rm` of every volume labelled with this node, app volumes
/// and add-on data alike (after its containers are gone; `kill_node` keeps
/// them, as a lost node keeps its disk).
pub fn remove_node_volumes(node: &str) {
    let volumes = docker_ids(&["volume", "ls", "-q", "--filter", &format!("label=paas.node={node}")]);
    if !volumes.is_empty() {
        let mut args = vec!["volume", "rm", "-f"];
        args.extend(volumes.iter().map(String::as_str));
        docker_bounded(&args);
    }
}

/// The ids a listing `docker` command prints.
fn docker_ids(args: &[&str]) -> Vec<String> {
    let out = docker_bounded(args);
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}

/// A docker CLI command killed after 60 s: a test must not hang on the engine.
fn docker_bounded(args: &[&str]) -> std::process::Output {
    std::process::Command::new("timeout")
        .args(["--kill-after=5", "60", "docker"])
        .args(args)
        .output()
        .expect("timeout(1) and the docker CLI")
}

/// `docker inspect -f <format> <id>`.
pub fn inspect(id: &str, format: &str) -> String {
    let out = std::process::Command::new("docker").args(["inspect", "-f", format, id]).output().expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Container ids of a node, per process type.
pub fn containers(node: &str, process_type: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=paas.node={node}"),
            "--filter",
            &format!("label=paas.process_type={process_type}"),
        ])
        .output()
        .expect("docker CLI");
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect();
    ids.sort();
    ids
}

/// A fixture app's tarball with some files replaced or added.
pub fn fixture_with(name: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let copy = tempfile::tempdir().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps").join(name);
    copy_tree(&dir, copy.path());
    for (path, contents) in files {
        std::fs::write(copy.path().join(path), contents).unwrap();
    }
    crate::tarball_of_dir(copy.path())
}

/// Copies a directory tree (fixture apps into scratch directories).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps").join(name);
    crate::tarball_of_dir(&dir)
}

/// Polls `probe` every 250 ms until it yields `Some`, or panics after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for a build to end; returns its detail (status and log).
pub async fn wait_build(api: &TestApi, token: &str, app: &str, build_id: &str) -> BuildDetail {
    wait_for(&format!("build {build_id}"), Duration::from_secs(300), || async {
        let (_, detail) = api.get(&format!("/v1/apps/{app}/builds/{build_id}"), token).await;
        let detail: BuildDetail = crate::decode(&detail);
        matches!(detail.build.status.as_str(), "succeeded" | "failed").then_some(detail)
    })
    .await
}

/// The id of a build as `TestApi::upload_build` answered it.
pub fn build_id(build: &Value) -> String {
    crate::decode::<Build>(build).id.to_string()
}

/// Running instances of a process type (desired running, health-checked).
pub async fn running(api: &TestApi, token: &str, app: &str, process_type: &str) -> Vec<Instance> {
    let instances = api.rest(token).list_instances(app).await.expect("the app's instances");
    instances
        .into_iter()
        .filter(|i| {
            i.process_type == process_type && i.desired_state.as_str() == "running" && i.state.as_str() == "running"
        })
        .collect()
}

/// GET `path` at an instance address with the app's Host; (status, body).
pub async fn http_get(address: &str, host: &str, path: &str) -> Option<(u16, String)> {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    let response = client.get(format!("http://{address}{path}")).header("host", host).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// A platform admin's session token.
pub async fn admin(api: &TestApi, email: &str) -> String {
    api.admin(email).await
}

/// Outcome counts of a [`Load`].
#[derive(Default)]
pub struct LoadStats {
    ok_at: std::sync::Mutex<Vec<Instant>>,
    non_2xx: std::sync::atomic::AtomicU64,
    errors: std::sync::atomic::AtomicU64,
    matching: std::sync::atomic::AtomicU64,
}

impl LoadStats {
    pub fn ok(&self) -> u64 {
        self.ok_at.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }
    pub fn non_2xx(&self) -> u64 {
        self.non_2xx.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub fn errors(&self) -> u64 {
        self.errors.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Successful responses whose body contained the watched text.
    pub fn matching(&self) -> u64 {
        self.matching.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// When the first success after `t` was received.
    pub fn first_ok_after(&self, t: Instant) -> Option<Instant> {
        self.ok_at.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|ok| **ok > t).copied()
    }
}

/// Constant HTTP traffic from `clients` loops to one URL with a `Host`,
/// bounded to five minutes; every outcome is counted.
pub struct Load {
    pub stats: std::sync::Arc<LoadStats>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(clients: usize, url: &str, host: &str, pause: Duration, watch_for: Option<&str>) -> Load {
        use std::sync::atomic::Ordering;
        let stats = std::sync::Arc::new(LoadStats::default());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
        let tasks = (0..clients)
            .map(|_| {
                let (stats, stop, client) = (stats.clone(), stop.clone(), client.clone());
                let (url, host, watch) = (url.to_string(), host.to_string(), watch_for.map(str::to_string));
                tokio::spawn(async move {
                    let started = Instant::now();
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
                        match client.get(&url).header("host", &host).send().await {
                            Ok(response) if response.status().is_success() => {
                                let body = response.text().await.unwrap_or_default();
                                if watch.as_deref().is_some_and(|w| body.contains(w)) {
                                    stats.matching.fetch_add(1, Ordering::Relaxed);
                                }
                                stats.ok_at.lock().unwrap_or_else(|e| e.into_inner()).push(Instant::now());
                            }
                            Ok(response) => {
                                eprintln!("load: {} {}", response.status(), response.text().await.unwrap_or_default());
                                stats.non_2xx.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(error) => {
                                eprintln!("load: {error}");
                                stats.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                })
            })
            .collect();
        Load { stats, stop, tasks }
    }

    /// Stops the clients and waits for them.
    pub async fn stop(self) -> std::sync::Arc<LoadStats> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        self.stats
    }
}

/// A real router reading the test API's route table, on an ephemeral port.
pub struct TestRouter {
    pub running: paas_router::Running,
    _state_dir: tempfile::TempDir,
}

impl TestRouter {
    pub async fn start(api: &TestApi) -> TestRouter {
        TestRouter::start_with(api, |_| {}).await
    }

    /// A router whose configuration `tune` adjusts (an HTTPS listener, say) before it starts.
    pub async fn start_with(api: &TestApi, tune: impl FnOnce(&mut paas_router::config::Config)) -> TestRouter {
        let state_dir = tempfile::tempdir().unwrap();
        let mut config = paas_router::config::Config::for_tests(&api.url, state_dir.path().to_path_buf());
        config.api.router_token = Some(crate::ROUTER_TOKEN.into());
        tune(&mut config);
        let running = paas_router::start(config).await.expect("router starts");
        TestRouter { running, _state_dir: state_dir }
    }

    /// `http://<router address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr)
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}
