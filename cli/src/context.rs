//! `Context`: what every command runs with.

use paas_types::client::RestClient;

use crate::args::Cli;
use crate::error::CliError;
use crate::{client, remote, settings};

/// Everything a command needs: the API client, the chosen app, output mode.
pub struct Context {
    pub(crate) client: RestClient,
    token: Option<String>,
    app: Option<String>,
    pub(crate) json: bool,
    logged_in: bool,
}

impl Context {
    pub(crate) fn new(cli: &Cli) -> Context {
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

    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub(crate) fn client(&self) -> Result<&RestClient, CliError> {
        if self.logged_in {
            Ok(&self.client)
        } else {
            Err(CliError::NotLoggedIn)
        }
    }

    /// `-a/--app` or the `paas` git remote's app, if either says one.
    pub(crate) fn app_if_given(&self) -> Option<String> {
        self.app.clone().or_else(|| remote::app_from_remote("paas"))
    }

    /// `-a/--app` (or `PAAS_APP`) only, never the git remote's app: for
    /// choices that must be explicit, like limiting a new token to an app.
    pub(crate) fn app_flag(&self) -> Option<String> {
        self.app.clone()
    }

    /// `-a/--app`, else the app of the `paas` git remote.
    pub(crate) fn app(&self) -> Result<String, CliError> {
        if let Some(app) = &self.app {
            return Ok(app.clone());
        }
        remote::app_from_remote("paas").ok_or_else(|| {
            CliError::Usage("which app? pass -a/--app NAME, or run inside a repo with a `paas` git remote".into())
        })
    }
}
