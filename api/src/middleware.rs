//! Cross-cutting HTTP layers: request ids, request spans, panic catching, body
//! limits, and the error envelope every non-2xx answer is rendered in.

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use paas_types::ErrorDetail;
use tower_http::request_id::RequestId;
use tracing::Span;

use crate::error::{error_response, ErrorMarker, PlainTextError};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The span every request's logs are recorded in: method, matched route
/// (never the raw URI, which carries names) and request id.
pub fn request_span(request: &Request<Body>) -> Span {
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
    let request_id =
        request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// Renders every error as the JSON envelope, with the request id: errors of
/// our handlers get the id added; bare errors from axum or tower (unknown
/// route, wrong method, panics) get a full envelope.
pub async fn error_envelope(request: Request, next: Next) -> Response {
    let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_string);
    let response = next.run(request).await;
    let status = response.status();
    // The dashboard renders its own HTML error pages.
    let is_html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let plain = response.extensions().get::<PlainTextError>().is_some();
    if !(status.is_client_error() || status.is_server_error()) || is_html || plain {
        return response;
    }
    let detail = match response.extensions().get::<ErrorMarker>() {
        Some(ErrorMarker(detail)) => ErrorDetail { request_id, ..detail.clone() },
        None => ErrorDetail { code: default_code(status).into(), message: default_message(status), request_id },
    };
    let (mut parts, _) = response.into_parts();
    let mut fresh = error_response(status, detail);
    // Keep headers such as `allow` on 405, but not the old body's framing.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in parts.headers.iter() {
        fresh.headers_mut().insert(name.clone(), value.clone());
    }
    fresh
}

fn default_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::TOO_MANY_REQUESTS => "too_many_attempts",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such route; see /v1/openapi.json".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not support that method".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body is too large".into(),
        s if s.is_server_error() => "internal error".into(),
        s => s.canonical_reason().unwrap_or("request failed").to_string(),
    }
}
