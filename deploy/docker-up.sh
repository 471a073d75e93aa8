#!/usr/bin/env bash
# Make sure a Docker engine is running on this (Debian bookworm) host.
# Idempotent; run as root. Works without systemd as PID 1: dockerd is started
# directly in the background, logging to /var/log/dockerd.log.
#
# Env: DOCKER_UP_TIMEOUT  seconds to wait for the daemon (default 60)
#      DOCKERD_FLAGS      extra flags for dockerd (default none; the defaults
#                         work here: overlay2, cgroupfs, iptables via nft)
set -euo pipefail

timeout_s=${DOCKER_UP_TIMEOUT:-60}
log=/var/log/dockerd.log

if [ "$(id -u)" != 0 ]; then
    echo "docker-up: must run as root" >&2
    exit 1
fi

# 1. Install the engine from Debian if missing. iptables is needed for the
#    bridge network (NAT to the outside and -p port publishing).
if ! command -v dockerd >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1; then
    echo "docker-up: installing docker.io from apt"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io iptables; } \
        >/var/log/docker-up-apt.log 2>&1 || { tail -n 20 /var/log/docker-up-apt.log >&2; exit 1; }
fi

# 2. Already up? Nothing to do.
if docker info >/dev/null 2>&1; then
    echo "docker-up: docker is already running"
    exit 0
fi

# 3. Start dockerd unless one is already starting (e.g. a previous call that
#    is still initialising). setsid detaches it from our session so it
#    outlives this script and the calling shell.
if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "docker-up: starting dockerd (log: $log)"
    # shellcheck disable=SC2086
    setsid dockerd ${DOCKERD_FLAGS:-} >>"$log" 2>&1 </dev/null &
fi

# 4. Wait, bounded, until the API answers.
for _ in $(seq "$timeout_s"); do
    if docker info >/dev/null 2>&1; then
        echo "docker-up: docker is ready ($(docker version -f '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 1
done
echo "docker-up: dockerd did not come up within ${timeout_s}s; last log lines:" >&2
tail -n 20 "$log" >&2 || true
exit 1
