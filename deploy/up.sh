#!/usr/bin/env bash
# Bring the platform up on this machine, idempotently:
#   - installs what is missing (deploy/prereqs.sh: git, PostgreSQL binaries, Docker, base image)
#   - starts a local Postgres in .paas-local/pg (unless DATABASE_URL is given)
#   - builds and starts paas-api on 127.0.0.1:8080 (log: .paas-local/api.log)
#   - creates an admin user and API token, and a sample app
# A second run changes nothing and says so. Stop with deploy/down.sh (data kept).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.paas-local"
mkdir -p "$state"
sudo_if() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

sudo_if ./deploy/prereqs.sh

# --- Postgres -----------------------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_port=${PAAS_PG_PORT:-5439}
if [ -z "${DATABASE_URL:-}" ]; then
    if [ ! -f "$state/pg/PG_VERSION" ]; then
        echo "up: creating Postgres cluster in $state/pg"
        mkdir -p "$state/pg" && chmod 700 "$state/pg"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$state/pg" && chmod 755 "$state"
        as_pg "$pgbin/initdb" -D "$state/pg" -U postgres --auth=trust >/dev/null
    fi
    if as_pg "$pgbin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
        echo "up: Postgres already running on port $pg_port"
    else
        as_pg "$pgbin/pg_ctl" -D "$state/pg" -l "$state/pg/postgres.log" -w \
            -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
        echo "up: Postgres started on port $pg_port"
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
fi

# --- API ------------------------------------------------------------------
[ -f "$state/jwt-secret" ] || { head -c 48 /dev/urandom | base64 | tr -d '\n' >"$state/jwt-secret"; chmod 600 "$state/jwt-secret"; }
cargo build --release --locked --quiet -p paas-api
api_url=http://127.0.0.1:8080
if curl -sf "$api_url/healthz" >/dev/null 2>&1; then
    echo "up: API already running at $api_url"
else
    PAAS_JWT_SECRET_FILE="$state/jwt-secret" PAAS_LISTEN=127.0.0.1:8080 \
        setsid ./target/release/paas-api serve >>"$state/api.log" 2>&1 </dev/null &
    echo $! >"$state/api.pid"
    for _ in $(seq 100); do curl -sf "$api_url/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    curl -sf "$api_url/healthz" >/dev/null || { tail -20 "$state/api.log"; exit 1; }
    echo "up: API started at $api_url (log: $state/api.log)"
fi

# --- Admin and sample app ------------------------------------------------
if [ ! -f "$state/admin-token" ]; then
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    PAAS_ADMIN_PASSWORD="$password" ./target/release/paas-api create-admin --email admin@paas.localhost \
        >"$state/admin-token" 2>>"$state/api.log"
    chmod 600 "$state/admin-token"
    printf 'email: admin@paas.localhost\npassword: %s\n' "$password" >"$state/admin-login"
    chmod 600 "$state/admin-login"
    echo "up: created admin user admin@paas.localhost"
else
    echo "up: admin already exists"
fi
token=$(cat "$state/admin-token")
status=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$api_url/v1/apps/hello")
if [ "$status" = 200 ]; then
    echo "up: sample app 'hello' already exists"
else
    curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"name":"hello"}' "$api_url/v1/apps" >/dev/null
    echo "up: created sample app 'hello'"
fi

cat <<MSG

The platform is up.
  API:          $api_url   (OpenAPI: $api_url/v1/openapi.json)
  admin login:  $state/admin-login   API token: $state/admin-token
  try:          curl -H "authorization: Bearer \$(cat $state/admin-token)" $api_url/v1/apps
Deploying code to the sample app needs the agent and router (not built yet).
MSG
