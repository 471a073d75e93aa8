//! Metrics (issue 16): what routers and agents report, and what the API
//! answers at `GET /v1/apps/{app}/metrics`.
//!
//! Reports carry deltas since the reporter's previous report; the API adds
//! them into 10-second and minute buckets (migration 0017). Latency and
//! queue-time histograms share [`LATENCY_BOUNDS_MS`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Upper bounds (milliseconds) of histogram buckets; a histogram has one more
/// count than bounds, for observations above the last bound.
pub const LATENCY_BOUNDS_MS: [f64; 15] =
    [1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0];

/// Number of counts in a histogram (`LATENCY_BOUNDS_MS.len() + 1`).
pub const HISTOGRAM_LEN: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The bucket index of an observation of `ms` milliseconds.
pub fn bucket_of(ms: f64) -> usize {
    LATENCY_BOUNDS_MS.iter().position(|bound| ms <= *bound).unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// The `q`-quantile (0..=1) of a histogram of counts, interpolated linearly
/// within its bucket; `None` when it holds no observation. Observations above
/// the last bound count as that bound.
pub fn quantile_ms(counts: &[i64], q: f64) -> Option<f64> {
    let total: i64 = counts.iter().sum();
    if total <= 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0i64;
    for (i, &n) in counts.iter().enumerate() {
        if n <= 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { LATENCY_BOUNDS_MS[i - 1] };
            let upper = LATENCY_BOUNDS_MS.get(i).copied().unwrap_or(lower);
            let within = ((rank - seen as f64) / n as f64).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * within);
        }
        seen += n;
    }
    LATENCY_BOUNDS_MS.last().copied()
}

// === Router -> API: `POST /v1/router/metrics` ===

/// What one router answered since its previous report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RouterMetricsReport {
    pub apps: Vec<AppTrafficDelta>,
}

/// One app's (and process type's) traffic through one router since its previous report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppTrafficDelta {
    /// The app's name as in the route table.
    pub app: String,
    /// `web`, or the process type of the path route that served the requests.
    pub process_type: String,
    /// Requests answered by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub statuses: [i64; 5],
    /// Counts per bucket of [`LATENCY_BOUNDS_MS`] ([`HISTOGRAM_LEN`] counts).
    pub latency: Vec<i64>,
    pub latency_sum_ms: f64,
    /// Queue wait of every proxied request (0 when a worker was free).
    pub queue: Vec<i64>,
    pub queue_sum_ms: f64,
    /// Most requests waiting at once in the period.
    pub queue_depth_max: i32,
    /// Requests answered 503 after waiting the whole queue timeout.
    pub queue_timeouts: i64,
}

// === Agent -> API: in `NodeReport.usage` ===

/// One container measured once (Docker stats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InstanceUsage {
    pub instance_id: Uuid,
    /// CPU used since the previous sample, in percent of one core.
    pub cpu_percent: f64,
    /// Memory in use (page cache excluded), bytes.
    pub memory_bytes: i64,
    /// The container's memory limit, bytes.
    pub memory_limit_bytes: i64,
}

// === API -> users: `GET /v1/apps/{app}/metrics?since=&process=` ===

/// An app's metrics over a window, oldest point first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppMetrics {
    pub app: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Seconds each point covers: 10 for windows up to 2 hours, 60 beyond.
    pub resolution_secs: i32,
    /// Traffic per point, all process types summed (routes to other types included).
    pub traffic: Vec<TrafficPoint>,
    /// CPU and memory per process type.
    pub usage: Vec<ProcessUsage>,
    /// The whole window in one line.
    pub summary: MetricsSummary,
}

/// Traffic in one bucket. Missing buckets (no traffic) are points with zero requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TrafficPoint {
    pub at: DateTime<Utc>,
    /// Requests by status class 1xx..5xx.
    pub statuses: [i64; 5],
    /// Requests per second over the bucket.
    pub requests_per_sec: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub queue_p95_ms: Option<f64>,
    pub queue_depth_max: i32,
}

/// One process type's containers over the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProcessUsage {
    pub process_type: String,
    pub points: Vec<UsagePoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UsagePoint {
    pub at: DateTime<Utc>,
    /// Average over the bucket's samples, percent of one core per container.
    pub cpu_percent: f64,
    /// Average memory per container, bytes.
    pub memory_bytes: i64,
    pub memory_limit_bytes: i64,
    /// Distinct containers measured in the bucket.
    pub instances: i32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MetricsSummary {
    pub requests: i64,
    pub errors_5xx: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub queue_p95_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let mut counts = vec![0i64; HISTOGRAM_LEN];
        assert_eq!(quantile_ms(&counts, 0.5), None);
        counts[bucket_of(40.0)] = 100; // all in (25, 50]
        assert_eq!(quantile_ms(&counts, 0.5), Some(37.5));
        assert_eq!(quantile_ms(&counts, 1.0), Some(50.0));
        counts[bucket_of(0.5)] = 100; // half in [0, 1]
        assert_eq!(quantile_ms(&counts, 0.25), Some(0.5));
        assert!(quantile_ms(&counts, 0.95).unwrap() > 25.0);
        assert_eq!(bucket_of(1e9), LATENCY_BOUNDS_MS.len());
    }
}
