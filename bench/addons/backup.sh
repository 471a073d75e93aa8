#!/usr/bin/env bash
# Backup and restore of a Postgres add-on holding ~MB megabytes (default
# 100) of table data, through the API as a user runs them: `capture` until
# the dump is stored, `restore` until pg_restore finished (every row
# checked back), N runs; medians printed. The real API and agent on the
# local engine.
#
# Usage: bench/addons/backup.sh [runs=3] [mb=100]   (root, dockerd, the base
# and add-on images from deploy/prereqs.sh; takes the shared lock
# /tmp/paas-cargo.lock itself; CARGO_TARGET_DIR from env)
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH_RUNS=${1:-3} BENCH_MB=${2:-100} flock /tmp/paas-cargo.lock cargo test -q -p paas-agent --test engine \
    bench_backup_and_restore -- --ignored --nocapture 2>&1 | grep '^bench:'
