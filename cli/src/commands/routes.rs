//! `routes [set | unset]`: URL prefixes sent to process types other than
//! `web` (an async server for WebSocket, long-poll and SSE).

use paas_types::process_routes::{prefix_problem, PathRoute, RouteSource, RoutesPatch};

use crate::args::RoutesCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn run(ctx: &Context, command: Option<RoutesCommand>) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    let routes = match command {
        None => client.routes(&app).await?,
        Some(command) => {
            let patch = patch(command)?;
            let routes = client.update_routes(&app, &patch).await?;
            if !ctx.json {
                eprintln!("Routes of {app} updated: routers apply them within seconds, no new build or release");
            }
            routes
        }
    };
    if ctx.json {
        output::json(&routes);
    } else {
        print(&app, &routes);
    }
    Ok(())
}

/// The API patch of `set PREFIX=TYPE...` or `unset PREFIX...`, checked before sending.
fn patch(command: RoutesCommand) -> Result<RoutesPatch, CliError> {
    let entries: Vec<(String, Option<String>)> = match command {
        RoutesCommand::Set { pairs } => pairs
            .iter()
            .map(|pair| match pair.rsplit_once('=') {
                Some((prefix, process_type)) if !process_type.is_empty() => {
                    Ok((prefix.to_string(), Some(process_type.to_string())))
                }
                _ => Err(CliError::Usage(format!("{pair:?} is not PREFIX=TYPE, e.g. /ws/=async"))),
            })
            .collect::<Result<_, _>>()?,
        RoutesCommand::Unset { prefixes } => prefixes.into_iter().map(|p| (p, None)).collect(),
    };
    for (prefix, _) in &entries {
        if let Some(problem) = prefix_problem(prefix) {
            return Err(CliError::Usage(format!("{prefix:?}: {problem}")));
        }
    }
    Ok(entries.into_iter().collect())
}

fn print(app: &str, routes: &[PathRoute]) {
    if routes.is_empty() {
        println!("No routes: every request to {app} goes to its web process.");
        println!("Send a prefix to another process type in paas.json ({{\"routes\": {{\"/ws/\": \"async\"}}}})");
        println!("or with `paas routes set /ws/=async`.");
        return;
    }
    let rows: Vec<Vec<String>> = routes
        .iter()
        .map(|r| {
            let source = match r.source {
                RouteSource::PaasJson => "paas.json",
                RouteSource::Cli => "paas routes set",
            };
            vec![r.prefix.clone(), r.process_type.clone(), source.to_string()]
        })
        .collect();
    output::table(&["prefix", "process type", "set by"], &rows);
    println!("Everything else goes to web. A prefix set with `paas routes set` wins over paas.json's.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_unset_make_the_patch() {
        let set = RoutesCommand::Set { pairs: vec!["/ws/=async".into(), "/events=sse".into()] };
        let made = patch(set).unwrap();
        assert_eq!(made["/ws/"].as_deref(), Some("async"));
        assert_eq!(made["/events"].as_deref(), Some("sse"));
        let unset = patch(RoutesCommand::Unset { prefixes: vec!["/ws/".into()] }).unwrap();
        assert_eq!(unset.get("/ws/"), Some(&None));
        for bad in ["/ws/", "ws/=async", "/ws/="] {
            let error = patch(RoutesCommand::Set { pairs: vec![bad.into()] }).unwrap_err();
            assert!(matches!(error, CliError::Usage(_)), "{bad}");
        }
    }
}
