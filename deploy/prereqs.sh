#!/usr/bin/env bash
# Install and start what the platform and its tests need on a Debian bookworm
# host: git, PostgreSQL server binaries, Chromium + chromedriver (dashboard
# tests), Pebble (ACME tests), schemathesis (API contract test), a Docker engine and the Python
# base image. Idempotent: a second run only checks. Run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || { echo "prereqs: run as root (sudo $0)" >&2; exit 1; }

missing=()
command -v git >/dev/null || missing+=(git)
command -v curl >/dev/null || missing+=(curl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v wrk >/dev/null || missing+=(wrk)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# ACME tests: Pebble (a test CA) and pebble-challtestsrv (its DNS); openssl verifies chains.
command -v pebble >/dev/null || missing+=(pebble)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "prereqs: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The API's contract test runs schemathesis (PyPI) against the OpenAPI document.
schemathesis_version=4.32.5
if ! st --version 2>/dev/null | grep -q "$schemathesis_version"; then
    echo "prereqs: installing schemathesis $schemathesis_version"
    python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version" >/dev/null
fi
id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres

"$here/docker-up.sh"
"$here/base-image/build.sh"
# Add-on servers (Postgres, Redis), from Debian packages on the base image.
"$here/addon-images/build.sh"
echo "prereqs: ready"
