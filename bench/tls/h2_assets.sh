#!/usr/bin/env bash
# HTTP/2 vs HTTP/1.1 for a page with 20 static assets, served by the router from a release
# bundle over TLS on loopback: one `curl --parallel` per page load with a fresh connection
# (a first visit), h2 multiplexed on one connection vs HTTP/1.1 on six, alternating.
# The router's real proxy and static serving behind a TLS listener the benchmark sets up
# (the same harness as router/tests/it/h2.rs). Prints the medians and the time ratio.
#
# Usage: bench/tls/h2_assets.sh [rounds=15]   (needs curl with HTTP/2; takes the shared lock
# /tmp/paas-cargo.lock itself; CARGO_TARGET_DIR from env; RELEASE=1 for an optimised build)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PAAS_BENCH_ROUNDS=${1:-15}
curl --version | grep -q HTTP2 || { echo "curl without HTTP/2 support: apt-get install curl" >&2; exit 1; }
profile=()
[[ ${RELEASE:-0} == 1 ]] && profile=(--release)
flock /tmp/paas-cargo.lock cargo test -q "${profile[@]}" -p paas-router --test it bench_h2_vs_http1_page_with_twenty_assets \
    -- --ignored --nocapture 2>&1 | grep -E '^(page|  )'
