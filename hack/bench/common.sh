#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables for the sourcing script
# Shared by the benchmarks that run crisp side by side with containerd + runc
# (hack/bench/pod, hack/bench/exec, hack/bench/pull): sourced, not run.  See pod/run.sh for what
# it sets up and how it isolates and cleans up (everything in one temp dir,
# volatile state on a tmpfs there, containerd in a private mount namespace,
# every process, mount and cgroup removed on exit, also on failure).
#
# Sourced with the script's arguments (`source common.sh "$@"`: CRISPD, the
# crispd to copy; crisp-monitor must sit next to it).  The caller sets, before:
#   BENCH            short name: temp dir crisp-$BENCH.XXXXXX, cgroup
#                    /crisp-$BENCH-<suffix>, log prefix
#   LOG_DIR          copy the daemons' and registry's logs there on exit ("": no)
#   CRISP_LOG_LEVEL  crispd's --log-level
#   PROFILE, GOAL    for want_profile
#   BENCH_CNI        yes: both runtimes get a real CNI pod network, each its
#                    own bridge (cpb<suffix>c / cpb<suffix>k, no gateway, no
#                    masquerade, no iptables) with host-local addresses from
#                    10.213.1.0/24 / 10.213.2.0/24 kept in the temp dir, the
#                    same conflist otherwise and the same plugins (Debian's,
#                    /usr/lib/cni); the bridges are deleted on exit
# and may set LISTEN_PID (a background helper stopped first on exit).
# After sourcing: bench_start brings up the registry and both runtimes
# (REG_HOST, IMAGE, PAUSE, CRISP_PID, CTD_PID, CRISP_VER, CTD_VER, RUNC_VER set).
# A bench with a registry of its own (pull) calls bench_prepare, its own
# start_registry (setting REG_HOST, IMAGE, PAUSE), write_configs and
# start_runtime instead.

if [[ $# -ne 1 ]]; then
    echo "usage: $0 CRISPD" >&2
    exit 2
fi
CRISPD_SRC=$(realpath "$1")
COMMON_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$COMMON_HERE/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
CRI="$REPO/hack/bench/pull/cri.py"
POD="$REPO/hack/bench/pod/podbench.py" # also the registry and cleanup helper
LISTEN_PID=${LISTEN_PID:-}
BENCH_CNI=${BENCH_CNI:-no}
CNI_BIN=/usr/lib/cni

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
TMP=$(mktemp -d "${TMPDIR:-/tmp}/crisp-$BENCH.XXXXXX")
CG_NAME=crisp-$BENCH-${TMP##*.}
CG_PARENT=/$CG_NAME
RESULTS=$TMP/results.json
REG_PID='' CRISP_PID='' CTD_PID=''
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
CNI_BRIDGES=("cpb${TMP##*.}c" "cpb${TMP##*.}k")
CNI_SUBNETS=(10.213.1.0/24 10.213.2.0/24)


HOST_PATHS=(/etc/containerd /var/lib/containerd /run/containerd /run/runc /opt/containerd)
declare -A HOST_PATH_STAMP
stamp() { [[ -e $1 ]] && find "$1" -maxdepth 2 -printf '%p %T@\n' 2>/dev/null | sort | md5sum || echo absent; }
for p in "${HOST_PATHS[@]}"; do
    HOST_PATH_STAMP[$p]=$(stamp "$p")
done

log() { echo "$BENCH: $*" >&2; }

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

# The bench's CNI bridges (the bridge plugin leaves them after DEL).
remove_bridges() {
    local b
    [[ $BENCH_CNI == yes ]] || return 0
    for b in "${CNI_BRIDGES[@]}"; do
        if ip link show "$b" >/dev/null 2>&1; then
            ip link del "$b" || log "could not delete bridge $b"
        fi
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
    remove_bridges
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

# cni_conflist NAME BRIDGE SUBNET: the pod network of one runtime.
cni_conflist() {
    cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$1",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$2",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$3" }]],
        "dataDir": "$TMP/cni-ipam"
      }
    }
  ]
}
EOF
}

# Both runtimes' CNI configuration dirs (left empty without BENCH_CNI:
# host-network pods only).
write_cni_configs() {
    mkdir -p "$CRISP_DIR/cni/conf" "$CTD_DIR/cni/conf" "$TMP/cni-ipam"
    [[ $BENCH_CNI == yes ]] || return 0
    local s
    for s in "${CNI_SUBNETS[@]}"; do
        if ip route show to match "$s" | grep -qv '^default'; then
            die "$s is already routed on this host; the bench's pod networks would clash"
        fi
    done
    cni_conflist "$BENCH-crisp" "${CNI_BRIDGES[0]}" "${CNI_SUBNETS[0]}" \
        >"$CRISP_DIR/cni/conf/10-$BENCH.conflist"
    cni_conflist "$BENCH-containerd" "${CNI_BRIDGES[1]}" "${CNI_SUBNETS[1]}" \
        >"$CTD_DIR/cni/conf/10-$BENCH.conflist"
}

write_configs() {
    write_cni_configs
    cat >"$CRISP_DIR/crisp.json" <<EOF
{
  "cgroup_driver": "cgroupfs",
  "cni_conf_dir": "$CRISP_DIR/cni/conf",
  "cni_bin_dirs": ["$CNI_BIN"],
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
    mkdir -p "$CTD_DIR/certs.d/$REG_HOST"
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
    bin_dir = "$CNI_BIN"
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

# The binaries copied, the state tmpfs, the CRI stubs (for the python client).
bench_prepare() {
    cp "$CRISPD_SRC" "$MONITOR_SRC" "$TMP/bin/"
    mount -t tmpfs -o mode=0700,size=1g "crisp-$BENCH" "$RUNFS"
    mkdir -p "$CTD_RUN"
    protoc --python_out="$TMP/pb" -I"$REPO/proto" "$REPO/proto/api.proto"
}

# Registry, configs, both runtimes up.
bench_start() {
    bench_prepare
    start_registry
    write_configs
    log "registry on $REG_HOST, images $IMAGE and $PAUSE; cgroup parent $CG_PARENT"
    CRISP_VER=$("$CRISPD" --version 2>/dev/null || echo "$CRISPD")
    CTD_VER=$(containerd --version | awk '{ print $3 }')
    RUNC_VER=$(runc --version | awk 'NR == 1 { print $3 }')
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    start_runtime crisp
    start_runtime containerd
}

# Both runtimes down, then the total time, at the end of a report.
bench_finish() {
    stop_crisp
    stop_containerd
    echo
    echo "bench time: $((SECONDS - BENCH_START)) s"
}

# The host, for the report.
host_line() {
    echo "- host: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup | sed 's/tmpfs/v1 (hybrid)/; s/cgroup2fs/v2/'), temp dir on $(df --output=fstype "$TMP" | tail -1); load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
}

# Whether containerd's host paths were left alone, for the report.
host_paths_report() {
    local p touched=""
    for p in "${HOST_PATHS[@]}"; do
        [[ $(stamp "$p") == "${HOST_PATH_STAMP[$p]}" ]] || touched+=" $p"
    done
    if [[ -n $touched ]]; then
        echo "WARNING: changed during the bench:$touched"
    else
        echo "host paths untouched: ${HOST_PATHS[*]}"
    fi
}

# want_profile CMD...: whether to add the profile section: PROFILE is 1, or
# auto and the crisp/containerd ratio CMD prints is above GOAL (or unknown).
want_profile() {
    local ratio
    ratio=$("$@") || ratio=nan
    [[ $PROFILE == 1 ]] && return 0
    [[ $PROFILE == auto ]] || return 1
    awk -v r="$ratio" -v goal="$GOAL" 'BEGIN { exit !(r + 0 > goal + 0 || r == "nan") }'
}
