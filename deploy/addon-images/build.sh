#!/usr/bin/env bash
# Build the add-on server images from Debian packages on top of the platform
# base image (see ../base-image/build.sh), without a registry:
#   paas/postgres:15  (postgresql-15)      from postgres.Dockerfile
#   paas/redis:7      (redis-server 7)     from redis.Dockerfile
# Each image carries a `paas.recipe` label: a hash of this script, its
# Dockerfile and start script, and the base image id. An existing image is
# kept while its label matches, so a changed recipe rebuilds on the next run.
#
# Usage: build.sh [--force]     (needs a running docker and the base image)
# Env:   BASE  base image (default paas/python-base:bookworm)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BASE=${BASE:-paas/python-base:bookworm}
force=0
case "${1:-}" in
    --force) force=1 ;;
    "") ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac
base_id=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
    || { echo "build.sh: base image $BASE is missing; run deploy/base-image/build.sh first" >&2; exit 1; }

build() { # IMAGE KIND
    local image=$1 kind=$2 recipe current start
    recipe=$( { cat "$0" "$here/$kind.Dockerfile" "$here/paas-$kind-start"; echo "$base_id"; } | sha256sum | cut -c1-16)
    current=$(docker image inspect -f '{{index .Config.Labels "paas.recipe"}}' "$image" 2>/dev/null || true)
    if [ "$force" = 0 ] && [ "$current" = "$recipe" ]; then
        echo "build.sh: $image is up to date (recipe $recipe)"
        return
    fi
    start=$SECONDS
    echo "build.sh: building $image (recipe $recipe)"
    local ctx
    ctx=$(mktemp -d)
    cp "$here/$kind.Dockerfile" "$ctx/Dockerfile"
    cp "$here/paas-$kind-start" "$ctx/"
    local old
    old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    docker build -q --build-arg "BASE=$BASE" --label "paas.recipe=$recipe" -t "$image" "$ctx" >/dev/null \
        || { rm -rf "$ctx"; echo "build.sh: building $image failed" >&2; exit 1; }
    rm -rf "$ctx"
    local new
    new=$(docker image inspect -f '{{.Id}}' "$image")
    if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
    echo "build.sh: built $image in $((SECONDS - start))s, $(( $(docker image inspect -f '{{.Size}}' "$image") / 1024 / 1024 )) MiB"
}

build paas/postgres:15 postgres
build paas/redis:7 redis
