#!/usr/bin/env bash
# Where the router's time goes when it proxies hello-world: perf samples of the router process
# while wrk drives it (loopback only), top symbols by self time.
# Usage: bench/router/profile.sh [path]   (default /; e.g. /cached for the front-end cache)
# Knobs: DURATION (10 s of sampling), CONNS (64), TOP (25 lines). Needs perf (Debian linux-perf), wrk.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
TOP=${TOP:-25}
path=${1:-/}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/paas-router-profile.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

HELLO=127.0.0.1:19101 API=127.0.0.1:19102 ROUTER=127.0.0.1:19180 ADMIN=127.0.0.1:19190
command -v perf >/dev/null || apt-get install -y -q linux-perf >/dev/null
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
(cd "$root" && cargo build -q --release -p paas-router --bins --examples)
bin=$root/target/release
mkdir -p "$work/blobs" "$work/state"
cat >"$work/table.json" <<JSON
{"version": 1, "apps": [{"name": "hello", "hostnames": ["hello.bench"], "release": 1,
  "backends": [{"instance_id": "00000000-0000-0000-0000-000000000001", "address": "$HELLO"}]}]}
JSON
"$bin/examples/bench_support" hello "$HELLO" & pids+=($!)
"$bin/examples/bench_support" api "$API" "$work/table.json" "$work/blobs" & pids+=($!)
RUST_LOG=warn "$bin/paas-router" --listen "$ROUTER" --admin-listen "$ADMIN" --api-url "http://$API" \
    --state-dir "$work/state" --access-log false & pids+=($!)
router=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null -H "Host: hello.bench" "http://$ROUTER$path" 2>/dev/null && break
    sleep 0.1
done

wrk -t1 -c"$CONNS" -d$((DURATION + 2))s -H "Host: hello.bench" "http://$ROUTER$path" >"$work/wrk.txt" &
wrk_pid=$!
sleep 1
perf record -q -F 999 -p "$router" -o "$work/perf.data" -- sleep "$DURATION" 2>/dev/null
wait "$wrk_pid" || true
echo "router profile, $path, wrk -t1 -c$CONNS: $(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt") req/s while sampled"
perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]-]+$//' | cut -c1-140 | head -n "$TOP"
