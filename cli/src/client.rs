//! The CLI's connection to the API (the shared typed client with the CLI's
//! settings) and how its failures read to a person.

use std::time::Duration;

use paas_types::client::{ClientError, Connection, RestClient};

/// A REST client of the API at `base`, sending `token` when there is one.
pub fn connect(base: &str, token: Option<String>) -> RestClient {
    let connection = Connection::builder(base)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("paas-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS backend is available");
    RestClient::new(connection, token)
}

/// One line saying what failed and, where we know it, how to fix it.
pub fn user_message(error: &ClientError) -> String {
    match error {
        ClientError::Api { status, code, message, request_id } => match request_id {
            Some(id) if status.is_server_error() => {
                format!("{message} ({code}); the API failed: retry, or give its operator the request id {id}")
            }
            _ => format!("{message} ({code})"),
        },
        ClientError::Unreachable { url, source } => format!(
            "cannot reach the API at {url} ({}); check that it runs and that --api-url or PAAS_API_URL names it",
            root_cause(source)
        ),
        ClientError::Decode { path, source } => {
            format!("unexpected answer from the API ({path}: {source}); is this paas as new as the API?")
        }
    }
}

/// The innermost cause of a transport error ("Connection refused (os error 111)").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
