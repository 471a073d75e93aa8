//! Apps, releases, rollback, domains, open.

use paas_types::client::rest::AppsQuery;
use paas_types::{
    AddDomainRequest, App, AppList, CertificateState, CreateAppRequest, Domain, DomainCertificate, Release,
    UpdateAppRequest,
};

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
        AppsCommand::Set { request_timeout, https_redirect, hsts } => {
            if request_timeout.is_none() && https_redirect.is_none() && hsts.is_none() {
                return Err(CliError::Usage("name a setting to change, e.g. --request-timeout 60".into()));
            }
            let request = UpdateAppRequest { request_timeout_secs: request_timeout, https_redirect, hsts };
            let app: App = client.update_app(&ctx.app()?, &request).await?;
            if ctx.json {
                output::json(&app);
            } else {
                let mut changed = Vec::new();
                if request_timeout.is_some() {
                    changed.push(format!("request timeout {} s", app.request_timeout_secs));
                }
                if https_redirect.is_some() {
                    changed.push(format!("HTTPS redirect {}", on_off(app.https_redirect)));
                }
                if hsts.is_some() {
                    changed.push(format!("HSTS {}", on_off(app.hsts)));
                }
                println!("Set {}: {}", app.name, changed.join(", "));
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
        "name:     {}\ntenant:   {}\nurl:      {}\nrelease:  {}\ntimeout:  {} s (request)\nhttps:    redirect {}, HSTS {}\ncreated:  {}",
        app.name,
        app.tenant,
        app.web_url,
        release(app.current_release),
        app.request_timeout_secs,
        on_off(app.https_redirect),
        on_off(app.hsts),
        app.created_at
    );
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// A domain's certificate in a few words: `pending`, `issued 2026-05-17`,
/// `failed: <the CA's reason> (next attempt ...)`.
pub fn certificate_text(cert: &DomainCertificate) -> String {
    let day = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let minute = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    match cert.state {
        CertificateState::Pending => "pending".into(),
        CertificateState::Issued => {
            let mut text = match &cert.expires_at {
                Some(t) => format!("issued {}", day(t)),
                None => "issued".into(),
            };
            if let Some(error) = &cert.error {
                text.push_str(&format!(" (renewal failed: {error}"));
                if let Some(t) = &cert.next_attempt_at {
                    text.push_str(&format!("; next attempt {}", minute(t)));
                }
                text.push(')');
            }
            text
        }
        CertificateState::Failed => {
            let mut text = format!("failed: {}", cert.error.as_deref().unwrap_or("no reason given"));
            if let Some(t) = &cert.next_attempt_at {
                text.push_str(&format!(" (next attempt {})", minute(t)));
            }
            text
        }
        CertificateState::Disabled => match &cert.error {
            Some(reason) => format!("off: {reason}"),
            None => "off".into(),
        },
    }
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
                let rows = domains
                    .iter()
                    .map(|d| vec![d.hostname.clone(), certificate_text(&d.certificate), d.url.clone()])
                    .collect::<Vec<_>>();
                output::table(&["hostname", "certificate", "url"], &rows);
            }
        }
        DomainsCommand::Add { hostname } => {
            let domain: Domain = client.add_domain(&app, &AddDomainRequest { hostname }).await?;
            if ctx.json {
                output::json(&domain);
            } else {
                println!("Added {} to {app}; point its DNS at your routers", domain.hostname);
                if domain.certificate.state == CertificateState::Pending {
                    println!(
                        "A certificate is being ordered; `paas domains` shows when it is issued (the CA checks the domain over HTTP, so DNS must point at the routers)"
                    );
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cert(state: CertificateState, error: Option<&str>, next: bool) -> DomainCertificate {
        let at = |d| chrono::Utc.with_ymd_and_hms(2026, 5, d, 12, 30, 0).unwrap();
        DomainCertificate {
            state,
            expires_at: (state == CertificateState::Issued).then(|| at(17)),
            error: error.map(str::to_string),
            next_attempt_at: next.then(|| at(2)),
        }
    }

    #[test]
    fn certificate_states_read_as_words() {
        assert_eq!(certificate_text(&cert(CertificateState::Pending, None, false)), "pending");
        assert_eq!(certificate_text(&cert(CertificateState::Issued, None, true)), "issued 2026-05-17");
        assert_eq!(
            certificate_text(&cert(CertificateState::Failed, Some("connection refused"), true)),
            "failed: connection refused (next attempt 2026-05-02 12:30 UTC)"
        );
        assert_eq!(
            certificate_text(&cert(CertificateState::Issued, Some("timeout"), true)),
            "issued 2026-05-17 (renewal failed: timeout; next attempt 2026-05-02 12:30 UTC)"
        );
        assert_eq!(certificate_text(&cert(CertificateState::Disabled, Some("ACME is off"), false)), "off: ACME is off");
    }
}
