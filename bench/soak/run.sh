#!/usr/bin/env bash
# bench/soak/run.sh [BUILD_DIR] [COUNT...] — the runner's memory and time with --junit when tests print a
# lot: for each COUNT (default: 500 2000), bench_soak runs its one test COUNT times (--repeat, -j2), each
# run writing 1 MiB to stderr, with --junit into a temporary directory. Prints, for each COUNT, the
# runner's peak resident memory (VmHWM of the runner process itself, read from /proc while it runs; test
# processes are not counted), the wall time, the total output and the size of the JUnit file.
# The runner's memory must stay flat as COUNT grows. Never a ctest test. See docs/PERFORMANCE.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
shift || true
counts=("$@")
((${#counts[@]})) || counts=(500 2000)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DASYNCHECK_WERROR=ON >"$tmp/configure.log" 2>&1 ||
        { cat "$tmp/configure.log" >&2; echo "bench/soak/run.sh: configuring $build failed" >&2; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" --target bench_soak >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; echo "bench/soak/run.sh: building bench_soak failed" >&2; exit 1; }
bin=$(cd "$build/bench" && pwd)/bench_soak

printf '%8s  %14s  %10s  %12s  %12s\n' tests "runner peak" "wall" "output" "junit file"
for n in "${counts[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench/soak/run.sh: '$n' is not a count" >&2; exit 2; }
    xml=$tmp/soak-$n.xml
    start=$(date +%s.%N)
    "$bin" --repeat="$n" -j2 --junit="$xml" >/dev/null 2>"$tmp/stderr" &
    pid=$!
    peak=0
    while kill -0 "$pid" 2>/dev/null; do
        hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n $hwm ]] && ((hwm > peak)) && peak=$hwm
        sleep 0.05
    done
    rc=0
    wait "$pid" || rc=$?
    end=$(date +%s.%N)
    if ((rc != 0)); then
        cat "$tmp/stderr" >&2
        echo "bench/soak/run.sh: bench_soak --repeat=$n exited with status $rc" >&2
        exit 1
    fi
    printf '%8d  %10.1f MiB  %8.2f s  %8d MiB  %8.1f MiB\n' "$n" "$(echo "$peak / 1024" | bc -l)" \
        "$(echo "$end - $start" | bc -l)" "$n" "$(echo "$(stat -c %s "$xml") / 1048576" | bc -l)"
    rm -f "$xml"
done
