//! `config get|set|unset`.

use std::collections::BTreeMap;

use paas_types::ConfigVars;

use crate::args::ConfigCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn run(ctx: &Context, command: ConfigCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    let app = ctx.app()?;
    let config: ConfigVars = match command {
        ConfigCommand::Get { key: Some(key) } => {
            let config: ConfigVars = client.config(&app).await?;
            let value = config.get(&key).ok_or_else(|| CliError::Failed(format!("{key} is not set on {app}")))?;
            if ctx.json {
                output::json(&BTreeMap::from([(key, value)]));
            } else {
                println!("{value}");
            }
            return Ok(());
        }
        ConfigCommand::Get { key: None } => client.config(&app).await?,
        ConfigCommand::Set { pairs } => {
            let mut patch = BTreeMap::new();
            for pair in pairs {
                let (key, value) =
                    pair.split_once('=').ok_or_else(|| CliError::Usage(format!("{pair:?} is not KEY=VALUE")))?;
                patch.insert(key.to_string(), Some(value.to_string()));
            }
            let config = client.update_config(&app, &patch).await?;
            eprintln!("Config updated; {app} restarts with it");
            config
        }
        ConfigCommand::Unset { keys } => {
            let patch: BTreeMap<String, Option<String>> = keys.into_iter().map(|k| (k, None)).collect();
            let config = client.update_config(&app, &patch).await?;
            eprintln!("Config updated; {app} restarts with it");
            config
        }
    };
    if ctx.json {
        output::json(&config);
    } else {
        for (key, value) in config {
            println!("{key}={value}");
        }
    }
    Ok(())
}
