#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR disable=SC2034
# ExecSync latency (the exec probe path), crisp side by side with containerd +
# runc in the same run, through the same CRI client, in a running busybox
# container of each (`sleep 3600`, a pod on the bench's CNI network, as the
# pod benchmark's).  Not a test: `make
# bench-exec` runs it.  Needs root.  The registry, both daemons, isolation and
# cleanup are hack/bench/common.sh's (the same as the pod benchmark's).
#
# Usage: hack/bench/exec/run.sh CRISPD     (crisp-monitor must sit next to it)
#
# What is measured (execbench.py): ExecSync of `true` and of `echo hello`,
# EXECBENCH_RUNS calls per runtime and command after EXECBENCH_WARMUP warm-up
# calls, both runtimes interleaved call by call (which goes first
# alternating); p50/p99 client-side wall clock per call; every call is checked
# (exit code 0, the expected stdout).  The goal: crisp's p50 at most 0.3x
# containerd's.  EXECBENCH_PROFILE (auto: when the goal is missed; 1 always;
# 0 never) adds `strace -c -f` of crispd over 50 more crisp calls.
#
# Environment (all optional):
#   EXECBENCH_RUNS=200 EXECBENCH_WARMUP=10 EXECBENCH_PROFILE=auto
#   EXECBENCH_LOG_DIR=DIR   copy the daemons' and registry's logs there on exit
#   EXECBENCH_CRISP_LOG_LEVEL=warn
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNS=${EXECBENCH_RUNS:-200}
WARMUP=${EXECBENCH_WARMUP:-10}
PROFILE=${EXECBENCH_PROFILE:-auto}
LOG_DIR=${EXECBENCH_LOG_DIR:-}
CRISP_LOG_LEVEL=${EXECBENCH_CRISP_LOG_LEVEL:-warn}
GOAL=0.3
BENCH_CNI=yes # podbench.py's pods have their own netns: both runtimes need a network
BENCH=execbench
# shellcheck source=../common.sh
source "$HERE/../common.sh" "$@"
EXEC="$HERE/execbench.py"

# strace -c of crispd (all threads) over 50 ExecSync calls of `true`.
profile_crisp() {
    command -v strace >/dev/null || { echo "(strace not installed: no profile)"; return 0; }
    local out=$TMP/strace.txt pod cid
    "$PY" - "$TMP/pb" "$(socket_of crisp)" "$IMAGE" "$CG_PARENT" "$TMP/logs" "$EXEC" \
        >"$TMP/profile.cid" <<'PYEOF'
import sys, types
pbdir, sock, image, cgp, logs, exec_py = sys.argv[1:]
sys.path.insert(0, exec_py.rsplit("/", 1)[0])
import execbench
rt = execbench.podbench.Runtime("crisp", sock, execbench.cri._pb(pbdir),
                                types.SimpleNamespace(logs=logs, cgroup_parent=cgp))
rt.image_ref, _ = rt.pull(image)
pod, _, cid, _, _ = rt.run_pod("profile")
print(pod, cid)
PYEOF
    read -r pod cid <"$TMP/profile.cid"
    strace -c -f -o "$out" -p "$CRISP_PID" 2>/dev/null &
    local spid=$!
    sleep 1
    "$PY" - "$TMP/pb" "$(socket_of crisp)" "$pod" "$cid" "$EXEC" <<'PYEOF'
import sys
pbdir, sock, pod, cid, exec_py = sys.argv[1:]
sys.path.insert(0, exec_py.rsplit("/", 1)[0])
import execbench
c = execbench.podbench.Client(sock, execbench.cri._pb(pbdir))
for _ in range(50):
    c.call("ExecSync", container_id=cid, cmd=["true"], timeout=10)
c.call("StopPodSandbox", pod_sandbox_id=pod)
c.call("RemovePodSandbox", pod_sandbox_id=pod)
PYEOF
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    head -n 25 "$out"
}

main() {
    bench_start
    "$PY" "$EXEC" bench --pb "$TMP/pb" \
        --crisp "$(socket_of crisp)" --containerd "$(socket_of containerd)" \
        --image "$IMAGE" --cgroup-parent "$CG_PARENT" --logs "$TMP/logs" \
        --out "$RESULTS" --runs "$RUNS" --warmup "$WARMUP" ||
        die "the benchmark failed"
    kill -0 "$CRISP_PID" 2>/dev/null || die "crispd is no longer running"
    kill -0 "$CTD_PID" 2>/dev/null || die "containerd is no longer running"

    echo
    echo "## ExecSync benchmark: crisp vs containerd + runc"
    echo
    echo "- crisp: $CRISP_VER ($CRISPD_SRC, copied into the temp dir), log level $CRISP_LOG_LEVEL"
    echo "- containerd: $CTD_VER (CRI plugin, io.containerd.runc.v2 shim), runc $RUNC_VER, log level warn"
    echo "- container: $IMAGE (hack/testreg busybox) running \`sleep 3600\` in a pod on the bench's CNI network, cgroup_parent $CG_PARENT (cgroupfs), one per runtime"
    host_line
    echo "- client: execbench.py (podbench.py's grpc python client); times are client-side wall clock per ExecSync call"
    echo
    "$PY" "$EXEC" report "$RESULTS"
    echo
    host_paths_report

    if want_profile "$PY" "$EXEC" ratio "$RESULTS"; then
        echo
        echo "### strace -c -f of crispd over 50 ExecSync calls of \`true\`"
        echo
        echo '```'
        profile_crisp
        echo '```'
    fi
    bench_finish
}

main
