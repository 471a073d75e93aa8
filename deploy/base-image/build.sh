#!/usr/bin/env bash
# Build the Python base image paas/python-base:bookworm without a registry:
# debootstrap a minimal Debian bookworm from the host's configured mirror,
# install python3 + pip + venv + gunicorn + supervisor with apt inside the
# chroot, add uv (from PyPI, pinned) as the app installer, then `docker
# import` the root filesystem.
# (Dockerfile beside this script builds the same image from debian:bookworm-slim
# where a registry is reachable.)
#
# Usage: build.sh [--force]      (run as root; needs a running docker, see ../docker-up.sh)
# Env:   IMAGE    image tag (default paas/python-base:bookworm)
#        MIRROR   Debian mirror URI   (default: from host apt sources, else deb.debian.org)
#        SECURITY security mirror URI (default: from host apt sources, else deb.debian.org)
#        EXTRA_PACKAGES  extra Debian packages to install (space separated)
#        HOST_CA  CA bundle pip uses to reach PyPI from the chroot (default: the host's)
# The image carries a `paas.recipe` label: a hash of this script and its
# inputs. An existing image is kept only while that label matches, so a
# changed recipe rebuilds on the next run.
set -euo pipefail

IMAGE=${IMAGE:-paas/python-base:bookworm}
SUITE=bookworm
APP_UID=10000
PACKAGES="python3 python3-pip python3-venv gunicorn supervisor ca-certificates bash
          netbase tzdata procps ${EXTRA_PACKAGES:-}"
# uv, the builds' Python installer (agent/src/build/install.rs); pip stays as the fallback.
UV_VERSION=0.13.8
HOST_CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
RECIPE=$( { cat "$0"; echo "$PACKAGES"; } | sha256sum | cut -c1-16)

force=0
case "${1:-}" in
    --force) force=1 ;;
    "") ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root" >&2; exit 1; }

current=$(docker image inspect -f '{{index .Config.Labels "paas.recipe"}}' "$IMAGE" 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$current" = "$RECIPE" ]; then
    echo "build.sh: $IMAGE is up to date (recipe $RECIPE, $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes); use --force to rebuild"
    exit 0
fi
[ -n "$current" ] || ! docker image inspect "$IMAGE" >/dev/null 2>&1 || current="(none)"
[ -z "$current" ] || echo "build.sh: $IMAGE has recipe $current, this script is $RECIPE: rebuilding"

# --- Mirrors: read the host's apt sources (one-line *.list and deb822 *.sources)
# and print "URI SUITE" for every enabled `deb` entry.
host_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [opts] URI SUITE COMPONENTS...
        sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Paragraphs separated by blank lines; fields Types/URIs/Suites/Enabled.
        grep -v '^[[:space:]]*#' "$f" | awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no")
                    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
                types = ""; enabled = ""; nu = 0; ns = 0
            }
            /^[[:space:]]*$/ { flush(); next }
            { key = tolower($1); sub(/:$/, "", key); $1 = "" }
            key == "types"   { types = $0 }
            key == "enabled" { enabled = tolower($2) }
            key == "uris"    { nu = split($0, u, " ") }
            key == "suites"  { ns = split($0, s, " ") }
            END { flush() }'
    done
}
sources=$(host_sources || true)
MIRROR=${MIRROR:-$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")}
SECURITY=${SECURITY:-$(awk -v s="$SUITE-security" '$2 == s { print $1; exit }' <<<"$sources")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
echo "build.sh: mirror $MIRROR, security $SECURITY"

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "build.sh: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

start=$SECONDS
work=$(mktemp -d /var/tmp/paas-python-base.XXXXXX)
rootfs=$work/rootfs
cleanup() {
    mountpoint -q "$rootfs/proc" 2>/dev/null && umount -l "$rootfs/proc"
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. Minimal Debian.
echo "build.sh: debootstrap $SUITE (minbase) into $rootfs"
debootstrap --variant=minbase --merged-usr "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# --- 2. Configure apt/dpkg like debian:bookworm-slim: updates + security
# suites, no recommends, no docs/man pages/translations (copyright files kept).
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
cat >"$rootfs/etc/apt/apt.conf.d/docker" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
# Never start services while installing packages (no init in a container).
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"

# --- 3. Packages, the app user, cleanup (inside the chroot).
echo "build.sh: [$((SECONDS - start))s] apt-get install in chroot: $(tr -s " \n" " " <<<"$PACKAGES")"
mount -t proc proc "$rootfs/proc"
# shellcheck disable=SC2016  # expanded inside the chroot
chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 PACKAGES="$PACKAGES" APP_UID="$APP_UID" /bin/bash -euo pipefail -c '
    apt-get update -qq
    apt-get upgrade -y -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $PACKAGES
    # Files that dpkg-excludes would have dropped, installed by debootstrap.
    find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
    find /usr/share/doc -mindepth 1 -type d -empty -delete
    rm -rf /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/groff/* /usr/share/lintian/*
    # App user: its home is the app directory (/app), writable by it.
    groupadd --gid "$APP_UID" app
    useradd --uid "$APP_UID" --gid app --home-dir /app --no-create-home --shell /bin/bash app
    install -d -o app -g app -m 755 /app
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old
    find /var/log -type f -delete
' >"$work/chroot.log" 2>&1 || { tail -n 30 "$work/chroot.log" >&2; exit 1; }
# uv from PyPI into its own venv (Debian's system pip refuses system-wide
# installs), on PATH as /usr/local/bin/uv. The host CA bundle and proxy
# settings are used for this step only and do not stay in the image.
cp "$HOST_CA" "$rootfs/tmp/host-ca.crt"
proxy_env=()
for v in PIP_INDEX_URL HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [ -n "${!v:-}" ] && proxy_env+=("$v=${!v}")
done
echo "build.sh: [$((SECONDS - start))s] pip install uv==$UV_VERSION in chroot"
chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 PIP_CERT=/tmp/host-ca.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 "${proxy_env[@]}" UV_VERSION="$UV_VERSION" /bin/bash -euo pipefail -c '
    python3 -m venv /opt/uv
    /opt/uv/bin/python -m pip install --no-cache-dir -q "uv==$UV_VERSION"
    /opt/uv/bin/python -m pip uninstall -y -q pip
    ln -s /opt/uv/bin/uv /usr/local/bin/uv
    /usr/local/bin/uv --version
' >"$work/uv.log" 2>&1 || { tail -n 30 "$work/uv.log" >&2; exit 1; }
rm -f "$rootfs/tmp/host-ca.crt"
# The Python the image runs, as a label: builds compare an app's requested
# version (.python-version, runtime.txt, requires-python) with it.
python_version=$(chroot "$rootfs" /usr/bin/python3 -c 'import platform; print(platform.python_version())')
umount "$rootfs/proc"
# Docker provides these per container.
rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname" "$rootfs/etc/machine-id"
: >"$rootfs/etc/machine-id"
rm -rf "${rootfs:?}/dev/"* "${rootfs:?}/tmp/"* "${rootfs:?}/var/tmp/"*

# --- 4. Import (with --force, drop the image it replaces unless still in use).
old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
echo "build.sh: [$((SECONDS - start))s] importing as $IMAGE"
tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
    --change 'ENV UV_PYTHON_DOWNLOADS=never' \
    --change "LABEL paas.recipe=$RECIPE paas.python=$python_version" \
    --change 'WORKDIR /app' \
    --change 'CMD ["bash"]' \
    --message "debootstrap $SUITE minbase + python3/pip/venv/gunicorn/supervisor from $MIRROR, uv $UV_VERSION" \
    - "$IMAGE" >/dev/null

new=$(docker image inspect -f '{{.Id}}' "$IMAGE")
if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "build.sh: built $IMAGE in $((SECONDS - start))s, size $((size / 1024 / 1024)) MiB ($size bytes)"
