#!/usr/bin/env bash
# Runs a private clamd and c-icap on loopback for tests and local development.
#
#   scripts/av-services.sh start DIR      write signatures + configs into DIR, start both, wait
#   scripts/av-services.sh stop DIR       stop both (also a SIGSTOPped clamd)
#   scripts/av-services.sh start-clamd|stop-clamd|start-icap|stop-icap DIR   (after `start`)
#   SIGNATURE_VERSION=N SIGNATURE_MARKER=TEXT scripts/av-services.sh update-signatures DIR
#                              a signature update: clamd reloads, c-icap's ISTag changes
#
# Environment for `start` (all optional):
#   CLAMD_PORT, ICAP_PORT      loopback TCP ports (default: a free port each)
#   AV_STREAM_MAX_LENGTH       clamd StreamMaxLength and MaxFileSize (default 25M)
#   RAMPART_AV_OWNER_PID       stop everything once this process is gone (test fixtures)
#
# `start` prints KEY=VALUE lines (also written to DIR/endpoints.env): CLAMD_TCP, CLAMD_SOCKET,
# ICAP_URL (the safe `avscan` alias), ICAP_BARE_URL (the fail-open bare `virus_scan`
# service, for tests that prove the client notices it), CLAMD_PID, ICAP_PID.
# Works as root and as an ordinary user: nothing is written outside DIR.
set -euo pipefail

CLAMD=${CLAMD:-/usr/sbin/clamd}
CICAP=${CICAP:-/usr/bin/c-icap}
CICAP_LIBDIR=${CICAP_LIBDIR:-/usr/lib/x86_64-linux-gnu/c_icap}
CICAP_MAGIC=${CICAP_MAGIC:-/etc/c-icap/c-icap.magic}
CICAP_TEMPLATES=${CICAP_TEMPLATES:-/usr/share/c_icap/templates/}

# The harmless "malware" the tests embed anywhere; keep in sync with rampart-test-support.
TEST_MARKER=RAMPART-TEST-MALWARE-MARKER-7f3a
# Substring of the EICAR test file: matches it raw and inside text, gzip and archives.
EICAR_SUBSTRING=EICAR-STANDARD-ANTIVIRUS-TEST-FILE

die() { echo "av-services: $*" >&2; exit 1; }
# Alive and not a zombie: an unreaped exited daemon still answers `kill -0`.
alive() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z ]]
}
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# A loopback port nobody listens on (best effort: the daemon's bind is the real check).
free_port() {
    local port hexport
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 40000))
        hexport=$(printf '%04X' "$port")
        if ! awk -v p=":$hexport" '$2 ~ p"$" && $4 == "0A" {found=1} END {exit !found}' \
            /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port found"
}

write_signatures() {
    local db=$1/db
    mkdir -p "$db"
    {
        echo "Rampart.Test.EICAR:0:*:$(hex "$EICAR_SUBSTRING")"
        echo "Rampart.Test.Marker:0:*:$(hex "$TEST_MARKER")"
    } >"$db/custom.ndb"
    # Whole-file hash of the 68-byte EICAR file (md5:size:name).
    echo "44d88612fea8a8f36de82e1278abb02f:68:Rampart.Test.EICAR.File" >"$db/custom.hdb"
}

write_clamd_conf() {
    local dir=$1 port=$2 max=$3
    cat >"$dir/clamd.conf" <<EOF
Foreground yes
DatabaseDirectory $dir/db
LocalSocket $dir/clamd.sock
TCPSocket $port
TCPAddr 127.0.0.1
LogFile $dir/clamd.log
LogTime yes
PidFile $dir/clamd.daemon.pid
StreamMaxLength $max
MaxFileSize $max
MaxScanSize 4000M
# Too big, too deep or too many files must alert, not pass as clean.
AlertExceedsMax yes
MaxThreads 8
SelfCheck 3600
EOF
}

write_cicap_conf() {
    local dir=$1 port=$2
    mkdir -p "$dir/icap-tmp"
    cat >"$dir/c-icap.conf" <<EOF
PidFile $dir/c-icap.daemon.pid
CommandsSocket $dir/c-icap.ctl
Port 127.0.0.1:$port
Timeout 60
KeepAliveTimeout 600
MaxKeepAliveRequests 100
StartServers 1
MaxServers 1
MinSpareThreads 4
MaxSpareThreads 16
ThreadsPerChild 16
TmpDir $dir/icap-tmp
MaxMemObject 131072
DebugLevel 1
ModulesDir $CICAP_LIBDIR
ServicesDir $CICAP_LIBDIR
TemplateDir $CICAP_TEMPLATES
LoadMagicFile $CICAP_MAGIC
ServerLog $dir/c-icap-server.log
AccessLog $dir/c-icap-access.log
Module common clamd_mod.so
# Over the unix socket clamd_mod passes file descriptors, so no file permissions matter.
clamd_mod.ClamdSocket $dir/clamd.sock
Service antivirus_module virus_scan.so
# mode=simple: answer only after the whole body was scanned; sizelimit=off: never pass
# an object unscanned because it is large; allow204=on: a clean object gets 204.
ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple
# Every type group in c-icap.magic plus TEXT and DATA: unlisted types are not scanned.
virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE DOCUMENT GRAPHICS STREAM
virus_scan.PassOnError off
virus_scan.DefaultEngine clamd
EOF
}

# clamd_ask PORT COMMAND: prints clamd's reply to a z-command (empty after 1 s of silence).
clamd_ask() {
    local reply=""
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'z%s\0' "$2" >&3
    IFS= read -r -d '' -t 1 reply <&3 || true
    exec 3<&-
    echo "$reply"
}

clamd_ping() { [[ $(clamd_ask "$1" PING) == PONG ]]; }

icap_options() {
    local line=""
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'OPTIONS icap://127.0.0.1:%s/avscan ICAP/1.0\r\nHost: 127.0.0.1\r\nEncapsulated: null-body=0\r\n\r\n' "$1" >&3
    IFS= read -r -t 1 line <&3 || true
    exec 3<&-
    [[ $line == "ICAP/1.0 200"* ]]
}

# Waits up to ~10 s for `check ARG` while process `pid` lives.
wait_ready() {
    local name=$1 pid=$2 check=$3 arg=$4 log=$5
    for _ in $(seq 200); do
        if "$check" "$arg" 2>/dev/null; then return 0; fi
        alive "$pid" || { tail -n 20 "$log" >&2; die "$name exited during start-up"; }
        sleep 0.05
    done
    tail -n 20 "$log" >&2
    die "$name did not become ready"
}

# Starts `cmd...` in its own session (pgid = pid) with output to `log`; echoes the pid.
spawn() {
    local log=$1
    shift
    setsid "$@" </dev/null >>"$log" 2>&1 &
    echo $!
}

# TERM (and CONT, so a stopped process can act on it), then KILL after `grace` 50 ms steps.
# c-icap lingers ~2 s on TERM waiting for its children; it keeps no state worth a wait.
kill_pidfile() {
    local file=$1 grace=${2:-60} pid
    [[ -f $file ]] || return 0
    pid=$(<"$file")
    rm -f "$file"
    alive "$pid" || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    kill -CONT -- "-$pid" 2>/dev/null || kill -CONT "$pid" 2>/dev/null || true
    for _ in $(seq "$grace"); do
        alive "$pid" || return 0
        sleep 0.05
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

start_clamd() {
    local dir=$1 port
    port=$(<"$dir/clamd.port")
    rm -f "$dir/clamd.sock"
    local pid
    pid=$(spawn "$dir/clamd.out" "$CLAMD" --config-file="$dir/clamd.conf")
    echo "$pid" >"$dir/clamd.pid"
    wait_ready clamd "$pid" clamd_ping "$port" "$dir/clamd.out"
    for _ in $(seq 100); do [[ -S $dir/clamd.sock ]] && return 0; sleep 0.05; done
    die "clamd did not create $dir/clamd.sock"
}

start_icap() {
    local dir=$1 port pid
    port=$(<"$dir/icap.port")
    # c-icap refuses to start while its pid file names a live (or unreaped) process.
    rm -f "$dir/c-icap.daemon.pid" "$dir/c-icap.ctl"
    pid=$(spawn "$dir/c-icap.out" "$CICAP" -N -f "$dir/c-icap.conf")
    echo "$pid" >"$dir/c-icap.pid"
    wait_ready c-icap "$pid" icap_options "$port" "$dir/c-icap.out"
}

# Prints the ISTag header line of the avscan service's OPTIONS answer.
icap_istag() {
    local line=""
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'OPTIONS icap://127.0.0.1:%s/avscan ICAP/1.0\r\nHost: 127.0.0.1\r\nEncapsulated: null-body=0\r\n\r\n' "$1" >&3
    while IFS= read -r -t 1 line <&3; do
        line=${line%$'\r'}
        [[ -z $line ]] && break
        [[ ${line,,} == istag:* ]] && echo "$line"
    done
    exec 3<&-
}


# A signature update as freshclam makes one: DIR/db/daily.cud (unsigned, built by sigtool)
# becomes database version SIGNATURE_VERSION with one signature, Rampart.Test.Update, for
# SIGNATURE_MARKER. clamd reloads it and reports the version in VERSION; c-icap reads that
# into its ISTag when reconfigured (as an operator's update hook does).
cmd_update_signatures() {
    local dir=$1 version=${SIGNATURE_VERSION:?} marker=${SIGNATURE_MARKER:?}
    local build=$dir/sigbuild clamd_port icap_port before reply=""
    clamd_port=$(<"$dir/clamd.port")
    icap_port=$(<"$dir/icap.port")
    before=$(icap_istag "$icap_port")
    rm -rf "$build"
    mkdir -p "$build"
    echo "Rampart.Test.Update:0:*:$(hex "$marker")" >"$build/daily.ndb"
    echo "Rampart test signatures" >"$build/COPYING"
    (cd "$build" && echo rampart | sigtool --build=daily.cud --unsigned --cvd-version="$version" \
        --datadir="$build") >"$dir/sigtool.log" 2>&1 || { cat "$dir/sigtool.log" >&2; die "sigtool failed"; }
    mv "$build/daily.cud" "$dir/db/daily.cud"
    reply=$(clamd_ask "$clamd_port" RELOAD)
    [[ $reply == RELOADING ]] || die "clamd answered RELOAD with '$reply'"
    for _ in $(seq 200); do
        [[ $(clamd_ask "$clamd_port" VERSION) == */"$version"/* ]] && break
        sleep 0.05
    done
    [[ $(clamd_ask "$clamd_port" VERSION) == */"$version"/* ]] || die "clamd did not load version $version"
    # c-icap ignores a reconfigure while the previous one is still settling: ask again.
    local now
    for _ in $(seq 5); do
        timeout 5 bash -c 'printf reconfigure >"$1"' _ "$dir/c-icap.ctl" || die "c-icap took no command"
        for _ in $(seq 60); do
            now=$(icap_istag "$icap_port" 2>/dev/null || true)
            if [[ -n $now && $now != "$before" ]]; then
                echo "CLAMD_VERSION=$(clamd_ask "$clamd_port" VERSION)"
                echo "ICAP_${now%%:*}=${now#*: }"
                return 0
            fi
            sleep 0.05
        done
    done
    die "c-icap kept its ISTag ($before)"
}

# Stops everything once the owner process is gone; exits quietly when `stop` ran first.
start_watchdog() {
    local dir=$1 owner=$2 self
    self=$(realpath "$0")
    setsid bash -c '
        while kill -0 "$1" 2>/dev/null && [[ -f "$2/running" ]]; do sleep 0.5; done
        [[ -f "$2/running" ]] && exec bash "$3" stop "$2"
    ' watchdog "$owner" "$dir" "$self" </dev/null >/dev/null 2>&1 &
}

cmd_start() {
    local dir=$1
    mkdir -p "$dir"
    dir=$(realpath "$dir")
    [[ -x $CLAMD ]] || die "$CLAMD not found (apt-get install clamav-daemon)"
    [[ -x $CICAP ]] || die "$CICAP not found (apt-get install c-icap libc-icap-mod-virus-scan)"
    [[ -f $CICAP_LIBDIR/virus_scan.so ]] || die "virus_scan.so not found (apt-get install libc-icap-mod-virus-scan)"
    local clamd_port=${CLAMD_PORT:-$(free_port)} icap_port=${ICAP_PORT:-$(free_port)}
    echo "$clamd_port" >"$dir/clamd.port"
    echo "$icap_port" >"$dir/icap.port"
    write_signatures "$dir"
    write_clamd_conf "$dir" "$clamd_port" "${AV_STREAM_MAX_LENGTH:-25M}"
    write_cicap_conf "$dir" "$icap_port"
    touch "$dir/running"
    # A failed start leaves nothing running.
    trap 'cmd_stop "$dir" >/dev/null 2>&1' ERR EXIT
    start_clamd "$dir"
    start_icap "$dir"
    trap - ERR EXIT
    if [[ -n ${RAMPART_AV_OWNER_PID:-} ]]; then start_watchdog "$dir" "$RAMPART_AV_OWNER_PID"; fi
    {
        echo "CLAMD_TCP=127.0.0.1:$clamd_port"
        echo "CLAMD_SOCKET=$dir/clamd.sock"
        echo "ICAP_URL=icap://127.0.0.1:$icap_port/avscan"
        echo "ICAP_BARE_URL=icap://127.0.0.1:$icap_port/virus_scan"
        echo "CLAMD_PID=$(<"$dir/clamd.pid")"
        echo "ICAP_PID=$(<"$dir/c-icap.pid")"
    } | tee "$dir/endpoints.env"
}

cmd_stop() {
    local dir=$1
    rm -f "$dir/running"
    kill_pidfile "$dir/c-icap.pid" 4
    kill_pidfile "$dir/clamd.pid" 4
}

[[ $# -eq 2 ]] || die "usage: $0 start|stop|start-clamd|stop-clamd|start-icap|stop-icap|update-signatures DIR"
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
start-clamd) start_clamd "$(realpath "$2")" && echo "CLAMD_PID=$(<"$2/clamd.pid")" ;;
stop-clamd) kill_pidfile "$2/clamd.pid" 10 ;;
start-icap) start_icap "$(realpath "$2")" && echo "ICAP_PID=$(<"$2/c-icap.pid")" ;;
stop-icap) kill_pidfile "$2/c-icap.pid" 4 ;;
update-signatures) cmd_update_signatures "$(realpath "$2")" ;;
*) die "unknown command $1" ;;
esac
