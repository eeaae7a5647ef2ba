#!/usr/bin/env bash
# Builds the base images the product images start from, offline from a registry: a Debian bookworm root made with
# debootstrap from a Debian mirror, then Node 20 (copied from this host), Python 3.11, PostgreSQL 15 and Redis 7 from
# Debian packages. Needs root (debootstrap), a Docker engine, and the Debian mirror (apt) reachable.
#   deploy/docker/build-base.sh            # builds what is missing
#   FORCE=1 deploy/docker/build-base.sh    # rebuilds everything
# Environment: DEBIAN_MIRROR (default: the first URIs/deb line of /etc/apt/sources.list*), NODE_BIN (default: the
# host's node, must be v20+), NPM_DIR (default: the host's npm package), CA_BUNDLE (default: the host's
# /etc/ssl/certs/ca-certificates.crt: the roots npm trusts in the images), IMAGE_PREFIX (default: loraplane).
# Images: $IMAGE_PREFIX/debian:bookworm, base-node:bookworm, base-python:bookworm, postgres:15, redis:7.
set -euo pipefail
export DOCKER_BUILDKIT=0
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${IMAGE_PREFIX:-loraplane}"
FORCE="${FORCE:-0}"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%T)"; }
have() { [ "$FORCE" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit} /^deb / && $0 !~ /security/ {print ($2 ~ /^\[/ ? $3 : $2); exit}' || true)"
  DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
fi

if ! have "$PREFIX/debian:bookworm"; then
  step "debootstrap minbase bookworm from $DEBIAN_MIRROR"
  command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install -y debootstrap" >&2; exit 1; }
  ROOTFS="$(mktemp -d /tmp/loraplane-rootfs.XXXXXX)"
  chmod 755 "$ROOTFS" # mktemp makes it 0700, which would become the image's / and lock out non-root users
  trap 'rm -rf "$ROOTFS"' EXIT
  debootstrap --variant=minbase bookworm "$ROOTFS" "$DEBIAN_MIRROR" >/tmp/loraplane-debootstrap.log 2>&1 \
    || { tail -20 /tmp/loraplane-debootstrap.log >&2; exit 1; }
  # Keep the image small: package lists and caches are fetched again by whichever layer installs packages.
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
    > "$ROOTFS/etc/dpkg/dpkg.cfg.d/01-nodoc"
  tar -C "$ROOTFS" -c . | docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$PREFIX/debian:bookworm"
  rm -rf "$ROOTFS"; trap - EXIT
fi

if ! have "$PREFIX/base-node:bookworm"; then
  NODE_BIN="${NODE_BIN:-$(command -v node)}"
  NPM_DIR="${NPM_DIR:-$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")}"
  major="$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || { echo "NODE_BIN=$NODE_BIN is Node $major; Next.js 16 needs Node 20+" >&2; exit 1; }
  step "base-node (node $("$NODE_BIN" --version) from $NODE_BIN, npm from $NPM_DIR)"
  CTX="$(mktemp -d /tmp/loraplane-node-ctx.XXXXXX)"
  trap 'rm -rf "$CTX"' EXIT
  cp "$NODE_BIN" "$CTX/node"
  cp -a "$NPM_DIR" "$CTX/npm"
  CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
  [ -s "$CA_BUNDLE" ] || { echo "CA_BUNDLE=$CA_BUNDLE is missing: point it at a PEM bundle of the CAs npm must trust" >&2; exit 1; }
  cp "$CA_BUNDLE" "$CTX/ca-certificates.crt"
  cp "$HERE/base/node.Dockerfile" "$CTX/Dockerfile"
  docker build -q --network host --build-arg DEBIAN_IMAGE="$PREFIX/debian:bookworm" -t "$PREFIX/base-node:bookworm" "$CTX"
  rm -rf "$CTX"; trap - EXIT
fi

build_from_debian_packages() { # image dockerfile base-arg
  have "$1" && return 0
  step "$1 ($2)"
  docker build -q --network host --build-arg "$3" -f "$HERE/base/$2" -t "$1" "$HERE/base"
}
build_from_debian_packages "$PREFIX/base-python:bookworm" python.Dockerfile NODE_BASE_IMAGE="$PREFIX/base-node:bookworm"
build_from_debian_packages "$PREFIX/postgres:15" postgres.Dockerfile DEBIAN_IMAGE="$PREFIX/debian:bookworm"
build_from_debian_packages "$PREFIX/redis:7" redis.Dockerfile DEBIAN_IMAGE="$PREFIX/debian:bookworm"

step "base images ready"
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep "^$PREFIX/" | grep -E 'debian|base-|postgres|redis'
