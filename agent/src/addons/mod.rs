//! Add-on servers on this node, converged on the desired state's `addons`
//! every reconcile pass:
//!
//! - Postgres: one shared server per node (`paas-<node>-pg-shared`, on a
//!   volume of the same name), or one per add-on on the `dedicated` plan;
//!   each add-on is a database with its own roles (`postgres`).
//! - Redis: one server per add-on (`paas-<node>-<addon>`) on its volume (`redis`).
//!
//! Each server joins the networks of the apps using it, with the add-on's
//! name as its alias there (the host in the URL). Provisioning is
//! re-applied only when what the API asks changes (or the container did),
//! and after an agent restart once. Captures and restores run in the
//! background (`jobs`); `shell` names what `paas pg psql` / `paas redis cli`
//! would exec.

mod jobs;
pub mod postgres;
pub mod redis;
pub mod shell;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use paas_types::addons::{AddonKind, AddonReport, DesiredAddon};

use crate::client::AgentClient;
use crate::docker::addons::{ServerContainer, ServerSpec};
use crate::docker::{Engine, EngineError};
use crate::errors::error_chain;

/// Memory of the node's shared Postgres server.
const SHARED_POSTGRES_MB: i32 = 512;

#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{what} failed: {detail}")]
    Command { what: &'static str, detail: String },
}

/// The server container an add-on lives in.
pub fn server_name(node: &str, addon: &DesiredAddon) -> String {
    match (addon.kind, addon.dedicated) {
        (AddonKind::Postgres, false) => format!("paas-{node}-pg-shared"),
        _ => format!("paas-{node}-{}", addon.name),
    }
}

pub struct Addons {
    api: Arc<AgentClient>,
    engine: Engine,
    /// What was last applied to each add-on, with the container it went to.
    applied: HashMap<uuid::Uuid, (String, String)>,
    /// Jobs (captures, restores) running now.
    running_jobs: Arc<Mutex<HashSet<uuid::Uuid>>>,
}

impl Addons {
    pub fn new(api: Arc<AgentClient>, engine: Engine) -> Addons {
        Addons { api, engine, applied: HashMap::new(), running_jobs: Arc::new(Mutex::new(HashSet::new())) }
    }

    /// One pass over the node's add-ons; a report for each.
    pub async fn pass(&mut self, desired: &[DesiredAddon]) -> Vec<AddonReport> {
        let mut reports = Vec::with_capacity(desired.len());
        // The shared server's aliases on each network: every add-on on it used there.
        let mut shared_aliases: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut shared_wanted = false;
        for addon in desired.iter().filter(|a| a.kind == AddonKind::Postgres && !a.dedicated && !a.destroy) {
            shared_wanted = true;
            for app in &addon.apps {
                shared_aliases.entry(app.clone()).or_default().insert(addon.name.clone());
            }
        }
        let mut shared: Option<Result<ServerContainer, String>> = None;
        if shared_wanted {
            let spec = self.shared_postgres_spec();
            shared = Some(self.ensure_server(&spec, &shared_aliases).await.map_err(|e| error_chain(&e)));
        }
        for addon in desired {
            let result = if addon.destroy {
                self.destroy(addon).await.map(|()| "destroyed")
            } else {
                self.converge(addon, shared.as_ref()).await
            };
            let report = match result {
                Ok(state) => AddonReport { id: addon.id, state: state.into(), message: None },
                Err(message) => {
                    tracing::warn!(addon = %addon.name, error = %message, "add-on not ready");
                    AddonReport { id: addon.id, state: "failed".into(), message: Some(message) }
                }
            };
            reports.push(report);
        }
        let wanted: HashSet<_> = desired.iter().map(|a| a.id).collect();
        self.applied.retain(|id, _| wanted.contains(id));
        reports
    }

    fn shared_postgres_spec(&self) -> ServerSpec {
        ServerSpec {
            name: format!("paas-{}-pg-shared", self.engine.node()),
            image: postgres::IMAGE.into(),
            addon: "postgres-shared".into(),
            data_dir: postgres::DATA_DIR.into(),
            env: vec!["PAAS_PG_MAX_CONNECTIONS=300".into()],
            memory_mb: SHARED_POSTGRES_MB,
        }
    }

    fn spec(&self, addon: &DesiredAddon) -> ServerSpec {
        let (image, data_dir, env) = match addon.kind {
            AddonKind::Postgres => (postgres::IMAGE, postgres::DATA_DIR, vec!["PAAS_PG_MAX_CONNECTIONS=150".into()]),
            AddonKind::Redis => (redis::IMAGE, redis::DATA_DIR, redis::env(addon)),
        };
        ServerSpec {
            name: server_name(self.engine.node(), addon),
            image: image.into(),
            addon: addon.name.clone(),
            data_dir: data_dir.into(),
            env,
            memory_mb: addon.limits.memory_mb,
        }
    }

    /// Makes one add-on exist and serve its apps: `available` or `provisioning`.
    async fn converge(
        &mut self,
        addon: &DesiredAddon,
        shared: Option<&Result<ServerContainer, String>>,
    ) -> Result<&'static str, String> {
        let server = match (addon.kind, addon.dedicated, shared) {
            (AddonKind::Postgres, false, Some(result)) => result.clone()?,
            _ => {
                let aliases: HashMap<String, BTreeSet<String>> =
                    addon.apps.iter().map(|app| (app.clone(), BTreeSet::from([addon.name.clone()]))).collect();
                self.ensure_server(&self.spec(addon), &aliases).await.map_err(|e| error_chain(&e))?
            }
        };
        if !server.running {
            return Ok("provisioning");
        }
        let fingerprint = fingerprint(addon);
        let current = (server.id.clone(), fingerprint);
        if self.applied.get(&addon.id) != Some(&current) {
            match self.provision(addon, &server.id).await {
                Ok(()) => {
                    tracing::info!(addon = %addon.name, logins = addon.logins.len(), "add-on provisioned");
                    self.applied.insert(addon.id, current);
                }
                // A server that is still starting refuses connections: not a failure yet.
                Err(error) if starting(&error) => return Ok("provisioning"),
                Err(error) => return Err(error_chain(&error)),
            }
        }
        self.start_jobs(addon, &server.id);
        Ok("available")
    }

    /// The server container, created if missing, started if stopped, joined
    /// to the networks of `aliases`' apps (and only those) under those aliases.
    async fn ensure_server(
        &self,
        spec: &ServerSpec,
        aliases: &HashMap<String, BTreeSet<String>>,
    ) -> Result<ServerContainer, AddonError> {
        let mut server = match self.engine.server(&spec.name).await? {
            Some(server) => server,
            None => {
                tracing::info!(container = %spec.name, image = %spec.image, "starting an add-on server");
                self.engine.create_server(spec).await?;
                self.engine.server(&spec.name).await?.ok_or(AddonError::Command {
                    what: "starting the add-on server",
                    detail: "the container vanished right after it was created".into(),
                })?
            }
        };
        if !server.running {
            tracing::info!(container = %spec.name, "add-on server is stopped; starting it");
            self.engine.start(&server.id).await?;
            server.running = true;
        }
        let mut wanted: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (app, names) in aliases {
            for network in self.engine.networks_of_app(app).await? {
                wanted.entry(network).or_default().extend(names.iter().cloned());
            }
        }
        let own = format!("paas-{}-addons", self.engine.node());
        for (network, names) in &wanted {
            let has = server.networks.get(network);
            if has.is_some_and(|current| names.is_subset(current)) {
                continue;
            }
            if has.is_some() {
                // Docker cannot add an alias in place: join again with the new set.
                self.engine.leave_network(&server.id, network).await?;
            }
            let names: Vec<String> = names.iter().cloned().collect();
            self.engine.join_network(&server.id, network, &names).await?;
            tracing::info!(container = %spec.name, network, aliases = ?names, "add-on server joined an app network");
        }
        for network in server.networks.keys().filter(|n| **n != own && !wanted.contains_key(*n)) {
            self.engine.leave_network(&server.id, network).await?;
            tracing::info!(container = %spec.name, network, "add-on server left an app network");
        }
        Ok(server)
    }

    /// Database, roles and limits (Postgres) or the ACL (Redis).
    async fn provision(&self, addon: &DesiredAddon, container: &str) -> Result<(), AddonError> {
        match addon.kind {
            AddonKind::Postgres => {
                let script = postgres::provision_script(addon).into_bytes();
                let out = self.engine.exec(container, postgres::SUPERUSER, postgres::PSQL, &[], Some(script)).await?;
                if out.exit_code != 0 {
                    return Err(AddonError::Command { what: "provisioning the database", detail: out.error_line() });
                }
            }
            AddonKind::Redis => {
                let env = [format!("REDISCLI_AUTH={}", addon.admin_password)];
                let commands = redis::acl_commands(addon).into_bytes();
                let out = self.engine.exec(container, redis::USER, redis::CLI, &env, Some(commands)).await?;
                let printed = String::from_utf8_lossy(&out.stdout);
                if out.exit_code != 0
                    || printed.lines().any(|l| l.starts_with("ERR") || l.contains("NOAUTH") || l.contains("WRONGPASS"))
                {
                    let detail = if printed.trim().is_empty() { out.error_line() } else { printed.trim().to_string() };
                    return Err(AddonError::Command { what: "setting the Redis ACL", detail });
                }
            }
        }
        Ok(())
    }

    /// Removes the add-on: its database and roles on the shared server, or
    /// its own server with its volume.
    async fn destroy(&mut self, addon: &DesiredAddon) -> Result<(), String> {
        let name = server_name(self.engine.node(), addon);
        if addon.kind == AddonKind::Postgres && !addon.dedicated {
            if let Some(server) = self.engine.server(&name).await.map_err(|e| error_chain(&e))? {
                if server.running {
                    let script = postgres::drop_script(&addon.database).into_bytes();
                    let out = self
                        .engine
                        .exec(&server.id, postgres::SUPERUSER, postgres::PSQL, &[], Some(script))
                        .await
                        .map_err(|e| error_chain(&e))?;
                    if out.exit_code != 0 {
                        return Err(format!("dropping the database failed: {}", out.error_line()));
                    }
                } else {
                    return Err("the shared Postgres server is not running".into());
                }
            }
        } else {
            self.engine.remove_server(&name, true).await.map_err(|e| error_chain(&e))?;
        }
        self.applied.remove(&addon.id);
        tracing::info!(addon = %addon.name, "add-on destroyed");
        Ok(())
    }

    fn start_jobs(&self, addon: &DesiredAddon, container: &str) {
        let jobs = addon
            .captures
            .iter()
            .map(|id| (*id, jobs::Job::Capture { backup_id: *id }))
            .chain(addon.restores.iter().map(|r| (r.restore_id, jobs::Job::Restore { restore_id: r.restore_id })));
        for (id, job) in jobs {
            if !self.running_jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
                continue;
            }
            let (api, engine, running) = (self.api.clone(), self.engine.clone(), self.running_jobs.clone());
            let (container, database, name) = (container.to_string(), addon.database.clone(), addon.name.clone());
            tokio::spawn(async move {
                jobs::run(&api, &engine, &container, &database, &name, job).await;
                running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            });
        }
    }
}

/// What provisioning depends on: logins and limits.
fn fingerprint(addon: &DesiredAddon) -> String {
    let logins: Vec<String> =
        addon.logins.iter().map(|l| format!("{}:{}", l.username, redis::sha256_hex(&l.password))).collect();
    format!("{}|{:?}|{}", addon.database, addon.limits, logins.join(","))
}

/// Whether a provisioning failure is a server still starting up.
fn starting(error: &AddonError) -> bool {
    let text = error.to_string();
    [
        "the database system is starting up",
        "No such file or directory",
        "Connection refused",
        "LOADING",
        "is not running",
    ]
    .iter()
    .any(|s| text.contains(s))
}
