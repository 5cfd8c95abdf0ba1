#!/usr/bin/env bash
# Pod start latency and per-container memory, crisp side by side with
# containerd + runc (Debian's packages, CRI plugin, overlayfs snapshotter,
# io.containerd.runc.v2 shim, cgroupfs driver) in the same run, through the
# same CRI client, on the same image from the same local registry.  Not a
# test: `make bench-pod` runs it.  Needs root.
#
# Usage: hack/bench/pod/run.sh CRISPD     (crisp-monitor must sit next to it)
#
# What is measured (podbench.py does it, both runtimes interleaved run by run,
# which one goes first alternating):
#   1. pod-to-running: RunPodSandbox + CreateContainer + StartContainer of the
#      busybox test image running `sleep 3600`, p50/p99 over PODBENCH_RUNS
#      runs; the pod is stopped and removed after each run, outside the time;
#   2. a second container in an already running pod (whose first container
#      runs): CreateContainer + StartContainer, p50/p99 over PODBENCH_RUNS;
#      each is stopped (timeout 0) and removed after, outside the time;
#   3. memory with PODBENCH_MEM_CONTAINERS running containers, one per pod
#      (the common case; containerd then runs one shim per container), one
#      runtime at a time: RSS and PSS (/proc/PID/smaps_rollup) of the daemon
#      and the sum over crisp-monitor / containerd-shim-runc-v2 processes,
#      median of 5 samples taken 1 s apart after 3 s of settling.
# PODBENCH_WARMUP (3) runs of 1. and 2. per runtime come first and are
# reported but not counted.  Pods use the host network (NamespaceOption
# network NODE, pid CONTAINER, ipc POD) for both runtimes, so containerd needs
# no CNI plugin; containerd's sandbox image is the busybox layer with
# Entrypoint ["sleep", "2147483647"], pushed as crisp-test/pause and pulled
# (like the busybox image) by both runtimes before anything is timed.
#
# Environment (all optional):
#   PODBENCH_RUNS=50 PODBENCH_WARMUP=3 PODBENCH_MEM_CONTAINERS=50
#   PODBENCH_PROFILE=auto   1: always, 0: never, auto: when crisp misses the
#                           pod-to-running goal (p50 <= 0.2x containerd's),
#                           restart crispd at --log-level info, time 5 more
#                           pods step by step and print crispd's log of them
#   PODBENCH_LOG_DIR=DIR    copy the daemons' and registry's logs there on exit
#   PODBENCH_CRISP_LOG_LEVEL=warn   crispd's --log-level for the timed runs
#
# Isolation: everything lives in one temp dir (registry, each daemon's
# config, root, state, sockets, pod logs; crispd and crisp-monitor are copied
# there so a rebuild during the run changes nothing).  As on a node, the
# volatile state (crispd's --state, containerd's state, runc's root, the
# shims' sockets) is on a tmpfs ($TMP/run) and the roots (images, writable
# layers, containerd's metadata) on the temp dir's disk.  containerd runs with
# its own config file there (never /etc/containerd, /var/lib/containerd or
# /run/containerd) in a private mount namespace whose /run is a bind mount of
# a dir in the temp dir's tmpfs: its shims put their sockets under the
# hard-coded /run/containerd/s, which thus lands there.  Both runtimes get
# the same cgroup_parent, /crisp-podbench-<suffix of the temp dir> (cgroupfs
# driver; containerd's SystemdCgroup = false).  containerd's stream server is
# on 127.0.0.1; the listeners of every process started here are checked.  The
# daemons and the registry run in their own sessions (setsid, which execs: $!
# stays their PID), so a Ctrl-C reaches only this script and the client.  On exit (also on
# failure or Ctrl-C): every pod is removed through CRI, both daemons and the
# registry are stopped by PID, any process left whose command line names the
# temp dir (monitors, shims) or that sits in the bench's cgroup is killed by
# PID, anything mounted under the temp dir is unmounted, the cgroups and the
# temp dir are removed.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 CRISPD" >&2
    exit 2
fi
CRISPD_SRC=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
CRI="$REPO/hack/bench/pull/cri.py"
POD="$HERE/podbench.py"
RUNS=${PODBENCH_RUNS:-50}
WARMUP=${PODBENCH_WARMUP:-3}
MEM_CONTAINERS=${PODBENCH_MEM_CONTAINERS:-50}
PROFILE=${PODBENCH_PROFILE:-auto}
LOG_DIR=${PODBENCH_LOG_DIR:-}
CRISP_LOG_LEVEL=${PODBENCH_CRISP_LOG_LEVEL:-warn}
GOAL=0.2

if [[ $(id -u) -ne 0 ]]; then
    echo "$0: must run as root (containerd and crispd need it)" >&2
    exit 2
fi
MONITOR_SRC=$(dirname "$CRISPD_SRC")/crisp-monitor
if [[ ! -x $CRISPD_SRC || ! -x $MONITOR_SRC ]]; then
    echo "$0: $CRISPD_SRC and $MONITOR_SRC must be executables" >&2
    exit 2
fi
# containerd and runc (bench_pkgs) plus what the registry fixture and the
# client need (test_pkgs); a no-op when everything is installed.
"$REPO/hack/install-deps.sh" --test --bench

BENCH_START=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/crisp-podbench.XXXXXX")
CG_NAME=crisp-podbench-${TMP##*.}
CG_PARENT=/$CG_NAME
RESULTS=$TMP/results.json
REG_PID='' CRISP_PID='' CTD_PID='' LISTEN_PID=''
CRISP_DIR=$TMP/crisp
CTD_DIR=$TMP/containerd
CRISP_LOG=$CRISP_DIR/crispd.log
CTD_LOG=$CTD_DIR/containerd.log
REG_LOG=$TMP/registry.out
# Volatile state on a tmpfs, as on a node (/run): crispd's --state, containerd's
# state dir, runc's root and the /run of containerd's mount namespace.
RUNFS=$TMP/run
CRISP_STATE=$RUNFS/crisp
CTD_STATE=$RUNFS/containerd
CTD_RUN=$RUNFS/containerd-run
RUNC_ROOT=$RUNFS/runc
mkdir -p "$CRISP_DIR" "$CTD_DIR" "$RUNFS" "$TMP/reg" "$TMP/pb" "$TMP/logs" "$TMP/bin"
CRISPD=$TMP/bin/crispd

HOST_PATHS=(/etc/containerd /var/lib/containerd /run/containerd /run/runc /opt/containerd)
declare -A HOST_PATH_STAMP
stamp() { [[ -e $1 ]] && find "$1" -maxdepth 2 -printf '%p %T@\n' 2>/dev/null | sort | md5sum || echo absent; }
for p in "${HOST_PATHS[@]}"; do
    HOST_PATH_STAMP[$p]=$(stamp "$p")
done

log() { echo "pod-bench: $*" >&2; }

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

socket_of() {
    case $1 in
    crisp) echo "$CRISP_DIR/crisp.sock" ;;
    containerd) echo "$CTD_DIR/containerd.sock" ;;
    esac
}

# remove_pods RT: every pod (and so container) of RT through CRI, if it runs.
remove_pods() {
    local pid=$2 n
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    n=$(timeout 300 "$PY" "$POD" cleanup --pb "$TMP/pb" --socket "$(socket_of "$1")") ||
        log "$1: removing its pods failed"
    [[ ${n:-0} == 0 ]] || log "$1: removed $n pods left by the bench"
}

stop_crisp() {
    local p=$CRISP_PID
    remove_pods crisp "$p"
    CRISP_PID=
    stop_pid crispd "$p"
}
stop_containerd() {
    local p=$CTD_PID
    remove_pods containerd "$p"
    CTD_PID=
    stop_pid containerd "$p"
}
stop_registry() { local p=$REG_PID; REG_PID=; stop_pid registry "$p"; }

# Mount points under $TMP in the host's mount namespace, deepest first.
mounts_under_tmp() {
    awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r
}

unmount_leftovers() {
    local m
    for m in $(mounts_under_tmp); do
        [[ $m == "$RUNFS" ]] || log "unmounting leftover mount $m"
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
}

cgroup_dirs() {
    local d
    for d in /sys/fs/cgroup/*/"$CG_NAME" /sys/fs/cgroup/"$CG_NAME"; do
        [[ -d $d ]] && echo "$d"
    done
    return 0
}

# PIDs of processes this bench started that may outlive their daemon: any
# whose command line names the temp dir (crisp-monitor --dir ..., the shims'
# -address ..., a daemon that did not stop) and any in the bench's cgroups
# (containers, sandboxes).  Bash builtins only, so no helper process of this
# scan matches itself.
leftover_pids() {
    local d pid args f
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        args=()
        { mapfile -d '' args <"$d/cmdline"; } 2>/dev/null || continue
        [[ "${args[*]}" == *"$TMP/"* ]] && echo "$pid"
    done
    for d in $(cgroup_dirs); do
        while IFS= read -r f; do
            cat "$f" 2>/dev/null
        done < <(find "$d" -name cgroup.procs 2>/dev/null)
    done
    return 0
}

kill_leftovers() {
    local pids p
    for _ in 1 2 3 4 5; do
        mapfile -t pids < <(leftover_pids | sort -un)
        [[ ${#pids[@]} -gt 0 ]] || return 0
        for p in "${pids[@]}"; do
            log "killing leftover process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)"
            kill -KILL "$p" 2>/dev/null || true
        done
        sleep 0.5
    done
}

remove_cgroups() {
    local d sub
    for d in $(cgroup_dirs); do
        for _ in 1 2 3 4 5; do
            while IFS= read -r sub; do
                rmdir "$sub" 2>/dev/null || true
            done < <(find "$d" -depth -type d 2>/dev/null)
            [[ -d $d ]] || break
            sleep 0.5
        done
        [[ -d $d ]] && log "could not remove cgroup $d"
    done
    return 0
}

cleanup() {
    local rc=$?
    set +e
    if [[ -n $LISTEN_PID ]]; then
        kill "$LISTEN_PID" 2>/dev/null
        wait "$LISTEN_PID" 2>/dev/null
    fi
    stop_crisp
    stop_containerd
    stop_registry
    kill_leftovers
    unmount_leftovers
    remove_cgroups
    if [[ -n $LOG_DIR ]]; then
        mkdir -p "$LOG_DIR" && cp -f "$CRISP_LOG" "$CTD_LOG" "$REG_LOG" "$LOG_DIR"/ 2>/dev/null
        [[ -f $RESULTS ]] && cp -f "$RESULTS" "$LOG_DIR"/
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
    setsid "$PY" "$POD" registry --dir "$TMP/reg" --json "$TMP/reg.json" \
        </dev/null >"$REG_LOG" 2>&1 &
    REG_PID=$!
    for _ in $(seq 600); do
        [[ -s $TMP/reg.json ]] && break
        kill -0 "$REG_PID" 2>/dev/null || die "the test registry exited"
        sleep 0.1
    done
    [[ -s $TMP/reg.json ]] || die "the test registry was not ready within 60 s"
    read -r REG_HOST IMAGE PAUSE < <("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["host"], d["busybox"], d["pause"])' "$TMP/reg.json")
}

# -- daemons ------------------------------------------------------------------

write_configs() {
    cat >"$CRISP_DIR/crisp.json" <<EOF
{
  "cgroup_driver": "cgroupfs",
  "registries": {
    "$REG_HOST": { "mirrors": ["http://$REG_HOST"], "upstream": false }
  }
}
EOF
    # containerd 1.6 (config version 2), the CRI plugin as a kubelet node
    # has it, minus what would touch the host or is unused here: the
    # snapshotters other than overlayfs, /opt/containerd (opt), the restart
    # monitor and tracing.  restrict_oom_score_adj: the sandbox asks for
    # -998 and this host grants no CAP_SYS_RESOURCE (crisp's equivalent is
    # oom_score_adj_clamp; no oom_score_adj is negative here for crisp).
    mkdir -p "$CTD_DIR/cni/bin" "$CTD_DIR/cni/conf" "$CTD_DIR/certs.d/$REG_HOST"
    cat >"$CTD_DIR/config.toml" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "$CTD_STATE"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.native",
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
  restrict_oom_score_adj = true
  sandbox_image = "$PAUSE"
  max_concurrent_downloads = 3
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$RUNC_ROOT"
        SystemdCgroup = false
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
        setsid "$CRISPD" --listen "$CRISP_DIR/crisp.sock" --root "$CRISP_DIR/root" \
            --state "$CRISP_STATE" --config "$CRISP_DIR/crisp.json" \
            --log-level "${2:-$CRISP_LOG_LEVEL}" </dev/null >/dev/null 2>>"$CRISP_LOG" &
        CRISP_PID=$!
        ;;
    containerd)
        # A private mount namespace whose /run is $CTD_RUN (see the top);
        # unshare and sh exec, so $! is containerd's PID.
        # shellcheck disable=SC2016 # expanded by that sh
        setsid unshare --mount --propagation private -- /bin/sh -c \
            'mount --bind "$1" /run && shift && exec "$@"' sh "$CTD_RUN" \
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

# monitor_dir PID: the --dir argument of a crisp-monitor.
monitor_dir() {
    local args=() i
    { mapfile -d '' args <"/proc/$1/cmdline"; } 2>/dev/null || return 0
    [[ ${args[0]:-} == crisp-monitor || ${args[0]:-} == */crisp-monitor ]] || return 0
    for ((i = 1; i < ${#args[@]} - 1; i++)); do
        [[ ${args[i]} == --dir ]] && echo "${args[i + 1]}"
    done
    return 0
}

# Loopback/unix listeners of the processes this script started (daemons,
# registry, their children, monitors and shims).
listeners() {
    local -A ours=()
    local p
    for p in $(
        for q in "$REG_PID" "$CRISP_PID" "$CTD_PID"; do
            [[ -n $q ]] && echo "$q" && pgrep -P "$q"
        done
        leftover_pids
    ); do
        ours[$p]=1
    done
    local line bad=0 addr pid
    while read -r line; do
        # shellcheck disable=SC2013 # one pid per word
        for pid in $(grep -o 'pid=[0-9]*' <<<"$line" | cut -d= -f2 | sort -u); do
            [[ -n ${ours[$pid]:-} ]] || continue
            addr=$(awk '{ print $1, $5 }' <<<"$line")
            case $(awk '{ print $5 }' <<<"$line") in
            127.0.0.1:* | "[::1]:"* | "$TMP"/*) echo "  $addr ($(ps -o comm= -p "$pid"))" ;;
            /run/containerd/s/*)
                # only in containerd's mount namespace, where /run is $CTD_RUN
                echo "  $addr ($(ps -o comm= -p "$pid"); = $CTD_RUN/containerd/s/..., private mount namespace)"
                [[ -S $CTD_RUN/containerd/s/${addr##*/} ]] || {
                    echo "    NOT FOUND under $CTD_RUN"
                    bad=1
                }
                ;;
            /proc/self/fd/*/*)
                # crisp-monitor binds its socket through an fd of its dir
                # (short path): accepted when that dir, its --dir, is in $TMP
                # and holds the socket.
                local mdir
                mdir=$(monitor_dir "$pid")
                if [[ $mdir == "$TMP"/* && -S $mdir/${addr##*/} ]]; then
                    echo "  $addr ($(ps -o comm= -p "$pid"); = $mdir/${addr##*/})"
                else
                    echo "  $addr ($(ps -o comm= -p "$pid")) NOT FOUND in $TMP"
                    bad=1
                fi
                ;;
            *)
                echo "  $addr ($(ps -o comm= -p "$pid")) NOT LOOPBACK"
                bad=1
                ;;
            esac
        done
    done < <(ss -Hlnp -A inet,unix 2>/dev/null | awk '{ $1 = $1; print }')
    return $bad
}

# count_procs NAME: leftover_pids whose argv[0] is NAME or ends in /NAME.
count_procs() {
    local n=0 pid args
    for pid in $(leftover_pids); do
        args=()
        { mapfile -d '' args <"/proc/$pid/cmdline"; } 2>/dev/null || continue
        [[ ${args[0]:-} == "$1" || ${args[0]:-} == */"$1" ]] && n=$((n + 1))
    done
    echo "$n"
}

# When podbench.py has all its memory-phase pods of a runtime running, it
# creates $TMP/sync/RT.full and waits for RT.done: the listeners are checked
# then, with every monitor or shim there.
check_listeners_at_full() {
    local rt ok=yes
    for rt in crisp containerd; do
        for _ in $(seq 6000); do
            [[ -e $TMP/sync/$rt.full ]] && break
            sleep 0.1
        done
        [[ -e $TMP/sync/$rt.full ]] || return 0
        echo "with $rt's pods running:"
        listeners || ok=no
        touch "$TMP/sync/$rt.done"
    done
    [[ $ok == yes ]] && echo ok >"$TMP/listeners.ok"
    return 0
}

# Mounts under $TMP in containerd's mount namespace (but the state tmpfs).
ctd_mounts() {
    [[ -n $CTD_PID ]] || return 0
    awk -v t="$TMP/" -v r="$RUNFS" 'index($5, t) == 1 && $5 != r { print $5 }' \
        "/proc/$CTD_PID/mountinfo" 2>/dev/null
}

# Mounts under $TMP in the host's mount namespace but the state tmpfs.
pod_mounts() {
    mounts_under_tmp | grep -vxF "$RUNFS" || true
}

main() {
    cp "$CRISPD_SRC" "$MONITOR_SRC" "$TMP/bin/"
    mount -t tmpfs -o mode=0700,size=1g crisp-podbench "$RUNFS"
    mkdir -p "$CTD_RUN"
    protoc --python_out="$TMP/pb" -I"$REPO/proto" "$REPO/proto/api.proto"
    start_registry
    write_configs
    log "registry on $REG_HOST, images $IMAGE and $PAUSE; cgroup parent $CG_PARENT"
    local crisp_ver ctd_ver runc_ver
    crisp_ver=$("$CRISPD" --version 2>/dev/null || echo "$CRISPD")
    ctd_ver=$(containerd --version | awk '{ print $3 }')
    runc_ver=$(runc --version | awk 'NR == 1 { print $3 }')
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    start_runtime crisp
    start_runtime containerd
    local mounts_ctd_before mounts_host_before
    mounts_ctd_before=$(ctd_mounts | wc -l)
    mounts_host_before=$(pod_mounts | wc -l)

    mkdir -p "$TMP/sync"
    check_listeners_at_full >"$TMP/listeners.txt" 2>&1 &
    LISTEN_PID=$!
    "$PY" "$POD" bench --pb "$TMP/pb" \
        --crisp "$(socket_of crisp)" --crisp-pid "$CRISP_PID" \
        --containerd "$(socket_of containerd)" --containerd-pid "$CTD_PID" \
        --image "$IMAGE" --pause "$PAUSE" --cgroup-parent "$CG_PARENT" \
        --crisp-state "$CRISP_STATE" --logs "$TMP/logs" --out "$RESULTS" \
        --sync "$TMP/sync" \
        --runs "$RUNS" --warmup "$WARMUP" --mem-containers "$MEM_CONTAINERS" ||
        die "the benchmark failed"
    touch "$TMP/sync/crisp.full" "$TMP/sync/containerd.full" # if it never got there
    wait "$LISTEN_PID" || true
    LISTEN_PID=
    kill -0 "$CRISP_PID" 2>/dev/null || die "crispd is no longer running"
    kill -0 "$CTD_PID" 2>/dev/null || die "containerd is no longer running"

    local mounts_ctd_after mounts_host_after
    mounts_ctd_after=$(ctd_mounts | wc -l)
    mounts_host_after=$(pod_mounts | wc -l)
    local monitors_left shims_left
    monitors_left=$(count_procs crisp-monitor)
    shims_left=$(count_procs containerd-shim-runc-v2)

    echo
    echo "## Pod benchmark: crisp vs containerd + runc"
    echo
    echo "- crisp: $crisp_ver ($CRISPD_SRC, copied into the temp dir), log level $CRISP_LOG_LEVEL"
    echo "- containerd: $ctd_ver (CRI plugin, overlayfs, io.containerd.runc.v2 shim), runc $runc_ver, log level warn"
    echo "- image: $IMAGE (hack/testreg busybox) running \`sleep 3600\`; containerd sandbox image $PAUSE (same layer, \`sleep 2147483647\`)"
    echo "- pods: host network (network NODE, pid CONTAINER, ipc POD), cgroup_parent $CG_PARENT (cgroupfs) for both"
    echo "- runs: $WARMUP warm-up + $RUNS timed per runtime, interleaved run by run (first runtime alternating); p99 = nearest rank (of 50: the largest)"
    echo "- memory: $MEM_CONTAINERS pods x 1 container per runtime, one runtime at a time; per-container overhead = sum over crisp-monitor (crisp) or containerd-shim-runc-v2 (containerd, one shim per pod) / $MEM_CONTAINERS"
    echo "- host: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup | sed 's/tmpfs/v1 (hybrid)/; s/cgroup2fs/v2/'), temp dir on $(df --output=fstype "$TMP" | tail -1); load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "- layout: volatile state on a tmpfs (crispd --state, containerd state, runc root, shim sockets), roots (images, writable layers, containerd metadata) on the temp dir's $(df --output=fstype "$TMP" | tail -1)"
    echo "- client: podbench.py (hack/bench/pull/cri.py's grpc python client); times are client-side wall clock per call sequence"
    echo
    "$PY" "$POD" report "$RESULTS"
    echo
    echo "listeners of the bench's processes (checked with each runtime's $MEM_CONTAINERS pods running):"
    # one line per kind: container and shim ids folded, repeats counted
    sed -E 's/[0-9a-f]{64}/<id>/g' "$TMP/listeners.txt" 2>/dev/null |
        awk 'function flush(i) {
                 for (i = 1; i <= k; i++) print (n[order[i]] > 1 ? n[order[i]] " x" : "") order[i]
                 k = 0; delete n
             }
             /^with / { flush(); print; next }
             !($0 in n) { order[++k] = $0 }
             { n[$0]++ }
             END { flush() }' || true
    [[ -f $TMP/listeners.ok ]] || echo "WARNING: a listener is not on loopback or a unix socket in $TMP"
    echo "mounts under $TMP (but the state tmpfs): host namespace $mounts_host_before before / $mounts_host_after after the runs; containerd's namespace $mounts_ctd_before / $mounts_ctd_after"
    echo "after the runs (pods removed): crisp-monitor processes left $monitors_left, shims left $shims_left"
    local p touched=""
    for p in "${HOST_PATHS[@]}"; do
        [[ $(stamp "$p") == "${HOST_PATH_STAMP[$p]}" ]] || touched+=" $p"
    done
    if [[ -n $touched ]]; then
        echo "WARNING: changed during the bench:$touched"
    else
        echo "host paths untouched: ${HOST_PATHS[*]}"
    fi

    local ratio missed=no
    ratio=$("$PY" "$POD" ratio "$RESULTS") || ratio=nan
    awk -v r="$ratio" 'BEGIN { exit !(r + 0 > '"$GOAL"' || r == "nan") }' && missed=yes
    if [[ $PROFILE == 1 || ($PROFILE == auto && $missed == yes) ]]; then
        echo
        echo "### crisp pod-to-running at --log-level info"
        echo
        local from
        stop_crisp
        from=$(($(wc -l <"$CRISP_LOG") + 1))
        start_runtime crisp info
        echo '```'
        "$PY" "$POD" profile --pb "$TMP/pb" --socket "$(socket_of crisp)" \
            --image "$IMAGE" --cgroup-parent "$CG_PARENT" --logs "$TMP/logs" --runs 5
        echo
        tail -n "+$from" "$CRISP_LOG" | cut -c1-300
        echo '```'
    fi
    stop_crisp
    stop_containerd
    echo
    echo "bench time: $((SECONDS - BENCH_START)) s"
}

main
