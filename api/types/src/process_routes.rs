//! Paths to other process types: URL prefixes an app sends to a process type
//! other than `web` (an async server for WebSocket, long-poll and SSE). The
//! REST shapes of `/v1/apps/{app}/routes`, and the rules of a prefix and of
//! how a prefix matches a path, shared by the agent (paas.json), the API,
//! the CLI and the router.
//!
//! Two layers, merged per prefix: the routes of the release's `paas.json`
//! and the routes set with `paas routes set`. A CLI-set route overrides the
//! paas.json route of the same prefix (as a config var set by hand would);
//! `paas routes unset` drops only the CLI layer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Longest prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 200;

/// Where a route in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RouteSource {
    /// The `routes` of the current release's `paas.json`.
    PaasJson,
    /// `paas routes set` (`PATCH /v1/apps/{app}/routes`); wins over paas.json.
    Cli,
}

/// One route in force: requests under `prefix` go to `process_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PathRoute {
    pub prefix: String,
    pub process_type: String,
    pub source: RouteSource,
}

/// Changes to the CLI layer: a process type sets a prefix's route, `null`
/// drops the CLI-set route of that prefix (a paas.json route of the same
/// prefix is then in force again).
pub type RoutesPatch = BTreeMap<String, Option<String>>;

/// Why a prefix is not acceptable, in words for people; `None` when it is.
/// A prefix starts with `/`, is at most 200 bytes of visible ASCII, and has
/// no `?` or `#` (it matches the path only).
pub fn prefix_problem(prefix: &str) -> Option<&'static str> {
    if !prefix.starts_with('/') {
        Some("a route prefix starts with `/`, e.g. /ws/")
    } else if prefix.len() > MAX_PREFIX_LEN {
        Some("a route prefix is at most 200 characters")
    } else if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        Some("a route prefix is visible ASCII without spaces (percent-encode the rest)")
    } else if prefix.contains(['?', '#']) {
        Some("a route prefix matches the path only: no `?` or `#`")
    } else {
        None
    }
}

/// Whether `path` (a request path, without the query) is under `prefix`:
/// whole segments only, so `/ws` matches `/ws` and `/ws/chat` but not
/// `/wsx`; a prefix ending in `/` (`/ws/`) matches everything below it.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for good in ["/ws/", "/", "/events", "/api/v1/stream/", "/%7Euser/"] {
            assert_eq!(prefix_problem(good), None, "{good}");
        }
        let long = format!("/{}", "a".repeat(200));
        for bad in ["ws/", "", "/a b/", "/ws/?x", "/ws/#", "/é/", long.as_str()] {
            assert!(prefix_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn matching_is_by_whole_segments() {
        assert!(prefix_matches("/ws/", "/ws/echo"));
        assert!(prefix_matches("/ws/", "/ws/"));
        assert!(!prefix_matches("/ws/", "/ws"));
        assert!(prefix_matches("/ws", "/ws"));
        assert!(prefix_matches("/ws", "/ws/echo"));
        assert!(!prefix_matches("/ws", "/wsx"));
        assert!(prefix_matches("/", "/anything"));
        assert!(!prefix_matches("/events/", "/"));
    }
}
