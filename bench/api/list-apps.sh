#!/usr/bin/env bash
# Benchmark: latency of `GET /v1/apps` for a tenant with 1,000 apps.
#
# Starts a throwaway Postgres cluster and a release build of paas-api on
# loopback, creates one user with 1,000 apps through the API, then loads
# `GET /v1/apps` with wrk (default page of 100, and the whole list with
# limit=1000) and prints wrk's latency distribution (p50/p99).
#
# Usage: bench/api/list-apps.sh [duration_secs] [connections]   (as root or the postgres user's peer)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-20}
connections=${2:-16}
apps=1000
threads=$(( connections < 2 ? connections : 2 ))

command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/paas-bench-api.XXXXXX)
chmod 755 "$work"
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"

cleanup() {
    [ -n "${api_pid:-}" ] && kill "$api_pid" 2>/dev/null || true
    as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

as_pg "$pgbin/initdb" -D "$work/data" -U postgres --auth=trust --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1" start >/dev/null

cargo build --release --locked -p paas-api --quiet
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
export PAAS_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export PAAS_SECRET_KEY="$(openssl rand -hex 32)"
export PAAS_LISTEN="127.0.0.1:$api_port"
export PAAS_SIGNUP=open  # the bench signs its user up
RUST_LOG=warn ./target/release/paas-api serve >"$work/api.log" 2>&1 &
api_pid=$!
url="http://127.0.0.1:$api_port"
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

session=$(curl -sf -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"benchmark-password"}' "$url/v1/auth/signup" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
token=$(curl -sf -H "authorization: Bearer $session" -H 'content-type: application/json' \
    -d '{"name":"bench"}' "$url/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "creating $apps apps through the API..."
python3 - "$url" "$token" "$apps" <<'PY'
import json, sys, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    req = urllib.request.Request(f"{url}/v1/apps", data=json.dumps({"name": f"app-{i:04d}"}).encode(),
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    urllib.request.urlopen(req).read()
PY
count=$(curl -sf -H "authorization: Bearer $token" "$url/v1/apps?limit=1000" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["apps"]))')
echo "tenant has $count apps; wrk: ${duration}s, $connections connections, $threads threads, API token auth"

for query in "limit=100" "limit=1000"; do
    echo
    echo "=== GET /v1/apps?$query"
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -H "authorization: Bearer $token" "$url/v1/apps?$query" |
        grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
done
