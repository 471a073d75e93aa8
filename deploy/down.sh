#!/usr/bin/env bash
# Stop what deploy/up.sh started. Data (Postgres cluster, secrets) stays in .paas-local/.
set -euo pipefail
cd "$(dirname "$0")/.."
state="$(pwd)/.paas-local"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$state/api.pid" ] && kill "$(cat "$state/api.pid")" 2>/dev/null; then
    echo "down: API stopped"
fi
rm -f "$state/api.pid"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ -f "$state/pg/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
    as_pg "$pgbin/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null
    echo "down: Postgres stopped (data kept in $state/pg)"
fi
echo "down: done"
