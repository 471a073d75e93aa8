#!/usr/bin/env bash
# Run every test of the workspace on this machine: installs and starts what
# the tests need first (deploy/prereqs.sh), then `cargo test`. Tests start
# their own throwaway Postgres clusters and API/agent/router processes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then ./deploy/prereqs.sh; else sudo ./deploy/prereqs.sh; fi
cargo test --workspace --locked "$@"
