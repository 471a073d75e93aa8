//! The `paas` command line client. Modules, bottom to top:
//!
//! - `args`: the clap command tree; `settings`: the saved login;
//! - `client`: the typed API client set up for the CLI, and what its errors say to people;
//! - `error`: `CliError`; `output`: tables and JSON; `remote`: the app of the `paas` git remote;
//! - `context`: what every command runs with (client, app, output mode);
//! - `commands`: one module per command group.

pub mod args;
mod client;
mod commands;
mod context;
mod error;
mod output;
mod remote;
mod settings;

pub use args::Cli;
pub use context::Context;
pub use error::CliError;

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Context::new(&cli);
    commands::dispatch(&ctx, cli.command).await
}
