#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR disable=SC2034
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
# Isolation and cleanup as in hack/bench/common.sh (shared with pod/ and
# exec/, see pod/run.sh): everything in one temp dir, volatile state on a
# tmpfs there, containerd with its own config file in a private mount
# namespace (never /etc/containerd, /var/lib/containerd or /run/containerd),
# every process, mount and cgroup removed on exit, also on failure or Ctrl-C.
# crisp-monitor must sit next to CRISPD (common.sh copies both).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MB=${PULLBENCH_MB:-200}
LAYERS=${PULLBENCH_LAYERS:-5}
COLD_RUNS=${PULLBENCH_COLD_RUNS:-3}
WARM_RUNS=${PULLBENCH_WARM_RUNS:-5}
PROFILE=${PULLBENCH_PROFILE:-auto}
LOG_DIR=${PULLBENCH_LOG_DIR:-}
CRISP_LOG_LEVEL=${PULLBENCH_CRISP_LOG_LEVEL:-warn}
GOAL=0.7
CACHE_ARGS=()
[[ -n ${PULLBENCH_CACHE:-} ]] && CACHE_ARGS=(--cache "$PULLBENCH_CACHE")

BENCH=pullbench # and LOG_DIR, CRISP_LOG_LEVEL: read by common.sh
# shellcheck source=../common.sh
source "$HERE/../common.sh" "$@"

RESULTS=$TMP/results.txt # lines "<runtime> <what> <value>" for cri.py report
: >"$RESULTS"
sort /proc/mounts >"$TMP/mounts.before"

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
    PAUSE=$IMAGE # containerd's sandbox_image: never pulled, no pod runs here
}

# -- daemons (configs, start and stop: common.sh) ------------------------------

root_of() {
    case $1 in
    crisp) echo "$CRISP_DIR/root" ;;
    containerd) echo "$CTD_DIR/root" ;;
    esac
}

state_of() {
    case $1 in
    crisp) echo "$CRISP_STATE" ;;
    containerd) echo "$CTD_STATE" ;;
    esac
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
    for dir in "$(root_of "$rt")" "$(state_of "$rt")"; do
        if pod_mounts | grep -qF "$dir/"; then
            die "$rt left mounts under $dir: $(pod_mounts | grep -F "$dir/" | tr '\n' ' ')"
        fi
        rm -rf "$dir"
    done
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

# Mounts under $TMP (only the daemons started here mount there), in the host's
# mount namespace and in containerd's, but the state tmpfs.
new_mounts() {
    pod_mounts
    ctd_mounts
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

main() {
    bench_prepare
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
    leftover=$(pod_mounts)

    echo
    echo "## Pull benchmark: crisp vs containerd"
    echo
    echo "- crisp: $crisp_ver ($CRISPD_SRC)"
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
    host_paths_report

    if want_profile "$PY" "$CRI" ratio "$RESULTS"; then
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
