//! `volumes list | create | destroy`, and the volume lines of `ps`.

use paas_types::volumes::{mount_problem, normalize_size, parse_size_mb};
use paas_types::{CreateVolumeRequest, Volume};

use crate::args::VolumesCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn run(ctx: &Context, command: VolumesCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    match command {
        VolumesCommand::List => {
            let volumes: Vec<Volume> = client.list_volumes(&app).await?;
            if ctx.json {
                output::json(&volumes);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = volumes
                .iter()
                .map(|v| {
                    vec![
                        v.name.clone(),
                        v.mount.clone(),
                        format!("{} ({})", v.node, v.node_state),
                        usage(v),
                        v.created_at.format("%Y-%m-%d %H:%M").to_string(),
                    ]
                })
                .collect();
            output::table(&["volume", "mount", "node", "used / size", "created"], &rows);
            for line in hints(&volumes) {
                println!("{line}");
            }
        }
        VolumesCommand::Create { name, mount, size } => {
            // The API decides; these checks only save a round trip.
            if let Some(problem) = mount_problem(&mount) {
                return Err(CliError::Usage(problem));
            }
            let size = size.as_deref().map(normalize_size);
            if let Some(size) = &size {
                parse_size_mb(size).map_err(|e| CliError::Usage(e.0))?;
            }
            let volume = client.create_volume(&app, &CreateVolumeRequest { name, mount, size }).await?;
            if ctx.json {
                output::json(&volume);
            } else {
                println!(
                    "Created volume {} ({} MiB) on node {}, mounted at {} in {app}'s processes and release command",
                    volume.name, volume.size_mb, volume.node, volume.mount
                );
                println!("{app}'s processes now run on {} (a new release rolls them over)", volume.node);
            }
        }
        VolumesCommand::Destroy { name, confirm } => {
            let typed = match confirm {
                Some(typed) => typed,
                None => super::account::prompt(&format!(
                    "This deletes volume {name} of {app} and all its data. Type its name to confirm: "
                ))?,
            };
            if typed != name {
                return Err(CliError::Usage(format!(
                    "confirmation {typed:?} does not match {name:?}; nothing deleted"
                )));
            }
            client.destroy_volume(&app, &name, Some(&name)).await?;
            eprintln!("Destroyed volume {name} of {app}; its node removes the data once no process uses it");
        }
    }
    Ok(())
}

/// `12 MiB / 1024 MiB`, or `? / 1024 MiB` before the node measured it.
fn usage(volume: &Volume) -> String {
    let used = volume.used_bytes.map(|b| format!("{} MiB", b >> 20)).unwrap_or_else(|| "?".into());
    format!("{used} / {} MiB", volume.size_mb)
}

/// The lines `ps` prints under its table: one per volume, with its hint.
pub fn ps_lines(volumes: &[Volume]) -> Vec<String> {
    let mut lines = Vec::new();
    for volume in volumes {
        lines.push(format!(
            "volume {} at {} on node {} ({}), {}",
            volume.name,
            volume.mount,
            volume.node,
            volume.node_state,
            usage(volume)
        ));
    }
    lines.extend(hints(volumes));
    lines
}

fn hints(volumes: &[Volume]) -> Vec<String> {
    volumes.iter().filter_map(|v| v.hint.as_ref().map(|h| format!("volume {}: {h}", v.name))).collect()
}
