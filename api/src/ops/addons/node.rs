//! The agent's side of add-ons: what a node should hold (with the logins,
//! attached apps and pending jobs of each add-on), and its reports.

use paas_types::addons::{AddonKind, AddonLogin, AddonReport, DesiredAddon, DesiredRestore};
use sqlx::PgPool;

use super::{database_name, kind_of, plan};
use crate::auth::AgentNode;
use crate::crypto::Keyring;
use crate::db;
use crate::error::ApiResult;

/// Every add-on the node holds. Add-ons no node holds yet go to the first
/// node that asks (a node holding none of an app's instances can still
/// serve it: the agent joins the add-on to the app's networks on its engine).
pub async fn desired_addons(db: &PgPool, keys: &Keyring, node: &AgentNode) -> ApiResult<Vec<DesiredAddon>> {
    let claimed = db::addons::claim_unplaced(db, node.id).await?;
    if claimed > 0 {
        tracing::info!(node = %node.name, claimed, "node took add-ons no node held");
    }
    let rows = db::addons::on_node(db, node.id).await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let attachments = db::addons::attachments(db, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    let live = if rows.is_empty() { Vec::new() } else { db::addons::live_config_values(db, keys).await? };
    for row in rows {
        let kind = kind_of(&row);
        let admin_password = db::addons::admin_password(keys, &row)?;
        let plan = plan::find(kind, Some(&row.plan)).or_else(|| plan::find(kind, None)).expect("every kind has plans");
        let dropped = db::addons::drop_unused_retiring(db, keys, row.id, &live).await?;
        if dropped > 0 {
            tracing::info!(addon = %row.name, dropped, "retired add-on logins dropped: no instance uses them any more");
        }
        let credentials = db::addons::credentials(db, keys, row.id).await?;
        let urls: Vec<&str> = credentials.iter().map(|c| c.url.as_str()).collect();
        let mut apps: Vec<String> =
            attachments.iter().filter(|a| a.addon_id == row.id).map(|a| a.app.clone()).collect();
        apps.extend(db::addons::apps_using(&live, &urls).into_iter().map(str::to_owned));
        let logins =
            credentials.into_iter().map(|c| AddonLogin { username: c.username, password: c.password }).collect();
        apps.sort();
        apps.dedup();
        let captures = db::addons::pending_captures(db, row.id).await?;
        let restores = db::addons::pending_restores(db, row.id)
            .await?
            .into_iter()
            .map(|(restore_id, backup_id)| DesiredRestore { restore_id, backup_id })
            .collect();
        out.push(DesiredAddon {
            id: row.id,
            database: if kind == AddonKind::Postgres { database_name(&row.name) } else { String::new() },
            name: row.name,
            kind,
            plan: row.plan,
            dedicated: plan.dedicated,
            logins,
            admin_password,
            limits: plan.limits(),
            apps,
            // A final backup is taken before the data goes.
            destroy: row.state == "destroying" && captures.is_empty(),
            captures,
            restores,
        });
    }
    Ok(out)
}

/// Applies the node's view of its add-ons.
pub async fn apply_reports(db: &PgPool, node: &AgentNode, reports: &[AddonReport]) -> ApiResult<()> {
    for report in reports {
        let state = match report.state.as_str() {
            "provisioning" | "available" | "failed" | "destroyed" => report.state.as_str(),
            other => {
                tracing::debug!(state = other, "ignoring an add-on report with an unknown state");
                continue;
            }
        };
        let message: Option<String> = report.message.as_ref().map(|m| m.chars().take(2000).collect());
        if db::addons::apply_report(db, node.id, report.id, state, message.as_deref()).await? {
            tracing::info!(addon.id = %report.id, node = %node.name, "add-on destroyed");
        }
    }
    Ok(())
}
