//! `scale`, `ps` and `logs`.

use std::collections::BTreeMap;

use paas_types::client::rest::LogsQuery;
use paas_types::client::ClientError;
use paas_types::{ActualState, FormationChange, Instance, InstanceGoal, LogLine, ProcessFormation, Size};

use crate::context::Context;
use crate::error::CliError;
use crate::output;

/// `web=3 worker=1:small` -> a formation patch.
pub fn parse_changes(changes: &[String]) -> Result<BTreeMap<String, FormationChange>, CliError> {
    let mut patch = BTreeMap::new();
    for change in changes {
        let bad = || CliError::Usage(format!("{change:?} is not TYPE=QUANTITY or TYPE=QUANTITY:SIZE"));
        let (process, spec) = change.split_once('=').ok_or_else(bad)?;
        let (quantity, size) = match spec.split_once(':') {
            Some((q, s)) => (q, Some(Size::parse(s).ok_or_else(bad)?)),
            None => (spec, None),
        };
        let quantity: i64 = quantity.parse().map_err(|_| bad())?;
        let value = match size {
            None => FormationChange::Quantity(quantity),
            Some(size) => FormationChange::Spec { quantity: Some(quantity), size: Some(size) },
        };
        patch.insert(process.to_string(), value);
    }
    Ok(patch)
}

pub async fn scale(ctx: &Context, changes: &[String]) -> Result<(), CliError> {
    let patch = parse_changes(changes)?;
    let app = ctx.app()?;
    let formation: Vec<ProcessFormation> = ctx.client()?.update_formation(&app, &patch).await?;
    if ctx.json {
        output::json(&formation);
    } else {
        let summary: Vec<String> =
            formation.iter().map(|f| format!("{}={}:{}", f.process_type, f.quantity, f.size.as_str())).collect();
        println!("Scaled {app}: {}", summary.join(" "));
    }
    Ok(())
}

pub async fn ps(ctx: &Context) -> Result<(), CliError> {
    let app = ctx.app()?;
    let instances: Vec<Instance> = ctx.client()?.list_instances(&app).await?;
    if ctx.json {
        output::json(&instances);
        return Ok(());
    }
    let shown: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.desired_state == InstanceGoal::Running || i.state != ActualState::Stopped)
        .collect();
    let rows = shown
        .iter()
        .map(|i| {
            vec![
                name(i),
                format!("v{}", i.release),
                i.state.to_string(),
                i.node.clone().unwrap_or_else(|| "-".into()),
                i.address.clone().unwrap_or_else(|| "-".into()),
                i.restarts.to_string(),
                i.exit_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["process", "release", "state", "node", "address", "restarts", "exit"], &rows);
    for line in problems(&shown) {
        println!("{line}");
    }
    let volumes = ctx.client()?.list_volumes(&app).await?;
    if !volumes.is_empty() {
        println!();
        for line in super::volumes::ps_lines(&volumes) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `web.1a2b3c4d`: process type and short instance id.
fn name(instance: &Instance) -> String {
    format!("{}.{}", instance.process_type, &instance.id.simple().to_string()[..8])
}

/// Lines under the table for instances with something wrong: the hint
/// with its fix, and a crashed one's last output lines.
fn problems(instances: &[&Instance]) -> Vec<String> {
    /// Output lines shown per crashed instance.
    const LAST_LINES: usize = 5;
    let mut lines = Vec::new();
    for instance in instances {
        let Some(hint) = &instance.hint else { continue };
        lines.push(String::new());
        lines.push(format!("{}: {hint}", name(instance)));
        let skip = instance.last_output.len().saturating_sub(LAST_LINES);
        lines.extend(instance.last_output[skip..].iter().map(|l| format!("    {l}")));
    }
    lines
}

fn print_line(line: &LogLine, json: bool) {
    if json {
        println!("{}", serde_json::to_string(line).unwrap_or_default());
    } else {
        let instance = line.instance_id.map(|i| i.simple().to_string()[..8].to_string()).unwrap_or_default();
        println!("{} {}.{}: {}", line.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), line.process_type, instance, line.line);
    }
}

pub async fn logs(ctx: &Context, follow: bool, process: Option<String>, lines: i64) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    let query = LogsQuery { process, lines: Some(lines) };
    if !follow {
        let lines: Vec<LogLine> = client.logs(&app, &query).await?;
        for line in &lines {
            print_line(line, ctx.json);
        }
        return Ok(());
    }
    let mut events = client.follow_logs(&app, &query).await?;
    while let Some(event) = events.next().await {
        match event {
            Ok(line) => print_line(&line, ctx.json),
            // An event that is not a log line (a newer API's) is skipped, not fatal.
            Err(ClientError::Decode { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(state: ActualState, hint: Option<&str>, output: &[&str]) -> Instance {
        Instance {
            id: uuid::Uuid::from_u128(0xabcdef12 << 96),
            process_type: "worker".into(),
            release: 2,
            node: None,
            desired_state: InstanceGoal::Running,
            state,
            address: None,
            restarts: 3,
            exit_status: Some(1),
            last_output: output.iter().map(|l| l.to_string()).collect(),
            http_status: None,
            hint: hint.map(str::to_string),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn problems_show_the_hint_and_the_last_output() {
        let fine = instance(ActualState::Running, None, &[]);
        let lines: Vec<String> = (1..=7).map(|n| format!("line {n}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let crashed = instance(ActualState::Crashed, Some("it keeps exiting"), &lines);
        assert!(problems(&[&fine]).is_empty());
        assert_eq!(
            problems(&[&fine, &crashed]),
            [
                "",
                "worker.abcdef12: it keeps exiting",
                "    line 3",
                "    line 4",
                "    line 5",
                "    line 6",
                "    line 7"
            ]
        );
    }

    #[test]
    fn scale_arguments() {
        let patch = parse_changes(&["web=3".into(), "worker=1:small".into()]).unwrap();
        assert!(matches!(patch["web"], FormationChange::Quantity(3)));
        assert!(matches!(patch["worker"], FormationChange::Spec { quantity: Some(1), size: Some(Size::Small) }));
        for bad in ["web", "web=x", "web=1:huge", "=1x"] {
            assert!(parse_changes(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
