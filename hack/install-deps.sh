#!/usr/bin/env bash
# Installs every Debian package crisp needs to build (and, with --run, to run
# pods on this node; with --test, to run its test suite; with --bench, what
# the benchmarks compare against).
# Idempotent: packages already present are not touched, and apt-get update
# runs only when something is missing.
set -euo pipefail

build_pkgs=(
  build-essential pkg-config
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
  libjansson-dev libsystemd-dev libcap-dev libseccomp-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev zlib1g-dev
)
test_pkgs=(
  libcmocka-dev
  protobuf-compiler python3-protobuf python3-grpcio python3-pytest python3-websocket
  clang-format
  docker-registry busybox-static zstd apache2-utils openssl iproute2
  systemd python3-yaml man-db shellcheck python3-prometheus-client
  containernetworking-plugins iptables
  dbus-daemon python3-dbus python3-gi
)

run_pkgs=(
  containernetworking-plugins iptables
)

bench_pkgs=(
  containerd runc strace
)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --run) want+=("${run_pkgs[@]}") ;;
    --test) want+=("${test_pkgs[@]}") ;;
    --bench) want+=("${bench_pkgs[@]}") ;;
    *) echo "usage: $0 [--run] [--test] [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
