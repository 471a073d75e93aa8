//! The state shared by every connection and background task, built once at start.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderValue;

use crate::cache::Cache;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::statics::MemoryBudget;
use crate::table::keys::DefaultCert;
use crate::table::Table;

/// State shared by every connection and background task.
pub struct State {
    pub config: Config,
    pub table: ArcSwap<Table>,
    pub metrics: Metrics,
    /// Where request and response bodies spill.
    pub tmp_dir: PathBuf,
    pub cache_control: HeaderValue,
    pub static_budget: Arc<MemoryBudget>,
    /// The front-end response cache; each app's partition hangs off its route.
    pub cache: Cache,
    /// The operator's certificate for hostnames without one of their own (`--tls-cert`).
    pub tls_default: Option<Arc<DefaultCert>>,
}
