#!/usr/bin/env bash
# `paas run -- echo first-byte` from the CLI process starting to the first
# byte of its output on the CLI's stdout: API call, node claim (long poll),
# container create/attach/start through the agent, WebSocket relay back.
# Real API (throwaway Postgres), a real agent on this Docker engine, the
# `one-off` fixture deployed first (so the node holds the image); prints
# each round and the median.
#
# Usage: bench/run/run.sh [rounds=7]   (dockerd and the base image; takes
# the shared lock /tmp/paas-cargo.lock itself; CARGO_TARGET_DIR from env)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PAAS_BENCH_ROUNDS=${1:-7}
flock /tmp/paas-cargo.lock cargo test -q -p paas-cli --test cli bench_run_start_to_first_byte -- --ignored --nocapture 2>&1 \
    | grep -E '^(paas run start|median)'
