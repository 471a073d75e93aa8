#!/usr/bin/env bash
# Stop what deploy/up.sh started: router, agent (and the app containers of
# node "local"), API, Postgres. Everything the platform knows stays in
# Postgres (.paas-local/pg); the next up.sh starts the apps again.
set -euo pipefail
cd "$(dirname "$0")/.."
state="$(pwd)/.paas-local"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() {
    if [ -f "$state/$1.pid" ] && kill "$(cat "$state/$1.pid")" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$(cat "$state/$1.pid")" 2>/dev/null || break; sleep 0.1; done
        echo "down: $1 stopped"
    fi
    rm -f "$state/$1.pid"
}
stop router
stop agent
ids=$(docker ps -aq --filter label=paas.node=local 2>/dev/null || true)
if [ -n "$ids" ]; then
    docker stop -t 10 $ids >/dev/null && docker rm $ids >/dev/null
    echo "down: app containers of node local stopped"
fi
stop api
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -n "$pgbin" ] && [ -f "$state/pg/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
    as_pg "$pgbin/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null
    echo "down: Postgres stopped (data kept in $state/pg)"
fi
echo "down: done"
