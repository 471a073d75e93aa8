//! Why a request failed, which side is to blame, and the page the client gets.
//!
//! Every failure maps to one status in [`ProxyError::status`]; 5xx pages say which
//! of "the app refused", "the app timed out", "the app has no instance" happened,
//! because an operator reading a screenshot should not need the logs to tell.
//!
//! This module names no other module of the crate, so every layer can return
//! its errors: that is why the HTTP/1 errors a [`ProxyError`] wraps
//! ([`BodyError`], [`ExchangeError`]) live here rather than beside their code.

use std::io;

use bytes::Bytes;
use http::StatusCode;

/// Which party a failure is attributed to (for logs and metrics, per style B8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Router,
}

/// A request that could not be proxied.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("malformed request: {reason}")]
    BadRequest { reason: &'static str },
    #[error("request head larger than the limit")]
    HeadTooLarge,
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("client sent the request too slowly")]
    ClientTimeout,
    #[error("expectation not supported")]
    ExpectationFailed,
    #[error("no app serves host `{host}`")]
    UnknownHost { host: String },
    #[error("static files accept only GET and HEAD")]
    MethodNotAllowed,
    #[error("no such static file")]
    StaticNotFound,
    #[error("requested range not satisfiable")]
    RangeNotSatisfiable { len: u64 },
    #[error("app `{app}` has no healthy instance")]
    NoBackend { app: String },
    #[error("every instance of app `{app}` stayed at its worker count for {secs} s")]
    QueueTimeout { app: String, secs: u64 },
    #[error("connecting to instance {backend}")]
    UpstreamConnect {
        backend: String,
        #[source]
        source: io::Error,
    },
    #[error("instance {backend} broke the exchange")]
    UpstreamBroken {
        backend: String,
        #[source]
        source: ExchangeError,
    },
    #[error("instance {backend} did not answer within {secs} s")]
    UpstreamTimeout { backend: String, secs: u64 },
    #[error("no route table loaded yet")]
    NoRouteTable,
    #[error("buffering a body in a temp file")]
    Spill {
        #[source]
        source: io::Error,
    },
}

impl ProxyError {
    /// The one place failures become status codes.
    pub fn status(&self) -> StatusCode {
        use ProxyError::*;
        match self {
            BadRequest { .. } => StatusCode::BAD_REQUEST,
            HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ClientTimeout => StatusCode::REQUEST_TIMEOUT,
            ExpectationFailed => StatusCode::EXPECTATION_FAILED,
            UnknownHost { .. } | StaticNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            NoBackend { .. } | QueueTimeout { .. } | NoRouteTable => StatusCode::SERVICE_UNAVAILABLE,
            UpstreamConnect { .. } | UpstreamBroken { .. } => StatusCode::BAD_GATEWAY,
            UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Spill { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Who is to blame.
    pub fn side(&self) -> Side {
        use ProxyError::*;
        match self {
            BadRequest { .. } | HeadTooLarge | BodyTooLarge { .. } | ClientTimeout | ExpectationFailed => Side::Client,
            UnknownHost { .. } | MethodNotAllowed | StaticNotFound | RangeNotSatisfiable { .. } => Side::Client,
            NoBackend { .. } | UpstreamConnect { .. } | UpstreamBroken { .. } | UpstreamTimeout { .. } => {
                Side::Upstream
            }
            QueueTimeout { .. } => Side::Upstream,
            NoRouteTable | Spill { .. } => Side::Router,
        }
    }

    /// A short HTML page naming what went wrong, without internal details (addresses stay in the log).
    pub fn page(&self) -> Bytes {
        let status = self.status();
        let text = match self {
            ProxyError::BadRequest { reason } => format!("The request was malformed or ambiguous ({reason})."),
            ProxyError::UnknownHost { .. } => "No app is configured for this hostname.".to_owned(),
            ProxyError::NoBackend { .. } => "The app has no running instance right now. Try again shortly.".to_owned(),
            ProxyError::QueueTimeout { secs, .. } => format!(
                "The app is too busy right now: all of its workers stayed busy for {secs} second{} while this \
                 request waited. Try again in a few seconds.",
                if *secs == 1 { "" } else { "s" }
            ),
            ProxyError::UpstreamConnect { .. } => "The app's instance refused the connection.".to_owned(),
            ProxyError::UpstreamBroken { .. } => {
                "The app's instance closed the connection without a valid response.".to_owned()
            }
            ProxyError::UpstreamTimeout { .. } => "The app did not answer in time.".to_owned(),
            ProxyError::NoRouteTable => {
                "The router is starting and has not loaded its routes yet. Try again in a few seconds.".to_owned()
            }
            other => format!("{other}."),
        };
        let code = status.as_u16();
        let reason = status.canonical_reason().unwrap_or("Error");
        Bytes::from(format!(
            "<!doctype html>\n<html><head><title>{code} {reason}</title></head>\
             <body><h1>{code} {reason}</h1><p>{text}</p><hr><p>paas-router</p></body></html>\n"
        ))
    }

    /// Seconds a client should wait before trying again (`Retry-After`), for temporary refusals.
    pub fn retry_after(&self) -> Option<u32> {
        // Long enough for a burst to drain, short enough that a person retrying is not kept out.
        matches!(self, ProxyError::QueueTimeout { .. } | ProxyError::NoRouteTable).then_some(5)
    }

    /// A stable short name for the access log and metrics (`error=upstream_connect`).
    pub fn kind(&self) -> &'static str {
        use ProxyError::*;
        match self {
            BadRequest { .. } => "bad_request",
            HeadTooLarge => "head_too_large",
            BodyTooLarge { .. } => "body_too_large",
            ClientTimeout => "client_timeout",
            ExpectationFailed => "expectation_failed",
            UnknownHost { .. } => "unknown_host",
            MethodNotAllowed => "method_not_allowed",
            StaticNotFound => "static_not_found",
            RangeNotSatisfiable { .. } => "range_not_satisfiable",
            NoBackend { .. } => "no_backend",
            QueueTimeout { .. } => "queue_timeout",
            UpstreamConnect { .. } => "upstream_connect",
            UpstreamBroken { .. } => "upstream_broken",
            UpstreamTimeout { .. } => "upstream_timeout",
            NoRouteTable => "no_route_table",
            Spill { .. } => "spill",
        }
    }
}

// === HTTP/1 wire errors ===

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("malformed chunked body: {0}")]
    Malformed(&'static str),
    #[error("client paused too long while sending the body")]
    Timeout,
    #[error("client closed the connection mid-body")]
    Closed,
    #[error("reading the request body")]
    Io(#[source] io::Error),
}

/// Why an exchange with an instance failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("writing the request")]
    Write(#[source] io::Error),
    #[error("reading the response")]
    Read(#[source] io::Error),
    #[error("connection closed before a response")]
    ClosedEarly,
    #[error("invalid response: {0}")]
    Invalid(&'static str),
    #[error("response body")]
    Body(#[source] BodyError),
}

// === Startup ===

/// Errors that stop the router as a whole (startup, listeners).
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("binding {what} listener on {addr}")]
    Bind {
        what: &'static str,
        addr: std::net::SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("preparing state directory {path}")]
    StateDir {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading router token file {path}")]
    TokenFile {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("building the API client")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: {reason}")]
    Tls { what: &'static str, reason: String },
}
