#!/bin/sh
# Build the grading image's base, tcp-grader-base:bookworm, from Debian
# packages alone: no image registry is needed, only a Debian mirror (which can
# be a local one, see DEBIAN_MIRROR). About a minute on a 2-core machine.
#
#   debootstrap --variant=minbase (+ python3, pytest, pexpect, dpkt, iproute2,
#   nftables, util-linux, procps)  ->  trim caches and docs  ->  docker import
#
# Usage: docker/build-base.sh [--force]
#   Without --force nothing is done when the image already exists.
#
# Environment:
#   DEBIAN_MIRROR     mirror for debootstrap (default http://deb.debian.org/debian)
#   BASE_TAG          image tag to create (default tcp-grader-base:bookworm)
#   DEBOOTSTRAP_CACHE directory kept between runs for the downloaded .deb
#                     files (optional; a second build then needs no network)
#   WORKDIR_PARENT    where the temporary root file system is made (default /var/tmp)
set -eu

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${BASE_TAG:-tcp-grader-base:bookworm}
PACKAGES=python3,python3-pytest,python3-pexpect,python3-dpkt,iproute2,nftables,util-linux,procps
# What bookworm ships, and what the grader is written and tested against.
WANT_PYTEST=7.2.
WANT_PEXPECT=4.8.

FORCE=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "build-base: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { echo "build-base: $*"; }
die() { echo "build-base: ERROR: $*" >&2; exit 1; }

if [ "$FORCE" = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    # A base made before the grader needed a package is rebuilt, not reused.
    if docker run --rm --network none "$TAG" python3 -I -c 'import pytest, pexpect, dpkt' \
            >/dev/null 2>&1; then
        say "$TAG already exists, nothing to do (use --force to rebuild)."
        exit 0
    fi
    say "$TAG lacks a package the grader needs: rebuilding it."
fi

[ "$(id -u)" = 0 ] || die "debootstrap needs root; run this script as root."
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: apt-get install -y debootstrap"
docker info >/dev/null 2>&1 || die "the Docker engine is not running: run docker/start-engine.sh first."

ROOTFS=$(mktemp -d "${WORKDIR_PARENT:-/var/tmp}/tcp-grader-rootfs.XXXXXX")

# debootstrap mounts /proc, /sys and /dev/pts inside the tree and normally
# unmounts them; after a failure some may be left. Unmount whatever is still
# mounted under the tree (deepest first) before deleting it, and never let rm
# cross into another file system.
cleanup() {
    grep -o " $ROOTFS/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CACHE_OPT=
if [ -n "${DEBOOTSTRAP_CACHE:-}" ]; then
    mkdir -p "$DEBOOTSTRAP_CACHE"
    CACHE_OPT="--cache-dir=$(cd "$DEBOOTSTRAP_CACHE" && pwd)"
fi

say "debootstrap $SUITE from $MIRROR into $ROOTFS ..."
# shellcheck disable=SC2086  # CACHE_OPT is empty or one word
debootstrap --variant=minbase --components=main $CACHE_OPT \
    --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    || die "debootstrap failed (see the messages above; $ROOTFS/debootstrap/debootstrap.log if kept)."

# Check that the Debian versions the grader expects are the ones installed.
version() { chroot "$ROOTFS" dpkg-query -W -f='${Version}' "$1"; }
PYTEST_V=$(version python3-pytest)
PEXPECT_V=$(version python3-pexpect)
PYTHON_V=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
case $PYTEST_V in "$WANT_PYTEST"*) ;; *) die "python3-pytest is $PYTEST_V, expected ${WANT_PYTEST}x" ;; esac
case $PEXPECT_V in "$WANT_PEXPECT"*) ;; *) die "python3-pexpect is $PEXPECT_V, expected ${WANT_PEXPECT}x" ;; esac
chroot "$ROOTFS" python3 -I -c 'import pytest, pexpect, dpkt' || die "pytest, pexpect or dpkt cannot be imported"
say "python $PYTHON_V, pytest $PYTEST_V, pexpect $PEXPECT_V"

say "trimming caches and docs ..."
(
    cd "$ROOTFS"
    chroot . apt-get clean
    rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/debconf/*-old \
           var/lib/dpkg/*-old var/log/* tmp/* var/tmp/* \
           usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian
    # Keep the copyright files, drop the rest of the documentation.
    find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
    find usr/share/doc -mindepth 1 -type d -empty -delete
    # The compiled __pycache__ files stay: the container's file system is
    # read-only, so without them every Python start would compile its stdlib.
    # Tell dpkg not to bring documentation back if a package is added later.
    cat > etc/dpkg/dpkg.cfg.d/01-tcp-grader-nodoc <<'NODOC'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
NODOC
    # The container gets its own resolv.conf and hostname from the engine.
    : > etc/resolv.conf
    : > etc/hostname
)

say "importing into Docker as $TAG ..."
OLD_ID=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /' \
    --change 'CMD ["python3"]' \
    --message "debootstrap --variant=minbase $SUITE + $PACKAGES (pytest $PYTEST_V, pexpect $PEXPECT_V)" \
    - "$TAG" >/dev/null

# The image must do in a container what the chroot did.
docker run --rm --network none "$TAG" python3 -I -c \
    'import pytest, pexpect; print("build-base: in the image: pytest", pytest.__version__, "pexpect", pexpect.__version__)'
# With --force the previous image loses its tag: remove it unless something
# (a derived image, a container) still uses it.
NEW_ID=$(docker image inspect -f '{{.Id}}' "$TAG")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi
say "done: $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%s, %.0f MB", "'"$TAG"'", $1/1e6}')"
