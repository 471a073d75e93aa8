//! Nodes: join tokens, registration and heartbeats, the desired state the
//! agents converge on, their reports, and the output they ship.

use paas_types::agent::{
    DesiredInstance, DesiredState, DesiredVolume, NodeRegistered, NodeReport, RegisterNode, ShippedLine, VolumeMount,
};
use paas_types::JoinToken;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{token, AgentNode, AuthUser};
use crate::crypto::Keyring;
use crate::db;
use crate::db::instances::DesiredRow;
use crate::error::{ApiError, ApiResult};
use crate::scheduler;

/// Prefix of node tokens, told apart from user API tokens.
const NODE_TOKEN_PREFIX: &str = "paasnode_";
/// Prefix of join tokens.
const JOIN_TOKEN_PREFIX: &str = "paasjoin_";
/// Port a web (or routed) process listens on inside its container.
const WEB_PORT: &str = "5000";
/// Longest log line kept, in characters.
const MAX_LOG_LINE: usize = 8192;

/// Issues a join token (platform administrators only); the secret is shown once.
pub async fn create_join_token(db: &PgPool, user: &AuthUser) -> ApiResult<JoinToken> {
    if !user.is_admin {
        return Err(ApiError::Forbidden("only platform administrators can add nodes".into()));
    }
    let (secret, _) = token::generate();
    let token = format!("{JOIN_TOKEN_PREFIX}{}", &secret[token::PREFIX.len()..]);
    let id = db::nodes::insert_join_token(db, &token::hash(&token), user.id).await?;
    Ok(JoinToken { id, token })
}

/// Registers (or re-registers) a node and gives it its own token.
pub async fn register_node(db: &PgPool, req: &RegisterNode) -> ApiResult<NodeRegistered> {
    if !is_node_name(&req.name) {
        return Err(ApiError::validation("node names are 1-63 characters of a-z, 0-9, '-' and '.'"));
    }
    if req.cpu_millis <= 0 || req.memory_mb <= 0 {
        return Err(ApiError::validation("cpu_millis and memory_mb must be positive"));
    }
    let (secret, _) = token::generate();
    let node_token = format!("{NODE_TOKEN_PREFIX}{}", &secret[token::PREFIX.len()..]);
    let node_id = db::nodes::register(db, req, &token::hash(&node_token)).await?.ok_or_else(|| {
        ApiError::Conflict(format!("node {:?} is alive; stop its agent or register under another name", req.name))
    })?;
    tracing::info!(node.id = %node_id, node.name = %req.name, "node registered");
    Ok(NodeRegistered { node_id, node_token })
}

/// Records that the node is alive.
pub async fn heartbeat(db: &PgPool, node: &AgentNode) -> ApiResult<()> {
    if db::nodes::heartbeat(db, node.id).await? {
        tracing::info!(node.name = %node.name, "node is back up");
    }
    Ok(())
}

/// Everything the node should run, with the environment of each instance.
pub async fn desired_state(db: &PgPool, keys: &Keyring, node: &AgentNode) -> ApiResult<DesiredState> {
    let rows = db::instances::desired_for_node(db, keys, node.id).await?;
    // The volumes on this node; an app's instances mount those of its app.
    let volumes = db::volumes::for_node(db, node.id).await?;
    let mounts = |app: &str| -> Vec<VolumeMount> {
        let of_app = volumes.iter().filter(|v| v.app == app);
        of_app.map(|v| VolumeMount { volume: v.docker_name.clone(), target: v.mount_path.clone() }).collect()
    };
    let instances = rows
        .into_iter()
        .map(|row| {
            let mounts = mounts(&row.app);
            DesiredInstance { mounts, ..desired_instance(row) }
        })
        .collect();
    let volumes = volumes
        .iter()
        .map(|v| DesiredVolume { name: v.docker_name.clone(), app: v.app.clone(), volume: v.name.clone() })
        .collect();
    let addons = crate::ops::addons::node::desired_addons(db, keys, node).await?;
    Ok(DesiredState { instances, addons, volumes })
}

/// An instance's run spec: config vars plus the platform's own variables.
fn desired_instance(row: DesiredRow) -> DesiredInstance {
    let mut env = row.config;
    env.entry("WEB_CONCURRENCY".into()).or_insert_with(|| row.size.web_concurrency().to_string());
    if row.serves_http {
        env.insert("PORT".into(), WEB_PORT.into());
    }
    env.insert("PAAS_APP".into(), row.app.clone());
    env.insert("PAAS_RELEASE".into(), row.release.to_string());
    env.insert("PAAS_PROCESS_TYPE".into(), row.process_type.clone());
    env.insert("PAAS_INSTANCE".into(), row.id.to_string());
    DesiredInstance {
        instance_id: row.id,
        app: row.app,
        release: row.release,
        process_type: row.process_type,
        image: row.image,
        build_id: row.build_id,
        env,
        size: row.size,
        hostname: row.hostname,
        mounts: Vec::new(),
        serves_http: row.serves_http,
    }
}

/// Applies the node's view of its instances; the scheduler reacts to changes.
pub async fn report_instances(db: &PgPool, node: &AgentNode, report: &NodeReport) -> ApiResult<()> {
    let mut changed = Vec::new();
    for line in &report.instances {
        if let Some(app_id) = db::instances::apply_report(db, node.id, line).await? {
            changed.push(app_id);
        }
    }
    let reported: Vec<Uuid> = report.instances.iter().map(|i| i.instance_id).collect();
    db::instances::mark_unreported_stopped(db, node.id, &reported).await?;
    crate::ops::addons::node::apply_reports(db, node, &report.addons).await?;
    if !report.volumes.is_empty() {
        let names: Vec<String> = report.volumes.iter().map(|v| v.name.clone()).collect();
        let bytes: Vec<i64> = report.volumes.iter().map(|v| v.used_bytes).collect();
        db::volumes::record_usage(db, node.id, &names, &bytes).await?;
    }
    scheduler::reconcile_apps(db, changed).await;
    Ok(())
}

/// Stores output lines of the node's instances.
pub async fn ship_logs(db: &PgPool, node: &AgentNode, lines: Vec<ShippedLine>) -> ApiResult<()> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.instance_id).collect();
    // Postgres text cannot hold NUL bytes.
    let lines: Vec<String> =
        lines.into_iter().map(|l| l.line.chars().filter(|c| *c != '\0').take(MAX_LOG_LINE).collect()).collect();
    db::logs::insert_batch(db, node.id, &ids, &lines).await?;
    Ok(())
}

/// 1-63 characters of a-z, 0-9, '-' and '.', starting with a letter or digit.
fn is_node_name(name: &str) -> bool {
    name.as_bytes().first().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        for good in ["local", "node-1", "10.0.0.1", "a"] {
            assert!(is_node_name(good), "{good}");
        }
        for bad in ["", "-node", "Node", "node_1", &"n".repeat(64)] {
            assert!(!is_node_name(bad), "{bad}");
        }
    }
}
