//! The reconcile loop: the API's desired instances for this node against the
//! containers the engine has (found by labels) -> start, restart, drain and
//! stop; then report what actually runs. Every pass starts from what the
//! engine says, so an agent restart or a lost message changes nothing, and
//! running containers are adopted, never restarted.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_types::agent::{DesiredInstance, DesiredVolume, InstanceReport, NodeReport, ShippedLine, VolumeUsage};
use paas_types::ActualState;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::build::BuildSettings;
use crate::client::{AgentClient, ClientError};
use crate::docker::{Engine, EngineError, ManagedContainer};
use crate::errors::error_chain;
use crate::health;
use crate::supervisor::{self, ProgramTrack};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot talk to the API")]
    Api(#[from] ClientError),
    #[error("cannot talk to the Docker engine")]
    Engine(#[from] EngineError),
}

/// How often a healthy web (or routed) instance is checked again.
const RECHECK_EVERY: Duration = Duration::from_secs(10);
/// Failed checks in a row before a healthy instance counts as unhealthy.
const FAILURES_BEFORE_UNHEALTHY: u32 = 3;
/// Output lines sent with a crashed instance's report.
const LAST_OUTPUT_LINES: usize = 20;
/// How often the node's volumes are measured (Docker's disk-usage report walks them).
const USAGE_EVERY: Duration = Duration::from_secs(60);

pub struct Reconciler {
    api: Arc<AgentClient>,
    engine: Engine,
    address: String,
    drain: Duration,
    grace: Duration,
    /// Web instances that passed a health check since this agent started.
    healthy: HashSet<Uuid>,
    /// Last health check of each web instance, and failures in a row.
    last_check: HashMap<Uuid, (Instant, u32)>,
    /// Container restarts (supervisord itself exited).
    restarts: HashMap<Uuid, i32>,
    /// What supervisord said of each instance's program, between passes.
    programs: HashMap<Uuid, ProgramTrack>,
    /// The HTTP status of each web instance's last health check.
    http_status: HashMap<Uuid, i32>,
    /// When each unwanted container was first seen (drain starts then).
    unwanted_since: HashMap<String, Instant>,
    stopping: Arc<Mutex<HashSet<String>>>,
    log_followers: HashMap<String, tokio::task::JoinHandle<()>>,
    log_lines: mpsc::Sender<ShippedLine>,
    build_settings: Arc<BuildSettings>,
    /// Images being rebuilt from source on this node.
    rebuilding: Arc<Mutex<HashSet<String>>>,
    /// Add-on servers on this node.
    addons: crate::addons::Addons,
    /// When the volumes were last measured.
    usage_measured: Option<Instant>,
}

impl Reconciler {
    pub fn new(
        api: Arc<AgentClient>,
        engine: Engine,
        address: &str,
        drain: Duration,
        grace: Duration,
        log_lines: mpsc::Sender<ShippedLine>,
        build_settings: Arc<BuildSettings>,
    ) -> Self {
        Reconciler {
            addons: crate::addons::Addons::new(api.clone(), engine.clone()),
            api,
            engine,
            address: address.to_string(),
            drain,
            grace,
            healthy: HashSet::new(),
            last_check: HashMap::new(),
            restarts: HashMap::new(),
            programs: HashMap::new(),
            http_status: HashMap::new(),
            unwanted_since: HashMap::new(),
            stopping: Arc::new(Mutex::new(HashSet::new())),
            log_followers: HashMap::new(),
            log_lines,
            build_settings,
            rebuilding: Arc::new(Mutex::new(HashSet::new())),
            usage_measured: None,
        }
    }

    /// One pass: converge, then report.
    pub async fn pass(&mut self) -> Result<(), ReconcileError> {
        let desired = self.api.desired().await?;
        let volumes = self.converge_volumes(&desired.volumes).await;
        let containers = self.engine.list().await?;
        let by_instance: HashMap<Uuid, &ManagedContainer> = containers.iter().map(|c| (c.instance_id, c)).collect();
        let wanted: HashSet<Uuid> = desired.instances.iter().map(|i| i.instance_id).collect();
        let mut reports = Vec::new();
        for instance in &desired.instances {
            let container = by_instance.get(&instance.instance_id).copied();
            if container.is_none() && instance.mounts.iter().any(|m| !volumes.contains(&m.volume)) {
                // Never start without its data (Docker would make an empty, unlabelled volume).
                reports.push(self.waiting(instance));
                continue;
            }
            let report = self.converge(instance, container).await;
            reports.push(report);
        }
        for container in containers.iter().filter(|c| !wanted.contains(&c.instance_id)) {
            reports.push(self.retire(container));
        }
        self.forget_gone(&containers);
        let addons = self.addons.pass(&desired.addons).await;
        self.remove_unwanted_volumes(&desired.volumes).await;
        let volumes = if desired.volumes.is_empty() { Vec::new() } else { self.volume_usage().await };
        self.api.report(&NodeReport { instances: reports, addons, volumes, usage: Vec::new() }).await?;
        Ok(())
    }

    /// Creates the node's missing volumes; returns those that exist.
    async fn converge_volumes(&mut self, wanted: &[DesiredVolume]) -> HashSet<String> {
        let mut ready = HashSet::new();
        for volume in wanted {
            match self.engine.ensure_volume(&volume.name, &volume.app, &self.build_settings.base_image).await {
                Ok(created) => {
                    if created {
                        tracing::info!(volume = %volume.name, app = %volume.app, "volume created");
                    }
                    ready.insert(volume.name.clone());
                }
                Err(error) => {
                    tracing::warn!(volume = %volume.name, error = %error_chain(&error), "cannot create volume")
                }
            }
        }
        ready
    }

    /// Removes this node's volumes the API no longer lists, once no
    /// container uses them (Docker refuses before; the next pass retries).
    async fn remove_unwanted_volumes(&mut self, wanted: &[DesiredVolume]) {
        let names: HashSet<&str> = wanted.iter().map(|v| v.name.as_str()).collect();
        let present = match self.engine.node_volumes().await {
            Ok(present) => present,
            Err(error) => {
                tracing::debug!(error = %error_chain(&error), "cannot list volumes");
                return;
            }
        };
        for name in present.iter().filter(|n| !names.contains(n.as_str())) {
            match self.engine.remove_volume(name).await {
                Ok(true) => tracing::info!(volume = %name, "volume removed (destroyed, or its app deleted)"),
                Ok(false) => tracing::debug!(volume = %name, "volume still in use; removing it later"),
                Err(error) => tracing::warn!(volume = %name, error = %error_chain(&error), "cannot remove volume"),
            }
        }
    }

    /// What the node's volumes hold, measured every `USAGE_EVERY`.
    async fn volume_usage(&mut self) -> Vec<VolumeUsage> {
        if self.usage_measured.is_some_and(|at| at.elapsed() < USAGE_EVERY) {
            return Vec::new();
        }
        self.usage_measured = Some(Instant::now());
        match self.engine.volume_usage().await {
            Ok(usage) => usage,
            Err(error) => {
                tracing::debug!(error = %error_chain(&error), "cannot measure volumes");
                Vec::new()
            }
        }
    }

    /// The report of an instance whose volume is not there yet.
    fn waiting(&self, instance: &DesiredInstance) -> InstanceReport {
        InstanceReport {
            instance_id: instance.instance_id,
            state: ActualState::Starting,
            address: None,
            container_id: None,
            restarts: 0,
            exit_status: None,
            last_output: Vec::new(),
            http_status: None,
        }
    }

    /// Makes one wanted instance run and says how it is doing.
    async fn converge(&mut self, instance: &DesiredInstance, container: Option<&ManagedContainer>) -> InstanceReport {
        let id = instance.instance_id;
        let mut report = InstanceReport {
            instance_id: id,
            state: ActualState::Starting,
            address: None,
            container_id: container.map(|c| c.id.clone()),
            restarts: *self.restarts.get(&id).unwrap_or(&0),
            exit_status: None,
            last_output: Vec::new(),
            http_status: None,
        };
        let Some(container) = container else {
            if !self.engine.image_exists(&instance.image).await {
                self.rebuild(instance);
                return report;
            }
            match self.engine.run(instance).await {
                Ok(container_id) => {
                    tracing::info!(instance.id = %id, app = %instance.app, process_type = %instance.process_type, "container started");
                    report.container_id = Some(container_id);
                }
                Err(error) => {
                    tracing::warn!(instance.id = %id, error = %error_chain(&error), "cannot start container");
                    report.state = ActualState::Crashed;
                }
            }
            return report;
        };
        if !container.running {
            // supervisord (PID 1) itself exited: start the container again.
            self.healthy.remove(&id);
            let count = self.restarts.entry(id).or_insert(0);
            *count += 1;
            report.restarts = *count;
            report.state = ActualState::Crashed;
            if let Err(error) = self.engine.start(&container.id).await {
                tracing::warn!(instance.id = %id, error = %error_chain(&error), "cannot restart container");
            }
            return report;
        }
        self.follow_logs(container);
        let serves_http = crate::docker::serves_http(instance);
        if serves_http && container.host_port.is_none() {
            // A route now points at this process type: its container was made without a published port.
            return self.replace_for_port(container, report);
        }
        let program = self.program_state(instance, container, &mut report).await;
        if !serves_http || program != ActualState::Running {
            if program != ActualState::Running {
                self.healthy.remove(&id);
            }
            report.state = program;
            return report;
        }
        let Some(port) = container.host_port else {
            report.state = ActualState::Crashed;
            return report;
        };
        let address = format!("{}:{port}", self.address);
        report.address = Some(address.clone());
        let routed = instance.process_type != "web";
        report.state = self.web_health(id, &address, &instance.hostname, routed).await;
        report.http_status = self.http_status.get(&id).copied();
        report
    }

    /// The state of the instance's program as supervisord tells it, adding
    /// its restarts, exit status and (when crashed) last output to `report`.
    /// Images built before supervisord had its socket say nothing: their
    /// running container counts as a running program.
    async fn program_state(
        &mut self,
        instance: &DesiredInstance,
        container: &ManagedContainer,
        report: &mut InstanceReport,
    ) -> ActualState {
        let id = instance.instance_id;
        let status = match self.engine.exec_output(&container.id, &["python3", "-c", supervisor::STATUS_SCRIPT]).await {
            Ok(output) => supervisor::parse_status(&output).map_err(|e| error_chain(&e)),
            Err(error) => Err(error_chain(&error)),
        };
        let info = match status {
            Ok(programs) => programs.into_iter().find(|p| p.name == instance.process_type),
            Err(error) => {
                tracing::debug!(instance.id = %id, error, "cannot read supervisord's state");
                None
            }
        };
        let Some(info) = info else {
            return ActualState::Running;
        };
        let track = self.programs.entry(id).or_default();
        let state = track.observe(&info);
        report.restarts += track.restarts;
        report.exit_status = track.exit_status;
        if state == ActualState::Crashed {
            match self.engine.tail(&container.id, LAST_OUTPUT_LINES).await {
                Ok(lines) => report.last_output = lines,
                Err(error) => tracing::debug!(instance.id = %id, error = %error_chain(&error), "cannot read output"),
            }
            if report.exit_status.is_none() {
                report.exit_status = supervisor::exit_status_in_log(&report.last_output, &instance.process_type);
            }
            tracing::debug!(instance.id = %id, restarts = report.restarts, "program is crash-looping");
        }
        state
    }

    /// `running`, `starting` (never healthy yet) or `unhealthy`. Healthy
    /// instances are re-checked every `RECHECK_EVERY`; only several failures
    /// in a row take one out of the route table. A `routed` process (an
    /// async server behind `paas routes`) gets the looser check.
    async fn web_health(&mut self, id: Uuid, address: &str, hostname: &str, routed: bool) -> ActualState {
        let was_healthy = self.healthy.contains(&id);
        let due = self.last_check.get(&id).is_none_or(|(at, _)| at.elapsed() >= RECHECK_EVERY);
        if was_healthy && !due {
            return ActualState::Running;
        }
        let timeout = Duration::from_secs(2);
        let (ok, status) = if routed {
            health::probe_routed(address, hostname, timeout).await
        } else {
            let status = health::probe(address, hostname, timeout).await;
            (status.is_some_and(health::is_up), status)
        };
        match status {
            Some(code) => self.http_status.insert(id, i32::from(code)),
            None => self.http_status.remove(&id),
        };
        let (at, failures) = self.last_check.entry(id).or_insert((Instant::now(), 0));
        *at = Instant::now();
        if ok {
            *failures = 0;
            if self.healthy.insert(id) {
                tracing::info!(instance.id = %id, %address, "web instance passed its health check");
            }
            return ActualState::Running;
        }
        *failures += 1;
        match (was_healthy, *failures >= FAILURES_BEFORE_UNHEALTHY) {
            (false, _) => ActualState::Starting,
            (true, false) => ActualState::Running,
            (true, true) => {
                tracing::warn!(instance.id = %id, %address, "web instance failed its health checks");
                self.healthy.remove(&id);
                ActualState::Unhealthy
            }
        }
    }

    /// An instance no longer wanted: keep it serving for the drain period
    /// (routers drop it meanwhile), then stop it gracefully in the background.
    fn retire(&mut self, container: &ManagedContainer) -> InstanceReport {
        let since = *self.unwanted_since.entry(container.id.clone()).or_insert_with(Instant::now);
        let already = self.stopping.lock().unwrap_or_else(|e| e.into_inner()).contains(&container.id);
        if !already && (since.elapsed() >= self.drain || !container.running) {
            self.stop_in_background(container);
        }
        InstanceReport {
            instance_id: container.instance_id,
            state: ActualState::Stopping,
            address: None,
            container_id: Some(container.id.clone()),
            restarts: 0,
            exit_status: None,
            last_output: Vec::new(),
            http_status: None,
        }
    }

    /// Stops and removes `container` gracefully in the background.
    fn stop_in_background(&self, container: &ManagedContainer) {
        self.stopping.lock().unwrap_or_else(|e| e.into_inner()).insert(container.id.clone());
        let (engine, stopping, id, grace) =
            (self.engine.clone(), self.stopping.clone(), container.id.clone(), self.grace);
        let instance_id = container.instance_id;
        tokio::spawn(async move {
            match engine.stop_and_remove(&id, grace).await {
                Ok(()) => tracing::info!(instance.id = %instance_id, "container stopped"),
                Err(error) => {
                    tracing::warn!(instance.id = %instance_id, error = %error_chain(&error), "cannot stop container")
                }
            }
            stopping.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
    }

    /// A container made before a route pointed at its process type has no
    /// published port (nor `PORT`): stop it; the next pass starts it again
    /// with both, under the same instance id.
    fn replace_for_port(&mut self, container: &ManagedContainer, mut report: InstanceReport) -> InstanceReport {
        let already = self.stopping.lock().unwrap_or_else(|e| e.into_inner()).contains(&container.id);
        if !already {
            tracing::info!(instance.id = %container.instance_id, "a route points at this process now: restarting it with its port published");
            self.stop_in_background(container);
        }
        self.healthy.remove(&container.instance_id);
        report.state = ActualState::Starting;
        report
    }

    /// Starts rebuilding a missing image from its build's source, once.
    fn rebuild(&self, instance: &DesiredInstance) {
        let image = instance.image.clone();
        if !self.rebuilding.lock().unwrap_or_else(|e| e.into_inner()).insert(image.clone()) {
            return;
        }
        tracing::info!(image, "image not on this node; rebuilding it from the stored source");
        let (api, engine, settings, rebuilding) =
            (self.api.clone(), self.engine.clone(), self.build_settings.clone(), self.rebuilding.clone());
        let (build_id, env) = (instance.build_id, instance.env.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            match crate::build::rebuild_image(&api, &engine, &settings, build_id, &image, &env).await {
                Ok(()) => tracing::info!(image, duration_ms = started.elapsed().as_millis() as u64, "image rebuilt"),
                Err(error) => tracing::warn!(image, error = %error_chain(&error), "cannot rebuild image"),
            }
            rebuilding.lock().unwrap_or_else(|e| e.into_inner()).remove(&image);
        });
    }

    fn follow_logs(&mut self, container: &ManagedContainer) {
        let alive = self.log_followers.get(&container.id).is_some_and(|task| !task.is_finished());
        if alive {
            return;
        }
        let (engine, id, instance_id, lines) =
            (self.engine.clone(), container.id.clone(), container.instance_id, self.log_lines.clone());
        let task = tokio::spawn(async move { engine.forward_logs(&id, instance_id, lines).await });
        self.log_followers.insert(container.id.clone(), task);
    }

    /// Drops bookkeeping of containers that no longer exist.
    fn forget_gone(&mut self, containers: &[ManagedContainer]) {
        let ids: HashSet<&String> = containers.iter().map(|c| &c.id).collect();
        let instances: HashSet<Uuid> = containers.iter().map(|c| c.instance_id).collect();
        self.unwanted_since.retain(|id, _| ids.contains(id));
        self.log_followers.retain(|id, task| {
            let keep = ids.contains(id);
            if !keep {
                task.abort();
            }
            keep
        });
        self.healthy.retain(|id| instances.contains(id));
        self.last_check.retain(|id, _| instances.contains(id));
        self.programs.retain(|id, _| instances.contains(id));
        self.http_status.retain(|id, _| instances.contains(id));
    }
}

/// Ships log lines to the API in batches (at most every 500 ms).
pub async fn ship_logs(api: Arc<AgentClient>, mut lines: mpsc::Receiver<ShippedLine>) {
    while let Some(first) = lines.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(deadline);
        while batch.len() < 1000 {
            tokio::select! {
                line = lines.recv() => match line { Some(l) => batch.push(l), None => break },
                _ = &mut deadline => break,
            }
        }
        if let Err(error) = api.ship_logs(&paas_types::agent::LogBatch { lines: batch }).await {
            tracing::debug!(error = %error, "dropping a batch of log lines");
        }
    }
}
