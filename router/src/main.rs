//! `paas-router`: the HTTP front door. Only its command line exists so far; see issue 4.

use clap::Parser;

/// HTTP router: maps hostnames to app instances, buffers slow clients, serves static assets.
#[derive(Debug, Parser)]
#[command(name = "paas-router", version)]
struct Config {
    /// Base URL of the PaaS API (route table source).
    #[arg(long, env = "PAAS_API_URL", default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// Address the router listens on.
    #[arg(long, env = "PAAS_ROUTER_LISTEN", default_value = "127.0.0.1:8000")]
    listen: String,
}

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    eprintln!("paas-router: not implemented yet (would listen on {})", config.listen);
    std::process::ExitCode::FAILURE
}
