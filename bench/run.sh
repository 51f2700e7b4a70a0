#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — what one asyncheck test costs, beside the floors it stands on.
#
# Builds the benchmarks in BUILD_DIR (default: build; configured first if it has no CMakeCache.txt),
# then BENCH_REPS times (default 5) runs, interleaved within each repetition:
#   bench_floor                      fork+_exit+waitpid, ev_loop_new+ev_loop_destroy, and a forked
#                                    child that makes one loop and _exits; 1,000 each
#   bench_trivial -j1                1,000 trivial tests, each forked, one at a time
#   bench_trivial -j2                the same, two at a time
#   bench_trivial --no-fork          the same, in-process
#   bench_trivial --no-fork --filter s00.t0   one test: the fixed cost of starting the executable
# Each whole run is timed on CLOCK_MONOTONIC by bench_wall (stdout to /dev/null) and divided by 1,000.
# Any run that exits non-zero stops the benchmark with its stderr. Prints medians and ratios; ratios
# are the numbers to trust on a noisy machine. Never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
reps=${BENCH_REPS:-5}
ntests=1000

if ! [[ $reps =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/run.sh: BENCH_REPS='$reps' is not a positive whole number" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ----
if [[ ! -f $build/CMakeCache.txt ]]; then
    echo "configuring $build ..." >&2
    if ! cmake -S "$root" -B "$build" -DASYNCHECK_WERROR=ON >"$tmp/configure.log" 2>&1; then
        cat "$tmp/configure.log" >&2
        echo "bench/run.sh: configuring $build failed" >&2
        exit 1
    fi
fi
if ! cmake --build "$build" -j"$(nproc)" --target bench_trivial bench_floor bench_wall bench_mock bench_clock >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "bench/run.sh: building the benchmarks in $build failed" >&2
    exit 1
fi
bin=$(cd "$build/bench" && pwd)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
build_type=${build_type:-"default (RelWithDebInfo)"}

# ---- measuring ----
# wall NAME CMD...: appends CMD's wall time in ns to $tmp/NAME; fails loudly if CMD fails.
wall() {
    local name=$1
    shift
    local ns rc=0
    ns=$("$bin/bench_wall" "$@" 2>"$tmp/stderr") || rc=$?
    if ((rc != 0)); then
        echo "bench/run.sh: '$*' exited with status $rc; its stderr:" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    echo "$ns" >>"$tmp/$name"
}

printf 'running %d repetitions:' "$reps" >&2
for ((r = 1; r <= reps; r++)); do
    printf ' %d' "$r" >&2
    if ! "$bin/bench_floor" "$ntests" >"$tmp/floor.out" 2>"$tmp/stderr"; then
        echo "bench/run.sh: bench_floor failed; its stderr:" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    for f in fork loop forkloop; do
        if ! awk -v f=$f '$1 == f { print $2; found = 1 } END { exit !found }' "$tmp/floor.out" >>"$tmp/$f"; then
            echo "bench/run.sh: bench_floor printed no '$f' line" >&2
            exit 1
        fi
    done
    wall j1 "$bin/bench_trivial" -j1
    wall j2 "$bin/bench_trivial" -j2
    wall nofork "$bin/bench_trivial" --no-fork
    wall start "$bin/bench_trivial" --no-fork --filter s00.t0
done
echo >&2

for f in fork loop forkloop j1 j2 nofork start; do
    if [[ $(wc -l <"$tmp/$f") -ne $reps ]]; then
        echo "bench/run.sh: expected $reps measurements of $f" >&2
        exit 1
    fi
done

# median FILE [DIVISOR]: the median of the numbers in FILE, each divided by DIVISOR.
median() {
    sort -g "$1" | awk -v d="${2:-1}" '{ v[NR] = $1 / d }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Per test, in µs: wall ns / 1000 tests / 1000 ns-per-µs.
j1=$(median "$tmp/j1" $((ntests * 1000)))
j2=$(median "$tmp/j2" $((ntests * 1000)))
nofork=$(median "$tmp/nofork" $((ntests * 1000)))
start=$(median "$tmp/start" 1000) # one whole run, µs
fork=$(median "$tmp/fork")
loop=$(median "$tmp/loop")
forkloop=$(median "$tmp/forkloop")
# Net of starting the executable once: (1,000-test run - 1-test run) / 999, per repetition, medianed.
paste "$tmp/nofork" "$tmp/start" | awk -v n=$ntests '{ print ($1 - $2) / (n - 1) / 1000 }' >"$tmp/nofork_net"
nofork_net=$(median "$tmp/nofork_net")
paste "$tmp/j1" "$tmp/start" | awk -v n=$ntests '{ print ($1 - $2) / (n - 1) / 1000 }' >"$tmp/j1_net"
j1_net=$(median "$tmp/j1_net")
# Ratios per repetition (side by side in one repetition), then medianed.
paste "$tmp/j1" "$tmp/fork" | awk -v n=$ntests '{ print ($1 / n / 1000) / $2 }' >"$tmp/r_fork"
paste "$tmp/j1" "$tmp/forkloop" | awk -v n=$ntests '{ print ($1 / n / 1000) / $2 }' >"$tmp/r_forkloop"
paste "$tmp/j1" "$tmp/j2" | awk '{ print $1 / $2 }' >"$tmp/r_j2"
paste "$tmp/j1" "$tmp/forkloop" | awk -v n=$ntests '{ print ($1 / n / 1000) - $2 }' >"$tmp/over"
r_fork=$(median "$tmp/r_fork")
r_forkloop=$(median "$tmp/r_forkloop")
r_j2=$(median "$tmp/r_j2")
over=$(median "$tmp/over")

verdict() { # verdict VALUE AIM
    awk -v v="$1" -v a="$2" 'BEGIN { print (v <= a) ? "met" : "MISSED" }'
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
printf 'asyncheck benchmark, %s, %s reps (medians), %s cores, %s, kernel %s, build type %s\n' \
    "$(date -u +%Y-%m-%d)" "$reps" "$(nproc)" "${cpu:-unknown CPU}" "$(uname -r)" "${build_type:-?}"
printf '\n'
printf '%-46s %10s   %s\n' "measure" "value" "aim"
printf '%-46s %10s   %s\n' "----------------------------------------------" "----------" "------------------"
printf '%-46s %7.1f µs   ≤ 250 µs: %s\n' "isolated test, -j1 (µs/test, wall/1000)" "$j1" "$(verdict "$j1" 250)"
printf '%-46s %7.1f µs\n' "  same, net of one executable start" "$j1_net"
printf '%-46s %7.1f µs\n' "isolated test, -j2 (µs/test, wall/1000)" "$j2"
printf '%-46s %7.1f µs   ≤ 10 µs: %s\n' "in-process, --no-fork (µs/test, wall/1000)" "$nofork" "$(verdict "$nofork" 10)"
printf '%-46s %7.1f µs   ≤ 10 µs: %s\n' "  same, net of one executable start" "$nofork_net" "$(verdict "$nofork_net" 10)"
printf '%-46s %7.1f µs\n' "floor: fork + _exit + waitpid" "$fork"
printf '%-46s %7.1f µs\n' "floor: ev_loop_new(epoll) + ev_loop_destroy" "$loop"
printf '%-46s %7.1f µs\n' "floor: fork, child makes 1 loop, _exit, waitpid" "$forkloop"
printf '%-46s %7.1f µs\n' "floor: start bench_trivial, run 1 test" "$start"
printf '%-46s %7.1f µs\n' "runner overhead: -j1 minus fork+loop floor" "$over"
printf '%-46s %7.2f ×\n' "ratio: isolated -j1 / fork floor" "$r_fork"
printf '%-46s %7.2f ×\n' "ratio: isolated -j1 / fork+loop floor" "$r_forkloop"
printf '%-46s %7.2f ×\n' "ratio: -j1 / -j2 (speedup from 2 jobs)" "$r_j2"
printf '\n'
printf 'raw per-repetition values (floors: µs each; runs: ms for the whole run):\n'
paste "$tmp/fork" "$tmp/loop" "$tmp/forkloop" "$tmp/j1" "$tmp/j2" "$tmp/nofork" "$tmp/start" |
    awk 'BEGIN { printf "  %8s %8s %9s %10s %10s %10s %8s\n", "fork", "loop", "forkloop", "-j1", "-j2", "no-fork", "start" }
         { printf "  %8.1f %8.2f %9.1f %10.1f %10.1f %10.2f %8.2f\n", $1, $2, $3, $4 / 1e6, $5 / 1e6, $6 / 1e6, $7 / 1e6 }'

# ---- a recorded mock call (bench/mock/mock_bench.c), in-process, BENCH_REPS runs ----
printf '\nmock call cost (bench_mock --no-fork; medians of %s runs, 200,000 calls each):\n' "$reps"
for _ in $(seq "$reps"); do
    "$build/bench/bench_mock" --no-fork || { echo "bench/run.sh: bench_mock failed" >&2; exit 1; }
done >"$tmp/mock"
for what in "direct call" "bare libffi closure" "asyncheck mock call" "ratio: mock / bare closure"; do
    median=$(grep "^$what" "$tmp/mock" | awk '{ print $(NF - ($0 ~ /aim/ ? 5 : 1)) }' | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    case $what in
    ratio*) printf '  %-44s %10s x   (aim <= 2 x)\n' "$what" "$median" ;;
    *) printf '  %-44s %10s ns\n' "$what" "$median" ;;
    esac
done

# ---- virtual against real time (bench/clock/clock_bench.c): 100 tests x 30 s of timers ----
# The virtual suite runs whole, BENCH_REPS times. The real one would take 100 x 30 s / jobs, so only
# BENCH_REAL_TESTS of its tests (default 2, one per job) run for real, once; per test is what compares.
real_tests=${BENCH_REAL_TESTS:-2}
printf '\nvirtual vs real time (bench_clock: 100 tests, each 30 s of 1 s timers, -j2):\n'
for _ in $(seq "$reps"); do
    "$build/bench/bench_wall" "$build/bench/bench_clock" --clock virtual -j2 || { echo "bench/run.sh: bench_clock (virtual) failed" >&2; exit 1; }
done >"$tmp/virtual"
filters=()
for i in $(seq 0 $((real_tests - 1))); do filters+=(--filter "c$((i / 10)).t$((i % 10))"); done
"$build/bench/bench_wall" "$build/bench/bench_clock" --clock real -j2 "${filters[@]}" >"$tmp/real" ||
    { echo "bench/run.sh: bench_clock (real) failed" >&2; exit 1; }
virtual_ns=$(sort -g "$tmp/virtual" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
real_ns=$(cat "$tmp/real")
awk -v v="$virtual_ns" -v r="$real_ns" -v n="$real_tests" 'BEGIN {
    printf "  %-44s %12.1f ms   (median of runs)\n", "100 tests, --clock virtual, whole suite", v / 1e6
    printf "  %-44s %12.1f s    (%d tests run for real, %d at a time)\n", "--clock real, measured", r / 1e9, n, 2
    printf "  %-44s %12.1f s\n", "--clock real, 100 tests (extrapolated)", r / 1e9 * 100 / n
    printf "  %-44s %12.0f x\n", "ratio: real / virtual, per test", (r / n) / (v / 100)
}'
