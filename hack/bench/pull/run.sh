#!/usr/bin/env bash
# Cold and warm PullImage time of a ~200 MB, 6-layer image (busybox + 5 random
# layers) from a local registry, crisp side by side with containerd (Debian's,
# CRI plugin, overlayfs snapshotter) in the same run, through the same CRI
# client (cri.py).  Not a test: `make bench-pull` runs it.  Needs root (for
# containerd).
#
# Usage: hack/bench/pull/run.sh CRISPD
#
# Environment (all optional):
#   PULLBENCH_MB=200 PULLBENCH_LAYERS=5   size and random-layer count of the image
#   PULLBENCH_COLD_RUNS=3 PULLBENCH_WARM_RUNS=5
#   PULLBENCH_CACHE=DIR     cache of the random layers (default ~/.cache/crisp-testreg)
#   PULLBENCH_PROFILE=auto  1: always, 0: never, auto: when crisp misses the
#                           goal (cold <= 0.7x containerd), do one more cold
#                           crisp pull at --log-level info and print its
#                           per-layer download/unpack timings
#   PULLBENCH_LOG_DIR=DIR   copy the daemons' and registry's logs there on exit
#   PULLBENCH_CRISP_LOG_LEVEL=warn  crispd's --log-level for the timed pulls
#
# Everything lives in one temp dir: the registry, each daemon's config, root,
# state and socket.  containerd runs with its own config file there (never
# /etc/containerd, /var/lib/containerd or /run/containerd), the plugins a pull
# does not need disabled, CNI pointed at empty dirs in the temp dir, and its
# stream server on 127.0.0.1.  On exit (also on failure or Ctrl-C) the daemons
# and the registry this script started are stopped by PID, anything mounted
# under the temp dir is unmounted, and the temp dir is removed.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 CRISPD" >&2
    exit 2
fi
CRISPD=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
CRI="$HERE/cri.py"
MB=${PULLBENCH_MB:-200}
LAYERS=${PULLBENCH_LAYERS:-5}
COLD_RUNS=${PULLBENCH_COLD_RUNS:-3}
WARM_RUNS=${PULLBENCH_WARM_RUNS:-5}
PROFILE=${PULLBENCH_PROFILE:-auto}
LOG_DIR=${PULLBENCH_LOG_DIR:-}
CRISP_LOG_LEVEL=${PULLBENCH_CRISP_LOG_LEVEL:-warn}
CACHE_ARGS=()
[[ -n ${PULLBENCH_CACHE:-} ]] && CACHE_ARGS=(--cache "$PULLBENCH_CACHE")

if [[ $(id -u) -ne 0 ]]; then
    echo "$0: must run as root (containerd needs it)" >&2
    exit 2
fi
if [[ ! -x $CRISPD ]]; then
    echo "$0: $CRISPD is not an executable" >&2
    exit 2
fi
# containerd (bench_pkgs) plus what the registry fixture and the client need
# (test_pkgs); a no-op when everything is installed.
"$REPO/hack/install-deps.sh" --test --bench

BENCH_START=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/crisp-pullbench.XXXXXX")
RESULTS=$TMP/results.txt
: >"$RESULTS"
REG_PID='' CRISP_PID='' CTD_PID=''
CRISP_DIR=$TMP/crisp
CTD_DIR=$TMP/containerd
CRISP_LOG=$CRISP_DIR/crispd.log
CTD_LOG=$CTD_DIR/containerd.log
REG_LOG=$TMP/registry.out
mkdir -p "$CRISP_DIR" "$CTD_DIR" "$TMP/reg" "$TMP/pb"

HOST_PATHS=(/etc/containerd /var/lib/containerd /run/containerd)
declare -A HOST_PATH_EXISTED
for p in "${HOST_PATHS[@]}"; do
    HOST_PATH_EXISTED[$p]=$([[ -e $p ]] && echo yes || echo no)
done
sort /proc/mounts >"$TMP/mounts.before"

log() { echo "pull-bench: $*" >&2; }

# stop_pid NAME PID: SIGTERM, SIGKILL after 15 s; reports an unclean exit.
stop_pid() {
    local name=$1 pid=$2 rc=0
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    if [[ $rc -ne 0 ]]; then
        log "$name (pid $pid) exited with status $rc"
    fi
}

stop_crisp() { local p=$CRISP_PID; CRISP_PID=; stop_pid crispd "$p"; }
stop_containerd() { local p=$CTD_PID; CTD_PID=; stop_pid containerd "$p"; }
stop_registry() { local p=$REG_PID; REG_PID=; stop_pid registry "$p"; }

# Mount points under $TMP, deepest first.
mounts_under_tmp() {
    awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r
}

unmount_leftovers() {
    local m
    for m in $(mounts_under_tmp); do
        log "unmounting leftover mount $m"
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
}

cleanup() {
    local rc=$?
    set +e
    stop_crisp
    stop_containerd
    stop_registry
    unmount_leftovers
    if [[ -n $LOG_DIR ]]; then
        mkdir -p "$LOG_DIR" && cp -f "$CRISP_LOG" "$CTD_LOG" "$REG_LOG" "$LOG_DIR"/ 2>/dev/null
    fi
    if [[ $rc -ne 0 ]]; then
        local f
        for f in "$CRISP_LOG" "$CTD_LOG" "$REG_LOG"; do
            [[ -s $f ]] || continue
            echo "--- last lines of $(basename "$f"):" >&2
            tail -n 20 "$f" | cut -c1-400 >&2
        done
    fi
    if [[ -n $(mounts_under_tmp) ]]; then
        log "mounts remain under $TMP; NOT removing it:"
        mounts_under_tmp >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    log "$*"
    exit 1
}

# -- registry -----------------------------------------------------------------

start_registry() {
    PYTHONPATH="$REPO/hack" "$PY" -m testreg big --dir "$TMP/reg" --mb "$MB" \
        --layers "$LAYERS" "${CACHE_ARGS[@]}" --json "$TMP/reg.json" \
        </dev/null >"$REG_LOG" 2>&1 &
    REG_PID=$!
    for _ in $(seq 3000); do # the first run builds the random layers
        [[ -s $TMP/reg.json ]] && break
        kill -0 "$REG_PID" 2>/dev/null || die "the test registry exited"
        sleep 0.1
    done
    [[ -s $TMP/reg.json ]] || die "the test registry was not ready within 300 s"
    read -r REG_HOST IMAGE IMAGE_ID IMAGE_BYTES IMAGE_LAYERS < <("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
b = d["images"]["big"]
print(d["host"], b["ref"], b["config_digest"], b["extra"]["total_bytes"],
      len(b["layer_digests"]))' "$TMP/reg.json")
}

# -- daemons ------------------------------------------------------------------

write_configs() {
    cat >"$CRISP_DIR/crisp.json" <<EOF
{
  "registries": {
    "$REG_HOST": { "mirrors": ["http://$REG_HOST"], "upstream": false }
  }
}
EOF
    # containerd 1.6 (config version 2).  Plugins a CRI pull needs are kept:
    # content, metadata, overlayfs snapshotter, walking differ, gc, the
    # services and the CRI plugin (which requires tasks-service and so both
    # runtime plugins; they only create dirs under root and state here).
    mkdir -p "$CTD_DIR/cni/bin" "$CTD_DIR/cni/conf" "$CTD_DIR/certs.d/$REG_HOST"
    cat >"$CTD_DIR/config.toml" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.native",
  "io.containerd.monitor.v1.cgroups",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.restart",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "$CTD_DIR/containerd.sock"
[ttrpc]
  address = "$CTD_DIR/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  max_concurrent_downloads = 3
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CTD_DIR/cni/bin"
    conf_dir = "$CTD_DIR/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CTD_DIR/certs.d"
EOF
    cat >"$CTD_DIR/certs.d/$REG_HOST/hosts.toml" <<EOF
server = "http://$REG_HOST"

[host."http://$REG_HOST"]
  capabilities = ["pull", "resolve"]
EOF
}

socket_of() {
    case $1 in
    crisp) echo "$CRISP_DIR/crisp.sock" ;;
    containerd) echo "$CTD_DIR/containerd.sock" ;;
    esac
}

root_of() {
    case $1 in
    crisp) echo "$CRISP_DIR/root" ;;
    containerd) echo "$CTD_DIR/root" ;;
    esac
}

pid_of() {
    case $1 in
    crisp) echo "$CRISP_PID" ;;
    containerd) echo "$CTD_PID" ;;
    esac
}

# start_runtime RT [CRISP_LOG_LEVEL]
start_runtime() {
    case $1 in
    crisp)
        "$CRISPD" --listen "$CRISP_DIR/crisp.sock" --root "$CRISP_DIR/root" \
            --state "$CRISP_DIR/state" --config "$CRISP_DIR/crisp.json" \
            --log-level "${2:-$CRISP_LOG_LEVEL}" </dev/null >/dev/null 2>>"$CRISP_LOG" &
        CRISP_PID=$!
        ;;
    containerd)
        containerd --config "$CTD_DIR/config.toml" --log-level warn \
            </dev/null >>"$CTD_LOG" 2>&1 &
        CTD_PID=$!
        ;;
    esac
    if ! "$PY" "$CRI" wait --pb "$TMP/pb" --socket "$(socket_of "$1")" --timeout 30 \
        --pid "$(pid_of "$1")" >/dev/null; then
        die "$1 did not come up (no answer to Version within 30 s, or it exited)"
    fi
}

stop_runtime() {
    case $1 in
    crisp) stop_crisp ;;
    containerd) stop_containerd ;;
    esac
}

check_alive() {
    local pid
    pid=$(pid_of "$1")
    kill -0 "$pid" 2>/dev/null || die "$1 (pid $pid) is no longer running"
}

# Stops RT, wipes its root and state, flushes dirty pages, starts it again.
fresh_runtime() {
    local rt=$1 dir
    stop_runtime "$rt"
    dir=$(dirname "$(root_of "$rt")")
    if mounts_under_tmp | grep -qF "$dir/"; then
        die "$rt left mounts under $dir: $(mounts_under_tmp | grep -F "$dir/" | tr '\n' ' ')"
    fi
    rm -rf "$dir/root" "$dir/state"
    sync
    start_runtime "$rt" "${2:-$CRISP_LOG_LEVEL}"
}

# pull RT RUNS: prints one line of seconds per pull.
pull() {
    "$PY" "$CRI" pull --pb "$TMP/pb" --socket "$(socket_of "$1")" --image "$IMAGE" \
        --runs "$2" --expect-id "$IMAGE_ID" || die "$1: pull of $IMAGE failed"
    check_alive "$1"
}

disk_mb() {
    du -sm "$(root_of "$1")" | cut -f1
}

# Mounts under $TMP (only the daemons started here mount there).
new_mounts() {
    awk -v t="$TMP/" 'index($2, t) == 1' /proc/mounts
}

# Other mounts that appeared since the start: not attributable (anything on
# the host may mount), so only shown.
other_new_mounts() {
    sort /proc/mounts | comm -13 "$TMP/mounts.before" - |
        awk -v t="$TMP/" 'index($2, t) != 1 { print "  " $1, $2, $3 }'
}

cold_pull() {
    local rt=$1 t
    fresh_runtime "$rt"
    t=$(pull "$rt" 1)
    echo "$rt cold $t" >>"$RESULTS"
    echo "$rt disk $(disk_mb "$rt")" >>"$RESULTS"
    local m
    m=$(new_mounts)
    if [[ -n $m ]]; then
        log "mounts appeared during $rt's cold pull:"
        echo "$m" >&2
        echo "$rt mounts-after-pull $(echo "$m" | wc -l)" >>"$RESULTS"
    fi
    log "$rt cold pull: $t s"
}

warm_pulls() {
    local rt=$1 t
    for t in $(pull "$rt" "$WARM_RUNS"); do
        echo "$rt warm $t" >>"$RESULTS"
    done
    log "$rt warm pulls done"
}

# Loopback/unix listeners of the processes this script started.
listeners() {
    local pids=() p
    for p in "$REG_PID" "$CRISP_PID" "$CTD_PID"; do
        [[ -n $p ]] || continue
        pids+=("$p")
        mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$p" || true)
    done
    local line bad=0 addr
    while read -r line; do
        for p in "${pids[@]}"; do
            if [[ $line == *"pid=$p,"* ]]; then
                addr=$(awk '{ print $1, $5 }' <<<"$line")
                case $(awk '{ print $5 }' <<<"$line") in
                127.0.0.1:* | "[::1]:"* | "$TMP"/*) echo "  $addr ($(ps -o comm= -p "$p"))" ;;
                *)
                    echo "  $addr ($(ps -o comm= -p "$p")) NOT LOOPBACK"
                    bad=1
                    ;;
                esac
            fi
        done
    done < <(ss -Hlnp -A inet,unix 2>/dev/null | awk '{ $1 = $1; print }')
    return $bad
}

main() {
    protoc --python_out="$TMP/pb" -I"$REPO/proto" "$REPO/proto/api.proto"
    start_registry
    write_configs
    log "registry on $REG_HOST, image $IMAGE ($IMAGE_LAYERS layers, $IMAGE_BYTES bytes)"
    local crisp_ver ctd_ver
    crisp_ver=$("$CRISPD" --version 2>/dev/null || echo "$CRISPD")
    ctd_ver=$(containerd --version | awk '{ print $3 }')

    # Cold pulls, the order alternating so neither runtime always goes first.
    local i
    for i in $(seq "$COLD_RUNS"); do
        if ((i % 2)); then
            cold_pull crisp
            cold_pull containerd
        else
            cold_pull containerd
            cold_pull crisp
        fi
    done
    local listen_report listen_ok=yes
    listen_report=$(listeners) || listen_ok=no
    # Warm pulls: both daemons still hold the image from their last cold pull.
    warm_pulls crisp
    warm_pulls containerd
    stop_crisp
    stop_containerd
    local leftover
    leftover=$(mounts_under_tmp)

    echo
    echo "## Pull benchmark: crisp vs containerd"
    echo
    echo "- crisp: $crisp_ver ($CRISPD)"
    echo "- containerd: $ctd_ver (CRI plugin, overlayfs snapshotter, max_concurrent_downloads 3, both)"
    echo "- image: $IMAGE: $IMAGE_LAYERS layers, $((IMAGE_BYTES / 1000000)) MB compressed (random data, gzip)"
    echo "- registry: Debian docker-registry on $REG_HOST (plain http); client: cri.py (grpc python)"
    echo "- host: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), temp dir on $(df --output=fstype "$TMP" | tail -1)"
    echo "- cold: fresh root (daemon stopped, root and state wiped, sync, daemon started), $COLD_RUNS runs each, alternating order; warm: image present, $WARM_RUNS runs each"
    echo
    "$PY" "$CRI" report "$RESULTS"
    echo
    echo "listeners of the bench's processes (while both daemons ran):"
    echo "$listen_report"
    [[ $listen_ok == yes ]] || echo "WARNING: a listener is not on loopback or a unix socket in $TMP"
    if grep -q mounts-after-pull "$RESULTS"; then
        echo "mounts: some appeared under $TMP after pulls (see stderr)"
    else
        echo "mounts: none under $TMP after any pull"
    fi
    local other
    other=$(other_new_mounts)
    if [[ -n $other ]]; then
        echo "mounts that appeared elsewhere on the host meanwhile (not under the bench's dir,"
        echo "so not the bench's daemons; shown for information):"
        echo "$other"
    fi
    if [[ -n $leftover ]]; then
        echo "mounts left under $TMP after stopping the daemons: $leftover (will be unmounted)"
    else
        echo "mounts left after stopping the daemons: none"
    fi
    local p touched=""
    for p in "${HOST_PATHS[@]}"; do
        if [[ ${HOST_PATH_EXISTED[$p]} == no && -e $p ]]; then
            touched+=" $p"
        fi
    done
    if [[ -n $touched ]]; then
        echo "WARNING: appeared during the bench:$touched"
    fi

    local ratio missed=no
    ratio=$("$PY" "$CRI" ratio "$RESULTS") || ratio=nan
    awk -v r="$ratio" 'BEGIN { exit !(r + 0 > 0.7) }' && missed=yes
    if [[ $PROFILE == 1 || ($PROFILE == auto && $missed == yes) ]]; then
        echo
        echo "### crisp cold pull at --log-level info"
        echo
        local t from
        from=$(($(wc -l <"$CRISP_LOG") + 1))
        fresh_runtime crisp info
        t=$(pull crisp 1)
        echo "client-side: $t s"
        echo '```'
        tail -n "+$from" "$CRISP_LOG" | grep -E ' (pull|registry|store): ' || true
        echo '```'
        stop_crisp
    fi
    echo
    echo "bench time: $((SECONDS - BENCH_START)) s"
}

main
