#!/usr/bin/env bash
# bench/split.sh [BUILD_DIR] — where the CPU of 1,000 trivial isolated tests goes at -j1 and at -j2, by
# process role, and what that allows the -j2 / -j1 throughput ratio (issue #14's aim) to be.
#
# Each round runs, under `perf sched record` (the scheduler's own accounting of each process's run time,
# exact where sampling is not), one after another:
#   bench_trivial -j1                         runner + its fork server + the tests
#   bench_trivial -j2                         runner + two lanes + their fork servers + the tests
#   two bench_trivial -j1 at once, one per CPU (taskset), as two independent harnesses would run
# and splits each run's CPU time by role, per test: the runner (the process perf started), lanes (its
# long-lived children, -j2 only), fork servers (long-lived children of the supervisor), and the tests
# (every short-lived process). The idle time of both CPUs is read from the same trace.
#
# When both CPUs are busy (idle near 0), -j2's wall time is its CPU time over two, and -j1's is its CPU
# time (one CPU, the chain lane/runner -> server -> test being serial): the ratio is then at most
# 2 x (CPU a test at -j1) / (CPU a test at -j2), printed as "ratio bound". BENCH_REPS rounds (default 5),
# medians of the rounds. Needs perf (linux-perf) and root or perf_event_paranoid <= 1 for sched events.
# A benchmark: never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
reps=${BENCH_REPS:-5}
if ! [[ $reps =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/split.sh: BENCH_REPS='$reps' must be a positive whole number" >&2
    exit 2
fi
if ! command -v perf >/dev/null 2>&1; then
    echo "bench/split.sh: needs perf (Debian: apt-get install linux-perf)" >&2
    exit 1
fi
if [[ ! -f $build/CMakeCache.txt ]]; then
    echo "bench/split.sh: $build has no CMakeCache.txt; configure it first, e.g." >&2
    echo "  cmake -S $root -B $build -DASYNCHECK_BUILD_BENCH=ON" >&2
    exit 1
fi
cmake --build "$build" --target bench_trivial >/dev/null
prog=$build/bench/bench_trivial
ncpu=$(nproc)
if ((ncpu < 2)); then
    echo "bench/split.sh: needs at least 2 CPUs, this machine has $ncpu" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# split NAME LANES CMD...: records CMD with perf sched and appends one line to $tmp/NAME (LANES: 1 when
# the runner's long-lived children are lanes, 0 when they are fork servers):
# "runner lanes servers tests idle ntests" (CPU ms of each role, idle ms of all CPUs, tests counted).
split() {
    local name=$1 lanes=$2
    shift 2
    if ! perf sched record -o "$tmp/sched.data" -- "$@" >/dev/null 2>"$tmp/err"; then
        echo "bench/split.sh: perf sched record of '$*' failed:" >&2
        tail -n 5 "$tmp/err" >&2
        exit 1
    fi
    perf sched timehist -i "$tmp/sched.data" -s 2>/dev/null | awk '
        /idle for/ { idle += $5 }
        /^ *bench_trivial\[[0-9]+\]/ {
            match($1, /\[[0-9]+\]/); pid = substr($1, RSTART + 1, RLENGTH - 2)
            ppid[pid] = $2; runs[pid] = $3; ms[pid] = $4; all[pid] = 1
        }
        END {
            # the runners: bench_trivial processes whose parent is none of them
            for (p in all) if (!(ppid[p] in all)) top[p] = 1
            for (p in all) {
                if (p in top) { r += ms[p]; continue }
                if (runs[p] <= 50) { t += ms[p]; nt++; continue }        # a test: a few switches at most
                if (ppid[p] in top && lanes_possible) l += ms[p]; else s += ms[p]
            }
            printf "%.3f %.3f %.3f %.3f %.3f %d\n", r, l, s, t, idle, nt
        }' lanes_possible="$lanes" >>"$tmp/$name"
}

echo "bench/split.sh: $reps rounds of bench_trivial -j1, -j2 and two -j1 at once ($prog)" >&2
for ((i = 1; i <= reps; i++)); do
    split j1 0 "$prog" -j1
    split j2 1 "$prog" -j2
    split pair 0 bash -c "taskset -c 0 '$prog' -j1 >/dev/null & taskset -c 1 '$prog' -j1 >/dev/null; wait"
    echo "  round $i done" >&2
done

# median FILE COLUMN: the median of a column over the rounds
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
us() { awk -v ms="$1" -v n="$2" 'BEGIN {printf "%.1f", n ? ms * 1000 / n : 0}'; }

echo "asyncheck: CPU per trivial test by role (µs, medians of $reps rounds; perf sched run times)"
echo "$(uname -r), $(nproc) CPUs, $(date +%F)"
printf '%-34s %10s %10s %14s\n' "" "-j1" "-j2" "two -j1 (each)"
for col in 1:runner 2:lanes 3:"fork servers" 4:tests; do
    c=${col%%:*}
    label=${col#*:}
    printf '%-34s %10s %10s %14s\n' "$label" \
        "$(us "$(median "$tmp/j1" "$c")" "$(median "$tmp/j1" 6)")" \
        "$(us "$(median "$tmp/j2" "$c")" "$(median "$tmp/j2" 6)")" \
        "$(us "$(median "$tmp/pair" "$c")" "$(median "$tmp/pair" 6)")"
done
total() { awk '{printf "%.3f %d\n", $1 + $2 + $3 + $4, $6}' "$1" | sort -g | awk '{v[NR] = $0} END {print v[int((NR + 1) / 2)]}'; }
read -r t1 n1 <<<"$(total "$tmp/j1")"
read -r t2 n2 <<<"$(total "$tmp/j2")"
read -r tp np <<<"$(total "$tmp/pair")"
printf '%-34s %10s %10s %14s\n' "all of the run's processes" "$(us "$t1" "$n1")" "$(us "$t2" "$n2")" "$(us "$tp" "$np")"
printf '%-34s %10s %10s %14s\n' "idle of all CPUs, ms (median)" "$(median "$tmp/j1" 5)" "$(median "$tmp/j2" 5)" \
    "$(median "$tmp/pair" 5)"
awk -v a="$(us "$t1" "$n1")" -v b="$(us "$t2" "$n2")" -v p="$(us "$tp" "$np")" 'BEGIN {
    printf "CPU a test, -j2 / -j1                   %.3f x\n", b / a
    printf "CPU a test, two independent -j1 / -j1   %.3f x\n", p / a
    printf "ratio bound, 2 x (-j1 CPU) / (-j2 CPU)  %.2f x   (the aim: -j2 / -j1 >= 1.8)\n", 2 * a / b
}'
echo "raw rounds (runner lanes servers tests idle, ms; tests):"
for n in j1 j2 pair; do
    sed "s/^/  $n  /" "$tmp/$n"
done
