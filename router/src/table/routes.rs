//! Paths to other process types: URL prefixes of an app served by another
//! process type (an async server for WebSocket, long-poll and SSE), and the
//! pick of the instances a request goes to.
//!
//! A request under a route's prefix (whole segments, see
//! [`paas_types::process_routes::prefix_matches`]; the longest prefix wins)
//! goes to that route's instances and is a *streaming* request: its exchange
//! is bounded by `--stream-idle-timeout-secs` instead of the response
//! timeout, and its upgrade tunnel by the same idle timeout. Everything else
//! goes to the app's `web` instances.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use paas_types::process_routes::prefix_matches;

use crate::upstream::queue::AppQueue;
use crate::upstream::Backend;

/// One compiled route of an app.
#[derive(Debug)]
pub struct ProcessRoute {
    pub prefix: String,
    pub process_type: String,
    pub backends: Vec<Arc<Backend>>,
    /// Rotating start index for balancing ties, as for the app's web backends.
    pub next: AtomicUsize,
    /// The route's own line (its instances are uncapped, so it only holds retries): a
    /// WebSocket never waits behind requests queued for busy `web` workers.
    pub queue: Arc<AppQueue>,
}

/// Compiles `raw` (any order) longest prefix first; `backend` gives the
/// shared [`Backend`] of an address (reused across tables).
pub fn compile(
    raw: &[paas_types::routing::ProcessRoute],
    mut backend: impl FnMut(&str) -> Arc<Backend>,
    queue: impl Fn() -> Arc<AppQueue>,
) -> Vec<ProcessRoute> {
    let mut routes: Vec<ProcessRoute> = raw
        .iter()
        .filter(|r| r.prefix.starts_with('/'))
        .map(|r| ProcessRoute {
            prefix: r.prefix.clone(),
            process_type: r.process_type.clone(),
            backends: r.backends.iter().map(|b| backend(&b.address)).collect(),
            next: AtomicUsize::new(0),
            queue: queue(),
        })
        .collect();
    routes.sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then_with(|| a.prefix.cmp(&b.prefix)));
    routes
}

/// Where one request goes: a set of instances and its balancing counter.
#[derive(Debug, Clone, Copy)]
pub struct Pool<'a> {
    pub backends: &'a [Arc<Backend>],
    pub next: &'a AtomicUsize,
    pub queue: &'a Arc<AppQueue>,
    /// The matched route, `None` for the app's web instances.
    pub route: Option<&'a ProcessRoute>,
}

impl Pool<'_> {
    /// A request on a route streams: long idle timeouts, response passed through
    /// (the streaming response writer keys on this; see the router README).
    pub fn streaming(&self) -> bool {
        self.route.is_some()
    }
}

/// The route whose prefix is the longest to match `path`, if any (`routes` is longest first).
pub fn matching<'a>(routes: &'a [ProcessRoute], path: &str) -> Option<&'a ProcessRoute> {
    routes.iter().find(|r| prefix_matches(&r.prefix, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::routing::{Backend as RawBackend, ProcessRoute as RawRoute};

    fn queue() -> Arc<AppQueue> {
        AppQueue::new("app", crate::metrics::Metrics::default().app("app"))
    }

    fn raw(prefix: &str, process_type: &str, address: &str) -> RawRoute {
        RawRoute {
            prefix: prefix.into(),
            process_type: process_type.into(),
            backends: vec![RawBackend { instance_id: uuid::Uuid::nil(), address: address.into(), concurrency: None }],
        }
    }

    #[test]
    fn the_longest_matching_prefix_wins_by_whole_segments() {
        let listed = [
            raw("/ws/", "async", "127.0.0.1:1"),
            raw("/ws/admin/", "admin", "127.0.0.1:2"),
            raw("/events", "sse", "127.0.0.1:3"),
        ];
        let routes = compile(&listed, |address| Backend::new(address.to_owned()), queue);
        let pick = |path| matching(&routes, path).map(|r| r.process_type.as_str());
        assert_eq!(pick("/ws/chat"), Some("async"));
        assert_eq!(pick("/ws/admin/x"), Some("admin"));
        assert_eq!(pick("/ws/admin"), Some("async"), "`/ws/admin/` needs the slash");
        assert_eq!(pick("/events"), Some("sse"));
        assert_eq!(pick("/events/1"), Some("sse"));
        assert_eq!(pick("/eventsource"), None, "whole segments only");
        assert_eq!(pick("/"), None);
        assert_eq!(pick("/ws"), None);
    }

    #[test]
    fn backends_come_from_the_given_source() {
        let shared = Backend::new("127.0.0.1:9".into());
        let routes =
            compile(&[raw("/a/", "x", "127.0.0.1:9"), raw("/b/", "x", "127.0.0.1:9")], |_| shared.clone(), queue);
        assert!(routes.iter().all(|r| Arc::ptr_eq(&r.backends[0], &shared)));
    }
}
