//! Apps, releases, rollback, domains, open.

use paas_types::client::rest::AppsQuery;
use paas_types::{AddDomainRequest, App, AppList, CreateAppRequest, Domain, Release, UpdateAppRequest};

use crate::args::{AppsCommand, DomainsCommand};
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn run(ctx: &Context, command: AppsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        AppsCommand::List => {
            let mut apps = Vec::new();
            let mut after: Option<String> = None;
            // Bounded: at most 100 pages of 1000.
            for _ in 0..100 {
                let query = AppsQuery { after: after.take(), limit: Some(1000), ..Default::default() };
                let page: AppList = client.list_apps(&query).await?;
                apps.extend(page.apps);
                after = page.next_after;
                if after.is_none() {
                    break;
                }
            }
            if ctx.json {
                output::json(&apps);
            } else {
                let rows = apps
                    .iter()
                    .map(|a| vec![a.name.clone(), a.tenant.clone(), release(a.current_release), a.web_url.clone()])
                    .collect::<Vec<_>>();
                output::table(&["name", "tenant", "release", "url"], &rows);
            }
        }
        AppsCommand::Create { name, tenant } => {
            let app: App = client.create_app(&CreateAppRequest { name, tenant }).await?;
            if ctx.json {
                output::json(&app);
            } else {
                println!("Created {} ({})", app.name, app.web_url);
                println!(
                    "Deploy with `paas git remote -a {}` and `git push paas main`, or `paas deploy -a {}`",
                    app.name, app.name
                );
            }
        }
        AppsCommand::Info => {
            let app: App = client.app(&ctx.app()?).await?;
            if ctx.json {
                output::json(&app);
            } else {
                print_info(&app);
            }
        }
        AppsCommand::Set { request_timeout } => {
            if request_timeout.is_none() {
                return Err(CliError::Usage("name a setting to change, e.g. --request-timeout 60".into()));
            }
            let request = UpdateAppRequest { request_timeout_secs: request_timeout };
            let app: App = client.update_app(&ctx.app()?, &request).await?;
            if ctx.json {
                output::json(&app);
            } else {
                println!("Set {}: request timeout {} s", app.name, app.request_timeout_secs);
            }
        }
        AppsCommand::Destroy { confirm } => {
            let app = ctx.app()?;
            let typed = match confirm {
                Some(name) => name,
                None => super::account::prompt(&format!(
                    "This deletes {app} and everything it runs. Type its name to confirm: "
                ))?,
            };
            if typed != app {
                return Err(CliError::Usage(format!("confirmation {typed:?} does not match {app:?}; nothing deleted")));
            }
            client.delete_app(&app).await?;
            eprintln!("Destroyed {app}");
        }
    }
    Ok(())
}

fn print_info(app: &App) {
    println!(
        "name:     {}\ntenant:   {}\nurl:      {}\nrelease:  {}\ntimeout:  {} s (request)\ncreated:  {}",
        app.name,
        app.tenant,
        app.web_url,
        release(app.current_release),
        app.request_timeout_secs,
        app.created_at
    );
}

fn release(version: Option<i32>) -> String {
    version.map(|v| format!("v{v}")).unwrap_or_else(|| "-".into())
}

pub async fn releases(ctx: &Context) -> Result<(), CliError> {
    let releases: Vec<Release> = ctx.client()?.list_releases(&ctx.app()?, None).await?;
    if ctx.json {
        output::json(&releases);
        return Ok(());
    }
    let rows = releases
        .iter()
        .map(|r| {
            vec![
                format!("v{}{}", r.version, if r.current { " (current)" } else { "" }),
                r.description.clone(),
                r.author.clone().unwrap_or_default(),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["version", "description", "by", "created"], &rows);
    Ok(())
}

pub async fn rollback(ctx: &Context, version: Option<String>) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    let target = match version {
        Some(v) => v
            .trim_start_matches('v')
            .parse::<i32>()
            .map_err(|_| CliError::Usage(format!("{v:?} is not a release version like v3")))?,
        None => {
            let releases: Vec<Release> = client.list_releases(&app, Some(2)).await?;
            releases.get(1).map(|r| r.version).ok_or_else(|| CliError::Usage("there is no earlier release".into()))?
        }
    };
    let release: Release = client.rollback(&app, target).await?;
    if ctx.json {
        output::json(&release);
    } else {
        println!("Rolled back {app} to v{target}: now v{}", release.version);
    }
    Ok(())
}

pub async fn domains(ctx: &Context, command: DomainsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    match command {
        DomainsCommand::List => {
            let domains: Vec<Domain> = client.list_domains(&app).await?;
            if ctx.json {
                output::json(&domains);
            } else {
                output::table(&["hostname"], &domains.iter().map(|d| vec![d.hostname.clone()]).collect::<Vec<_>>());
            }
        }
        DomainsCommand::Add { hostname } => {
            let domain: Domain = client.add_domain(&app, &AddDomainRequest { hostname }).await?;
            if ctx.json {
                output::json(&domain);
            } else {
                println!("Added {} to {app}; point its DNS at your router", domain.hostname);
            }
        }
        DomainsCommand::Remove { hostname } => {
            client.remove_domain(&app, &hostname).await?;
            eprintln!("Removed {hostname} from {app}");
        }
    }
    Ok(())
}

pub async fn open(ctx: &Context) -> Result<(), CliError> {
    let app: App = ctx.client()?.app(&ctx.app()?).await?;
    // Try the desktop's opener; always print the URL.
    let _ = std::process::Command::new("xdg-open")
        .arg(&app.web_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    println!("{}", app.web_url);
    Ok(())
}
