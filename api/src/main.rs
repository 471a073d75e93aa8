//! `paas-api`: parse config, then serve, migrate, create an admin or rotate the secret key.

use clap::Parser;

use api::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    api::telemetry::init(&cli.serve.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => api::serve(cli.serve).await,
        Command::Migrate => migrate(&cli.serve).await,
        Command::RotateSecretKey => api::rotate_secret_key(&cli.serve).await.map(|report| print!("{report}")),
        Command::CreateAdmin(args) => api::create_admin(&cli.serve, &args.email, args.password).await.map(|token| {
            println!("{token}");
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("paas-api: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &api::config::ServeConfig) -> anyhow::Result<()> {
    let pool = api::db::connect(config).await?;
    let sealed = api::prepare_database(config, &pool).await?;
    eprintln!("migrations applied; {sealed} row(s) of plain-text secrets sealed");
    Ok(())
}
