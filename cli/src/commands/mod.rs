//! One module per command group; `dispatch` routes the parsed command.

mod account;
pub mod addons;
mod apps;
mod cache;
mod config;
mod deploy;
pub mod git;
mod processes;
mod routes;
mod run;
mod team;
mod volumes;

use crate::args::{Command, TokensCommand};
use crate::context::Context;
use crate::error::CliError;

pub async fn dispatch(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Login(args) => account::login(ctx, args).await,
        Command::Logout => account::logout(),
        Command::Signup(args) => account::signup(ctx, args).await,
        Command::Apps(cmd) => apps::run(ctx, cmd).await,
        Command::Config(cmd) => config::run(ctx, cmd).await,
        Command::Scale { changes } => processes::scale(ctx, &changes).await,
        Command::Ps => processes::ps(ctx).await,
        Command::Logs { follow, process, lines } => processes::logs(ctx, follow, process, lines).await,
        Command::Run { size, detach, command } => run::run(ctx, size, detach, command).await,
        Command::Releases => apps::releases(ctx).await,
        Command::Rollback { target } => apps::rollback(ctx, target).await,
        Command::Domains(cmd) => apps::domains(ctx, cmd).await,
        Command::Routes { command } => routes::run(ctx, command).await,
        Command::Volumes(cmd) => volumes::run(ctx, cmd).await,
        Command::Cache(cmd) => cache::run(ctx, cmd).await,
        Command::Deploy { dir } => deploy::run(ctx, &dir).await,
        Command::Open => apps::open(ctx).await,
        Command::Git(cmd) => git::run(ctx, cmd).await,
        Command::Tokens { command } => team::tokens(ctx, command.unwrap_or(TokensCommand::List)).await,
        Command::Members(cmd) => team::members(ctx, cmd).await,
        Command::Invitations(cmd) => team::invitations(ctx, cmd).await,
        Command::Events { account, limit } => team::events(ctx, account, limit).await,
        Command::Addons(cmd) => addons::run(ctx, cmd).await,
        Command::Pg(cmd) => addons::pg(ctx, cmd).await,
        Command::Redis(cmd) => addons::redis(ctx, cmd).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut crate::args::Cli::command(), "paas", &mut std::io::stdout());
            Ok(())
        }
    }
}
