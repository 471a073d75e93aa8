//! `paas`: the command line client. Only its command line exists so far; see issue 5.

use clap::Parser;

/// Command line client of the PaaS.
#[derive(Debug, Parser)]
#[command(name = "paas", version)]
struct Cli {
    /// Base URL of the PaaS API.
    #[arg(long, global = true, env = "PAAS_API_URL", default_value = "http://127.0.0.1:8080")]
    api_url: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    eprintln!("paas: no commands yet (API at {})", cli.api_url);
    std::process::ExitCode::FAILURE
}
