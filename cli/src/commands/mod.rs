//! One module per command group; `dispatch` routes the parsed command.

mod account;
mod apps;
mod config;
mod deploy;
pub mod git;
mod processes;
mod team;
mod volumes;

use crate::args::Command;
use crate::context::Context;
use crate::error::CliError;

pub async fn dispatch(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Login(args) => account::login(ctx, args).await,
        Command::Logout => account::logout(),
        Command::Apps(cmd) => apps::run(ctx, cmd).await,
        Command::Config(cmd) => config::run(ctx, cmd).await,
        Command::Scale { changes } => processes::scale(ctx, &changes).await,
        Command::Ps => processes::ps(ctx).await,
        Command::Logs { follow, process, lines } => processes::logs(ctx, follow, process, lines).await,
        Command::Releases => apps::releases(ctx).await,
        Command::Rollback { target } => apps::rollback(ctx, target).await,
        Command::Domains(cmd) => apps::domains(ctx, cmd).await,
        Command::Volumes(cmd) => volumes::run(ctx, cmd).await,
        Command::Deploy { dir } => deploy::run(ctx, &dir).await,
        Command::Open => apps::open(ctx).await,
        Command::Git(cmd) => git::run(ctx, cmd).await,
        Command::Tokens(cmd) => team::tokens(ctx, cmd).await,
        Command::Members(cmd) => team::members(ctx, cmd).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut crate::args::Cli::command(), "paas", &mut std::io::stdout());
            Ok(())
        }
    }
}
