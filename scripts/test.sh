#!/usr/bin/env bash
# Runs everything CI runs, from a fresh clone: installs what the tests need, checks
# formatting and lints, then runs the whole test suite (unit, config and end-to-end
# tests with real processes, TLS and sockets on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# System packages the tests need: the real antivirus engines and redis-server. The
# tests start their own private instances (loopback ports, temp dirs) and stop them;
# nothing here runs as a system service.
# libxml2-dev, pkg-config and libclang-dev build the inner's XML Schema validation (feature
# `xsd`, enabled by the end-to-end tests).
PACKAGES=(clamav clamav-daemon c-icap libc-icap-mod-virus-scan redis-server chromium chromium-driver libxml2-dev pkg-config libclang-dev)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

log "formatting"
cargo fmt --all -- --check

log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests"
# Doc tests are not run: the crates have none, and their empty runs would close the log.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
cargo test --workspace --all-targets --locked --no-fail-fast 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '[0-9]+ passed' "$out" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$out" | awk '{s += $1} END {print s + 0}')

# Deployment: the Kubernetes manifests always; the compose stack on a real Docker engine
# when one answers (images, DMZ/LAN isolation, failover, antivirus; a few minutes).
log "deployment"
deploy_status=0
scripts/k8s-validate.sh || deploy_status=1
if docker info >/dev/null 2>&1; then
    scripts/compose-test.sh edge-dials || deploy_status=1
    # The same stack with the inner tier dialling out to the edge (images from the run above).
    RAMPART_SKIP_IMAGES=1 scripts/compose-test.sh inner-dials || deploy_status=1
else
    printf 'compose test SKIPPED: no Docker engine answers (`docker info` failed)\n'
fi
if ((deploy_status)); then
    printf '\ndeployment tests FAILED\n'
    ((status)) || status=1
fi
printf '\nsummary: %s passed, %s failed\n' "$passed" "$failed"
exit "$status"
