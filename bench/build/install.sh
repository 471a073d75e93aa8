#!/usr/bin/env bash
# Dependency installs on this node, in the base image, the way builds run
# them (a venv in /app/.venv, the app user, the host CA bundle):
#   cold uv  : empty uv cache            cold pip : pip with no cache
#   warm uv  : uv with a cache that has seen these wheels (a new app with
#              known dependencies)
# for bench/build/requirements-55.txt (55 packages resolved), alternating
# rounds, then the median of each and the pip/uv ratio. Finally the warm
# (code-only) push to first 200 from the engine test
# `python_apps::flask_factory...`, whose second push changes only code.
#
# Usage: bench/build/install.sh [rounds=3]   (root, dockerd, the base image;
# takes the shared lock /tmp/paas-cargo.lock itself; CARGO_TARGET_DIR from env)
set -euo pipefail

ROUNDS=${1:-3}
IMAGE=${IMAGE:-paas/python-base:bookworm}
HERE=$(cd "$(dirname "$0")" && pwd)
CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
work=$(mktemp -d /var/tmp/paas-bench-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/warm"
chown 10000:10000 "$work/warm"

# Runs one install; prints its wall time in seconds.
install() { # installer cache-dir-or-empty
    local installer=$1 cache=$2 mount=() cmd
    if [ -n "$cache" ]; then mount=(-v "$cache:/cache"); fi
    case $installer in
        uv)  cmd='uv pip install -q --python /app/.venv/bin/python -r /b/requirements-55.txt' ;;
        pip) cmd='python3 -m pip -q --python /app/.venv/bin/python install --no-cache-dir --progress-bar off -r /b/requirements-55.txt' ;;
    esac
    local t0; t0=$(date +%s%N)
    docker run --rm --user 10000:10000 -v "$CA:/etc/ssl/certs/ca-certificates.crt:ro" \
        -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt -e UV_CACHE_DIR=/cache/uv -e UV_LINK_MODE=copy \
        -e HOME=/tmp "${mount[@]}" -v "$HERE:/b:ro" "$IMAGE" \
        bash -euo pipefail -c "mkdir -p /cache/uv 2>/dev/null || true; python3 -m venv --without-pip /app/.venv && $cmd" >&2
    echo "scale=2; ($(date +%s%N) - $t0) / 1000000000" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The installs and the engine test each hold the shared build lock, so
# other builds on this machine do not skew the figures.
exec 9>/tmp/paas-cargo.lock
flock 9
install uv "$work/warm" >/dev/null # fills the warm cache
: >"$work/uv" ; : >"$work/pip" ; : >"$work/warm.txt"
for round in $(seq "$ROUNDS"); do
    cold="$work/cold-$round"; mkdir -p "$cold"; chown 10000:10000 "$cold"
    u=$(install uv "$cold"); p=$(install pip ""); w=$(install uv "$work/warm")
    echo "round $round: cold uv ${u}s, cold pip ${p}s, warm-cache uv ${w}s"
    echo "$u" >>"$work/uv"; echo "$p" >>"$work/pip"; echo "$w" >>"$work/warm.txt"
done
mu=$(median <"$work/uv"); mp=$(median <"$work/pip"); mw=$(median <"$work/warm.txt")
echo "median of $ROUNDS: cold uv ${mu}s, cold pip ${mp}s (pip/uv = $(echo "scale=1; $mp / $mu" | bc)x), warm-cache uv ${mw}s"

flock -u 9

# Warm (code-only) push to first 200, through the real agent and engine.
cd "$HERE/../.."
for round in $(seq "$ROUNDS"); do
    flock /tmp/paas-cargo.lock cargo test -q -p paas-agent --test engine \
        python_apps::flask_factory_installs_itself -- --nocapture 2>/dev/null | grep "upload to first 200" | tail -1
done | sed 's/.*in //' | sed 's/^/code-only push to first 200: /'
