//! `addons create|list|info|attach|detach|restore|destroy`, `pg psql`,
//! `pg credentials rotate`, `pg backups capture|list|restore|download`,
//! `redis cli` (their arguments are in `args`).

use std::time::Duration;

use paas_types::addons::{Addon, AddonBackup, AddonKind, AddonRestore, AttachAddonRequest, CreateAddonRequest};
use paas_types::client::RestClient;

use crate::args::{AddonsCommand, BackupsCommand, CredentialsCommand, PgCommand, RedisCommand};
use crate::context::Context;
use crate::error::CliError;
use crate::output;

/// Longest a CLI waits for a backup or restore.
const JOB_WAIT: Duration = Duration::from_secs(600);

pub async fn run(ctx: &Context, command: AddonsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        AddonsCommand::List => {
            let addons = match ctx.app_if_given() {
                Some(app) => client.app_addons(&app).await?,
                None => client.list_addons().await?,
            };
            if ctx.json {
                output::json(&addons);
                return Ok(());
            }
            if addons.is_empty() {
                println!("No add-ons. Create one with `paas addons create postgres -a APP`.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = addons
                .iter()
                .map(|a| {
                    vec![
                        a.name.clone(),
                        a.kind.as_str().into(),
                        a.plan.clone(),
                        a.state.as_str().into(),
                        attachments(a),
                        a.node.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            output::table(&["name", "kind", "plan", "state", "attached as", "node"], &rows);
        }
        AddonsCommand::Create { kind, alias, plan } => {
            let app = ctx.app()?;
            let kind = AddonKind::parse(&kind)
                .ok_or_else(|| CliError::Usage(format!("unknown add-on {kind:?}: choose postgres or redis")))?;
            let addon = client.create_addon(&app, &CreateAddonRequest { kind, plan, alias }).await?;
            if ctx.json {
                output::json(&addon);
            } else {
                let var = addon.attachments.first().map(|a| a.var.as_str()).unwrap_or("?");
                println!("Created {} ({} {}), attached to {app} as {var}", addon.name, addon.kind.as_str(), addon.plan);
                println!("{app} restarts with {var}; `paas addons info {}` shows its state", addon.name);
            }
        }
        AddonsCommand::Info { name } => {
            let addon = client.addon(&name).await?;
            if ctx.json {
                output::json(&addon);
            } else {
                print_addon(&addon);
            }
        }
        AddonsCommand::Attach { name, alias } => {
            let app = ctx.app()?;
            let addon = client.attach_addon(&name, &AttachAddonRequest { app: app.clone(), alias }).await?;
            let var = addon.attachments.iter().find(|a| a.app == app).map(|a| a.var.clone()).unwrap_or_default();
            done(ctx, &addon, &format!("Attached {name} to {app} as {var}; {app} restarts with it"));
        }
        AddonsCommand::Detach { name } => {
            let app = ctx.app()?;
            let addon = client.detach_addon(&name, &app).await?;
            done(ctx, &addon, &format!("Detached {name} from {app}; {app} restarts without it"));
        }
        AddonsCommand::Restore { name, to_node } => {
            let restore = client.restore_addon_to_node(&name, &to_node).await?;
            let restore = wait_restore(client, &name, restore).await?;
            finish_restore(&name, &restore, &format!("{name} is up on {to_node} from backup {}", restore.backup_id))?;
        }
        AddonsCommand::Destroy { name, confirm } => {
            let addon = client.destroy_addon(&name, confirm.as_deref()).await?;
            let how = if addon.kind == AddonKind::Postgres { " after a final backup" } else { "" };
            done(
                ctx,
                &addon,
                &format!(
                    "Destroying {name}{how}; its data is removed from node {}",
                    addon.node.as_deref().unwrap_or("-")
                ),
            );
        }
    }
    Ok(())
}

pub async fn pg(ctx: &Context, command: PgCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        PgCommand::Psql { name } => {
            let name = postgres_addon(ctx, client, name).await?;
            return crate::commands::run::console(ctx, &name, ctx.app().ok()).await;
        }
        PgCommand::Credentials(CredentialsCommand::Rotate { name }) => {
            let name = postgres_addon(ctx, client, name).await?;
            let addon = client.rotate_addon_credentials(&name).await?;
            let apps: Vec<&str> = addon.attachments.iter().map(|a| a.app.as_str()).collect();
            done(ctx, &addon, &format!(
                "Rotated the credentials of {name}; {} restart with the new URL, the old login is dropped once they have",
                if apps.is_empty() { "no apps".to_string() } else { apps.join(", ") }
            ));
        }
        PgCommand::Backups(BackupsCommand::Capture { name }) => {
            let name = postgres_addon(ctx, client, name).await?;
            let backup = client.capture_backup(&name).await?;
            let spinner = (!ctx.json).then(|| output::spinner(&format!("Capturing a backup of {name}")));
            let backup = wait_backup(client, &name, backup).await;
            if let Some(spinner) = spinner {
                spinner.finish_and_clear();
            }
            let backup = backup?;
            if ctx.json {
                output::json(&backup);
            } else if backup.state == "succeeded" {
                println!("Backup {} of {name}: {} bytes", backup.id, backup.size_bytes.unwrap_or(0));
            } else {
                return Err(CliError::Failed(format!(
                    "backup {} failed: {}",
                    backup.id,
                    backup.message.unwrap_or_else(|| "no reason given".into())
                )));
            }
        }
        PgCommand::Backups(BackupsCommand::List { name }) => {
            let name = postgres_addon(ctx, client, name).await?;
            let backups = client.list_backups(&name).await?;
            if ctx.json {
                output::json(&backups);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = backups
                .iter()
                .map(|b| {
                    vec![
                        b.id.to_string(),
                        b.trigger.clone(),
                        b.state.clone(),
                        b.size_bytes.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                        b.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    ]
                })
                .collect();
            output::table(&["id", "trigger", "state", "bytes", "created"], &rows);
        }
        PgCommand::Backups(BackupsCommand::Restore { backup, name }) => {
            let name = postgres_addon(ctx, client, name).await?;
            let restore = client.restore_backup(&name, backup).await?;
            let restore = wait_restore(client, &name, restore).await?;
            finish_restore(&name, &restore, &format!("Restored backup {backup} into {name}"))?;
        }
        PgCommand::Backups(BackupsCommand::Download { backup, name, output: path }) => {
            let name = postgres_addon(ctx, client, name).await?;
            let data = client.download_backup(&name, backup).await?;
            let path = path.unwrap_or_else(|| format!("{name}-{backup}.dump").into());
            std::fs::write(&path, &data).map_err(CliError::io(format!("cannot write {}", path.display())))?;
            println!(
                "Wrote {} ({} bytes); restore it with `pg_restore -d DATABASE_URL {}`",
                path.display(),
                data.len(),
                path.display()
            );
        }
    }
    Ok(())
}

async fn wait_restore(client: &RestClient, name: &str, mut restore: AddonRestore) -> Result<AddonRestore, CliError> {
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while restore.state == "pending" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        restore = client.addon_restore(name, restore.id).await?;
    }
    Ok(restore)
}

/// Prints how a restore ended (`done` when it succeeded).
fn finish_restore(name: &str, restore: &AddonRestore, done: &str) -> Result<(), CliError> {
    match restore.state.as_str() {
        "succeeded" => println!("{done}"),
        "pending" => println!("Restore {} is still running; check `paas addons info {name}`", restore.id),
        _ => {
            return Err(CliError::Failed(format!(
                "restore failed: {}",
                restore.message.as_deref().unwrap_or("no reason given")
            )))
        }
    }
    Ok(())
}

async fn wait_backup(client: &RestClient, name: &str, mut backup: AddonBackup) -> Result<AddonBackup, CliError> {
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while backup.state == "pending" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        backup = client.backup(name, backup.id).await?;
    }
    Ok(backup)
}

pub async fn redis(ctx: &Context, command: RedisCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        RedisCommand::Cli { name } => {
            let name = app_addon(ctx, client, name, AddonKind::Redis).await?;
            crate::commands::run::console(ctx, &name, ctx.app().ok()).await
        }
    }
}

/// The named add-on, else the app's only Postgres add-on.
async fn postgres_addon(ctx: &Context, client: &RestClient, name: Option<String>) -> Result<String, CliError> {
    app_addon(ctx, client, name, AddonKind::Postgres).await
}

/// The named add-on, else the app's only add-on of `kind`.
async fn app_addon(
    ctx: &Context,
    client: &RestClient,
    name: Option<String>,
    kind: AddonKind,
) -> Result<String, CliError> {
    if let Some(name) = name {
        return Ok(name);
    }
    let app = ctx.app()?;
    let mut found: Vec<Addon> = client.app_addons(&app).await?.into_iter().filter(|a| a.kind == kind).collect();
    let (label, create) = match kind {
        AddonKind::Postgres => ("Postgres", "postgres"),
        AddonKind::Redis => ("Redis", "redis"),
    };
    match found.len() {
        1 => Ok(found.remove(0).name),
        0 => {
            Err(CliError::Usage(format!("{app} has no {label} add-on; create one with `paas addons create {create}`")))
        }
        _ => Err(CliError::Usage(format!(
            "{app} has several {label} add-ons ({}); name one",
            found.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn attachments(addon: &Addon) -> String {
    if addon.attachments.is_empty() {
        return "-".into();
    }
    addon.attachments.iter().map(|a| format!("{}:{}", a.app, a.var)).collect::<Vec<_>>().join(", ")
}

fn print_addon(addon: &Addon) {
    println!("name:      {}", addon.name);
    println!("kind:      {} ({} plan)", addon.kind.as_str(), addon.plan);
    println!("state:     {}", addon.state.as_str());
    if let Some(message) = &addon.message {
        println!("           {message}");
    }
    println!("node:      {}", addon.node.as_deref().unwrap_or("- (waiting for a node)"));
    println!("attached:  {}", attachments(addon));
    if let Some(url) = &addon.url {
        println!("url:       {url}");
    }
    println!("created:   {}", addon.created_at);
}

fn done(ctx: &Context, addon: &Addon, message: &str) {
    if ctx.json {
        output::json(addon);
    } else {
        println!("{message}");
    }
}
