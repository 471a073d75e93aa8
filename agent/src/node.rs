//! The node's identity: registers with a join token once and keeps the node
//! token in the state directory (mode 0600) for later starts.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use paas_types::agent::RegisterNode;

use crate::client::{AgentClient, ClientError};
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("this node has no token yet: pass a join token (--join-token / PAAS_JOIN_TOKEN)")]
    NoJoinToken,
    #[error("cannot register the node")]
    Register(#[source] ClientError),
    #[error("cannot keep the node token in {path}")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn token_path(config: &Config) -> PathBuf {
    config.state_dir.join(format!("{}.token", config.node_name))
}

/// Loads the saved node token, or registers (`force`: even if one is saved).
pub async fn ensure_registered(api: &AgentClient, config: &Config, force: bool) -> Result<(), IdentityError> {
    let path = token_path(config);
    if !force {
        if let Ok(token) = std::fs::read_to_string(&path) {
            api.set_node_token(token.trim().to_string());
            return Ok(());
        }
    }
    let join = config.join_token.as_deref().ok_or(IdentityError::NoJoinToken)?;
    let request = RegisterNode {
        name: config.node_name.clone(),
        address: config.node_address.clone(),
        cpu_millis: config.cpu_millis.unwrap_or_else(default_cpu_millis),
        memory_mb: config.memory_mb.unwrap_or_else(default_memory_mb),
        labels: Default::default(),
    };
    let registered = api.register(join, &request).await.map_err(IdentityError::Register)?;
    let state_err = |source| IdentityError::State { path: path.clone(), source };
    std::fs::create_dir_all(&config.state_dir).map_err(state_err)?;
    // Created 0600 before the secret is written into it.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(state_err)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(state_err)?;
    std::io::Write::write_all(&mut file, registered.node_token.as_bytes()).map_err(state_err)?;
    api.set_node_token(registered.node_token);
    tracing::info!(node.id = %registered.node_id, node.name = %config.node_name, "node registered");
    Ok(())
}

fn default_cpu_millis() -> i32 {
    std::thread::available_parallelism().map(|n| n.get() as i32 * 1000).unwrap_or(1000)
}

fn default_memory_mb() -> i32 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<i64>().ok()
        })
        .map(|kb| (kb / 1024) as i32)
        .unwrap_or(1024)
}
