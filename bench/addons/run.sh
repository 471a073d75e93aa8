#!/usr/bin/env bash
# `paas addons create` to the first successful query, for Postgres (shared
# server; the first run includes starting it) and Redis (a server per
# add-on): the real API and agent on the local engine, N runs each, each
# time and the median printed. The query uses the URL the app gets, from
# inside the server container (add-ons publish no host port).
#
# Usage: bench/addons/run.sh [runs=5]   (root, dockerd, the base and add-on
# images from deploy/prereqs.sh; takes the shared lock /tmp/paas-cargo.lock
# itself; CARGO_TARGET_DIR from env)
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_RUNS=${1:-5} flock /tmp/paas-cargo.lock cargo test -q -p paas-agent --test engine bench_create_to_first_query \
    -- --ignored --nocapture 2>&1 | grep '^bench:'
