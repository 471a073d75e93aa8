//! An app's static assets across a rollout: the current release's bundle,
//! and the previous release's for a grace period, so pages rendered by old
//! instances (or cached by browsers) never reference a file that 404s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Found, StaticSite};

/// The bundles an app's static paths are answered from.
#[derive(Debug)]
pub struct AppStatics {
    pub current: Arc<StaticSite>,
    previous: Option<Retired>,
}

/// A replaced bundle, still answering misses until `until`.
#[derive(Debug)]
struct Retired {
    site: Arc<StaticSite>,
    until: Instant,
}

impl AppStatics {
    /// The statics after a table change: when the bundle changed, the old
    /// current one is kept for `grace`; when it did not, the retired bundle
    /// (and its deadline) carries over.
    pub fn next(current: Arc<StaticSite>, before: Option<&AppStatics>, grace: Duration, now: Instant) -> AppStatics {
        let previous = match before {
            Some(before) if before.current.sha256 != current.sha256 => {
                (!grace.is_zero()).then(|| Retired { site: before.current.clone(), until: now + grace })
            }
            Some(before) => before
                .previous
                .as_ref()
                .filter(|r| r.until > now)
                .map(|r| Retired { site: r.site.clone(), until: r.until }),
            None => None,
        };
        AppStatics { current, previous }
    }

    /// Looks `path` up in the current bundle, then, on a miss (or a prefix
    /// the new release dropped), in the previous one while its grace lasts.
    pub fn find(&self, path: &str, now: Instant) -> Found {
        let found = self.current.find(path);
        if matches!(found, Found::File(_)) {
            return found;
        }
        match &self.previous {
            Some(retired) if retired.until > now => match retired.site.find(path) {
                Found::File(file) => Found::File(file),
                _ => found,
            },
            _ => found,
        }
    }
}
