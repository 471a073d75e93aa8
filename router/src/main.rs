//! `paas-router` binary: parse config, start logging, run until SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use paas_router::{telemetry, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
    let env_names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for name in paas_router::config::unknown_env_vars(env_names) {
        tracing::warn!(variable = %name, "unknown PAAS_ROUTER_* variable ignored");
    }
    if let Err(message) = config.validate() {
        tracing::error!("invalid configuration: {message}");
        return ExitCode::from(2);
    }
    match paas_router::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let chain = anyhow::Error::from(error);
            tracing::error!("{chain:#}");
            ExitCode::FAILURE
        }
    }
}
