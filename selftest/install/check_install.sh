#!/usr/bin/env bash
# check_install.sh BUILD_DIR SOURCE_DIR — installs asyncheck into a fresh prefix and builds a consumer
# test file (no main) both ways a user would: pkg-config and find_package(asyncheck). Each consumer
# must run and pass. The find_package consumer also opts in to ThreadSanitizer with asyncheck::tsan
# (docs/TSAN.md), which nothing else in the package forces on it: its plain test stays uninstrumented,
# and the race fixture built with it fails exactly its two racy tests. It opts in to AddressSanitizer + UBSan
# with asyncheck::asan (docs/ASAN.md) too: a planted use after free fails its test, named by ASan's report,
# and the fixed twin passes. CFLAGS and LDFLAGS, when set, are
# used for every consumer (a sanitizer build's library needs them).
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
# shellcheck disable=SC2086 # CFLAGS and LDFLAGS are lists of flags
cc -Wall -Wextra -Werror ${CFLAGS:-} "$src/selftest/install/consumer/consumer_test.c" \
    $(pkg-config --cflags --libs asyncheck) ${LDFLAGS:-} -o "$work/via_pkgconfig"
out=$("$work/via_pkgconfig")
echo "$out" | tail -1 | grep -qx "asyncheck: 1 passed, 0 failed, 0 skipped" || { echo "FAIL (pkg-config): $out"; exit 1; }
echo "ok: pkg-config consumer built and passed"

# CMake package route
# (TSan cannot join another sanitizer a build's flags already ask for)
race=$src/selftest/fixtures/tsan_race.c
case " ${CFLAGS:-} " in *-fsanitize=address* | *-fsanitize=memory* | *-fsanitize=leak*) race= ;; esac
# (nor can ASan join TSan or MSan)
asan=ON
case " ${CFLAGS:-} " in *-fsanitize=thread* | *-fsanitize=memory*) asan=OFF ;; esac
cmake -S "$src/selftest/install/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DRACE_FIXTURE="$race" -DASAN_CONSUMER=$asan >/dev/null
cmake --build "$work/cmake" -j2 >/dev/null
out=$("$work/cmake/consumer_test")
echo "$out" | tail -1 | grep -qx "asyncheck: 1 passed, 0 failed, 0 skipped" || { echo "FAIL (find_package): $out"; exit 1; }
echo "ok: find_package(asyncheck) consumer built and passed"

# AddressSanitizer + UBSan, opted in per target: the planted use after free fails its test, named by
# ASan's report; its fixed twin passes
if [ $asan = ON ]; then
    asan_in() { grep -q " U __asan_init" <(nm "$1"); }
    case " ${CFLAGS:-} " in
    *-fsanitize=address*) ;;
    *) if asan_in "$work/cmake/consumer_test"; then echo "FAIL: asyncheck::asyncheck alone built with ASan"; exit 1; fi ;;
    esac
    asan_in "$work/cmake/consumer_asan_test" || { echo "FAIL: asyncheck::asan did not instrument its target"; exit 1; }
    rc=0
    out=$("$work/cmake/consumer_asan_test" 2>&1) || rc=$?
    if [ $rc -ne 1 ] || ! echo "$out" | tail -1 | grep -qx "asyncheck: 1 passed, 1 failed, 0 skipped" ||
        ! echo "$out" | grep -q "^PASS  consumer_asan.session_freed_last " ||
        ! echo "$out" | grep -A1 "^FAIL  consumer_asan.session_touched_after_free " |
        grep -q "AddressSanitizer: heap-use-after-free .*in on_done"; then
        echo "FAIL (asyncheck::asan, planted use after free, exit $rc): $out"
        exit 1
    fi
    echo "ok: asyncheck::asan instruments only the targets that link it; a use after free fails its test"
fi

# ThreadSanitizer, opted in per target
[ -n "$race" ] || exit 0
tsan_in() { grep -q " U __tsan_init" <(nm "$1"); } # (not a pipe: grep -q ending early fails it)
case " ${CFLAGS:-} " in
*-fsanitize=thread*) ;;
*) if tsan_in "$work/cmake/consumer_test"; then echo "FAIL: asyncheck::asyncheck alone built with TSan"; exit 1; fi ;;
esac
tsan_in "$work/cmake/consumer_tsan_test" || { echo "FAIL: asyncheck::tsan did not instrument its target"; exit 1; }
out=$("$work/cmake/consumer_tsan_test" 2>&1)
echo "$out" | tail -1 | grep -qx "asyncheck: 1 passed, 0 failed, 0 skipped" || { echo "FAIL (asyncheck::tsan): $out"; exit 1; }
rc=0
out=$("$work/cmake/consumer_tsan_race" -j2 2>&1) || rc=$?
if [ $rc -ne 1 ] || ! echo "$out" | tail -1 | grep -qx "asyncheck: 3 passed, 2 failed, 0 skipped" ||
    [ "$(echo "$out" | grep -c "ThreadSanitizer reported a data race")" -ne 2 ]; then
    echo "FAIL (asyncheck::tsan, race fixture, exit $rc): $out"
    exit 1
fi
echo "ok: asyncheck::tsan instruments only the targets that link it; races fail their tests"
