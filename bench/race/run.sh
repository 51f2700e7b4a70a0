#!/usr/bin/env bash
# bench/race/run.sh [BUILD_DIR] — what exploring schedules costs, and how many schedules find a bug.
#
# Builds bench_race_bugs (selftest/fixtures/race_bugs.c compiled under a bench target) and bench_wall in
# BUILD_DIR (default: build; configured first with -DASYNCHECK_WERROR=ON if it has no CMakeCache.txt),
# checks that exploring really runs N schedules, then:
#
#   a. throughput, BENCH_REPS rounds (default 5), each running, side by side:
#        det.same_every_run    --schedules 5000 -j1   and   --repeat 5000 -j1
#        det.same_every_run    --schedules 5000 -j2   and   --repeat 5000 -j2
#        cache_fixed.fetches_once --schedules 5000 -j2 and  --repeat 5000 -j2
#      (each pair in alternating order: odd rounds exploring first, even rounds plain first). Every run
#      is timed whole by bench_wall on CLOCK_MONOTONIC, stdout on /dev/null; any non-zero exit stops the
#      benchmark. --repeat 5000 forks the test 5,000 times with no exploration: the runner's plain
#      per-test cost. Prints schedules (or runs) per second and the ratio exploring / plain per round,
#      medianed. det.same_every_run is two virtual-clock timers; cache_fixed.fetches_once makes a libffi
#      mock with a delayed completion and two timers, one of them with a seeded latency. Each round also
#      runs bench_floor 1000 (bare fork + _exit + waitpid; the same with the child making a libev loop),
#      the least a process per schedule can cost, one at a time.
#   b. schedules to find each bug: for each buggy test and mode (shuffle, pct), -j1 --schedules=1000
#      --seed=B for B = 1..BENCH_SEEDS (default 30), K parsed from "schedule K of 1000 (seed S, MODE)".
#      With --seed, schedule 1 is seed B itself (not libev's own order), the others derived from B; at -j1
#      they run in order, so K is the number of schedules that were needed. Prints median, mean and max K
#      (over the seeds that found the bug) and how many seeds found it within 1,000.
#   c. PASS/FAIL checks: each buggy test passes with no exploration (libev's own order); each fixed twin
#      passes 1,000 schedules in both modes. Exits 1 if a fixed twin fails, a buggy test fails its plain
#      run, or a bug is not found by any seed in a mode.
# About a minute and a half on the 2-core machine of docs/PERFORMANCE.md. A benchmark: never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
reps=${BENCH_REPS:-5}
nseeds=${BENCH_SEEDS:-30}
nsched=5000     # schedules (or repeats) per throughput run
max_find=1000   # schedules per bug hunt
fixed_sched=1000

for v in reps nseeds; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "bench/race/run.sh: BENCH_${v^^}='${!v}' is not a positive whole number" >&2
        exit 2
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ----
if [[ ! -f $build/CMakeCache.txt ]]; then
    echo "configuring $build ..." >&2
    if ! cmake -S "$root" -B "$build" -DASYNCHECK_WERROR=ON >"$tmp/configure.log" 2>&1; then
        cat "$tmp/configure.log" >&2
        echo "bench/race/run.sh: configuring $build failed" >&2
        exit 1
    fi
fi
if ! cmake --build "$build" -j"$(nproc)" --target bench_race_bugs bench_wall bench_floor >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "bench/race/run.sh: building bench_race_bugs, bench_wall and bench_floor in $build failed" >&2
    exit 1
fi
bin=$(cd "$build/bench" && pwd)
prog=$bin/race/bench_race_bugs
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
build_type=${build_type:-"default (RelWithDebInfo)"}

failures=0
check() { # check LABEL OK(0|1) DETAIL
    if (($2)); then
        printf '  PASS  %s\n' "$1"
    else
        printf '  FAIL  %s: %s\n' "$1" "$3"
        failures=$((failures + 1))
    fi
}

# ---- exploring runs N schedules (the report of a passing test does not say how many) ----
# A buggy test with --keep-going reports "F of N runs failed": all N ran.
rc=0
"$prog" -j2 --filter cache_buggy.fetches_once --schedules 200 --keep-going >"$tmp/kg.out" 2>&1 || rc=$?
if ((rc != 1)) || ! grep -qE '[0-9]+ of 200 runs failed \(shuffle\)' "$tmp/kg.out"; then
    echo "bench/race/run.sh: --schedules 200 --keep-going did not report 'F of 200 runs failed' (exit $rc):" >&2
    tail -n 20 "$tmp/kg.out" >&2
    exit 1
fi

# ---- a. throughput ----
declare -A cmd
cmd[det_j1_x]="$prog --filter det.same_every_run --schedules $nsched -j1"
cmd[det_j1_p]="$prog --filter det.same_every_run --repeat $nsched -j1"
cmd[det_j2_x]="$prog --filter det.same_every_run --schedules $nsched -j2"
cmd[det_j2_p]="$prog --filter det.same_every_run --repeat $nsched -j2"
cmd[cache_j2_x]="$prog --filter cache_fixed.fetches_once --schedules $nsched -j2"
cmd[cache_j2_p]="$prog --filter cache_fixed.fetches_once --repeat $nsched -j2"
pairs=(det_j1 det_j2 cache_j2)

# wall NAME: appends the wall time in ns of one run of cmd[NAME] to $tmp/NAME; fails loudly.
wall() {
    local name=$1 ns rc=0
    # shellcheck disable=SC2086 # the commands are split on spaces on purpose
    ns=$("$bin/bench_wall" ${cmd[$name]} 2>"$tmp/stderr") || rc=$?
    if ((rc != 0)); then
        echo "bench/race/run.sh: '${cmd[$name]}' exited with status $rc; its stderr ends:" >&2
        tail -n 20 "$tmp/stderr" >&2
        exit 1
    fi
    echo "$ns" >>"$tmp/$name"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'throughput, %d rounds:' "$reps" >&2
for ((r = 1; r <= reps; r++)); do
    printf ' %d' "$r" >&2
    if ! "$bin/bench_floor" 1000 >"$tmp/floor.out" 2>"$tmp/stderr"; then
        echo "bench/race/run.sh: bench_floor failed; its stderr:" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    for f in fork forkloop; do
        if ! awk -v f=$f '$1 == f { print $2; found = 1 } END { exit !found }' "$tmp/floor.out" >>"$tmp/$f"; then
            echo "bench/race/run.sh: bench_floor printed no '$f' line" >&2
            exit 1
        fi
    done
    for p in "${pairs[@]}"; do
        if ((r % 2)); then
            wall "${p}_x"
            wall "${p}_p"
        else
            wall "${p}_p"
            wall "${p}_x"
        fi
    done
done
echo >&2

# ---- b. schedules to find each bug ----
bugs=(cache_buggy.fetches_once reply_buggy.calls_back_once order_buggy.applies_settings)
modes=(shuffle pct)
printf 'hunting: %d bugs x %d modes x %d seeds ...' "${#bugs[@]}" "${#modes[@]}" "$nseeds" >&2
hunt_t0=$(date +%s%N)
for bug in "${bugs[@]}"; do
    for mode in "${modes[@]}"; do
        : >"$tmp/k_${bug}_$mode"
        for ((b = 1; b <= nseeds; b++)); do
            rc=0
            "$prog" -j1 --filter "$bug" --schedules=$max_find --seed=$b --schedule-mode "$mode" \
                >"$tmp/hunt.out" 2>&1 || rc=$?
            k=$(sed -n "s/.*schedule \([0-9]*\) of $max_find (seed [0-9]*, $mode) failed.*/\1/p" "$tmp/hunt.out" | head -n1)
            if ((rc == 1)) && [[ -n $k ]]; then
                echo "$k" >>"$tmp/k_${bug}_$mode"
            elif ((rc == 0)); then
                echo "none" >>"$tmp/k_${bug}_$mode"
            else
                echo "bench/race/run.sh: $bug --seed=$b --schedule-mode $mode exited $rc without 'schedule K of $max_find (seed S, $mode) failed':" >&2
                tail -n 20 "$tmp/hunt.out" >&2
                exit 1
            fi
        done
    done
done
hunt_ms=$((($(date +%s%N) - hunt_t0) / 1000000))
echo >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results ----
median() { # median FILE
    sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rate() { # rate NAME: median runs per second of cmd[NAME]
    awk -v n=$nsched '{ print n / ($1 / 1e9) }' "$tmp/$1" >"$tmp/$1.rate"
    median "$tmp/$1.rate"
}
ratio() { # ratio PAIR: median over rounds of exploring rate / plain rate (= plain time / exploring time)
    paste "$tmp/$1_x" "$tmp/$1_p" | awk '{ print $2 / $1 }' >"$tmp/$1.ratio"
    median "$tmp/$1.ratio"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
printf 'asyncheck schedule exploration, %s, %s rounds (medians), %s cores, %s, kernel %s, build type %s\n' \
    "$(date -u +%Y-%m-%d)" "$reps" "$(nproc)" "${cpu:-unknown CPU}" "$(uname -r)" "$build_type"
printf 'load average (1, 5, 15 min) before: %s, after: %s\n\n' "$load_before" "$load_after"

printf 'a. throughput (%d schedules or repeats per run, each in its own process; wall time of the whole run)\n' $nsched
printf '%-31s %11s %9s %9s %8s %9s   %s\n' "test, jobs" "exploring/s" "(best)" "plain/s" "ratio" "µs/sched" "aim >= 5,000 schedules/s"
printf '%-31s %11s %9s %9s %8s %9s   %s\n' "-------------------------------" "-----------" "---------" "---------" "--------" "---------" "------------------------"
for p in "${pairs[@]}"; do
    case $p in
    det_j1) label="det.same_every_run, -j1" ;;
    det_j2) label="det.same_every_run, -j2" ;;
    cache_j2) label="cache_fixed.fetches_once, -j2" ;;
    esac
    x=$(rate "${p}_x")
    best=$(sort -g "$tmp/${p}_x.rate" | tail -n1)
    pl=$(rate "${p}_p")
    rt=$(ratio "$p")
    awk -v l="$label" -v x="$x" -v b="$best" -v p="$pl" -v r="$rt" 'BEGIN {
        printf "%-31s %11.0f %9.0f %9.0f %7.3f× %9.1f   %s (%+.0f %%)\n", l, x, b, p, r, 1e6 / x,
            (x >= 5000 ? "met" : "MISSED"), (x / 5000 - 1) * 100 }'
done
fork=$(median "$tmp/fork")
forkloop=$(median "$tmp/forkloop")
paste "$tmp/det_j1_x" "$tmp/forkloop" | awk -v n=$nsched '{ print ($1 / n / 1000) / $2 }' >"$tmp/r_floor"
awk -v f="$fork" -v fl="$forkloop" -v r="$(median "$tmp/r_floor")" 'BEGIN {
    printf "%-31s %11.0f %9s %9s %8s %9.1f   (bench_floor, one at a time)\n", "floor: fork, _exit, waitpid", 1e6 / f, "", "", "", f
    printf "%-31s %11.0f %9s %9s %8s %9.1f   (the child makes a libev loop)\n", "floor: fork, loop, _exit, wait", 1e6 / fl, "", "", "", fl
    printf "  det.same_every_run -j1 per schedule / fork+loop floor: %.2f × (per round, then median)\n", r }'

printf '  (exploring = --schedules %d, plain = --repeat %d of the same test; medians over the rounds, (best) the\n' $nsched $nsched
printf '   fastest round; ratio: exploring / plain runs per second, per round, then median)\n'

printf '\nb. schedules needed to find each bug (-j1 --schedules=%d --seed=B, B = 1..%d; K from "schedule K of")\n' $max_find "$nseeds"
printf '%-30s %-8s %7s %7s %5s %9s   %s\n' "buggy test" "mode" "median" "mean" "max" "found" "K per seed (B = 1, 2, ...)"
printf '%-30s %-8s %7s %7s %5s %9s   %s\n' "------------------------------" "--------" "-------" "-------" "-----" "---------" "--------------------------"
for bug in "${bugs[@]}"; do
    for mode in "${modes[@]}"; do
        f=$tmp/k_${bug}_$mode
        grep -v none "$f" >"$f.found" || true
        found=$(wc -l <"$f.found")
        if ((found > 0)); then
            med=$(median "$f.found")
            read -r mean max < <(awk '{ s += $1; if ($1 > m) m = $1 } END { printf "%.1f %d\n", s / NR, m }' "$f.found")
        else
            med=- mean=- max=-
        fi
        printf '%-30s %-8s %7s %7s %5s %6d/%-2d   %s\n' "$bug" "$mode" "$med" "$mean" "$max" "$found" "$nseeds" "$(paste -sd' ' "$f")"
    done
done
printf '  (with --seed=B schedule 1 is seed B itself, not libev'\''s own order; %d hunts took %.1f s in all)\n' \
    $((${#bugs[@]} * ${#modes[@]} * nseeds)) "$(awk -v m=$hunt_ms 'BEGIN { print m / 1000 }')"

# ---- c. checks ----
printf '\nc. checks\n'
for bug in "${bugs[@]}"; do
    for mode in "${modes[@]}"; do
        found=$(grep -vc none "$tmp/k_${bug}_$mode" || true)
        check "$bug found within $max_find schedules ($mode) by some seed" $((found > 0)) "no seed of 1..$nseeds found it"
    done
    rc=0
    "$prog" -j1 --filter "$bug" >"$tmp/plain.out" 2>&1 || rc=$?
    check "$bug passes with no exploration (libev's own order)" $((rc == 0)) "exit $rc: $(grep -m1 -E 'failed' "$tmp/plain.out" | sed 's/^ *//' || true)"
done
for fixed in cache_fixed.fetches_once reply_fixed.calls_back_once order_fixed.applies_settings; do
    for mode in "${modes[@]}"; do
        rc=0
        "$prog" -j2 --filter "$fixed" --schedules $fixed_sched --schedule-mode "$mode" >"$tmp/fixed.out" 2>&1 || rc=$?
        check "$fixed passes $fixed_sched schedules ($mode)" $((rc == 0)) "exit $rc: $(grep -m1 -E 'schedule [0-9]+ of' "$tmp/fixed.out" | sed 's/^ *//' || true)"
    done
done
check "--schedules 200 --keep-going ran all 200 schedules" 1 ""

printf '\nraw per-round wall times (ms for the whole run of %d; floors: µs each):\n' $nsched
for f in fork forkloop; do
    printf '  %-12s' "$f"
    awk '{ printf " %9.1f", $1 } END { printf "\n" }' "$tmp/$f"
done
for p in "${pairs[@]}"; do
    for s in x p; do
        printf '  %-12s' "${p}_$s"
        awk '{ printf " %9.1f", $1 / 1e6 } END { printf "\n" }' "$tmp/${p}_$s"
    done
done

if ((failures)); then
    echo "bench/race/run.sh: $failures check(s) failed" >&2
    exit 1
fi
