//! The `paas` command line client: argument parsing in `args`, the API
//! client in `client`, one module per command group in `commands`.

pub mod args;
mod client;
mod commands;
mod output;
mod settings;

use paas_types::client::{ClientError, RestClient};

pub use args::Cli;

/// What can go wrong, each printed as one readable line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A call to the API failed; the message says what to do about it.
    #[error("{}", client::user_message(.0))]
    Client(ClientError),
    #[error("{0}")]
    Usage(String),
    #[error("not logged in: run `paas login` (or set PAAS_TOKEN)")]
    NotLoggedIn,
    #[error("{0}")]
    Failed(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> CliError {
        CliError::Client(error)
    }
}

impl CliError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

/// Everything a command needs: the API client, the chosen app, output mode.
pub struct Context {
    client: RestClient,
    token: Option<String>,
    app: Option<String>,
    json: bool,
    logged_in: bool,
}

impl Context {
    fn new(cli: &Cli) -> Context {
        let saved = settings::load();
        let api_url = cli
            .api_url
            .clone()
            .or_else(|| saved.as_ref().map(|s| s.api_url.clone()))
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let token = cli.token.clone().or_else(|| saved.map(|s| s.token));
        Context {
            logged_in: token.is_some(),
            client: client::connect(&api_url, token.clone()),
            token,
            app: cli.app.clone(),
            json: cli.json,
        }
    }

    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn client(&self) -> Result<&RestClient, CliError> {
        if self.logged_in {
            Ok(&self.client)
        } else {
            Err(CliError::NotLoggedIn)
        }
    }

    /// `-a/--app`, else the app of the `paas` git remote.
    fn app(&self) -> Result<String, CliError> {
        if let Some(app) = &self.app {
            return Ok(app.clone());
        }
        commands::git::app_from_remote("paas").ok_or_else(|| {
            CliError::Usage("which app? pass -a/--app NAME, or run inside a repo with a `paas` git remote".into())
        })
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Context::new(&cli);
    commands::dispatch(&ctx, cli.command).await
}
