#!/usr/bin/env bash
# Builds the Rampart container images on a machine that cannot pull any image.
#
#   scripts/build-images.sh [bases|binaries|images|all]     (default: all)
#
#   bases     rampart/base:bookworm (a minimal Debian root filesystem made with
#             debootstrap from the Debian mirror apt already uses here, loaded with
#             `docker import`) and rampart/services-base:bookworm (the same plus clamd,
#             c-icap and redis-server). Skipped for an image that already exists.
#   binaries  the Rust binaries, built on the host with cargo, into rampart/binaries:TAG.
#   images    rampart/{edge,inner,tools,clamd,icap,redis}:TAG from deploy/docker/Dockerfile.
#
# Environment (all optional):
#   RAMPART_TAG        image tag (default: dev)
#   RAMPART_PROFILE    cargo profile of the binaries: release (default) or dev (faster to
#                      build, used by the compose test; the images behave the same)
#   CARGO_TARGET_DIR   where cargo builds (default: target/)
#   DEBIAN_MIRROR      Debian mirror for debootstrap (default: the one in apt's sources)
#
# With registry access the same images come from deploy/docker/Dockerfile.build (a Rust
# builder image) and debian:bookworm-slim instead; see deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TAG=${RAMPART_TAG:-dev}
PROFILE=${RAMPART_PROFILE:-release}
SUITE=bookworm
BASE_IMAGE=rampart/base:$SUITE
SERVICES_BASE_IMAGE=rampart/services-base:$SUITE
# In every base: libxml2 for the inner's XML Schema validation.
BASE_PACKAGES=libxml2
SERVICES_PACKAGES=clamav-daemon,c-icap,libc-icap-mod-virus-scan,redis-server

log() { printf '==> build-images: %s\n' "$*" >&2; }
die() { printf 'build-images: %s\n' "$*" >&2; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror apt is configured with (deb822 .sources files or sources.list),
# for suite $1 ("bookworm" or "bookworm-security"). Nothing is hard-coded: machines
# without Internet access point apt at their own mirror, and so do we.
apt_mirror() {
    local suite=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk -v want="$suite" '
            function flush() {
                if (uri != "" && deb && enabled) {
                    n = split(suites, s, " ")
                    for (i = 1; i <= n; i++) if (s[i] == want) { print uri; exit }
                }
                uri = ""; suites = ""; deb = 0; enabled = 1
            }
            BEGIN { enabled = 1 }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
            END { flush() }
        ' "$f"
    done | head -n1 | grep . && return 0
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        # deb [options] URI SUITE COMPONENTS...
        awk -v want="$suite" '$1 == "deb" {
            i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == want) { print $i; exit }
        }' "$f"
    done | head -n1 | grep .
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null && return 0
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
}

# Imports directory $1 as image $2 (the root filesystem, without apt's caches).
import_rootfs() {
    local dir=$1 image=$2
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
        "$dir"/var/log/*.log "$dir"/var/log/apt/*
    tar --numeric-owner -C "$dir" -c . |
        docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$image" >/dev/null
    log "imported $image"
}

build_bases() {
    if have_image "$BASE_IMAGE" && have_image "$SERVICES_BASE_IMAGE"; then
        if docker run --rm "$BASE_IMAGE" dpkg-query -W "${BASE_PACKAGES//,/ }" >/dev/null 2>&1; then
            log "$BASE_IMAGE and $SERVICES_BASE_IMAGE exist; skipping debootstrap"
            return 0
        fi
        # Made before the bases carried $BASE_PACKAGES: build both again.
        log "$BASE_IMAGE lacks $BASE_PACKAGES; rebuilding the bases"
        docker rmi "$BASE_IMAGE" >/dev/null 2>&1 || true
    fi
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
    ensure_debootstrap
    local mirror security work
    mirror=${DEBIAN_MIRROR:-$(apt_mirror "$SUITE")} || die "no Debian $SUITE mirror in apt's sources; set DEBIAN_MIRROR"
    security=$(apt_mirror "$SUITE-security" || true)
    work=$(mktemp -d /var/tmp/rampart-rootfs.XXXXXX)
    # Unmount before deleting: a failed chroot step must not leave /proc mounted inside.
    trap 'umount -l "'"$work"'/services/proc" 2>/dev/null || true; rm -rf "'"$work"'"' EXIT
    log "debootstrap $SUITE from $mirror (minbase)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    {
        echo "deb $mirror $SUITE main"
        echo "deb $mirror $SUITE-updates main"
        [[ -n $security ]] && echo "deb $security $SUITE-security main"
    } >"$work/base/etc/apt/sources.list"
    # Never start daemons inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
    chmod 755 "$work/base/usr/sbin/policy-rc.d"
    cp -a "$work/base" "$work/services"

    log "installing ${SERVICES_PACKAGES//,/ } into the services base"
    cp /etc/resolv.conf "$work/services/etc/resolv.conf"
    mount -t proc proc "$work/services/proc"
    if ! chroot "$work/services" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c \
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${SERVICES_PACKAGES//,/ } && apt-get clean" \
        >"$work/apt.log" 2>&1; then
        tail -n 30 "$work/apt.log" >&2
        die "installing the services packages failed"
    fi
    umount "$work/services/proc"
    : >"$work/services/etc/resolv.conf"

    have_image "$BASE_IMAGE" || import_rootfs "$work/base" "$BASE_IMAGE"
    docker rmi "$SERVICES_BASE_IMAGE" >/dev/null 2>&1 || true
    import_rootfs "$work/services" "$SERVICES_BASE_IMAGE"
    rm -rf "$work"
    trap - EXIT
}

target_dir() { echo "${CARGO_TARGET_DIR:-$ROOT/target}"; }

build_binaries() {
    local dir out
    log "cargo build --profile $PROFILE (rampart, rampart-edge, rampart-inner, rampart-probe)"
    # The inner with XML Schema validation (libxml2; the base images carry libxml2).
    cargo build --locked --profile "$PROFILE" -p rampart-cli -p rampart-edge -p rampart-inner \
        --features rampart-inner/xsd
    dir=$(target_dir)/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")
    out=$(mktemp -d)
    mkdir -p "$out/out"
    for bin in rampart rampart-edge rampart-inner rampart-probe; do
        [[ -x $dir/$bin ]] || die "$dir/$bin was not built"
        cp "$dir/$bin" "$out/out/"
    done
    # Debug symbols are not needed in the images and make them several times larger.
    if command -v strip >/dev/null; then strip --strip-debug "$out"/out/* 2>/dev/null || true; fi
    cp deploy/docker/Dockerfile.prebuilt "$out/Dockerfile"
    docker_build -t "rampart/binaries:$TAG" "$out" ||
        { rm -rf "$out"; die "building rampart/binaries:$TAG failed"; }
    rm -rf "$out"
    log "built rampart/binaries:$TAG"
}

# docker build, quiet unless it fails (the classic builder also warns that it is
# deprecated on every call; offline machines may have no other).
docker_build() {
    local out
    out=$(mktemp)
    if ! docker build --force-rm "$@" >"$out" 2>&1; then
        grep -v -i -E 'deprecated|buildx|docs.docker.com' "$out" | tail -n 30 >&2
        rm -f "$out"
        return 1
    fi
    rm -f "$out"
}

build_images() {
    local target
    for target in edge inner tools clamd icap redis; do
        docker_build -f deploy/docker/Dockerfile --target "$target" \
            --build-arg "BASE=$BASE_IMAGE" \
            --build-arg "SERVICES_BASE=$SERVICES_BASE_IMAGE" \
            --build-arg "BINARIES=rampart/binaries:$TAG" \
            -t "rampart/$target:$TAG" deploy/docker ||
            die "building rampart/$target:$TAG failed"
        log "built rampart/$target:$TAG"
    done
    # Rebuilt images leave their predecessors untagged; remove ours, not anyone else's.
    docker image prune -f --filter label=io.rampart.build=1 >/dev/null 2>&1 || true
}

case ${1:-all} in
bases) build_bases ;;
binaries) build_binaries ;;
images) build_images ;;
all) build_bases && build_binaries && build_images ;;
*) die "usage: $0 [bases|binaries|images|all]" ;;
esac
