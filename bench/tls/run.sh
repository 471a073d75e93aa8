#!/usr/bin/env bash
# HTTPS: router vs nginx, same certificate, same backend, same machine, loopback only,
# alternating router / nginx rounds in one run:
#   (i)   new TLS handshakes per second: `openssl s_time -new` (a full handshake per connection,
#         no request), NEW_CLIENTS processes at once, connections counted over wall time;
#   (i')  one request per connection: wrk with `Connection: close`; wrk resumes sessions
#         (checked against nginx's $ssl_session_reused), so these are mostly resumed handshakes;
#   (ii)  HTTPS keep-alive requests per second (wrk, proxied hello-world);
#   (iii) h2 vs HTTP/1.1 for a page with 20 static assets: slot for the HTTP/2 merge (not measured yet).
# Prints medians and ratios. Knobs: ROUNDS (3), DURATION (8 s per wrk run), CONNS (64 keep-alive
# clients), NEW_CONNS (32 wrk clients with `Connection: close`), NEW_CLIENTS (2 s_time processes), KEY (ec = ECDSA P-256, or rsa = RSA 2048),
# BUILD (1; 0 uses binaries already built in $CARGO_TARGET_DIR or target/).
# Usage: bench/tls/run.sh   (from anywhere; needs cargo and openssl; installs wrk/nginx if missing)
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
NEW_CONNS=${NEW_CONNS:-32}
NEW_CLIENTS=${NEW_CLIENTS:-2}
KEY=${KEY:-ec}
BUILD=${BUILD:-1}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/paas-tls-bench.XXXXXX)
chmod 755 "$work" # nginx workers run unprivileged
pids=()
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

HELLO=127.0.0.1:19101 API=127.0.0.1:19102
ROUTER=127.0.0.1:19180 ROUTER_TLS=19443 ADMIN=127.0.0.1:19190 NGINX_TLS=19444

# --- tools -------------------------------------------------------------------
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
command -v nginx >/dev/null || apt-get install -y -q nginx-light >/dev/null || apt-get install -y -q nginx >/dev/null
if [ "$BUILD" = 1 ]; then
    (cd "$root" && cargo build -q --release -p paas-router --bins --examples)
fi
bin=${CARGO_TARGET_DIR:-$root/target}/release

# --- one certificate for both (a throwaway CA; the name is localhost so wrk's SNI matches) ---
case $KEY in
    ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) newkey=(-newkey rsa:2048) ;;
    *) echo "KEY must be ec or rsa" >&2; exit 2 ;;
esac
mkdir -p "$work/tls" "$work/nginx/logs" "$work/state"
openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$work/tls/ca.key" -out "$work/tls/ca.pem" 2>/dev/null
openssl req -new "${newkey[@]}" -nodes -subj "/CN=localhost" \
    -keyout "$work/tls/leaf.key" -out "$work/tls/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,DNS:hello.bench\nextendedKeyUsage=serverAuth\n' >"$work/tls/leaf.ext"
openssl x509 -req -in "$work/tls/leaf.csr" -CA "$work/tls/ca.pem" -CAkey "$work/tls/ca.key" -set_serial 2 -days 2 \
    -extfile "$work/tls/leaf.ext" -out "$work/tls/leaf.pem" 2>/dev/null
chmod 644 "$work/tls/"*

cat >"$work/table.json" <<EOF
{"version": 1, "apps": [
  {"name": "hello", "hostnames": ["hello.bench", "localhost"], "release": 1,
   "backends": [{"instance_id": "00000000-0000-0000-0000-000000000001", "address": "$HELLO"}]}
]}
EOF
# nginx as a TLS terminator tuned like the router: TLS 1.2/1.3, AEAD suites only, a shared
# session cache and tickets, keep-alive to the backend.
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000;
    proxy_temp_path $work/nginx/proxy;
    client_body_temp_path $work/nginx/body;
    upstream hello { server $HELLO; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_TLS ssl reuseport;
        ssl_certificate $work/tls/leaf.pem;
        ssl_certificate_key $work/tls/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
        ssl_prefer_server_ciphers on;
        ssl_session_cache shared:TLS:20m;
        ssl_session_tickets on;
        location / {
            proxy_pass http://hello;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Request-Id \$request_id;
        }
    }
}
EOF

# --- processes ---------------------------------------------------------------
"$bin/examples/bench_support" hello "$HELLO" & pids+=($!)
"$bin/examples/bench_support" api "$API" "$work/table.json" "$work" & pids+=($!)
RUST_LOG=warn "$bin/paas-router" --listen "$ROUTER" --admin-listen "$ADMIN" --api-url "http://$API" \
    --state-dir "$work/state" --access-log false --tls-listen "127.0.0.1:$ROUTER_TLS" \
    --tls-cert "$work/tls/leaf.pem" --tls-key "$work/tls/leaf.key" & pids+=($!)
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' & pids+=($!)

wait_ok() { # url
    for _ in $(seq 100); do
        curl -fsS -o /dev/null --cacert "$work/tls/ca.pem" -H "Host: hello.bench" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "not ready: $1" >&2
    exit 1
}
wait_ok "https://localhost:$ROUTER_TLS/"
wait_ok "https://localhost:$NGINX_TLS/"
negotiated() { # port -> "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519"
    openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
        awk '/^New, / { v = $2; c = $NF } /^Server Temp Key/ { k = $4 } END { sub(",", "", v); sub(",", "", k); print v, c, k }'
}

# --- measurement helpers -----------------------------------------------------
run_wrk() { # name conns duration url [header] -> appends "rps errors" to $work/res/name
    local out
    out=$(wrk -t1 -c"$2" -d"$3"s --timeout 5s -H "Host: hello.bench" ${5:+-H "$5"} "$4")
    local rps errs
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    errs=$(awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(",", ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' <<<"$out")
    mkdir -p "$work/res"
    echo "$rps $errs" >>"$work/res/$1"
}
run_stime() { # name port -> appends "handshakes/s 0" to $work/res/name
    local started ended i clients=()
    started=$(date +%s.%N)
    for i in $(seq "$NEW_CLIENTS"); do
        openssl s_time -connect "127.0.0.1:$2" -new -time "$DURATION" >"$work/stime.$i" 2>&1 &
        clients+=($!)
    done
    wait "${clients[@]}"
    ended=$(date +%s.%N)
    mkdir -p "$work/res"
    cat "$work"/stime.* | awk -v t="$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')" \
        '/connections in .* real seconds/ { n += $1 } END { printf "%.2f 0\n", n / t }' >>"$work/res/$1"
    rm -f "$work"/stime.*
}
median() { # file column
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sum_col() { awk -v c="$2" '{ s += $c } END { print s + 0 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# --- (i) and (ii): router, nginx, router, nginx ... ----------------------------
for round in $(seq "$ROUNDS"); do
    for target in router:$ROUTER_TLS nginx:$NGINX_TLS; do
        name=${target%%:*} port=${target#*:}
        echo "round $round: $name new handshakes" >&2
        run_stime "${name}_new" "$port"
        echo "round $round: $name one request per connection" >&2
        run_wrk "${name}_close" "$NEW_CONNS" "$DURATION" "https://localhost:$port/" "Connection: close"
        echo "round $round: $name keep-alive" >&2
        run_wrk "${name}_keepalive" "$CONNS" "$DURATION" "https://localhost:$port/"
    done
done

# --- (iii) h2 vs HTTP/1.1, a page and its 20 static assets ---------------------
# Slot for the HTTP/2 merge: h2load (Debian nghttp2-client) fetching the page plus 20 assets
# from the router's static bundle over one h2 connection vs h2load --h1 with 6 connections per
# client, alternating; append results to $work/res/h2_page and $work/res/h1_page as "rps errors".

# --- report ------------------------------------------------------------------
echo
echo "HTTPS, router vs nginx, medians of $ROUNDS alternating rounds, ${DURATION}s per run ($(nproc) cores, loopback)"
echo "certificate: $KEY; negotiated: router $(negotiated "$ROUTER_TLS"), nginx $(negotiated "$NGINX_TLS")"
printf '%-40s %12s %12s %7s %8s\n' scenario "router" "nginx" ratio errors
for pair in "new handshakes/s (s_time -new x$NEW_CLIENTS):_new" "req/s, 1 per connection (wrk -c$NEW_CONNS):_close" \
    "keep-alive req/s (wrk -c$CONNS):_keepalive"; do
    label=${pair%%:*} name=${pair#*:}
    r=$work/res/router$name n=$work/res/nginx$name
    rr=$(median "$r" 1) nr=$(median "$n" 1)
    printf '%-40s %12s %12s %7s %4s/%-4s\n' "$label" "$rr" "$nr" "$(ratio "$rr" "$nr")" "$(sum_col "$r" 2)" "$(sum_col "$n" 2)"
done
if [ -s "$work/res/h2_page" ] && [ -s "$work/res/h1_page" ]; then
    h2=$(median "$work/res/h2_page" 1) h1=$(median "$work/res/h1_page" 1)
    printf '%-40s %12s %12s %7s\n' "page + 20 assets/s (h2 vs h1)" "$h2" "$h1" "$(ratio "$h2" "$h1")"
else
    echo "page + 20 assets, h2 vs HTTP/1.1: not measured yet (comes with the HTTP/2 merge)"
fi
echo "(ratio = router / nginx; errors = wrk timeouts (5 s), socket errors, non-2xx, router/nginx)"
