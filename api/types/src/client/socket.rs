//! WebSockets to the API (feature `ws`): the byte streams of `paas run`
//! sessions, for the CLI (`/v1/apps/{app}/runs/{id}/attach`) and the agent
//! (`/v1/agent/runs/{id}/attach`). The framing is in [`crate::session`].

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::connection::Connection;
use super::error::ClientError;

pub use tokio_tungstenite::tungstenite::Message;

/// An open session socket.
pub type SessionSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a session socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The API refused the upgrade with an error answer (decoded like any other).
    #[error(transparent)]
    Refused(ClientError),
    #[error("cannot open a WebSocket to the API at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("the API at {url} did not accept the WebSocket within {limit:?}")]
    Timeout { url: String, limit: Duration },
}

impl Connection {
    /// Opens a WebSocket to `path` (an `http(s)` base becomes `ws(s)`), with
    /// `token` as the bearer credential, within `limit`.
    pub async fn socket(&self, path: &str, token: &str, limit: Duration) -> Result<SessionSocket, SocketError> {
        let base = self.base();
        let url = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}{path}"),
            None => format!("ws://{}{path}", base.strip_prefix("http://").unwrap_or(base)),
        };
        let unreachable = |source| SocketError::Unreachable { url: base.to_string(), source: Box::new(source) };
        let mut request = url.as_str().into_client_request().map_err(unreachable)?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| unreachable(tokio_tungstenite::tungstenite::Error::HttpFormat(e.into())))?;
        request.headers_mut().insert("authorization", bearer);
        match tokio::time::timeout(limit, tokio_tungstenite::connect_async(request)).await {
            Err(_) => Err(SocketError::Timeout { url: base.to_string(), limit }),
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                let request_id =
                    response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let status = reqwest::StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
                let body = response.body().clone().unwrap_or_default();
                Err(SocketError::Refused(ClientError::from_answer(status, request_id, &body)))
            }
            Ok(Err(other)) => Err(unreachable(other)),
        }
    }
}
