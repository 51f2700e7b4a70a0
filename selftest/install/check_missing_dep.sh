#!/usr/bin/env bash
# check_missing_dep.sh SOURCE_DIR — configuring with libev (then libffi) out of sight must fail with a
# message that names the Debian package to install.
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if cmake -S "$src" -B "$work/b1" -DASYNCHECK_BUILD_TESTS=OFF -DASYNCHECK_BUILD_EXAMPLES=OFF -DASYNCHECK_BUILD_BENCH=OFF \
    -DCMAKE_IGNORE_PREFIX_PATH="/usr;/usr/local" -DCMAKE_IGNORE_PATH="/usr/include;/usr/lib/x86_64-linux-gnu" \
    >"$work/out1" 2>&1; then
    echo "FAIL: configure succeeded without libev"; exit 1
fi
grep -q "install the package libev-dev" "$work/out1" || { echo "FAIL: no package named:"; cat "$work/out1"; exit 1; }
echo "ok: missing libev names libev-dev"
# libev visible, libffi hidden
if cmake -S "$src" -B "$work/b2" -DASYNCHECK_BUILD_TESTS=OFF -DASYNCHECK_BUILD_EXAMPLES=OFF -DASYNCHECK_BUILD_BENCH=OFF \
    -DASYNCHECK_EV_INCLUDE_DIR=/usr/include -DASYNCHECK_EV_LIBRARY="$(ls /usr/lib/*/libev.so | head -1)" \
    -DCMAKE_IGNORE_PREFIX_PATH="/usr;/usr/local" -DCMAKE_IGNORE_PATH="/usr/include;/usr/lib/x86_64-linux-gnu" \
    -DPKG_CONFIG_EXECUTABLE=/nonexistent >"$work/out2" 2>&1; then
    echo "FAIL: configure succeeded without libffi"; exit 1
fi
grep -q "install the package libffi-dev" "$work/out2" || { echo "FAIL: no package named:"; cat "$work/out2"; exit 1; }
echo "ok: missing libffi names libffi-dev"
