#!/usr/bin/env bash
# bench/aims.sh [BUILD_DIR [BEFORE_BUILD_DIR]] — every speed aim of issue #14 with its measured ratio, side
# by side in one run, for this tree (BUILD_DIR, default build) and, when BEFORE_BUILD_DIR is given, for
# another build (e.g. main's, built in /tmp/before) measured in the same rounds.
#
# Builds bench_trivial, bench_race_bugs, bench_clock, bench_floor and bench_wall in each build directory
# (configuring it with -DASYNCHECK_WERROR=ON -DASYNCHECK_BUILD_BENCH=ON first if it has no CMakeCache.txt),
# then BENCH_REPS rounds (default 5); each round runs, one after another, for each build in turn (the
# order of the builds alternates between rounds):
#   bench_floor 1000                                the fork+loop floor and the capture floor (bench/floor/floor.c)
#   two bench_floor 1000 capture at once            what two independent capturing harnesses get from 2 cores
#   bench_trivial -j1, -j2                          1,000 trivial isolated tests
#   bench_trivial --no-fork                         the same in-process
#   bench_race_bugs det.same_every_run --schedules N -j1, -j2   exploration of one small test
#   bench_clock --clock virtual -j1                 100 tests of 30 virtual seconds of timers each
#   perf stat of bench_trivial -j1 and -j2: the runner alone (--no-inherit) and the whole tree (when perf
#   exists); at -j2 the runs are supervised by lanes (src/runner/lane.c), at -j1 by the runner itself
# Each run is timed whole by bench_wall (CLOCK_MONOTONIC, stdout on /dev/null); a run that exits
# non-zero stops the benchmark. Within a round, the floors and the trivial and exploring runs are made
# BENCH_INNER times (default 3; -j1 and -j2 alternating) and the round keeps the least of each: the host's
# other guests only ever add time, and a ratio of two runs of which one was disturbed says nothing. Ratios
# are computed within each round and then medianed (only side-by-side ratios are trustworthy on this
# machine). A benchmark: never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
reps=${BENCH_REPS:-5}
inner=${BENCH_INNER:-3}
nsched=${BENCH_SCHEDULES:-2000}
builds=("${1:-build}")
labels=(after)
if [[ -n ${2:-} ]]; then
    builds+=("$2")
    labels+=(before)
fi
if ! [[ $reps =~ ^[1-9][0-9]*$ && $inner =~ ^[1-9][0-9]*$ && $nsched =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/aims.sh: BENCH_REPS='$reps', BENCH_INNER='$inner' and BENCH_SCHEDULES='$nsched' must be positive whole numbers" >&2
    exit 2
fi
have_perf=0
command -v perf >/dev/null 2>&1 && perf stat -e task-clock -- true >/dev/null 2>&1 && have_perf=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for b in "${builds[@]}"; do
    if [[ ! -f $b/CMakeCache.txt ]]; then
        echo "bench/aims.sh: $b has no CMakeCache.txt; configure it first, e.g." >&2
        echo "  cmake -S $root -B $b -DASYNCHECK_WERROR=ON -DASYNCHECK_BUILD_BENCH=ON" >&2
        exit 1
    fi
    if ! cmake --build "$b" -j"$(nproc)" --target bench_trivial bench_race_bugs bench_clock bench_floor bench_wall \
        >"$tmp/build.log" 2>&1; then
        cat "$tmp/build.log" >&2
        echo "bench/aims.sh: building the benchmarks in $b failed" >&2
        exit 1
    fi
done

# run LABEL NAME CMD...: appends the wall time in ns of one run of CMD to $tmp/LABEL.NAME.
run() {
    local label=$1 name=$2 ns rc=0
    shift 2
    ns=$("${bin[$label]}/bench_wall" "$@" 2>"$tmp/stderr") || rc=$?
    if ((rc != 0)); then
        echo "bench/aims.sh: '$*' exited with status $rc; its stderr ends:" >&2
        tail -n 20 "$tmp/stderr" >&2
        exit 1
    fi
    echo "$ns" >>"$tmp/$label.$name"
}

# least LABEL NAME...: keeps, of the values of each NAME added since the round began (BENCH_INNER of
# them), the least, as the round's value.
least() {
    local label=$1 name f
    shift
    for name in "$@"; do
        f=$tmp/$label.$name
        head -n $((r - 1)) "$f" >"$f.kept"
        tail -n +"$r" "$f" | sort -g | head -n1 >>"$f.kept"
        mv "$f.kept" "$f"
    done
}

# cpu LABEL JOBS SUFFIX: the runner's own CPU and the whole tree's for bench_trivial -jJOBS (µs, perf
# task-clock), into LABEL.cpu_runnerSUFFIX and LABEL.cpu_allSUFFIX.
cpu() {
    local label=$1 jobs=$2 suffix=$3 prog
    prog=${bin[$label]}/bench_trivial
    perf stat --no-inherit -x, -e task-clock -o "$tmp/stat.csv" -- "$prog" -j"$jobs" >/dev/null 2>&1
    awk -F, '$3 ~ /task-clock/ { print $1 * 1000 }' "$tmp/stat.csv" >>"$tmp/$label.cpu_runner$suffix"
    perf stat -x, -e task-clock -o "$tmp/stat.csv" -- "$prog" -j"$jobs" >/dev/null 2>&1
    awk -F, '$3 ~ /task-clock/ { print $1 * 1000 }' "$tmp/stat.csv" >>"$tmp/$label.cpu_all$suffix"
}

declare -A bin
for i in "${!builds[@]}"; do
    bin[${labels[$i]}]=$(cd "${builds[$i]}/bench" && pwd)
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'rounds:' >&2
for ((r = 1; r <= reps; r++)); do
    printf ' %d' "$r" >&2
    order=("${labels[@]}")
    if ((r % 2 == 0 && ${#labels[@]} == 2)); then
        order=(before after)
    fi
    for l in "${order[@]}"; do
        b=${bin[$l]}
        for ((i = 0; i < inner; i++)); do
            "${bin[after]}/bench_floor" 1000 >"$tmp/floor.out" # (the floors are this tree's, for both builds)
            awk '$1 == "forkloop" { print $2 }' "$tmp/floor.out" >>"$tmp/$l.forkloop"
            awk '$1 == "capture" { print $2 }' "$tmp/floor.out" >>"$tmp/$l.capture"
        done
        least "$l" forkloop capture
        "${bin[after]}/bench_floor" 1000 capture >"$tmp/pair1.out" &
        "${bin[after]}/bench_floor" 1000 capture >"$tmp/pair2.out"
        wait $!
        # throughput of the two at once over one alone's (from this round's capture floor)
        cat "$tmp/pair1.out" "$tmp/pair2.out" | awk -v one="$(tail -n1 "$tmp/$l.capture")" \
            '$1 == "capture" { t += 1 / $2 } END { print t * one }' >>"$tmp/$l.cpair"
        for ((i = 0; i < inner; i++)); do
            run "$l" triv_j1 "$b/bench_trivial" -j1
            run "$l" triv_j2 "$b/bench_trivial" -j2
            run "$l" triv_nf "$b/bench_trivial" --no-fork
            run "$l" expl_j1 "$b/race/bench_race_bugs" --filter det.same_every_run --schedules "$nsched" -j1
            run "$l" expl_j2 "$b/race/bench_race_bugs" --filter det.same_every_run --schedules "$nsched" -j2
        done
        least "$l" triv_j1 triv_j2 triv_nf expl_j1 expl_j2
        run "$l" clock_j1 "$b/bench_clock" --clock virtual -j1
        ((have_perf)) && cpu "$l" 1 "" && cpu "$l" 2 2
    done
done
echo >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { # median FILE
    sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio LABEL EXPR: median over the rounds of an awk expression of the per-round values, named by file
# (fl = fork+loop floor µs, j1/j2/nf = trivial ns, x1/x2 = exploration ns, ck = clock ns, cf = capture
# floor µs, cp = two capture floors' throughput over one's, cr/ca = CPU µs at -j1, cr2/ca2 at -j2).
ratio() {
    local l=$1 expr=$2 cols=(forkloop triv_j1 triv_j2 triv_nf expl_j1 expl_j2 clock_j1 capture cpair) files=()
    for c in "${cols[@]}"; do files+=("$tmp/$l.$c"); done
    if ((have_perf)); then
        files+=("$tmp/$l.cpu_runner" "$tmp/$l.cpu_all" "$tmp/$l.cpu_runner2" "$tmp/$l.cpu_all2")
    else
        yes 0 | head -n "$reps" >"$tmp/zero"
        files+=("$tmp/zero" "$tmp/zero" "$tmp/zero" "$tmp/zero")
    fi
    paste "${files[@]}" | awk -v n="$nsched" "{ fl = \$1; j1 = \$2; j2 = \$3; nf = \$4; x1 = \$5; x2 = \$6; ck = \$7;
        cf = \$8; cp = \$9; cr = \$10; ca = \$11; cr2 = \$12; ca2 = \$13; print $expr }" >"$tmp/ratio"
    median "$tmp/ratio"
}

cpuname=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
printf 'asyncheck issue #14 aims, %s, %d rounds of %d runs each (medians of per-round least values), %s cores, %s, kernel %s\n' \
    "$(date -u +%Y-%m-%d)" "$reps" "$inner" "$(nproc)" "${cpuname:-unknown CPU}" "$(uname -r)"
printf 'builds: after = %s' "${builds[0]}"
((${#builds[@]} == 2)) && printf ', before = %s' "${builds[1]}"
printf '\nload average (1, 5, 15 min) before: %s, after: %s\n\n' "$load_before" "$load_after"

line() { # line WHAT AIM EXPR FORMAT
    local what=$1 aim=$2 expr=$3 fmt=$4 v
    printf '%-58s' "$what"
    for l in "${labels[@]}"; do
        v=$(ratio "$l" "$expr")
        # shellcheck disable=SC2059 # the format is the caller's, one of a few fixed ones
        printf " %12s" "$(printf "$fmt" "$v")"
    done
    printf '   %s\n' "$aim"
}
printf '%-58s' "measure"
for l in "${labels[@]}"; do printf ' %12s' "$l"; done
printf '   %s\n' "aim"
line "fork+loop floor (bench_floor), µs" "" 'fl' '%.1f'
line "capture floor (fork+loop, 3 captured pipes, reaped), µs" "" 'cf' '%.1f'
line "capture floor / fork+loop floor" "(what capture itself costs)" 'cf / fl' '%.2f x'
line "isolated trivial test -j1, µs/test" "" 'j1 / 1000 / 1000' '%.1f'
line "isolated trivial test -j1 / fork+loop floor" "<= 1.25 (below capture: see PERFORMANCE.md)" 'j1 / 1000 / 1000 / fl' '%.2f x'
line "isolated trivial test -j1 / capture floor" "<= 1.25" 'j1 / 1000 / 1000 / cf' '%.2f x'
line "two capture floors at once: throughput / one's" "(what 2 cores give)" 'cp' '%.2f x'
line "1,000 trivial tests: -j2 throughput / -j1" ">= 1.8" 'j1 / j2' '%.2f x'
line "... over what two capture floors at once get" "(the machine's part taken out)" 'j1 / j2 / cp' '%.2f x'
line "exploration -j1, µs/schedule" "" 'x1 / n / 1000' '%.1f'
line "exploration -j1 per schedule / fork+loop floor" "<= 1.25 (below capture)" 'x1 / n / 1000 / fl' '%.2f x'
line "exploration -j1 per schedule / capture floor" "<= 1.25" 'x1 / n / 1000 / cf' '%.2f x'
line "exploration: -j2 throughput / -j1" ">= 1.8" 'x1 / x2' '%.2f x'
line "... over what two capture floors at once get" "(the machine's part taken out)" 'x1 / x2 / cp' '%.2f x'
line "in-process trivial test (--no-fork), µs/test" "(vs cmocka: bench/compare)" 'nf / 1000 / 1000' '%.1f'
line "hygiene: isolated trivial test -j1 (all checks on), µs/test" "no dearer than before" 'j1 / 1000 / 1000' '%.1f'
line "virtual clock: 30 s of timers per test, -j1, µs/test" "no dearer than before" 'ck / 100 / 1000' '%.1f'
if ((have_perf)); then
    line "runner's own CPU per test (trivial -j1), µs" "" 'cr / 1000' '%.1f'
    line "fork servers' and children's CPU per test (tree - runner), µs" "" '(ca - cr) / 1000' '%.1f'
    line "-j1 (no lanes): runner CPU / (servers + child) CPU" "" 'cr / (ca - cr)' '%.3f'
    line "runner's own CPU per test (trivial -j2, lanes), µs" "" 'cr2 / 1000' '%.1f'
    line "lanes', servers' and children's CPU per test, -j2, µs" "" '(ca2 - cr2) / 1000' '%.1f'
    line "-j2: runner CPU / (lanes + servers + child) CPU" "<= 0.125" 'cr2 / (ca2 - cr2)' '%.3f'
    line "cores the runner can keep busy (1 + rest/runner, -j2)" ">= 16 (9 at the aim)" '1 + (ca2 - cr2) / cr2' '%.1f'
else
    echo "(perf not found: the runner's own CPU against a child's is not measured)"
fi
if ((${#labels[@]} == 2)); then
    printf '\nafter / before, per round then median (below 1: faster now)\n'
    for m in triv_j1 triv_j2 triv_nf expl_j1 expl_j2 clock_j1; do
        paste "$tmp/after.$m" "$tmp/before.$m" | awk '{ print $1 / $2 }' >"$tmp/ab"
        printf '  %-10s %.3f x\n' "$m" "$(median "$tmp/ab")"
    done
    if ((have_perf)); then
        paste "$tmp/after.cpu_runner" "$tmp/before.cpu_runner" | awk '{ print $1 / $2 }' >"$tmp/ab"
        printf '  %-10s %.3f x\n' "runner CPU" "$(median "$tmp/ab")"
        paste "$tmp/after.cpu_all" "$tmp/after.cpu_runner" "$tmp/before.cpu_all" "$tmp/before.cpu_runner" |
            awk '{ print ($1 - $2) / ($3 - $4) }' >"$tmp/ab"
        printf '  %-10s %.3f x\n' "rest CPU" "$(median "$tmp/ab")"
        paste "$tmp/after.cpu_runner2" "$tmp/before.cpu_runner2" | awk '{ print $1 / $2 }' >"$tmp/ab"
        printf '  %-10s %.3f x\n' "runner CPU -j2" "$(median "$tmp/ab")"
        paste "$tmp/after.cpu_all2" "$tmp/before.cpu_all2" | awk '{ print $1 / $2 }' >"$tmp/ab"
        printf '  %-10s %.3f x\n' "tree CPU -j2" "$(median "$tmp/ab")"
    fi
fi
printf '\nraw per-round values (floors µs; cpair x; runs ms for the whole run)\n'
for l in "${labels[@]}"; do
    for m in forkloop capture cpair triv_j1 triv_j2 triv_nf expl_j1 expl_j2 clock_j1; do
        printf '  %-6s %-9s' "$l" "$m"
        awk -v m=$m '{ printf " %9.2f", m == "forkloop" || m == "capture" || m == "cpair" ? $1 : $1 / 1e6 } END { printf "\n" }' "$tmp/$l.$m"
    done
done
