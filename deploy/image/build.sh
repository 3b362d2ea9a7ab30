#!/usr/bin/env bash
# Build the Haechi image without a registry: local Debian bases from mmdebstrap, then
# `podman build --isolation chroot --format docker` of deploy/Containerfile.
#
#   deploy/image/build.sh [TAG]        (default localhost/haechi:dev)
#
# The base root filesystems are cached as tarballs in $HAECHI_IMAGE_CACHE
# (default /var/cache/haechi-image, outside the repository) and rebuilt when older than
# $HAECHI_BASE_MAX_AGE_DAYS (7): building them takes minutes, the image itself well under that.
# Needs root (or a user namespace), mmdebstrap and podman (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/../.."
tag="${1:-localhost/haechi:dev}"
cache="${HAECHI_IMAGE_CACHE:-/var/cache/haechi-image}"
max_age="${HAECHI_BASE_MAX_AGE_DAYS:-7}"
suite="${HAECHI_BASE_SUITE:-bookworm}"
mirror="${HAECHI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${HAECHI_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
mkdir -p "$cache"

# The builder and runtime bases come from the same suite on the same day: the virtualenv built
# on one runs on the other because both have the same /usr/bin/python3. Node comes from a newer
# suite (the dashboard's build wants Node 20.19 or newer).
common=python3,ca-certificates
build_pkgs="$common,python3-venv,python3-dev,gcc,libc6-dev"
node_suite="${HAECHI_NODE_SUITE:-trixie}"
node_pkgs="nodejs,npm,ca-certificates"
# The runtime base carries what the Containerfile's POOL_PACKAGES names, so it installs nothing.
runtime_pkgs="$common,passwd,espeak-ng"

base() {  # name suite packages
  local name=$1 suite=$2 packages=$3
  # The package list is part of the name: changing it builds a new base.
  local id; id="$suite-$(printf '%s' "$packages" | sha256sum | cut -c1-8)"
  local tarball="$cache/$name-$id.tar" image="localhost/haechi-base-$name:$id"
  if [ -z "$(find "$tarball" -mtime -"$max_age" 2>/dev/null)" ]; then
    echo "== mmdebstrap $name base ($suite: $packages) into $tarball" >&2
    local started=$SECONDS
    mmdebstrap --mode=root --variant=minbase --include="$packages" \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      "$suite" "$cache/$name-$id.partial.tar" \
      "deb $mirror $suite main" "deb $mirror $suite-updates main" \
      "deb $security $suite-security main" >"$cache/$name.log" 2>&1 \
      || { tail -30 "$cache/$name.log" >&2; exit 1; }
    mv "$cache/$name-$id.partial.tar" "$tarball"
    podman rmi -f "$image" >/dev/null 2>&1 || true
    echo "   $name base built in $((SECONDS - started)) s" >&2
  fi
  if ! podman image exists "$image" || [ "$tarball" -nt "$cache/$name-$id.imported" ]; then
    podman import --quiet "$tarball" "$image" >/dev/null
    touch "$cache/$name-$id.imported"
  fi
  eval "${name}_image=$image"
}

base build "$suite" "$build_pkgs"
base node "$node_suite" "$node_pkgs"
base runtime "$suite" "$runtime_pkgs"

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
# A TLS-inspecting proxy's CA (as on this project's machines) reaches npm and pip as a build
# secret: HAECHI_BUILD_CA_BUNDLE, else the host's bundle when it holds more than Debian's.
ca_secret=()
ca_bundle="${HAECHI_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
if [ -s "$ca_bundle" ]; then ca_secret=(--secret "id=ca,src=$ca_bundle"); fi
started=$SECONDS
podman build --isolation chroot --format docker --network host \
  -f deploy/Containerfile \
  --build-arg BASE_IMAGE="$runtime_image" \
  --build-arg BUILDER_IMAGE="$build_image" \
  --build-arg NODE_IMAGE="$node_image" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  ${ca_secret[@]+"${ca_secret[@]}"} --layers -t "$tag" .
echo "== image $tag built in $((SECONDS - started)) s" >&2
podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "   size %.0f MB\n", $1/1e6}' >&2
