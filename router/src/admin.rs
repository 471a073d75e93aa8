//! The internal admin listener: `/metrics` (Prometheus text) and `/healthz`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use crate::buffer::Buffered;
use crate::server::handler::{ConnInfo, Handler, RequestBody};
use crate::server::head::RequestHead;
use crate::server::reply::{Reply, ReplyBody};
use crate::state::State;

/// Handler of the admin port.
pub struct Admin {
    state: Arc<State>,
}

impl Admin {
    pub fn new(state: Arc<State>) -> Admin {
        Admin { state }
    }
}

impl Handler for Admin {
    async fn handle<B: RequestBody>(&self, head: &RequestHead, _body: &mut B, _conn: &ConnInfo) -> Reply {
        let (status, content_type, body) = match head.uri.path() {
            "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", self.state.metrics.render()),
            "/healthz" => {
                let version = self.state.table.load().version;
                let body = serde_json::json!({ "status": "ok", "table_version": version }).to_string();
                (StatusCode::OK, "application/json", body)
            }
            _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Reply::new(status, headers, ReplyBody::Buffered(Buffered::Mem(Bytes::from(body))))
    }
}
