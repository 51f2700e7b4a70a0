#!/usr/bin/env bash
# dev.sh — the two Quick start commands:
#   ./dev.sh examples   build everything and run the example suites
#   ./dev.sh test       build everything and run asyncheck's own test suite (ctest)
# Installs what it needs on Debian/Ubuntu when run as root; otherwise prints the exact command and stops.
# Environment: BUILD_DIR (default build), ASYNCHECK_WERROR=ON (warnings are errors, as in CI).
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-}
case "$mode" in
examples | test) ;;
*)
    echo "usage: ./dev.sh examples|test" >&2
    exit 2
    ;;
esac

build_dir=${BUILD_DIR:-build}
packages=(gcc libc6-dev make cmake pkg-config libev-dev libffi-dev)
[ "$mode" = test ] && packages+=(perl libxml2-utils)
[ "$mode" = examples ] && packages+=(libhiredis-dev redis-server) # examples/redis only
# examples/curl only (the asyncheck library itself needs no libcurl):
[ "$mode" = examples ] && packages+=(libcurl4-openssl-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "dev.sh: missing ${missing[*]}, and this is not a Debian-like system: install the equivalents." >&2
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "dev.sh: missing packages. Install them as root, then run this again:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        echo "  (without sudo: su -c 'apt-get update && apt-get install -y ${missing[*]}')" >&2
        exit 1
    fi
    echo "dev.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" -DASYNCHECK_WERROR="${ASYNCHECK_WERROR:-OFF}" >/dev/null
cmake --build "$build_dir" -j "$jobs"

if [ "$mode" = examples ]; then
    status=0
    for t in "$build_dir"/examples/*_test; do
        [ -x "$t" ] || continue
        echo
        echo "== ${t#"$build_dir"/} =="
        "$t" || status=1
    done
    exit $status
fi

ctest --test-dir "$build_dir" --output-on-failure --no-label-summary -j "$jobs"
