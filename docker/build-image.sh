#!/bin/sh
# Build the grading image tcp-grader:latest in one command, from anywhere:
#   start the engine if needed -> build the base from Debian packages if
#   missing -> docker build from the repository top.
#
# Usage: docker/build-image.sh [--force-base] [extra `docker build` arguments]
#   --force-base   rebuild tcp-grader-base:bookworm even if it exists
#
# Environment:
#   BASE_IMAGE   base of the grading image (default tcp-grader-base:bookworm).
#                Any other value (e.g. python:3.11-slim, from a registry)
#                skips build-base.sh.
#   IMAGE        tag to build (default tcp-grader:latest)
#   DEBIAN_MIRROR, DEBOOTSTRAP_CACHE   passed on to build-base.sh
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
OWN_BASE=tcp-grader-base:bookworm
BASE_IMAGE=${BASE_IMAGE:-$OWN_BASE}
IMAGE=${IMAGE:-tcp-grader:latest}

BASE_ARGS=
if [ "${1:-}" = "--force-base" ]; then
    BASE_ARGS=--force
    shift
fi

if ! docker info >/dev/null 2>&1; then
    "$HERE/start-engine.sh"
fi

if [ "$BASE_IMAGE" = "$OWN_BASE" ]; then
    BASE_TAG=$OWN_BASE "$HERE/build-base.sh" $BASE_ARGS
fi

echo "build-image: building $IMAGE from $BASE_IMAGE ..."
OLD_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
cd "$TOP"
docker build --network host --force-rm \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    -f docker/Dockerfile -t "$IMAGE" "$@" .
# The previous build lost its tag: remove it (and with it a base image that
# build-base.sh --force replaced), unless a container still uses it.
NEW_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi
echo "build-image: done: $IMAGE"
