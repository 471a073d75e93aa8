-- Metrics you can see (issue 16). Routers report each app's traffic and
-- agents each container's CPU and memory every few seconds; the API adds
-- every report into two resolutions of buckets: 10-second rows (kept 2 hours,
-- what the autoscaler reads) and minute rows (kept 14 days, what charts
-- read for a day). Histograms are counts per bucket of
-- paas_types::metrics::LATENCY_BOUNDS_MS (the last count is above the last
-- bound), added element-wise.
CREATE TABLE app_traffic (
    app_id           uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    process_type     text NOT NULL,
    resolution_secs  integer NOT NULL CHECK (resolution_secs IN (10, 60)),
    bucket           timestamptz NOT NULL,
    -- Requests answered by status class 1xx..5xx.
    statuses         bigint[] NOT NULL CHECK (cardinality(statuses) = 5),
    -- Time from the request read in full to the response head (milliseconds).
    latency          bigint[] NOT NULL,
    latency_sum_ms   double precision NOT NULL DEFAULT 0,
    -- Time requests waited in the router for a free worker (every proxied request, 0 included).
    queue            bigint[] NOT NULL,
    queue_sum_ms     double precision NOT NULL DEFAULT 0,
    queue_depth_max  integer NOT NULL DEFAULT 0,
    queue_timeouts   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, process_type, resolution_secs, bucket)
);
CREATE INDEX app_traffic_bucket ON app_traffic (resolution_secs, bucket);

CREATE TABLE app_usage (
    app_id           uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    process_type     text NOT NULL,
    resolution_secs  integer NOT NULL CHECK (resolution_secs IN (10, 60)),
    bucket           timestamptz NOT NULL,
    -- One sample = one container measured once. Averages are sum / samples.
    samples          integer NOT NULL,
    cpu_percent_sum  double precision NOT NULL,
    cpu_percent_max  double precision NOT NULL,
    memory_bytes_sum double precision NOT NULL,
    memory_bytes_max bigint NOT NULL,
    memory_limit_bytes bigint NOT NULL DEFAULT 0,
    -- Distinct instances seen in the bucket.
    instances        uuid[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (app_id, process_type, resolution_secs, bucket)
);
CREATE INDEX app_usage_bucket ON app_usage (resolution_secs, bucket);
