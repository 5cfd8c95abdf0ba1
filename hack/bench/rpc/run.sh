#!/usr/bin/env bash
# Version/Status latency and throughput benchmark for crispd, plus an RSS
# stability check under 200,000 calls.  Not a test: `make bench-rpc` runs it.
#
# Usage: hack/bench/rpc/run.sh CRISPD RPC_BENCH
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 CRISPD RPC_BENCH" >&2
    exit 2
fi
CRISPD=$1
RPC_BENCH=$2

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crisp-bench.XXXXXX")
SOCK=$TMP/crisp.sock
LOG=$TMP/crispd.log
CRISPD_PID=

# Stops crispd with SIGTERM (SIGKILL after 10 s) and reports an unclean exit.
stop_crispd() {
    [[ -n $CRISPD_PID ]] || return 0
    local pid=$CRISPD_PID rc=0
    CRISPD_PID=
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "crispd (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "crispd exited with status $rc" >&2
    fi
}

cleanup() {
    local rc=$?
    stop_crispd
    if [[ $rc -ne 0 && -s $LOG ]]; then
        echo "--- last lines of crispd's log:" >&2
        tail -n 20 "$LOG" >&2
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_crispd() {
    "$CRISPD" --listen "$SOCK" --root "$TMP/root" --state "$TMP/state" --log-level warn \
        2>"$LOG" &
    CRISPD_PID=$!
    for _ in $(seq 100); do
        [[ -S $SOCK ]] && return 0
        check_alive
        sleep 0.1
    done
    echo "crispd did not create $SOCK within 10 s" >&2
    exit 1
}

check_alive() {
    if ! kill -0 "$CRISPD_PID" 2>/dev/null; then
        echo "crispd (pid $CRISPD_PID) is no longer running" >&2
        exit 1
    fi
}

# Prints the value of KEY from rpc_bench's "key=value ..." result line.
field() {
    local line=$1 key=$2 kv
    for kv in $line; do
        if [[ $kv == "$key="* ]]; then
            echo "${kv#*=}"
            return 0
        fi
    done
    return 1
}

# bench METHOD CLIENTS CALLS_PER_CLIENT: runs rpc_bench; its result line on stdout.
bench() {
    local out
    if ! out=$("$RPC_BENCH" --socket "$SOCK" --method "$1" --clients "$2" \
        --calls-per-client "$3" --warmup 100); then
        echo "rpc_bench failed: method=$1 clients=$2 calls-per-client=$3: $out" >&2
        exit 1
    fi
    check_alive
    echo "$out"
}

bench_row() {
    local line
    line=$(bench "$@")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(field "$line" calls)" \
        "$(field "$line" p50_us)" "$(field "$line" p99_us)" "$(field "$line" max_us)" \
        "$(field "$line" calls_per_s)"
}

latency_table() {
    echo "| method | clients | calls | p50 µs | p99 µs | max µs | calls/s |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    local method
    for method in Version Status; do
        bench_row "$method" 1 20000
        bench_row "$method" 8 2500
        bench_row "$method" 64 1000
    done
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$CRISPD_PID/status"
}

# RSS is "flat" if the 3rd reading grew by less than max(1 MiB, 5 %) over the 2nd:
# the 1st-to-2nd growth is allowed (allocator and gRPC caches warming up).
rss_check() {
    local r1 r2 r3 growth limit
    r1=$(rss_kib)
    bench Version 8 12500 >/dev/null
    r2=$(rss_kib)
    bench Version 8 12500 >/dev/null
    r3=$(rss_kib)
    growth=$((r3 - r2))
    limit=$((r2 / 20 > 1024 ? r2 / 20 : 1024))
    echo
    echo "RSS before:           $r1 KiB"
    echo "RSS after 100k calls: $r2 KiB"
    echo "RSS after 200k calls: $r3 KiB"
    if ((growth < limit)); then
        echo "RSS flat: yes (growth $growth KiB between the 2nd and 3rd reading, limit $limit KiB)"
    else
        echo "RSS flat: NO (growth $growth KiB between the 2nd and 3rd reading, limit $limit KiB)"
    fi
}

main() {
    start_crispd
    echo "crispd: $("$CRISPD" --version 2>/dev/null || echo "$CRISPD"), $(nproc) CPUs"
    echo
    latency_table
    rss_check
}

main
