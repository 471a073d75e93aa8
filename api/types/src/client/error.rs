//! [`ClientError`]: why a call to the API failed. Error answers are decoded
//! here, once, from the API's envelope ([`ErrorBody`]).

use reqwest::StatusCode;

use crate::ErrorBody;

/// Longest part of a non-envelope error body kept in a message (proxies answer whole HTML pages).
const MAX_FOREIGN_BODY: usize = 200;

/// Why a call to the API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error status. `code` and `message` come from
    /// its envelope; an answer without one (a proxy's, say) has code `http`.
    #[error("the API answered {status}: {message} ({code})")]
    Api {
        status: StatusCode,
        /// Stable machine-readable code, e.g. `not_found`.
        code: String,
        /// For people.
        message: String,
        /// The API's request id (envelope or `x-request-id`), to find the call in its logs.
        request_id: Option<String>,
    },
    /// No (whole) answer: refused connection, timeout, TLS failure, or a body that broke off.
    #[error("cannot reach the API at {url}")]
    Unreachable {
        /// Base URL of the API.
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A successful answer whose body is not the expected shape.
    #[error("unexpected answer from {path}")]
    Decode {
        /// Path of the call.
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The HTTP status of an error answer (`None` when there was no answer).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The envelope's stable code of an error answer.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Builds the [`ClientError::Api`] of an error answer from its status, headers and body.
    pub(crate) fn from_answer(status: StatusCode, header_request_id: Option<String>, body: &[u8]) -> ClientError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(envelope) => ClientError::Api {
                status,
                code: envelope.error.code,
                message: envelope.error.message,
                request_id: envelope.error.request_id.or(header_request_id),
            },
            Err(_) => ClientError::Api {
                status,
                code: "http".into(),
                message: foreign_message(status, body),
                request_id: header_request_id,
            },
        }
    }
}

/// `"<status>: <start of the body>"` for an error answer that is not our envelope.
fn foreign_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut end = text.len().min(MAX_FOREIGN_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match &text[..end] {
        "" => status.to_string(),
        start if end < text.len() => format!("{status}: {start}..."),
        start => format!("{status}: {start}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_decoded() {
        let body = br#"{"error":{"code":"not_found","message":"app \"x\" not found","request_id":"r1"}}"#;
        let error = ClientError::from_answer(StatusCode::NOT_FOUND, Some("header".into()), body);
        let ClientError::Api { status, code, message, request_id } = &error else { panic!("{error:?}") };
        assert_eq!(
            (*status, code.as_str(), message.as_str()),
            (StatusCode::NOT_FOUND, "not_found", "app \"x\" not found")
        );
        assert_eq!(request_id.as_deref(), Some("r1"), "the envelope's id wins");
        assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
        assert_eq!(error.code(), Some("not_found"));
    }

    #[test]
    fn foreign_answers_keep_status_and_a_bounded_body() {
        let error =
            ClientError::from_answer(StatusCode::BAD_GATEWAY, Some("abc".into()), b"  <html>bad gateway</html>\n");
        let ClientError::Api { code, message, request_id, .. } = &error else { panic!("{error:?}") };
        assert_eq!(code, "http");
        assert_eq!(message, "502 Bad Gateway: <html>bad gateway</html>");
        assert_eq!(request_id.as_deref(), Some("abc"));
        let long = "é".repeat(300);
        let error = ClientError::from_answer(StatusCode::BAD_GATEWAY, None, long.as_bytes());
        let ClientError::Api { message, .. } = &error else { panic!("{error:?}") };
        assert!(message.ends_with("...") && message.len() < 230, "{message}");
        let empty = ClientError::from_answer(StatusCode::SERVICE_UNAVAILABLE, None, b"");
        assert_eq!(empty.to_string(), "the API answered 503 Service Unavailable: 503 Service Unavailable (http)");
    }
}
