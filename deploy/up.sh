#!/usr/bin/env bash
# Bring the whole platform up on this machine, idempotently:
#   prerequisites (git, PostgreSQL binaries, Docker, base image) -> Postgres
#   -> paas-api -> admin user + token -> paas-agent (node "local") ->
#   local CA + wildcard certificate -> paas-router (HTTP :8000, HTTPS :8443)
#   -> the sample app deployed -> URLs printed.
# A second run changes nothing and says so. `deploy/down.sh` stops it all
# (data stays in .paas-local/). DATABASE_URL set: that database is used
# instead of a local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.paas-local"
started=$(date +%s)
mkdir -p "$state"
chmod 755 "$state"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
say() { echo "up: $*"; }
api_url=http://127.0.0.1:8080
router_url=http://127.0.0.1:8000
https_port=8443
base_domain=paas.localhost

as_root ./deploy/prereqs.sh | sed 's/^/     /'

# --- Postgres ----------------------------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_port=${PAAS_PG_PORT:-5439}
if [ -z "${DATABASE_URL:-}" ]; then
    if [ ! -f "$state/pg/PG_VERSION" ]; then
        mkdir -p "$state/pg" && chmod 700 "$state/pg"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$state/pg"
        as_pg "$pgbin/initdb" -D "$state/pg" -U postgres --auth=trust >/dev/null
        say "created a Postgres cluster in $state/pg"
    fi
    if as_pg "$pgbin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
        say "Postgres already running (port $pg_port)"
    else
        as_pg "$pgbin/pg_ctl" -D "$state/pg" -l "$state/pg/postgres.log" -w \
            -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
        say "Postgres started (port $pg_port)"
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
fi

# --- Secrets (generated once, mode 0600) --------------------------------------
for secret in jwt-secret router-token; do
    if [ ! -s "$state/$secret" ]; then
        (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$state/$secret")
    fi
done
# The operator secret that seals certificate keys at rest (32 bytes, hex).
if [ ! -s "$state/secret-key" ]; then
    (umask 077 && openssl rand -hex 32 >"$state/secret-key")
fi

# --- Local HTTPS: a CA and a wildcard certificate for the base domain ------------
# Made once with the openssl CLI; keys 0600. Trust tls/ca.pem (curl --cacert, or a
# browser's certificate settings) to use https://<app>.$base_domain:$https_port/.
tls="$state/tls"
command -v openssl >/dev/null || as_root apt-get install -y -q openssl >/dev/null
mkdir -p "$tls" && chmod 700 "$tls"
if [ ! -s "$tls/ca.pem" ] || [ ! -s "$tls/ca.key" ]; then
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=paas local CA ($(hostname))" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null)
    rm -f "$tls/wildcard.pem"
    chmod 644 "$tls/ca.pem"
    say "created a local certificate authority: $tls/ca.pem"
fi
# Issued again when missing or within 30 days of expiry.
if [ ! -s "$tls/wildcard.pem" ] || ! openssl x509 -checkend 2592000 -noout -in "$tls/wildcard.pem" >/dev/null; then
    printf 'subjectAltName=DNS:*.%s,DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
        "$base_domain" "$base_domain" >"$tls/wildcard.ext"
    (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=*.$base_domain" \
        -keyout "$tls/wildcard.key" -out "$tls/wildcard.csr" 2>/dev/null)
    openssl x509 -req -in "$tls/wildcard.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 397 -extfile "$tls/wildcard.ext" -out "$tls/wildcard.pem" 2>/dev/null
    rm -f "$tls/wildcard.csr"
    chmod 600 "$tls"/*.key
    say "issued a certificate for *.$base_domain from the local CA"
    # A running router still serves the old one.
    if [ -f "$state/router.pid" ] && kill "$(cat "$state/router.pid")" 2>/dev/null; then sleep 1; fi
fi

# --- Binaries -------------------------------------------------------------------
say "building release binaries (cargo build --release)"
cargo build --release --locked --quiet -p paas-api -p paas-agent -p paas-router -p paas-cli
bin="$root/target/release"

running() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }
start() { # name, log, command...
    local name=$1; shift
    setsid "$@" >>"$state/$name.log" 2>&1 </dev/null &
    echo $! >"$state/$name.pid"
}
wait_http() { # url, what
    for _ in $(seq 150); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
    echo "up: $2 did not come up; see $state/$2.log" >&2; tail -20 "$state/$2.log" >&2; exit 1
}

# --- API ------------------------------------------------------------------------
# ACME is off locally (no CA can reach this machine); set PAAS_ACME_DIRECTORY to use one.
# Sign-up keeps the platform's default (invite): the first account is made below
# with `create-admin`, and it invites the others. PAAS_SIGNUP=open ./deploy/up.sh opens it.
if running api && curl -sf -o /dev/null "$api_url/healthz"; then
    say "API already running at $api_url"
else
    DATABASE_URL="$DATABASE_URL" PAAS_JWT_SECRET_FILE="$state/jwt-secret" PAAS_LISTEN=127.0.0.1:8080 \
        PAAS_ROUTER_TOKEN="$(cat "$state/router-token")" PAAS_BASE_DOMAIN=$base_domain \
        PAAS_APP_SCHEME=https PAAS_APP_PORT=$https_port PAAS_APP_HTTPS_PORT=$https_port \
        PAAS_SECRET_KEY_FILE="$state/secret-key" PAAS_ACME_DIRECTORY="${PAAS_ACME_DIRECTORY:-off}" \
        PAAS_SIGNUP="${PAAS_SIGNUP:-invite}" PAAS_GIT_CACHE_DIR="$state/git-cache" start api "$bin/paas-api" serve
    wait_http "$api_url/healthz" api
    say "API started at $api_url (log: $state/api.log)"
fi

# --- Admin ------------------------------------------------------------------------
if [ ! -s "$state/admin-token" ]; then
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    (umask 077 && DATABASE_URL="$DATABASE_URL" PAAS_ADMIN_PASSWORD="$password" \
        "$bin/paas-api" create-admin --email admin@paas.localhost >"$state/admin-token" 2>>"$state/api.log")
    (umask 077 && printf 'email: admin@paas.localhost\npassword: %s\n' "$password" >"$state/admin-login")
    say "created the admin user admin@paas.localhost"
else
    say "admin user already exists"
fi
export PAAS_TOKEN; PAAS_TOKEN=$(cat "$state/admin-token")
export PAAS_API_URL=$api_url

# --- Agent (node "local") ----------------------------------------------------------
mkdir -p "$state/agent"
if running agent; then
    say "agent already running (node local)"
else
    join=""
    if [ ! -s "$state/agent/local.token" ]; then
        join=$(curl -sf -X POST -H "authorization: Bearer $PAAS_TOKEN" "$api_url/v1/nodes/join-tokens" |
            sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    fi
    ca=""; [ -f /etc/ssl/certs/ca-certificates.crt ] && ca=/etc/ssl/certs/ca-certificates.crt
    PAAS_API_URL=$api_url PAAS_JOIN_TOKEN="$join" PAAS_NODE_NAME=local PAAS_NODE_ADDRESS=127.0.0.1 \
        PAAS_AGENT_STATE_DIR="$state/agent" PAAS_BUILD_CA_BUNDLE="$ca" start agent "$bin/paas-agent"
    say "agent started (node local, log: $state/agent.log)"
fi

# --- Router -------------------------------------------------------------------------
# A router started by an older up.sh has no HTTPS listener: restart it.
if running router && ! (exec 3<>/dev/tcp/127.0.0.1/$https_port) 2>/dev/null; then
    kill "$(cat "$state/router.pid")" 2>/dev/null || true
    for _ in $(seq 100); do running router || break; sleep 0.1; done
fi
if running router; then
    say "router already running at $router_url and https://127.0.0.1:$https_port"
else
    PAAS_API_URL=$api_url PAAS_ROUTER_TOKEN_FILE="$state/router-token" PAAS_ROUTER_LISTEN=127.0.0.1:8000 \
        PAAS_ROUTER_ADMIN_LISTEN=127.0.0.1:9100 PAAS_ROUTER_STATE_DIR="$state/router" start router "$bin/paas-router" \
        --tls-listen 127.0.0.1:$https_port --tls-cert "$tls/wildcard.pem" --tls-key "$tls/wildcard.key" \
        --https-redirect-port $https_port
    wait_http "http://127.0.0.1:9100/healthz" router
    say "router started at $router_url and https://127.0.0.1:$https_port (metrics: http://127.0.0.1:9100/metrics)"
fi

# --- Sample app ------------------------------------------------------------------------
paas="$bin/paas"
if ! "$paas" -a hello apps info >/dev/null 2>&1; then
    "$paas" apps create hello >/dev/null
    say "created the app hello"
fi
release=$("$paas" --json -a hello apps info | sed -n 's/.*"current_release": *\([0-9][0-9]*\).*/\1/p')
if [ -z "$release" ]; then
    say "deploying fixtures/apps/hello-wsgi to hello"
    "$paas" -a hello deploy fixtures/apps/hello-wsgi 2>&1 | sed 's/^/     /'
else
    say "hello already deployed (v$release)"
fi
for _ in $(seq 150); do
    curl -sf -o /dev/null -H "host: hello.$base_domain" "$router_url/" && break
    sleep 0.2
done
curl -sf -H "host: hello.$base_domain" "$router_url/" >/dev/null || { echo "up: hello does not answer through the router" >&2; exit 1; }
curl -sf -o /dev/null --cacert "$tls/ca.pem" --resolve "hello.$base_domain:$https_port:127.0.0.1" \
    "https://hello.$base_domain:$https_port/" || { echo "up: hello does not answer over HTTPS; see $state/router.log" >&2; exit 1; }

cat <<MSG

The platform is up ($(( $(date +%s) - started ))s).
  sample app:  https://hello.$base_domain:$https_port/   http://hello.$base_domain:8000/
  HTTPS:       trust the local CA $tls/ca.pem, e.g.
               curl --cacert $tls/ca.pem https://hello.$base_domain:$https_port/
  dashboard:   $api_url/   log in with $state/admin-login
  API:         $api_url/v1/openapi.json   admin token: $state/admin-token
  CLI:         $bin/paas login --api-url $api_url
  stop:        deploy/down.sh
MSG
