#!/usr/bin/env bash
# Build the local backend's base image from Debian packages, for machines that cannot pull
# python:3.11-slim from Docker Hub: mmdebstrap makes a minimal Debian with Python 3 and venv,
# and `docker import` turns it into an image. Needs root (or sudo), mmdebstrap and Docker.
#
#   scripts/build-base-image.sh [TAG]        default TAG: pytest-appservice-fs/base:bookworm
#
# DEBIAN_MIRROR and DEBIAN_SUITE choose where the packages come from (plain http works).
set -euo pipefail

tag="${1:-pytest-appservice-fs/base:bookworm}"
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag is already built"
    exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
    echo "build-base-image: mmdebstrap is missing; on Debian/Ubuntu: apt-get install mmdebstrap" >&2
    exit 1
fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

echo "building $tag from Debian $suite packages ($mirror)"
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$suite" "$workdir/rootfs.tar" "$mirror"
docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change 'LABEL io.github.pytest-appservice-fs.project=pytest-appservice-fs' \
    --change 'LABEL io.github.pytest-appservice-fs.role=base' \
    --message "Debian $suite with python3 and python3-venv, for pytest-appservice-fs" \
    "$workdir/rootfs.tar" "$tag" >/dev/null
echo "built $tag"
