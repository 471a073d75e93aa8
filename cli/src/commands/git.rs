//! `git remote` and finding the app from the current repository's remote.

use paas_types::App;

use crate::args::GitCommand;
use crate::{CliError, Context};

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

/// The app named by a remote URL ending in `/git/<app>.git`.
pub fn app_from_remote(remote: &str) -> Option<String> {
    let output = std::process::Command::new("git").args(["remote", "get-url", remote]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    app_from_url(String::from_utf8_lossy(&output.stdout).trim())
}

fn app_from_url(url: &str) -> Option<String> {
    let (_, rest) = url.rsplit_once("/git/")?;
    let name = rest.trim_end_matches('/').strip_suffix(".git")?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn app_names_from_remote_urls() {
        assert_eq!(super::app_from_url("http://127.0.0.1:8080/git/shop.git").as_deref(), Some("shop"));
        assert_eq!(super::app_from_url("https://u:t@paas.example/git/my-app.git/").as_deref(), Some("my-app"));
        assert_eq!(super::app_from_url("https://github.com/x/y.git"), None);
    }
}
