//! Backup captures and restores of Postgres add-ons, run next to the
//! server (`pg_dump`/`pg_restore` of the server's own version, inside its
//! container) in the background, their results reported to the API.

use paas_types::addons::AddonJobResult;
use uuid::Uuid;

use super::postgres;
use crate::client::AgentClient;
use crate::docker::Engine;
use crate::errors::error_chain;

#[derive(Debug, Clone, Copy)]
pub enum Job {
    Capture { backup_id: Uuid },
    Restore { restore_id: Uuid },
}

pub async fn run(api: &AgentClient, engine: &Engine, container: &str, database: &str, addon: &str, job: Job) {
    let started = std::time::Instant::now();
    match job {
        Job::Capture { backup_id } => {
            let outcome = capture(engine, container, database).await;
            let sent = match outcome {
                Ok(dump) => {
                    let bytes = dump.len();
                    tracing::info!(addon, backup.id = %backup_id, bytes, duration_ms = started.elapsed().as_millis() as u64, "backup captured");
                    api.upload_backup(backup_id, dump).await
                }
                Err(message) => {
                    tracing::warn!(addon, backup.id = %backup_id, error = %message, "backup failed");
                    api.fail_backup(backup_id, &message).await
                }
            };
            if let Err(error) = sent {
                tracing::warn!(addon, backup.id = %backup_id, error = %error_chain(&error), "cannot report the backup");
            }
        }
        Job::Restore { restore_id } => {
            let outcome = restore(api, engine, container, database, restore_id).await;
            let result = match &outcome {
                Ok(()) => AddonJobResult { success: true, message: None },
                Err(message) => AddonJobResult { success: false, message: Some(message.clone()) },
            };
            tracing::info!(addon, restore.id = %restore_id, success = result.success, duration_ms = started.elapsed().as_millis() as u64, "restore finished");
            if let Err(error) = api.finish_restore(restore_id, &result).await {
                tracing::warn!(addon, restore.id = %restore_id, error = %error_chain(&error), "cannot report the restore");
            }
        }
    }
}

async fn capture(engine: &Engine, container: &str, database: &str) -> Result<Vec<u8>, String> {
    let cmd = postgres::dump_command(database);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let out = engine.exec(container, postgres::SUPERUSER, &cmd, &[], None).await.map_err(|e| error_chain(&e))?;
    if out.exit_code != 0 {
        return Err(format!("pg_dump failed: {}", out.error_line()));
    }
    Ok(out.stdout)
}

async fn restore(api: &AgentClient, engine: &Engine, container: &str, database: &str, id: Uuid) -> Result<(), String> {
    let dump = api.restore_source(id).await.map_err(|e| format!("cannot fetch the backup: {}", error_chain(&e)))?;
    let cmd = postgres::restore_command(database);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let out = engine
        .exec(container, postgres::SUPERUSER, &cmd, &[], Some(dump.to_vec()))
        .await
        .map_err(|e| error_chain(&e))?;
    if out.exit_code != 0 {
        return Err(format!("pg_restore failed: {}", out.error_line()));
    }
    Ok(())
}
