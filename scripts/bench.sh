#!/usr/bin/env bash
# Rampart throughput bench against nginx-based peers, on loopback only.
#
# Targets (all on 127.0.0.1, ports picked from 18000-18999):
#   backend          nginx `return 200 "ok\n"`: the ceiling every other target proxies to
#   nginx-1hop       nginx reverse proxy -> backend
#   nginx-2hop-mtls  nginx -> (HTTPS, mTLS) -> nginx -> backend: same shape as Rampart
#   nginx-modsec     nginx + ModSecurity 3 + OWASP CRS (PL1, blocking) -> backend
#   rampart          rampart up (edge -> mTLS -> inner) -> backend
#   rampart-inner-dials  rampart up --link inner-dials: the same, but the inner dials the
#                    edge's link port (the LAN listens for nothing); with rampart in the same
#                    run, a "link modes" section prints inner-dials / edge-dials per cell
#   rampart-edge-bare  rampart up with the edge's optional protections off (no screening,
#                    address lists, rate limits or route checks; framing and size limits stay)
#   rampart-edge-full  rampart up with every edge protection on: screening (block, PL1),
#                    an allow list and a 1,000-entry deny list, per-address and per-route
#                    rate limits, a daily quota, a concurrency limit and route checks, all
#                    sized never to refuse the bench; with both in the run, an "edge
#                    protections" section prints full / bare per cell (issue target: >= 0.85)
# Workloads: GET /, POST 1 KiB JSON, POST 64 KiB JSON, each at 32 and 256 connections.
#
# Environment:
#   BENCH_TARGETS   space-separated subset of the targets above (default: all)
#   BENCH_DURATION  wrk duration per cell, e.g. 10s, 1m (default 10s)
#   BENCH_ROUNDS    repeat the whole matrix N times and report medians (default 1)
#   BENCH_PIN       1 (default) pins wrk to CPU 1 and all servers to CPU 0; 0 disables
#   BENCH_NO_BUILD  1 skips `cargo build --release` of the rampart binaries
#   BENCH_TIMEOUT   overall guard in seconds for the run phase (default: from the matrix size)
#   BENCH_WRK_TIMEOUT  wrk's per-request timeout (default: BENCH_DURATION, so slow answers
#                   count in the latency percentiles instead of vanishing as timeouts)
#   BENCH_WARMUP    unrecorded wrk run per target before the matrix, e.g. 2s (default); 0 skips
#   BENCH_NGINX_KEEPALIVE  idle keep-alive connections each nginx keeps to its upstream (256;
#                   64 makes nginx churn upstream connections at c=256 and look worse than it is)
#   BENCH_SETTLE_MAX  seconds to wait for the server CPU to go idle after a cell before
#                   restarting the target that left a backlog (default 5)
#   RAMPART_BIN     rampart binary (default: $CARGO_TARGET_DIR or <repo>/target, /release/rampart)
#   BENCH_HTTP3     1 (default): also an "http3" section: the same rampart edge over HTTP/2
#                   (its TLS port) and HTTP/3 (QUIC on the same port number), same request mix,
#                   concurrency and duration, with the h3/h2 ratio (load tool: the release-built
#                   example crates/rampart-edge/examples/h2_h3_load.rs); only: that section
#                   and no wrk matrix; 0: skip it
#   BENCH_HTTP3_CONCURRENCY  requests in flight per protocol in that section (default 32)
#   BENCH_HTTP3_CONNECTIONS  connections per protocol they share (default 4)
#   BENCH_LOAD_BIN  that load tool (default: next to RAMPART_BIN's default, examples/h2_h3_load)
#
# Runs as root (installs Debian packages if missing). Everything it starts is stopped by pid
# on exit; it never signals processes it did not start.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
TPL_DIR="$SCRIPT_DIR/bench"

RAMPART_TARGETS="rampart rampart-inner-dials rampart-edge-bare rampart-edge-full"
ALL_TARGETS="backend nginx-1hop nginx-2hop-mtls nginx-modsec $RAMPART_TARGETS"
BENCH_TARGETS="${BENCH_TARGETS:-$ALL_TARGETS}"
BENCH_DURATION="${BENCH_DURATION:-10s}"
BENCH_ROUNDS="${BENCH_ROUNDS:-1}"
BENCH_PIN="${BENCH_PIN:-1}"
BENCH_NO_BUILD="${BENCH_NO_BUILD:-0}"
BENCH_WRK_TIMEOUT="${BENCH_WRK_TIMEOUT:-$BENCH_DURATION}"
BENCH_NGINX_KEEPALIVE="${BENCH_NGINX_KEEPALIVE:-256}"
BENCH_WARMUP="${BENCH_WARMUP:-2s}"
BENCH_SETTLE_MAX="${BENCH_SETTLE_MAX:-5}"
CARGO_OUT="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release"
RAMPART_BIN="${RAMPART_BIN:-$CARGO_OUT/rampart}"   # compared below as the default
BENCH_HTTP3="${BENCH_HTTP3:-1}"
BENCH_HTTP3_CONCURRENCY="${BENCH_HTTP3_CONCURRENCY:-32}"
BENCH_HTTP3_CONNECTIONS="${BENCH_HTTP3_CONNECTIONS:-4}"
LOAD_BIN=${BENCH_LOAD_BIN:-$CARGO_OUT/examples/h2_h3_load}

WORKLOADS="get post-1k post-64k"
CONNS="32 256"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and starts nginx)"

# --- argument checks -------------------------------------------------------------------------

for t in $BENCH_TARGETS; do
  [[ " $ALL_TARGETS " == *" $t "* ]] || die "unknown target '$t' (known: $ALL_TARGETS)"
done
[[ $BENCH_ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ $BENCH_NGINX_KEEPALIVE =~ ^[1-9][0-9]*$ ]] || die "BENCH_NGINX_KEEPALIVE must be a positive integer"
[[ $BENCH_SETTLE_MAX =~ ^[0-9]+$ ]] || die "BENCH_SETTLE_MAX must be a whole number of seconds"
[[ $BENCH_WARMUP =~ ^[0-9]+[sm]?$ ]] || die "BENCH_WARMUP must look like 0, 2 or 2s"
[[ $BENCH_HTTP3 =~ ^(0|1|only)$ ]] || die "BENCH_HTTP3 must be 0, 1 or only"
[[ $BENCH_HTTP3_CONCURRENCY =~ ^[1-9][0-9]*$ && $BENCH_HTTP3_CONNECTIONS =~ ^[1-9][0-9]*$ ]] ||
  die "BENCH_HTTP3_CONCURRENCY and BENCH_HTTP3_CONNECTIONS must be positive integers"
((BENCH_HTTP3_CONNECTIONS <= BENCH_HTTP3_CONCURRENCY)) ||
  die "BENCH_HTTP3_CONNECTIONS must not exceed BENCH_HTTP3_CONCURRENCY"
if [[ $BENCH_HTTP3 == only ]]; then
  [[ " $BENCH_TARGETS " == *" rampart "* ]] || die "BENCH_HTTP3=only needs rampart in BENCH_TARGETS"
  BENCH_TARGETS=rampart
fi

# wrk duration -> seconds, for the guards.
case "$BENCH_DURATION" in
  *[0-9]s) DUR_S=${BENCH_DURATION%s} ;;
  *[0-9]m) DUR_S=$(( ${BENCH_DURATION%m} * 60 )) ;;
  *[0-9]) DUR_S=$BENCH_DURATION ;;
  *) die "BENCH_DURATION must look like 10, 10s or 1m" ;;
esac
[[ $DUR_S =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION must be a whole positive duration"

want() { [[ " $TARGETS " == *" $1 "* ]]; }
TARGETS=" $BENCH_TARGETS "
SKIPPED=()
drop_target() { TARGETS="${TARGETS/ $1 / }"; SKIPPED+=("$1"); }

# --- cleanup: stop everything we started, by pid ---------------------------------------------

STARTED_PIDS=()   # every long-running process this script started
WATCHDOG_PID=""
WORK_DIR=""

stop_pid() { # stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL
  local pid=$1 name=$2 i
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  # Forget it, so a recycled pid can never be signalled later.
  local kept=() e
  for e in "${STARTED_PIDS[@]}"; do [[ ${e%%:*} == "$pid" ]] || kept+=("$e"); done
  STARTED_PIDS=("${kept[@]}")
}

cleanup() {
  local rc=$? i entry pids
  trap - EXIT INT TERM
  pids=("${STARTED_PIDS[@]}")   # stop_pid edits STARTED_PIDS; walk a copy, newest first
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    entry=${pids[$i]}
    if [[ ${entry#*:} == rampart ]]; then
      stop_rampart "${entry%%:*}"
    else
      stop_pid "${entry%%:*}" "${entry#*:}"
    fi
  done
  if [[ -n $WATCHDOG_PID ]]; then
    kill -TERM "$WATCHDOG_PID" 2>/dev/null || true
    wait "$WATCHDOG_PID" 2>/dev/null || true
  fi
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    if [[ $rc -ne 0 ]]; then
      log "failed (exit $rc); logs kept in $WORK_DIR"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- packages --------------------------------------------------------------------------------

pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]; }
pkg_candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }

APT_UPDATED=0
pkg_available() { # installable from the configured Debian mirrors?
  local c
  c=$(pkg_candidate "$1")
  if [[ -z $c || $c == "(none)" ]] && [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update (package lists look stale or empty)"
    apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; continuing with what is known"
    APT_UPDATED=1
    c=$(pkg_candidate "$1")
  fi
  [[ -n $c && $c != "(none)" ]]
}

ensure_pkgs() { # ensure_pkgs PKG...: returns 1 if any cannot be installed
  local p missing=()
  for p in "$@"; do
    pkg_installed "$p" && continue
    pkg_available "$p" || { log "package '$p' is not available from apt"; return 1; }
    missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { log "apt-get install ${missing[*]} failed"; return 1; }
}

# nginx is always needed: it is the backend every target proxies to.
ensure_pkgs nginx wrk || die "nginx and wrk are required"
command -v openssl >/dev/null || ensure_pkgs openssl || die "openssl is required"
command -v curl >/dev/null || ensure_pkgs curl || die "curl is required"

MODSEC_MODULE="" CRS_SETUP="" CRS_RULES_DIR="" UNICODE_MAPPING=""
if want nginx-modsec; then
  if ensure_pkgs libnginx-mod-http-modsecurity modsecurity-crs; then
    # Locate the module and the CRS from the package file lists, not from guesses.
    MODSEC_MODULE=$(dpkg -L libnginx-mod-http-modsecurity | grep -m1 '/ngx_http_modsecurity_module\.so$' || true)
    UNICODE_MAPPING=$(dpkg -L libnginx-mod-http-modsecurity | grep -m1 '^/etc/.*/unicode\.mapping$' || true)
    CRS_SETUP=$(dpkg -L modsecurity-crs | grep -m1 '/crs-setup\.conf$' || true)
    CRS_RULES_DIR=$(dpkg -L modsecurity-crs | grep -m1 '/rules/REQUEST-901-INITIALIZATION\.conf$' || true)
    CRS_RULES_DIR=${CRS_RULES_DIR%/*}
    if [[ -z $MODSEC_MODULE || -z $CRS_SETUP || -z $CRS_RULES_DIR || -z $UNICODE_MAPPING ]]; then
      log "SKIP nginx-modsec: could not locate the ModSecurity module or the CRS files"
      drop_target nginx-modsec
    fi
  else
    log "SKIP nginx-modsec: libnginx-mod-http-modsecurity / modsecurity-crs not installable"
    drop_target nginx-modsec
  fi
fi

# --- rampart build ---------------------------------------------------------------------------

RAMPART_BIN_DEFAULT=$CARGO_OUT/rampart
# Every rampart target runs the same binary; only `rampart up`'s options differ.
want_rampart() { local t; for t in $RAMPART_TARGETS; do want "$t" && return 0; done; return 1; }
drop_rampart() { local t; for t in $RAMPART_TARGETS; do want "$t" && drop_target "$t"; done; true; }
if want_rampart; then
  build_failed=0
  if [[ $BENCH_NO_BUILD != 1 ]]; then
    if command -v cargo >/dev/null; then
      log "building rampart (cargo build --release), this can take a while"
      # Bounded like everything else; cargo's output goes to stderr so stdout stays a clean
      # markdown report.
      if ! (cd "$REPO_ROOT" && timeout -k 10 3600 \
          cargo build --release --bin rampart --bin rampart-edge --bin rampart-inner) >&2; then
        build_failed=1
      fi
      if [[ $BENCH_HTTP3 != 0 ]] && ! (cd "$REPO_ROOT" && timeout -k 10 3600 \
          cargo build --release -p rampart-edge --example h2_h3_load) >&2; then
        log "building the h2_h3_load example failed"
      fi
    else
      log "cargo not found, cannot build rampart"
      build_failed=1
    fi
  fi
  if [[ $build_failed == 1 && $RAMPART_BIN == "$RAMPART_BIN_DEFAULT" ]]; then
    # Never bench a stale binary left over from an older successful build.
    log "SKIP rampart: cargo build --release failed (see above)"
    drop_rampart
  elif [[ ! -x $RAMPART_BIN ]]; then
    log "SKIP rampart: binary '$RAMPART_BIN' is missing or not executable (unset BENCH_NO_BUILD to build it, or set RAMPART_BIN)"
    drop_rampart
  elif [[ $build_failed == 1 ]]; then
    log "cargo build failed; benching the given RAMPART_BIN=$RAMPART_BIN anyway"
  fi
fi

read -r -a TARGET_LIST <<<"$TARGETS"
[[ ${#TARGET_LIST[@]} -gt 0 ]] || die "no target left to bench"
if [[ $BENCH_HTTP3 != 0 ]] && ! want rampart; then
  BENCH_HTTP3=0
elif [[ $BENCH_HTTP3 != 0 && ! -x $LOAD_BIN ]]; then
  log "SKIP http3: load tool '$LOAD_BIN' missing (cargo build --release -p rampart-edge --example h2_h3_load)"
  [[ $BENCH_HTTP3 == only ]] && die "BENCH_HTTP3=only without its load tool"
  BENCH_HTTP3=0
fi
HTTP3_WORKLOADS="get,post-1k,post-64k"

# --- overall guard ---------------------------------------------------------------------------

# Every wrk run is itself bounded; this caps the whole run phase (startup + matrix + slack).
CELLS=$(( $(wc -w <<<"$WORKLOADS") * $(wc -w <<<"$CONNS") * ${#TARGET_LIST[@]} * BENCH_ROUNDS ))
[[ $BENCH_HTTP3 == only ]] && CELLS=0
# The http3 section: each workload over both protocols, each run plus connection set-up.
H3_CELLS=0
[[ $BENCH_HTTP3 != 0 ]] && H3_CELLS=$(( $(tr ',' ' ' <<<"$HTTP3_WORKLOADS" | wc -w) * 2 ))
BENCH_TIMEOUT="${BENCH_TIMEOUT:-$(( (CELLS + H3_CELLS) * (DUR_S + 20) + ${#TARGET_LIST[@]} * 150 + 300 ))}"
(
  # Reap the sleep before leaving, or it lingers as a zombie under pid 1.
  trap 'kill "$sleeper" 2>/dev/null; wait "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$BENCH_TIMEOUT" & sleeper=$!
  wait "$sleeper"
  printf '[bench] ERROR: overall guard of %ss hit, aborting\n' "$BENCH_TIMEOUT" >&2
  kill -TERM $$
) &
WATCHDOG_PID=$!

# --- pinning ---------------------------------------------------------------------------------

# On a 2-core box, wrk on CPU 1 and every server (backend included) on CPU 0 is the steadier
# choice: the load generator never steals cycles from the servers, and each target gets the
# same single core, so req/s reads as "requests per server core" (the backend's share of that
# core is the same for every proxy target). Unpinned, the scheduler shuffles wrk and the
# servers between cores and run-to-run noise grows.
PIN_SERVER=() PIN_WRK=() PIN_DESC="off"
if [[ $BENCH_PIN != 0 ]] && command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
  PIN_SERVER=(taskset -c 0)
  PIN_WRK=(taskset -c 1)
  PIN_DESC="wrk on CPU 1, all servers (backend included) on CPU 0"
elif [[ $BENCH_PIN != 0 ]]; then
  PIN_DESC="off (needs taskset and >= 2 CPUs)"
else
  PIN_DESC="off (BENCH_PIN=0)"
fi

# --- work dir, ports -------------------------------------------------------------------------

WORK_DIR=$(mktemp -d /tmp/rampart-bench.XXXXXX)
# nginx workers run as nobody and need to reach their temp dirs inside WORK_DIR.
chmod 0711 "$WORK_DIR"

USED_PORTS=" "
port_free() {
  if command -v ss >/dev/null; then
    [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
  fi
}
pick_port() { # pick_port BASE: first free port >= BASE in 18000-18999 not already handed out
  local p
  for ((p = $1; p <= 18999; p++)); do
    [[ $USED_PORTS == *" $p "* ]] && continue
    if port_free "$p"; then USED_PORTS+="$p "; echo "$p"; return 0; fi
  done
  die "no free port in $1-18999"
}

PORT_BACKEND=$(pick_port 18080)
PORT_1HOP=$(pick_port 18180)
PORT_2HOP_EDGE=$(pick_port 18280)
PORT_2HOP_INNER=$(pick_port 18380)
PORT_MODSEC=$(pick_port 18480)
PORT_RAMPART=$(pick_port 18580)
PORT_RAMPART_TLS=$(pick_port 18680)
PORT_RAMPART_ID=$(pick_port 18780)
PORT_RAMPART_ID_TLS=$(pick_port 18880)
PORT_RAMPART_BARE=$(pick_port 18900)
PORT_RAMPART_BARE_TLS=$(pick_port 18925)
PORT_RAMPART_FULL=$(pick_port 18950)
PORT_RAMPART_FULL_TLS=$(pick_port 18975)

declare -A TARGET_PORT=(
  [backend]=$PORT_BACKEND
  [nginx-1hop]=$PORT_1HOP
  [nginx-2hop-mtls]=$PORT_2HOP_EDGE
  [nginx-modsec]=$PORT_MODSEC
  [rampart]=$PORT_RAMPART
  [rampart-inner-dials]=$PORT_RAMPART_ID
  [rampart-edge-bare]=$PORT_RAMPART_BARE
  [rampart-edge-full]=$PORT_RAMPART_FULL
)

# --- PKI for the nginx mTLS hop --------------------------------------------------------------

make_pki() {
  local d=$WORK_DIR/pki
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=rampart bench CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out ca.crt
    issue() { # issue NAME CN EXTFILE-CONTENT
      openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
      openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 2 \
        -extfile "$1.ext" -out "$1.crt"
    }
    issue inner-server inner.bench.test "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:inner.bench.test,IP:127.0.0.1"
    issue edge-client edge.bench.test "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  ) >"$WORK_DIR/pki.log" 2>&1 || { cat "$WORK_DIR/pki.log" >&2; die "PKI generation failed"; }
}

# --- JSON bodies -----------------------------------------------------------------------------

# gen_json BYTES FILE: a batch of order objects, the shape an API firewall sees, padded with a
# free-text "comment" to exactly BYTES bytes.
gen_json() {
  local size=$1 out=$2 i body rec pad filler
  local -a tiers=(bronze silver gold platinum) cities=(Lyon Porto Leipzig Turin Gdansk Ghent)
  body='{"request_id":"5f0c9a52-8d4e-4c1b-9d7e-2a6f1e3b7c01","submitted_at":"2024-05-14T09:31:07Z","source":"checkout-service","orders":['
  for ((i = 1; ; i++)); do
    printf -v rec '{"id":"ord-%06d","customer":{"id":%d,"email":"customer%d@example.com","name":"Customer %d","tier":"%s"},"items":[{"sku":"SKU-%04d-A","qty":%d,"unit_price":%d.%02d},{"sku":"SKU-%04d-B","qty":1,"unit_price":%d.99}],"currency":"EUR","shipping":{"street":"%d Rue de la Republique","city":"%s","postcode":"%05d","country":"FR"},"gift":%s,"notes":"Leave at the front desk if nobody answers."}' \
      "$i" $((10000 + i)) $((10000 + i)) $((10000 + i)) "${tiers[i % 4]}" \
      $((1000 + i)) $((1 + i % 5)) $((5 + i % 90)) $((i % 100)) $((1000 + i)) $((3 + i % 40)) \
      $((1 + i % 200)) "${cities[i % 6]}" $((10000 + i * 37 % 89999)) "$([[ $((i % 3)) -eq 0 ]] && echo true || echo false)"
    # Stop before the comment would need a negative length (64 bytes of slack for the tail).
    (( ${#body} + ${#rec} + 1 + 64 > size )) && break
    [[ $i -gt 1 ]] && body+=','
    body+=$rec
  done
  body+='],"comment":"'
  pad=$(( size - ${#body} - 2 ))
  filler="Customer asked for consolidated shipping and an invoice per order. "
  while (( ${#filler} < pad )); do filler+=$filler; done
  body+="${filler:0:pad}\"}"
  printf '%s' "$body" >"$out"
  [[ $(wc -c <"$out") -eq $size ]] || die "generated $out is not $size bytes"
}

# --- starting servers ------------------------------------------------------------------------

render() { # render TEMPLATE OUT KEY=VALUE...: replace @KEY@ placeholders
  local tpl=$1 out=$2 kv expr=()
  shift 2
  for kv in "$@"; do
    expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
  done
  sed "${expr[@]}" "$tpl" >"$out"
  if grep -q '@[A-Z_]\+@' "$out"; then die "unreplaced placeholder in $out"; fi
}

wait_http_200() { # wait_http_200 URL TIMEOUT_S PID
  local url=$1 deadline=$((SECONDS + $2)) pid=$3 code
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

wait_listen() { # wait_listen URL TIMEOUT_S PID: the port accepts TCP connections
  local port=${1##*:} deadline=$((SECONDS + $2)) pid=$3
  port=${port%/}
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

start_nginx() { # start_nginx NAME SERVER_TEMPLATE PORT [KEY=VALUE...]
  local name=$1 tpl=$2 port=$3 loads="# (no dynamic modules)" pid
  shift 3
  [[ $name == nginx-modsec ]] && loads="load_module $MODSEC_MODULE;"
  mkdir -p "$WORK_DIR/$name-tmp"
  render "$TPL_DIR/$tpl" "$WORK_DIR/$name.server.conf" PORT="$port" PKI="$WORK_DIR/pki" \
    DIR="$WORK_DIR" BACKEND_PORT="$PORT_BACKEND" KEEPALIVE="$BENCH_NGINX_KEEPALIVE" "$@"
  render "$TPL_DIR/nginx-main.conf.tmpl" "$WORK_DIR/$name.conf" NAME="$name" DIR="$WORK_DIR" \
    SERVER_CONF="$WORK_DIR/$name.server.conf" LOAD_MODULES="$loads"
  # -e/-p keep nginx away from /var/log/nginx and /usr/share/nginx before it reads our conf.
  "${PIN_SERVER[@]}" nginx -p "$WORK_DIR/" -e "$WORK_DIR/$name.error.log" -c "$WORK_DIR/$name.conf" \
    -g 'daemon off;' >>"$WORK_DIR/$name.out" 2>&1 &
  pid=$!
  STARTED_PIDS+=("$pid:$name")
  PROC_PID[$name]=$pid
  local ready=wait_http_200
  # The inner mTLS hop only answers TLS clients with a certificate: check that it listens;
  # its real readiness shows through the edge's check.
  [[ $name == nginx-2hop-inner ]] && ready=wait_listen
  if ! $ready "http://127.0.0.1:$port/" 20 "$pid"; then
    tail -n 20 "$WORK_DIR/$name.error.log" "$WORK_DIR/$name.out" >&2 || true
    die "$name did not come up on 127.0.0.1:$port"
  fi
}

# The edge policies (joined to the generated edge config). Every target raises the
# per-address connection cap (default 256) above the bench's connection count: all of
# wrk's connections come from one address, and at 256 a closed connection not yet
# released puts the next one over the cap (fast 503s that wrk, ignoring Retry-After,
# counts as throughput).
BENCH_SERVER_TOML='[server]
max_connections_per_ip = 4096
'
write_edge_policies() {
  printf '%s' "$BENCH_SERVER_TOML" >"$WORK_DIR/edge-default.toml"
  { printf '%s\n' "$BENCH_SERVER_TOML"; cat <<'TOML'
[screening]
mode = "off"
TOML
  } >"$WORK_DIR/edge-bare.toml"
  # A deny list of 1,000 documentation/test-net style prefixes none of the bench uses.
  mkdir -p "$WORK_DIR/rampart-edge-full-up"
  for ((i = 0; i < 1000; i++)); do
    printf '10.%d.%d.0/24\n' $((i / 250)) $((i % 250))
  done >"$WORK_DIR/rampart-edge-full-up/deny.txt"
  { printf '%s\n' "$BENCH_SERVER_TOML"; cat <<'TOML'
[client_ip]
source = "socket"

[ip_lists.files]
deny = "deny.txt"

[ip_policy]
allow = ["127.0.0.0/8", "::1/128"]
deny = ["deny", "192.0.2.0/24"]

[screening]
mode = "block"
[screening.policy]
paranoia = 1
threshold = 5

[rate_limit]
[[rate_limit.policies]]
name = "per-ip"
key = ["client_ip"]
rate = "1000000/s"
burst = 1000000
[[rate_limit.policies]]
name = "per-route"
key = ["route"]
rate = "1000000/s"
burst = 1000000
[[rate_limit.quotas]]
name = "daily"
key = ["client_ip"]
limit = 1000000000
period = "day"
[[rate_limit.concurrency]]
name = "in-flight"
key = ["client_ip"]
max_in_flight = 100000

[[routes]]
name = "api"
path_prefix = "/"
methods = ["GET", "POST"]
content_types = ["application/json"]
max_query_params = 32
max_body = "1MiB"
TOML
  } >"$WORK_DIR/edge-full.toml"
}

start_rampart() { # start_rampart TARGET [restart]: on first start a failure skips it, later it is fatal
  local name=$1 pid port tls_port
  local extra=()
  case $name in
    rampart)
      port=$PORT_RAMPART tls_port=$PORT_RAMPART_TLS
      extra=(--edge-policy "$WORK_DIR/edge-default.toml")
      # QUIC on the TLS port's number (UDP), as clients that follow Alt-Svc expect.
      [[ $BENCH_HTTP3 != 0 ]] && extra+=(--h3-listen "127.0.0.1:$PORT_RAMPART_TLS")
      ;;
    rampart-inner-dials)
      port=$PORT_RAMPART_ID tls_port=$PORT_RAMPART_ID_TLS
      extra=(--link inner-dials --edge-policy "$WORK_DIR/edge-default.toml")
      ;;
    rampart-edge-bare)
      port=$PORT_RAMPART_BARE tls_port=$PORT_RAMPART_BARE_TLS
      extra=(--edge-policy "$WORK_DIR/edge-bare.toml")
      ;;
    rampart-edge-full)
      port=$PORT_RAMPART_FULL tls_port=$PORT_RAMPART_FULL_TLS
      extra=(--edge-policy "$WORK_DIR/edge-full.toml")
      ;;
  esac
  "${PIN_SERVER[@]}" "$RAMPART_BIN" up --listen "127.0.0.1:$port" \
    --tls-listen "127.0.0.1:$tls_port" --upstream "http://127.0.0.1:$PORT_BACKEND" \
    --dir "$WORK_DIR/$name-up" "${extra[@]}" \
    --log-level warn >>"$WORK_DIR/$name.log" 2>&1 &
  pid=$!
  # Tagged "rampart" so cleanup stops its tier children too.
  STARTED_PIDS+=("$pid:rampart")
  PROC_PID[$name]=$pid
  if ! wait_http_200 "http://127.0.0.1:$port/" 60 "$pid"; then
    tail -n 30 "$WORK_DIR/$name.log" >&2 || true
    [[ ${2:-} == restart ]] && die "$name did not come back after a restart (log above)"
    log "SKIP $name: not answering 200 on 127.0.0.1:$port within 60 s (log above)"
    stop_rampart "$pid"
    drop_target "$name"
    read -r -a TARGET_LIST <<<"$TARGETS"
  fi
}

stop_rampart() { # SIGTERM the `up` process, then make sure its tier children went with it
  local pid=$1 kids k
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  stop_pid "$pid" rampart
  for k in $kids; do
    if kill -0 "$k" 2>/dev/null; then
      log "rampart child $k outlived its parent; stopping it"
      stop_pid "$k" "rampart child"
    fi
  done
}

declare -A PROC_PID=()
# The processes behind each target, in start order.
declare -A TARGET_PROCS=(
  [backend]="backend"
  [nginx-1hop]="nginx-1hop"
  [nginx-2hop-mtls]="nginx-2hop-inner nginx-2hop-mtls"
  [nginx-modsec]="nginx-modsec"
  [rampart]="rampart"
  [rampart-inner-dials]="rampart-inner-dials"
  [rampart-edge-bare]="rampart-edge-bare"
  [rampart-edge-full]="rampart-edge-full"
)

start_target() { # start_target TARGET [restart]
  case $1 in
    backend) start_nginx backend backend.conf.tmpl "$PORT_BACKEND" ;;
    nginx-1hop) start_nginx nginx-1hop proxy-1hop.conf.tmpl "$PORT_1HOP" ;;
    nginx-2hop-mtls)
      # The inner hop answers only to mTLS clients, so its readiness is checked through the edge.
      start_nginx nginx-2hop-inner mtls-inner.conf.tmpl "$PORT_2HOP_INNER"
      start_nginx nginx-2hop-mtls mtls-edge.conf.tmpl "$PORT_2HOP_EDGE" INNER_PORT="$PORT_2HOP_INNER"
      ;;
    nginx-modsec) start_nginx nginx-modsec modsec.conf.tmpl "$PORT_MODSEC" ;;
    rampart*) start_rampart "$1" "${2:-}" ;;
  esac
}

stop_target() {
  local p
  for p in ${TARGET_PROCS[$1]}; do
    [[ -n ${PROC_PID[$p]:-} ]] || continue
    if [[ $p == rampart* ]]; then stop_rampart "${PROC_PID[$p]}"; else stop_pid "${PROC_PID[$p]}" "$p"; fi
    unset "PROC_PID[$p]"
  done
}

tree_pids() { # tree_pids PID...: the pids and all their descendants
  local p
  for p in "$@"; do
    echo "$p"
    # shellcheck disable=SC2046
    tree_pids $(ps -o pid= --ppid "$p" 2>/dev/null || true)
  done
}

cpu_ticks() { # cpu_ticks PID...: utime + stime of those processes, in clock ticks
  local p t=0 f
  for p in "$@"; do
    # Fields after "pid (comm) ": utime and stime are the 12th and 13th.
    f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + $(awk '{print $12 + $13}' <<<"$f")))
  done
  echo "$t"
}

target_pids() { # target_pids TARGET: its processes and their descendants (the backend not)
  local p roots=()
  for p in ${TARGET_PROCS[$1]}; do [[ -n ${PROC_PID[$p]:-} ]] && roots+=("${PROC_PID[$p]}"); done
  [[ ${#roots[@]} -gt 0 ]] && tree_pids "${roots[@]}"
  return 0
}

target_busy_pct() { # target_busy_pct TARGET: % of one core its processes used over 0.5 s
  local pids a b hz
  mapfile -t pids < <(target_pids "$1")
  [[ ${#pids[@]} -gt 0 ]] || { echo 0; return 0; }
  hz=$(getconf CLK_TCK)
  a=$(cpu_ticks "${pids[@]}")
  sleep 0.5
  b=$(cpu_ticks "${pids[@]}")
  echo $(( (b - a) * 200 / hz ))
}

# After wrk stops, a slow target (ModSecurity on big bodies) can still be chewing on hundreds of
# abandoned requests, and that backlog would be billed to whichever target runs next on the
# same core. Wait for the target's own processes to go idle (their CPU time, not the machine's:
# the box may be shared); if they don't, restart the target, which drops the backlog.
settle() { # settle TARGET
  local deadline=$((SECONDS + BENCH_SETTLE_MAX)) busy
  while busy=$(target_busy_pct "$1") && ((busy >= 10)); do
    if ((SECONDS >= deadline)); then
      log "$1 still uses ${busy}% of a core ${BENCH_SETTLE_MAX}s after wrk ended; restarting it to drop its backlog"
      stop_target "$1"
      start_target "$1" restart
      return 0
    fi
  done
}

# --- header ----------------------------------------------------------------------------------

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
nginx_ver=$(nginx -v 2>&1 | sed 's/^nginx version: //')
wrk_ver=$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)
echo "# Rampart bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
echo "- versions: $nginx_ver, wrk $wrk_ver, $(openssl version | awk '{print $1, $2}')"
if want nginx-modsec; then
  echo "- ModSecurity: libmodsecurity3 $(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null || echo '?'), modsecurity-crs $(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null || echo '?') (PL1, SecRuleEngine On)"
fi
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the box skews absolute numbers; compare ratios)"
echo "- pinning: $PIN_DESC"
warm_desc="no warm-up"
[[ ${BENCH_WARMUP%[sm]} != 0 ]] && warm_desc="after a ${BENCH_WARMUP} unrecorded warm-up per target"
echo "- wrk: -t1, ${BENCH_DURATION} per cell ($warm_desc), connections: $CONNS, rounds: $BENCH_ROUNDS, per-request timeout $BENCH_WRK_TIMEOUT"
echo "- nginx: worker_processes 1 each, keep-alive upstreams ($BENCH_NGINX_KEEPALIVE idle connections)"
echo "- targets: ${TARGET_LIST[*]}"
echo

# --- start everything ------------------------------------------------------------------------

make_pki
write_edge_policies
BODY_1K=$WORK_DIR/body-1k.json
BODY_64K=$WORK_DIR/body-64k.json
gen_json 1024 "$BODY_1K"
gen_json 65536 "$BODY_64K"

# libmodsecurity 3 has no IncludeOptional (Debian's owasp-crs.load uses it for Apache).
include_if_exists() { if [[ -f $1 ]]; then echo "Include $1"; else echo "# (no $1)"; fi; }
if want nginx-modsec; then
  mkdir -p "$WORK_DIR/modsec-tmp"
  chmod 1777 "$WORK_DIR/modsec-tmp"  # the worker (nobody) may write request-body temp files here
  render "$TPL_DIR/modsec-rules.conf.tmpl" "$WORK_DIR/modsec-rules.conf" DIR="$WORK_DIR" \
    UNICODE_MAPPING="$UNICODE_MAPPING" CRS_SETUP="$CRS_SETUP" CRS_RULES_DIR="$CRS_RULES_DIR" \
    CRS_EXCLUSIONS_BEFORE="$(include_if_exists "${CRS_SETUP%/*}/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf")" \
    CRS_EXCLUSIONS_AFTER="$(include_if_exists "${CRS_SETUP%/*}/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf")"
fi

# The backend always runs: every other target proxies to it.
start_target backend
for t in "${TARGET_LIST[@]}"; do
  [[ $t == backend ]] || start_target "$t"
done

# One request of each workload per target, so a target that rejects the bench traffic is
# called out before its numbers are read (and the single-request time shows a very slow one).
probe() { # probe URL [curl args...] -> "CODE TIME_S"
  local url=$1
  shift
  curl -s -o /dev/null -m 60 -w '%{http_code} %{time_total}' "$@" "$url" || true
}
for t in "${TARGET_LIST[@]}"; do
  url="http://127.0.0.1:${TARGET_PORT[$t]}/"
  read -r g gt <<<"$(probe "$url" -H 'Accept: application/json')"
  read -r p1 p1t <<<"$(probe "$url" -H 'Content-Type: application/json' --data-binary "@$BODY_1K")"
  read -r p64 p64t <<<"$(probe "$url" -H 'Content-Type: application/json' --data-binary "@$BODY_64K")"
  log "probe $t: GET $g (${gt}s), POST 1 KiB $p1 (${p1t}s), POST 64 KiB $p64 (${p64t}s)"
  if [[ "$g $p1 $p64" != "200 200 200" ]]; then
    log "WARNING: $t does not answer 200 to the bench requests; its numbers measure errors"
  fi
done

# --- the matrix ------------------------------------------------------------------------------

mkdir -p "$REPO_ROOT/bench-results"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$REPO_ROOT/bench-results/$STAMP.csv
WRK_LOG=$REPO_ROOT/bench-results/$STAMP.wrk.log   # raw wrk output, to check the parsing
echo "round,workload,conns,target,duration_s,requests,req_per_s,p50_ms,p99_ms,non_2xx_3xx,socket_errors,timeouts,cpu_us_per_req" >"$CSV"
CLK_TCK=$(getconf CLK_TCK)

to_ms() { # wrk latency ("812.00us", "1.20ms", "2.01s", "1.00m") -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    else if (u != "ms") { print "NA"; exit }
    printf "%.3f", n }'
}

run_cell() { # run_cell ROUND WORKLOAD CONNS TARGET: one wrk run, one CSV row
  local round=$1 wl=$2 c=$3 t=$4 out args rps p50 p99 reqs non2xx sockerr timeouts pids cpu0 cpu
  args=(-t1 "-c$c" "-d$BENCH_DURATION" --latency --timeout "$BENCH_WRK_TIMEOUT")
  case $wl in
    get) args+=(-H 'Accept: application/json') ;;
    post-1k) args+=(-s "$TPL_DIR/post-json.lua") ;;
    post-64k) args+=(-s "$TPL_DIR/post-json.lua") ;;
  esac
  local body=$BODY_1K
  [[ $wl == post-64k ]] && body=$BODY_64K
  # The target's own CPU time (user + kernel, the backend's excluded) over the run, per request
  # completed: steadier than req/s on a shared box, where a neighbour takes cycles from the
  # target without changing what each request costs it.
  mapfile -t pids < <(target_pids "$t")
  cpu0=$(cpu_ticks "${pids[@]}")
  # `timeout` is a backstop in case wrk itself hangs; its -d already bounds the run.
  if ! out=$(BENCH_BODY_FILE=$body timeout -k 5 $((DUR_S + 30)) "${PIN_WRK[@]}" \
      wrk "${args[@]}" "http://127.0.0.1:${TARGET_PORT[$t]}/" 2>&1); then
    log "wrk failed for $wl c=$c $t: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
  fi
  cpu=$(cpu_ticks "${pids[@]}")
  printf '=== round %s  %s  c=%s  %s\n%s\n\n' "$round" "$wl" "$c" "$t" "$out" >>"$WRK_LOG"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  reqs=$(awk '/ requests in / {print $1}' <<<"$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' <<<"$out")
  # "Socket errors: connect 0, read 0, write 0, timeout 0"
  sockerr=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  timeouts=$(awk '/Socket errors:/ {print $10}' <<<"$out")
  if [[ ${reqs:-0} == 0 ]]; then
    # Nothing completed within the run: wrk prints 0.00us latencies, which would read as fast.
    p50=NA p99=NA
    log "WARNING: $t completed no request in $wl c=$c within $BENCH_DURATION"
  else
    [[ -n $p50 ]] && p50=$(to_ms "$p50")
    [[ -n $p99 ]] && p99=$(to_ms "$p99")
  fi
  cpu=$(awk -v d=$((cpu - cpu0)) -v n="${reqs:-0}" -v hz="$CLK_TCK" 'BEGIN {
    if (n + 0 == 0) print "NA"; else printf "%.1f", d * 1e6 / hz / n }')
  echo "$round,$wl,$c,$t,$DUR_S,${reqs:-NA},${rps:-NA},${p50:-NA},${p99:-NA},${non2xx:-0},${sockerr:-0},${timeouts:-0},$cpu" >>"$CSV"
  log "round $round  $wl  c=$c  $t: ${rps:-NA} req/s, p99 ${p99:-NA} ms, non-2xx ${non2xx:-0}, socket errors ${sockerr:-0}"
}

# --- http3: the rampart edge over HTTP/2 and HTTP/3 ------------------------------------------

# wrk speaks neither HTTP/2 nor HTTP/3 (and Debian's h2load has no HTTP/3): one Rust tool
# drives both with the same mix, concurrency and duration, pinned like wrk.
if [[ $BENCH_HTTP3 != 0 ]] && want rampart; then
  H3_LOG=$REPO_ROOT/bench-results/$STAMP.http3.log
  log "http3: $HTTP3_WORKLOADS over h2 and h3, concurrency $BENCH_HTTP3_CONCURRENCY on $BENCH_HTTP3_CONNECTIONS connections, ${DUR_S}s each"
  if ! timeout -k 5 $(( H3_CELLS * (DUR_S + 20) + 30 )) "${PIN_WRK[@]}" "$LOAD_BIN" \
      --h2 "127.0.0.1:$PORT_RAMPART_TLS" --h3 "127.0.0.1:$PORT_RAMPART_TLS" \
      --ca "$WORK_DIR/rampart-up/pki/ca.pem" --server-name localhost \
      --workloads "$HTTP3_WORKLOADS" --seconds "$DUR_S" \
      --concurrency "$BENCH_HTTP3_CONCURRENCY" --connections "$BENCH_HTTP3_CONNECTIONS" \
      >"$H3_LOG" 2>&1; then
    log "h2_h3_load failed: $(tail -n 3 "$H3_LOG" | tr '\n' ' ')"
  fi
  settle rampart
  echo "## http3: rampart edge over HTTP/2 and HTTP/3"
  echo
  echo "Same request mix, $BENCH_HTTP3_CONCURRENCY requests in flight on $BENCH_HTTP3_CONNECTIONS connections per protocol, ${DUR_S}s each (TLS 1.3 both; h2 on TCP, h3 on QUIC/UDP)."
  echo
  echo "| workload | h2 req/s | h3 req/s | h3 / h2 | h2 p50 ms | h3 p50 ms | h2 p99 ms | h3 p99 ms | failed h2 / h3 |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk '$1 == "RESULT" {
      delete f
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      w = f["workload"]; p = f["proto"]
      if (!(w in seen)) { seen[w] = 1; order[++n] = w }
      rps[w, p] = f["rps"]; p50[w, p] = f["p50_ms"]; p99[w, p] = f["p99_ms"]; bad[w, p] = f["failed"]
    }
    END {
      for (i = 1; i <= n; i++) {
        w = order[i]
        ratio = (rps[w, "h2"] + 0 > 0) ? sprintf("%.2f", rps[w, "h3"] / rps[w, "h2"]) : "-"
        printf "| %s | %.0f | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %s / %s |\n", w,
          rps[w, "h2"], rps[w, "h3"], ratio, p50[w, "h2"], p50[w, "h3"], p99[w, "h2"], p99[w, "h3"],
          bad[w, "h2"], bad[w, "h3"]
      }
      if (n == 0) print "| (no result: see the log) | | | | | | | | |"
    }' "$H3_LOG"
  echo
  echo "Raw output: ${H3_LOG#"$REPO_ROOT"/}"
  echo
fi
if [[ $BENCH_HTTP3 == only ]]; then
  rm -f "$CSV" "$WRK_LOG"
  exit 0
fi

# Warm-up: the first connections of a run pay for TLS handshakes to the inner hop, upstream
# connects and cold caches; keep that out of the first recorded cell.
if [[ ${BENCH_WARMUP%[sm]} != 0 ]]; then
  for t in "${TARGET_LIST[@]}"; do
    timeout -k 5 120 "${PIN_WRK[@]}" wrk -t1 -c32 "-d$BENCH_WARMUP" \
      "http://127.0.0.1:${TARGET_PORT[$t]}/" >/dev/null 2>&1 || log "warm-up of $t failed"
    settle "$t"
  done
fi

# Workloads and connection counts outside, targets inside: drift on a noisy box (thermal,
# neighbours, page cache) then lands on every target alike instead of on whichever ran last.
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
  for wl in $WORKLOADS; do
    for c in $CONNS; do
      for t in "${TARGET_LIST[@]}"; do
        run_cell "$round" "$wl" "$c" "$t"
        settle "$t"
      done
    done
  done
done

# --- report ----------------------------------------------------------------------------------

# Median per cell over the rounds; error counts are summed over the rounds.
summary=$(awk -F, 'NR > 1 {
    k = $2 "," $3 "," $4; n[k]++
    rps[k, n[k]] = $7; p50[k, n[k]] = $8; p99[k, n[k]] = $9; cpu[k, n[k]] = $13
    non[k] += $10; serr[k] += $11; reqs[k] += $6
  }
  function median(a, k, cnt,   i, j, v, m, t) {
    m = 0
    for (i = 1; i <= cnt; i++) if (a[k, i] != "NA") v[++m] = a[k, i] + 0
    if (m == 0) return "NA"
    for (i = 2; i <= m; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
  }
  END { for (k in n) print k "," median(rps, k, n[k]) "," median(p50, k, n[k]) "," median(p99, k, n[k]) "," non[k] "," serr[k] "," reqs[k] "," median(cpu, k, n[k]) }' "$CSV")

declare -A WL_NAME=([get]="GET /" [post-1k]="POST 1 KiB JSON" [post-64k]="POST 64 KiB JSON")
echo
[[ $BENCH_ROUNDS -gt 1 ]] && echo "Medians over $BENCH_ROUNDS rounds (error counts summed)."
echo
echo "| workload | conns | target | req/s | p50 ms | p99 ms | rampart / target | CPU µs/req | target / rampart CPU | non-2xx | socket errors |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
ratio() { awk -v a="${1:-NA}" -v b="${2:-NA}" 'BEGIN { if (a == "NA" || b == "NA" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
for wl in $WORKLOADS; do
  for c in $CONNS; do
    IFS=, read -r _ _ _ ref _ _ _ _ _ ref_cpu < <(awk -F, -v k="$wl,$c,rampart" '$1 "," $2 "," $3 == k' <<<"$summary")
    for t in "${TARGET_LIST[@]}"; do
      IFS=, read -r _ _ _ rps p50 p99 non serr nreq cpu < <(awk -F, -v k="$wl,$c,$t" '$1 "," $2 "," $3 == k' <<<"$summary")
      fmt_rps=$(awk -v x="$rps" -v n="$nreq" 'BEGIN {
        if (x == "NA") print "NA"; else if (n + 0 == 0) print "0 (none completed)"; else printf "%.0f", x }')
      echo "| ${WL_NAME[$wl]} | $c | $t | $fmt_rps | $p50 | $p99 | $(ratio "$ref" "$rps") | ${cpu:-NA} | $(ratio "$cpu" "$ref_cpu") | $non | $serr |"
    done
  done
done
echo
echo "CPU µs/req: the target's own processes (user + kernel, the backend excluded) over the run,"
echo "per completed request; a ratio above 1 means the target spends more per request than rampart."
echo

# pair_section BASE OTHER BASE_LABEL OTHER_LABEL: per cell, OTHER's throughput over BASE's.
pair_section() {
  local base=$1 other=$2 bl=$3 ol=$4 wl c brps bp99 orps op99
  echo "| workload | conns | $bl req/s | $ol req/s | $ol / $bl | cost | $bl p99 ms | $ol p99 ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for wl in $WORKLOADS; do
    for c in $CONNS; do
      IFS=, read -r _ _ _ brps _ bp99 _ < <(awk -F, -v k="$wl,$c,$base" '$1 "," $2 "," $3 == k' <<<"$summary")
      IFS=, read -r _ _ _ orps _ op99 _ < <(awk -F, -v k="$wl,$c,$other" '$1 "," $2 "," $3 == k' <<<"$summary")
      awk -v w="${WL_NAME[$wl]}" -v c="$c" -v b="${brps:-NA}" -v o="${orps:-NA}" -v bp="${bp99:-NA}" -v op="${op99:-NA}" 'BEGIN {
        if (b == "NA" || o == "NA" || b + 0 == 0) { r = "-"; cost = "-" }
        else { r = sprintf("%.3f", o / b); cost = sprintf("%+.1f%%", (1 - o / b) * 100) }
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", w, c, b, o, r, cost, bp, op }'
    done
  done
  echo
}

# Link modes: the same rampart, the inner dialling out instead of the edge dialling in.
if want rampart && want rampart-inner-dials; then
  echo "## link modes: inner-dials / edge-dials"
  echo
  echo "Same binary, same request mix; only who opens the mutual-TLS link differs (cost = 1 - ratio)."
  echo
  pair_section rampart rampart-inner-dials edge-dials inner-dials
fi
# Edge protections: every optional edge check on against none, same binary and inner.
if want rampart-edge-bare && want rampart-edge-full; then
  echo "## edge protections: full / bare"
  echo
  echo "Same binary and inner; the full edge runs screening, address lists, rate limits, a quota,"
  echo "a concurrency limit and route checks, the bare one none of them (cost = 1 - ratio; target <= 15%)."
  echo
  pair_section rampart-edge-bare rampart-edge-full bare full
fi
[[ ${#SKIPPED[@]} -gt 0 ]] && echo "Skipped (see messages above): ${SKIPPED[*]}" && echo
echo "Raw results: ${CSV#"$REPO_ROOT"/} (wrk output: ${WRK_LOG#"$REPO_ROOT"/})"
