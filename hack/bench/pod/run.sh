#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR disable=SC2034
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
# reported but not counted.  Pods have their own network namespace
# (NamespaceOption network POD, pid CONTAINER, ipc POD) on a CNI network, the
# same for both runtimes (common.sh's BENCH_CNI: Debian's bridge + host-local
# plugins, one bridge per runtime, no gateway, no masquerade, no iptables), so
# RunPodSandbox includes the CNI ADD and teardown the DEL; containerd's sandbox image is the busybox layer with
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

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNS=${PODBENCH_RUNS:-50}
WARMUP=${PODBENCH_WARMUP:-3}
MEM_CONTAINERS=${PODBENCH_MEM_CONTAINERS:-50}
PROFILE=${PODBENCH_PROFILE:-auto}
LOG_DIR=${PODBENCH_LOG_DIR:-}
CRISP_LOG_LEVEL=${PODBENCH_CRISP_LOG_LEVEL:-warn}
GOAL=0.2

BENCH_CNI=yes
BENCH=podbench # and LOG_DIR, CRISP_LOG_LEVEL: read by common.sh
# shellcheck source=../common.sh
source "$HERE/../common.sh" "$@"

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


main() {
    bench_start
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
    echo "- crisp: $CRISP_VER ($CRISPD_SRC, copied into the temp dir), log level $CRISP_LOG_LEVEL"
    echo "- containerd: $CTD_VER (CRI plugin, overlayfs, io.containerd.runc.v2 shim), runc $RUNC_VER, log level warn"
    echo "- image: $IMAGE (hack/testreg busybox) running \`sleep 3600\`; containerd sandbox image $PAUSE (same layer, \`sleep 2147483647\`)"
    echo "- pods: own network namespace on a CNI network (network POD, pid CONTAINER, ipc POD; bridge + host-local from $CNI_BIN, one bridge per runtime: ${CNI_BRIDGES[*]}, no gateway/masquerade), cgroup_parent $CG_PARENT (cgroupfs) for both"
    echo "- runs: $WARMUP warm-up + $RUNS timed per runtime, interleaved run by run (first runtime alternating); p99 = nearest rank (of 50: the largest)"
    echo "- memory: $MEM_CONTAINERS pods x 1 container per runtime, one runtime at a time; per-container overhead = sum over crisp-monitor (crisp) or containerd-shim-runc-v2 (containerd, one shim per pod) / $MEM_CONTAINERS"
    host_line
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
    host_paths_report

    if want_profile "$PY" "$POD" ratio "$RESULTS"; then
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
    bench_finish
}

main
