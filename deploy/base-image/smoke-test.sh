#!/usr/bin/env bash
# Smoke-test paas/python-base:bookworm with the fixture apps in fixtures/apps:
# tool versions, a cold `uv pip install` and `pip install` into a venv, and each fixture served by
# gunicorn on a port published on 127.0.0.1 only. Needs a running docker
# (../docker-up.sh) and the image (./build.sh). Prints "N passed, N failed".
#
# pip inside containers: this host reaches PyPI through a TLS-intercepting
# proxy, so containers need the host's CA bundle. We mount it over the image's
# system bundle (Debian's pip and python use that path) and also point the
# usual variables at it. Index/proxy settings are passed through if set.
set -uo pipefail

IMAGE=${IMAGE:-paas/python-base:bookworm}
HOST_CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
APPS=$(cd "$(dirname "$0")/../../fixtures/apps" && pwd)
CA=/etc/ssl/certs/ca-certificates.crt
PIP_ENV=(-v "$HOST_CA:$CA:ro" -e "PIP_CERT=$CA" -e "SSL_CERT_FILE=$CA" -e "REQUESTS_CA_BUNDLE=$CA")
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST HTTP_PROXY HTTPS_PROXY NO_PROXY \
         http_proxy https_proxy no_proxy; do
    [ -n "${!v:-}" ] && PIP_ENV+=(-e "$v")
done
# What a platform container gets: non-root, no capabilities, no new privileges.
RUN_OPTS=(--user app --cap-drop ALL --security-opt no-new-privileges --memory 512m --pids-limit 200)

pass=0 fail=0 containers=() images=()
ok()   { echo "ok   - $*"; pass=$((pass + 1)); }
bad()  { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
cleanup() {
    [ ${#containers[@]} -gt 0 ] && docker rm -f "${containers[@]}" >/dev/null 2>&1
    [ ${#images[@]} -gt 0 ] && docker rmi -f "${images[@]}" >/dev/null 2>&1
    true
}
trap cleanup EXIT

# Start a container serving on $PORT=8000 published on 127.0.0.1; sets $cid, $url.
serve() {
    cid=$(docker run -d "${RUN_OPTS[@]}" -e PORT=8000 -p 127.0.0.1::8000 "$@") || return 1
    containers+=("$cid")
    url="http://$(docker port "$cid" 8000/tcp | grep -m1 '^127\.0\.0\.1:')"
    for _ in $(seq 100); do curl -sf -o /dev/null "$url/" && return 0; sleep 0.1; done
    docker logs "$cid" >&2; return 1
}
# Copy an app into /app, create its venv and install requirements.txt (plus
# gunicorn, as builds add it when a process runs it), then
# commit the result as an image (what a build does). Sets $app_image.
build_app() {
    local name=$1 bcid
    bcid=$(docker create --user app "${PIP_ENV[@]}" -v "$APPS/$name:/src:ro" "$IMAGE" bash -c \
        'cp -a /src/. /app/ && python3 -m venv --without-pip /app/.venv &&
         python3 -m pip --python /app/.venv install -r requirements.txt gunicorn') || return 1
    containers+=("$bcid")
    docker start -a "$bcid" >"/tmp/smoke-$name-build.log" 2>&1 || return 1
    app_image="paas-smoke/$name:latest"
    docker commit -c 'ENV PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$bcid" "$app_image" >/dev/null && images+=("$app_image")
}

docker image inspect "$IMAGE" >/dev/null 2>&1 || { echo "no image $IMAGE: run build.sh" >&2; exit 1; }

# --- Tools in the image.
check "python3 runs"      docker run --rm "$IMAGE" python3 -c 'import sys; assert sys.version_info[:2] == (3, 11)'
check "gunicorn --version" docker run --rm "$IMAGE" gunicorn --version
check "supervisord --version" docker run --rm "$IMAGE" supervisord --version
check "uv --version (pinned in build.sh)" bash -c \
    "docker run --rm '$IMAGE' uv --version | grep -qx \"uv \$(sed -n 's/^UV_VERSION=//p' '$(dirname "$0")/build.sh') .*\""
check "paas.python label matches python3" bash -c \
    "[ \"\$(docker image inspect -f '{{index .Config.Labels \"paas.python\"}}' '$IMAGE')\" = \
       \"\$(docker run --rm '$IMAGE' python3 -c 'import platform; print(platform.python_version())')\" ]"
# shellcheck disable=SC2016  # expanded in the container
check "app user uid 10000, HOME=/app writable" docker run --rm --user app "$IMAGE" \
    bash -c '[ "$(id -u)" = 10000 ] && [ "$HOME" = /app ] && touch /app/.w'

# --- Cold pip install into a venv.
t0=$(date +%s%N)
check "pip installs flask into a venv" docker run --rm "${RUN_OPTS[@]}" "${PIP_ENV[@]}" "$IMAGE" bash -c \
    'python3 -m venv --without-pip /tmp/v && python3 -m pip --python /tmp/v install -q flask &&
     /tmp/v/bin/python -c "import flask"'
echo "     (container start + venv + cold pip install flask: $((($(date +%s%N) - t0) / 1000000)) ms)"

t0=$(date +%s%N)
# shellcheck disable=SC2016  # expanded in the container
check "uv installs flask into a venv (as the app user)" docker run --rm "${RUN_OPTS[@]}" "${PIP_ENV[@]}" \
    -e UV_CACHE_DIR=/tmp/uv-cache "$IMAGE" bash -c \
    'python3 -m venv --without-pip /tmp/v && uv pip install -q --python /tmp/v/bin/python flask &&
     /tmp/v/bin/python -c "import flask"'
echo "     (container start + venv + cold uv pip install flask: $((($(date +%s%N) - t0) / 1000000)) ms)"

# --- hello-wsgi: no requirements, the image's gunicorn serves it.
if serve -e GREETING="hi from smoke" -v "$APPS/hello-wsgi:/app:ro" "$IMAGE" gunicorn wsgi:application; then
    body=$(curl -s "$url/")
    check "hello-wsgi: greeting"   grep -q "hi from smoke" <<<"$body"
    check "hello-wsgi: body"       grep -q "hello from hello-wsgi" <<<"$body"
    check "hello-wsgi: static"     grep -q "hello static file" <<<"$(curl -s "$url/static/hello.txt")"
else bad "hello-wsgi serves"; fi

# --- flask-app: venv build, web under gunicorn from the venv, worker.
if build_app flask-app; then
    ok "flask-app: build (pip install -r requirements.txt)"
    if serve "$app_image" bash -c 'gunicorn app:app'; then
        check "flask-app: /health" grep -q '"ok"' <<<"$(curl -s "$url/health")"
    else bad "flask-app serves"; fi
    wcid=$(docker run -d "${RUN_OPTS[@]}" "$app_image" bash -c 'python3 worker.py') && containers+=("$wcid")
    sleep 2.5
    check "flask-app: worker heartbeats" grep -q "worker heartbeat 2" <<<"$(docker logs "$wcid" 2>&1)"
else bad "flask-app: build"; cat /tmp/smoke-flask-app-build.log; fi

# --- bad-requirements: the build must fail with pip's message.
if build_app bad-requirements; then
    bad "bad-requirements: build should fail"
else
    check "bad-requirements: pip reports the missing package" \
        grep -q "No matching distribution found for this-package-does-not-exist-paas-test" \
        /tmp/smoke-bad-requirements-build.log
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
