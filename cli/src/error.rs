//! `CliError`: what can go wrong, each printed as one readable line.

use paas_types::client::ClientError;

use crate::client;

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
    /// The command ran and ended with this exit status (nothing to print).
    #[error("exit status {0}")]
    Exit(u8),
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
