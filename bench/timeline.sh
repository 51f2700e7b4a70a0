#!/usr/bin/env bash
# bench/timeline.sh [BUILD_DIR] — what the always-on timeline (src/timeline/) costs: the same runs with
# the event ring recording (the default) and with AC_TIMELINE=off (nothing mapped, nothing recorded),
# interleaved, BENCH_REPS rounds (default 5), each round alternating which goes first:
#   bench_trivial -j1          1,000 trivial tests, each forked (docs/PERFORMANCE.md)
#   bench_trivial --no-fork    the same, in-process
#   bench_race_bugs --filter=cache_fixed.fetches_once --schedules=2000 -j2
#                              exploration throughput: a libffi mock with a delayed completion and two
#                              timers, 2,000 schedules (each a forked run recording its calls,
#                              completions, starts and callbacks)
#   bench_race_bugs --filter=det.same_every_run --schedules=2000 -j2
#                              two virtual-clock timers, 2,000 schedules
#   bench_timeline --no-fork --filter=timeline_bench.notes       1,000,000 ac_note calls
#   bench_timeline --no-fork --filter=timeline_bench.callbacks   200,000 idle callbacks
# Each run timed whole by bench_wall (CLOCK_MONOTONIC, stdout on /dev/null). Prints the medians and the
# median of the per-round ratios on/off. Builds BUILD_DIR (default build-bench, configured with
# -DASYNCHECK_WERROR=ON if it has no CMakeCache.txt). A benchmark: never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build-bench}
reps=${BENCH_REPS:-5}
if ! [[ $reps =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/timeline.sh: BENCH_REPS='$reps' is not a positive whole number" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DASYNCHECK_WERROR=ON >"$tmp/configure.log" 2>&1 ||
        { cat "$tmp/configure.log" >&2; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" --target bench_trivial bench_wall bench_race_bugs bench_timeline >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; exit 1; }
bin=$(cd "$build/bench" && pwd)
race=$(find "$build" -name bench_race_bugs -type f -perm -u+x | head -1)

# wall NAME MODE CMD...: appends CMD's wall time (ns) to $tmp/NAME.MODE; MODE off sets AC_TIMELINE=off.
wall() {
    local name=$1 mode=$2 ns rc=0
    shift 2
    if [[ $mode == off ]]; then
        ns=$(AC_TIMELINE=off "$bin/bench_wall" "$@" 2>"$tmp/stderr") || rc=$?
    else
        ns=$("$bin/bench_wall" "$@" 2>"$tmp/stderr") || rc=$?
    fi
    if ((rc != 0)); then
        echo "bench/timeline.sh: '$*' (timeline $mode) exited with status $rc:" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    echo "$ns" >>"$tmp/$name.$mode"
}

runs=(
    "j1|$bin/bench_trivial -j1"
    "nofork|$bin/bench_trivial --no-fork"
    "explore_mock|$race --filter=cache_fixed.fetches_once --schedules=2000 -j2"
    "explore_timers|$race --filter=det.same_every_run --schedules=2000 -j2"
    "notes_1e6|$bin/bench_timeline --no-fork --filter=timeline_bench.notes"
    "callbacks_2e5|$bin/bench_timeline --no-fork --filter=timeline_bench.callbacks"
)
printf 'running %d rounds:' "$reps" >&2
for ((r = 1; r <= reps; r++)); do
    printf ' %d' "$r" >&2
    for run in "${runs[@]}"; do
        name=${run%%|*}
        read -ra cmd <<<"${run#*|}"
        if ((r % 2)); then
            wall "$name" on "${cmd[@]}"
            wall "$name" off "${cmd[@]}"
        else
            wall "$name" off "${cmd[@]}"
            wall "$name" on "${cmd[@]}"
        fi
    done
done
echo >&2

median() {
    sort -g "$1" | awk -v d="${2:-1}" '{ v[NR] = $1 / d }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
printf '%-16s %14s %14s %10s\n' run "on (ms)" "off (ms)" "on/off"
for run in "${runs[@]}"; do
    name=${run%%|*}
    paste "$tmp/$name.on" "$tmp/$name.off" | awk '{ print $1 / $2 }' >"$tmp/$name.ratio"
    printf '%-16s %14.1f %14.1f %10.3f\n' "$name" "$(median "$tmp/$name.on" 1000000)" \
        "$(median "$tmp/$name.off" 1000000)" "$(median "$tmp/$name.ratio")"
done
