#!/usr/bin/env bash
# One content-hashed static file (fixtures/apps/django-statics: Django's manifest storage through
# whitenoise's CompressedManifestStaticFilesStorage, after a real collectstatic) served two ways on
# loopback: by the router from its release bundle, and by whitenoise under gunicorn (sync workers,
# as the platform runs web processes). One wrk run each; prints req/s and the ratio.
# Knobs: DURATION (10 s), CONNS (32), WORKERS (gunicorn -w, 2). Needs python3 (venv), wrk, curl and
# the index behind pip. Cargo runs under the shared lock when /tmp/paas-cargo.lock exists, unless
# PAAS_CARGO_LOCKED=1 says the caller holds it (e.g. the whole run under `flock`, to measure quietly).
# Usage: bench/statics/run.sh
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
WORKERS=${WORKERS:-2}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d /tmp/paas-statics-bench.XXXXXX)
pids=()
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

API=127.0.0.1:19102 GUNICORN=127.0.0.1:19103 ROUTER=127.0.0.1:19180 ADMIN=127.0.0.1:19190
HOST=djstat.bench

# --- build and app -----------------------------------------------------------
lock=()
[ -e /tmp/paas-cargo.lock ] && [ "${PAAS_CARGO_LOCKED:-}" != 1 ] && lock=(flock /tmp/paas-cargo.lock)
(cd "$root" && "${lock[@]}" cargo build -q --release -p paas-router --bins --examples)
bin=$target/release
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check -r "$root/fixtures/apps/django-statics/requirements.txt"
cp -r "$root/fixtures/apps/django-statics" "$work/app"
(cd "$work/app" && "$work/venv/bin/python" manage.py collectstatic --noinput -v 0)
# The name Django's own manifest gives css/site.css (what `{% static %}` renders).
hashed=$("$work/venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["paths"]["css/site.css"])' \
    "$work/app/collected/staticfiles.json")
path=/assets/$hashed

# --- router bundle: the collected directory at STATIC_URL ----------------------
mkdir -p "$work/blobs" "$work/state"
tar -czf "$work/blobs/bundle.tgz" -C "$work/app" collected
sha=$(sha256sum "$work/blobs/bundle.tgz" | cut -d' ' -f1)
cat >"$work/table.json" <<JSON
{"version": 1, "apps": [
  {"name": "djstat", "hostnames": ["$HOST"], "release": 1,
   "backends": [{"instance_id": "00000000-0000-0000-0000-000000000001", "address": "$GUNICORN"}],
   "statics": {"release": 1, "path": "/v1/router/statics/bundle.tgz", "sha256": "$sha",
               "mappings": [{"url_prefix": "/assets/", "dir": "collected"}]}}
]}
JSON

# --- processes ---------------------------------------------------------------
"$bin/examples/bench_support" api "$API" "$work/table.json" "$work/blobs" & pids+=($!)
for _ in $(seq 50); do curl -fsS -o /dev/null "http://$API/v1/router/table" 2>/dev/null && break; sleep 0.1; done
RUST_LOG=warn "$bin/paas-router" --listen "$ROUTER" --admin-listen "$ADMIN" --api-url "http://$API" \
    --state-dir "$work/state" --access-log false & pids+=($!)
"$work/venv/bin/gunicorn" --chdir "$work/app" -w "$WORKERS" -k sync -b "$GUNICORN" --log-level warning \
    mysite.wsgi & pids+=($!)

wait_ok() { # url
    for _ in $(seq 100); do
        curl -fsS -o /dev/null -H "Host: $HOST" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "not ready: $1" >&2
    exit 1
}
wait_ok "http://$ROUTER$path"
wait_ok "http://$GUNICORN$path"
# Same bytes both ways, and the router really answered from its bundle.
curl -fsS -H "Host: $HOST" "http://$ROUTER$path" -o "$work/from-router"
curl -fsS -H "Host: $HOST" "http://$GUNICORN$path" -o "$work/from-whitenoise"
cmp "$work/from-router" "$work/from-whitenoise"
curl -fsS -D - -o /dev/null -H "Host: $HOST" "http://$ROUTER$path" | grep -qi '^cache-control: public, max-age=31536000, immutable'

# --- measure -----------------------------------------------------------------
rps() { # url -> requests/s; errors and non-2xx answers are reported on stderr
    local out
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION"s --timeout 5s -H "Host: $HOST" "$1")
    grep -E 'Socket errors|Non-2xx' <<<"$out" | sed "s|^|  $1: |" >&2 || true
    awk '/^Requests\/sec/ { print $2 }' <<<"$out"
}
router_rps=$(rps "http://$ROUTER$path")
whitenoise_rps=$(rps "http://$GUNICORN$path")
size=$(stat -c %s "$work/from-router")
echo "hashed static file $path ($size bytes, identity), wrk -t1 -c$CONNS -d${DURATION}s, $(nproc) cores, loopback"
printf '  router (release bundle)                 %10.0f req/s\n' "$router_rps"
printf '  whitenoise under gunicorn -w %s (sync)   %10.0f req/s\n' "$WORKERS" "$whitenoise_rps"
awk -v a="$router_rps" -v b="$whitenoise_rps" 'BEGIN { printf "  router / whitenoise                     %10.1fx\n", a / b }'
