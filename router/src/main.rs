//! `paas-router` binary: parse config, start logging, run until SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use paas_router::{telemetry, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
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
