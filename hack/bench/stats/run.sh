#!/usr/bin/env bash
# ListContainerStats with 100 running containers: p50 goal under 20 ms.
# Usage: hack/bench/stats/run.sh CRISPD  (crisp-monitor next to it; as root)
# Environment: BENCH_PODS=10 BENCH_PER_POD=10 BENCH_CALLS=200 (statsbench.py)
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 CRISPD" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "$0: must run as root (crispd needs it)" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
CRISPD=$(realpath "$1") exec "${PYTHON:-/usr/bin/python3}" "$here/statsbench.py"
