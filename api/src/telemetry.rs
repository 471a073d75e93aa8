//! Logging setup: `RUST_LOG`-style filter (default `info`), JSON or pretty.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once per process.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    };
    // A second init (tests) is harmless.
    let _ = result;
}
