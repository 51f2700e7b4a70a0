#!/usr/bin/env bash
# check_install.sh BUILD_DIR SOURCE_DIR — installs asyncheck into a fresh prefix and builds a consumer
# test file (no main) both ways a user would: pkg-config and find_package(asyncheck). Each consumer
# must run and pass.
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

pc=$(find "$prefix" -name asyncheck.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no asyncheck.pc installed"; exit 1; }
for f in include/asyncheck.h include/asyncheck/test.h include/asyncheck/assert.h; do
    [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done

# pkg-config route
export PKG_CONFIG_PATH=$(dirname "$pc")
cc -Wall -Wextra -Werror "$src/selftest/install/consumer/consumer_test.c" $(pkg-config --cflags --libs asyncheck) \
    -o "$work/via_pkgconfig"
out=$("$work/via_pkgconfig")
echo "$out" | tail -1 | grep -qx "asyncheck: 1 passed, 0 failed, 0 skipped" || { echo "FAIL (pkg-config): $out"; exit 1; }
echo "ok: pkg-config consumer built and passed"

# CMake package route
cmake -S "$src/selftest/install/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
out=$("$work/cmake/consumer_test")
echo "$out" | tail -1 | grep -qx "asyncheck: 1 passed, 0 failed, 0 skipped" || { echo "FAIL (find_package): $out"; exit 1; }
echo "ok: find_package(asyncheck) consumer built and passed"
