//! `paas-agent`: parse config, run the agent.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = agent::config::Config::parse();
    agent::init_tracing(&config.log_format);
    match agent::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("paas-agent: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
