//! `paas-agent`: the per-node agent (registration, builds, containers).
//! Only its command line exists so far; see issue 3.

use clap::Parser;

/// Node agent: registers this node with the API, builds images and runs app containers on Docker.
#[derive(Debug, Parser)]
#[command(name = "paas-agent", version)]
struct Config {
    /// Base URL of the PaaS API.
    #[arg(long, env = "PAAS_API_URL", default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// Operator-issued join token used once to register this node.
    #[arg(long, env = "PAAS_JOIN_TOKEN", hide_env_values = true)]
    join_token: Option<String>,
}

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    eprintln!("paas-agent: not implemented yet (API at {})", config.api_url);
    std::process::ExitCode::FAILURE
}
