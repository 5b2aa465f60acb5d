#!/usr/bin/env bash
# Make sure the local backend has a base image: python:3.11-slim when it is here or can be
# pulled, otherwise the Debian-built pytest-appservice-fs/base:bookworm (built once, by
# scripts/build-base-image.sh, installing mmdebstrap first when missing and running as root).
# With LOCAL_BASE_IMAGE set, the harness checks that image itself and this does nothing.
set -euo pipefail

[ -n "${LOCAL_BASE_IMAGE:-}" ] && exit 0
default_image="python:3.11-slim"
debian_image="pytest-appservice-fs/base:bookworm"

docker image inspect "$default_image" >/dev/null 2>&1 && exit 0
docker image inspect "$debian_image" >/dev/null 2>&1 && exit 0
if timeout 300 docker pull --quiet "$default_image" >/dev/null 2>&1; then
    exit 0
fi
echo "ensure-base-image: $default_image cannot be pulled here; building $debian_image from Debian packages"
if ! command -v mmdebstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "ensure-base-image: mmdebstrap is missing; apt-get install mmdebstrap (as root), then run again." >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }
fi
exec "$(dirname "$0")/build-base-image.sh" "$debian_image"
