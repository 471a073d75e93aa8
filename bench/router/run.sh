#!/usr/bin/env bash
# Router vs nginx, same backends, same machine, loopback only, alternating A B A B.
#   (i)   proxied hello-world: req/s and p99 (wrk, keep-alive clients, upstream keep-alive on both);
#   (ii)  static files, 4 KiB and 1 MiB (router: from its release bundle; nginx: sendfile);
#   (iv)  a cacheable response (Cache-Control: public, max-age=3600): router's front-end cache vs
#         nginx proxy_cache (both warmed first);
#   (v)   time to first byte of a 200 MiB download (curl), router vs nginx (proxy_buffering on) vs direct;
#   (iii) 40 slow clients trickling a 10 KB POST at ~100 B/s to gunicorn (2 sync workers) while one
#         normal client GETs: direct to gunicorn, behind nginx, behind the router.
# Prints medians and ratios. Knobs: ROUNDS (3), DURATION (8 s per wrk run), CONNS (64), SLOW_DURATION (15 s).
# Usage: bench/router/run.sh   (from anywhere; needs cargo, python3; installs wrk/nginx/gunicorn if missing)
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
SLOW_DURATION=${SLOW_DURATION:-15}
SLOW_CLIENTS=${SLOW_CLIENTS:-40}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/paas-router-bench.XXXXXX)
chmod 755 "$work" # nginx workers run unprivileged and must read the static files
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

HELLO=127.0.0.1:19001 API=127.0.0.1:19002 GUNICORN=127.0.0.1:19003
ROUTER=127.0.0.1:19080 ADMIN=127.0.0.1:19090 NGINX=127.0.0.1:19081

# --- tools -------------------------------------------------------------------
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
command -v nginx >/dev/null || apt-get install -y -q nginx-light >/dev/null || apt-get install -y -q nginx >/dev/null
python3 -c 'import gunicorn' 2>/dev/null || python3 -m pip install -q gunicorn
(cd "$root" && cargo build -q --release -p paas-router --bins --examples)
bin=$root/target/release

# --- fixtures ----------------------------------------------------------------
mkdir -p "$work/site/static" "$work/blobs" "$work/nginx/logs" "$work/state"
head -c 4096 /dev/urandom >"$work/site/static/4k.bin"
head -c 1048576 /dev/urandom >"$work/site/static/1m.bin"
tar -czf "$work/blobs/bundle.tgz" -C "$work/site" static
sha=$(sha256sum "$work/blobs/bundle.tgz" | cut -d' ' -f1)
cat >"$work/table.json" <<EOF
{"version": 1, "apps": [
  {"name": "hello", "hostnames": ["hello.bench"], "release": 1,
   "backends": [{"instance_id": "00000000-0000-0000-0000-000000000001", "address": "$HELLO"}],
   "statics": {"release": 1, "path": "/v1/router/statics/bundle.tgz", "sha256": "$sha",
               "mappings": [{"url_prefix": "/static/", "dir": "static"}]}},
  {"name": "slow", "hostnames": ["slow.bench"], "release": 1,
   "backends": [{"instance_id": "00000000-0000-0000-0000-000000000002", "address": "$GUNICORN"}]}
]}
EOF
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_buffer_size 1m;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=front:10m max_size=256m;
    types { application/octet-stream bin; }
    upstream hello { server $HELLO; keepalive 64; }
    upstream slow { server $GUNICORN; keepalive 16; }
    map \$http_host \$pool { default hello; slow.bench slow; }
    server {
        listen $NGINX reuseport;
        location /static/ { alias $work/site/static/; etag on; expires 1h; }
        location /cached {
            proxy_cache front;
            proxy_pass http://\$pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            add_header X-Cache \$upstream_cache_status;
        }
        location / {
            proxy_pass http://\$pool;
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
"$bin/examples/bench_support" api "$API" "$work/table.json" "$work/blobs" & pids+=($!)
gunicorn --chdir "$here" -w 2 -k sync -b "$GUNICORN" --log-level warning app:app & pids+=($!)
RUST_LOG=warn "$bin/paas-router" --listen "$ROUTER" --admin-listen "$ADMIN" --api-url "http://$API" \
    --state-dir "$work/state" --access-log false & pids+=($!)
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' & pids+=($!)

wait_ok() { # url host
    for _ in $(seq 100); do
        curl -fsS -o /dev/null -H "Host: $2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "not ready: $1 ($2)" >&2
    exit 1
}
wait_ok "http://$HELLO/" x
wait_ok "http://$GUNICORN/" x
wait_ok "http://$ROUTER/" hello.bench
wait_ok "http://$ROUTER/static/4k.bin" hello.bench
wait_ok "http://$NGINX/" hello.bench
wait_ok "http://$NGINX/" slow.bench

# --- measurement helpers -----------------------------------------------------
to_ms() { # wrk latency like 850.00us / 1.23ms / 1.02s -> ms
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
run_wrk() { # name conns duration url host -> appends "rps p50 p99 errors requests" to $work/res/name
    local out
    out=$(wrk -t1 -c"$2" -d"$3"s --timeout 5s --latency -H "Host: $5" "$4")
    local rps p50 p99 errs reqs
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errs=$(awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(",", ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' <<<"$out")
    mkdir -p "$work/res"
    echo "$rps $p50 $p99 $errs $reqs" >>"$work/res/$1"
}
median() { # file column
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sum_col() { awk -v c="$2" '{ s += $c } END { print s + 0 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# --- (i) and (ii): A B A B ---------------------------------------------------
for round in $(seq "$ROUNDS"); do
    for path in / /static/4k.bin /static/1m.bin; do
        case $path in /) name=_hello ;; *4k*) name=_s4k ;; *) name=_s1m ;; esac
        echo "round $round: $path router" >&2
        run_wrk "router$name" "$CONNS" "$DURATION" "http://$ROUTER$path" hello.bench
        echo "round $round: $path nginx" >&2
        run_wrk "nginx$name" "$CONNS" "$DURATION" "http://$NGINX$path" hello.bench
    done
done

# --- (iv) cached response, (v) time to first byte of 200 MiB: A B A B ----------
for target in router:$ROUTER nginx:$NGINX; do # warm both caches
    curl -fsS -o /dev/null -H "Host: hello.bench" "http://${target#*:}/cached"
done
ttfb() { # name url -> appends seconds to first byte to $work/res/name
    curl -fsS -o /dev/null -H "Host: hello.bench" -w '%{time_starttransfer}\n' "$2" >>"$work/res/$1"
}
for round in $(seq "$ROUNDS"); do
    echo "round $round: /cached router, nginx" >&2
    run_wrk router_cached "$CONNS" "$DURATION" "http://$ROUTER/cached" hello.bench
    run_wrk nginx_cached "$CONNS" "$DURATION" "http://$NGINX/cached" hello.bench
    echo "round $round: 200 MiB time to first byte" >&2
    for _ in 1 2 3; do
        ttfb direct_big "http://$HELLO/big/200"
        ttfb router_big "http://$ROUTER/big/200"
        ttfb nginx_big "http://$NGINX/big/200"
    done
done

# --- (iii) slow clients ------------------------------------------------------
slow_case() { # label addr
    run_wrk "idle_$1" 1 5 "http://$2/" slow.bench
    python3 "$here/slow_clients.py" "${2%:*}" "${2#*:}" slow.bench "$SLOW_CLIENTS" 10240 100 $((SLOW_DURATION + 4)) &
    local slow=$!
    sleep 3
    run_wrk "loaded_$1" 1 "$SLOW_DURATION" "http://$2/" slow.bench
    wait "$slow" || true
}
for target in direct:$GUNICORN nginx:$NGINX router:$ROUTER; do
    echo "slow clients: ${target%%:*}" >&2
    slow_case "${target%%:*}" "${target#*:}"
    sleep 2
done

# --- report ------------------------------------------------------------------
echo
echo "router vs nginx, medians of $ROUNDS alternating rounds, wrk -t1 -c$CONNS -d${DURATION}s ($(nproc) cores, loopback)"
printf '%-16s %12s %12s %7s %12s %12s %7s %8s\n' scenario "router req/s" "nginx req/s" ratio "router p99" "nginx p99" ratio errors
for pair in "hello (proxied):_hello" "static 4 KiB:_s4k" "static 1 MiB:_s1m" "cached (hit):_cached"; do
    label=${pair%%:*} name=${pair#*:}
    r=$work/res/router$name n=$work/res/nginx$name
    rr=$(median "$r" 1) nr=$(median "$n" 1) rp=$(median "$r" 3) np=$(median "$n" 3)
    printf '%-16s %12s %12s %7s %10sms %10sms %7s %4s/%-4s\n' "$label" "$rr" "$nr" "$(ratio "$rr" "$nr")" \
        "$rp" "$np" "$(ratio "$rp" "$np")" "$(sum_col "$r" 4)" "$(sum_col "$n" 4)"
done
echo
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }
rb=$(median "$work/res/router_big" 1) nb=$(median "$work/res/nginx_big" 1) db=$(median "$work/res/direct_big" 1)
echo "200 MiB download, time to first byte (median of $((ROUNDS * 3))): router $(ms "$rb") ms, nginx $(ms "$nb") ms," \
    "direct $(ms "$db") ms; router/nginx $(ratio "$rb" "$nb")"
echo
echo "slow clients: $SLOW_CLIENTS x 10 KB POST at ~100 B/s to gunicorn -w 2 (sync); one client GETs (wrk -c1)"
printf '%-8s %10s %10s %12s %12s %12s %9s %10s\n' target "idle p50" "idle p99" "loaded p50" "loaded p99" "loaded GETs" errors "p99 ratio"
for target in direct nginx router; do
    i=$work/res/idle_$target l=$work/res/loaded_$target
    ip99=$(median "$i" 3) lp99=$(median "$l" 3) lp50=$(median "$l" 2) done_=$(sum_col "$l" 5)
    rat=$(ratio "$lp99" "$ip99") lp50=${lp50}ms lp99=${lp99}ms
    if [ "$done_" = 0 ]; then lp50=- lp99=- rat=-; fi
    printf '%-8s %8sms %8sms %12s %12s %12s %9s %10s\n' "$target" "$(median "$i" 2)" "$ip99" "$lp50" \
        "$lp99" "$done_" "$(sum_col "$l" 4)" "$rat"
done
echo "(loaded GETs = requests completed in ${SLOW_DURATION} s; errors = wrk timeouts (5 s), socket errors, non-2xx;"
echo " p99 ratio = loaded / idle; '-' = no GET completed)"
