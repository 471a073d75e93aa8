//! `git remote` and finding the app from the current repository's remote.

use paas_types::App;

use crate::args::GitCommand;
use crate::context::Context;
use crate::error::CliError;

pub async fn run(ctx: &Context, command: GitCommand) -> Result<(), CliError> {
    match command {
        GitCommand::Remote { remote } => add_remote(ctx, &remote).await,
        GitCommand::Credential { operation } => credential(ctx, &operation),
    }
}

/// Adds the remote and makes git ask `paas git credential` for the password,
/// so the API token stays in the CLI's config, not in `.git/config`.
async fn add_remote(ctx: &Context, remote: &str) -> Result<(), CliError> {
    let app: App = ctx.client()?.app(&ctx.app()?).await?;
    let url = format!("{}/git/{}.git", ctx.client()?.base(), app.name);
    let git = |args: &[&str]| std::process::Command::new("git").args(args).output();
    let exists = git(&["remote", "get-url", remote]).map(|o| o.status.success()).unwrap_or(false);
    let verb = if exists { "set-url" } else { "add" };
    let output = git(&["remote", verb, remote, &url]).map_err(CliError::io("cannot run git"))?;
    if !output.status.success() {
        return Err(CliError::Failed(format!(
            "git remote {verb} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let exe = std::env::current_exe().map_err(CliError::io("cannot find the paas executable"))?;
    let helper = format!("!'{}' git credential", exe.display());
    let key = format!("credential.{url}.helper");
    let output = git(&["config", &key, &helper]).map_err(CliError::io("cannot run git"))?;
    if !output.status.success() {
        return Err(CliError::Failed("cannot configure the git credential helper".into()));
    }
    println!("Git remote {remote} -> {url}");
    println!("Deploy with `git push {remote} main`.");
    Ok(())
}

/// The git credential helper protocol: answers `get` with the saved token.
fn credential(ctx: &Context, operation: &str) -> Result<(), CliError> {
    if operation != "get" {
        return Ok(());
    }
    let token = ctx.token().ok_or(CliError::NotLoggedIn)?;
    println!("username=paas\npassword={token}");
    Ok(())
}
