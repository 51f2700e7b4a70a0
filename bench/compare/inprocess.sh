#!/usr/bin/env bash
# bench/compare/inprocess.sh [BUILD_DIR [BEFORE_BUILD_DIR]] — in-process tests side by side: asyncheck
# --no-fork against cmocka and Check's CK_FORK=no on the same 1,000 trivial and 1,000 async tests
# (bench/compare/compare.h), and, when BEFORE_BUILD_DIR is given (a build directory of another asyncheck
# tree, e.g. the commit before a change), that asyncheck's --no-fork in the same repetitions, so that
# before and after are measured side by side in one run.
#
# Needs cmocka and Check (Debian: libcmocka-dev check pkg-config; prints the install line when missing).
# Configures and builds the comparison programs in BUILD_DIR (default: build) and the asyncheck ones in
# BEFORE_BUILD_DIR, checks once that every program runs all 1,000 tests and passes, then BENCH_REPS times
# (default 11) runs each configuration once, the compared ones next to each other, each whole run timed
# by bench_wall with stdout on /dev/null. Prints medians in µs per test of wall time and of CPU time
# (user + system of the run: steadier than wall time on a busy machine), and ratios of each computed
# within each repetition and then medianed. A benchmark: never a ctest test. (bench/compare/run.sh measures every
# mode, Criterion included.)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
before=${2:-}
reps=${BENCH_REPS:-11}
ntests=1000

if ! [[ $reps =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/compare/inprocess.sh: BENCH_REPS='$reps' is not a positive whole number" >&2
    exit 2
fi
for module in cmocka check; do
    if ! pkg-config --exists "$module" 2>/dev/null; then
        echo "bench/compare/inprocess.sh: $module not found by pkg-config; install with:" >&2
        echo "  sudo apt-get install -y libcmocka-dev check pkg-config" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

targets=(bench_wall compare_asyncheck_trivial compare_asyncheck_async compare_cmocka_trivial
    compare_cmocka_async compare_check_trivial compare_check_async)
if ! { cmake -S "$root" -B "$build" && cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"; } \
    >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "bench/compare/inprocess.sh: building in $build failed" >&2
    exit 1
fi
cmp=$(cd "$build/bench/compare" && pwd)
wall=$(cd "$build/bench" && pwd)/bench_wall
if [[ -n $before ]]; then
    if ! cmake --build "$before" -j"$(nproc)" --target compare_asyncheck_trivial compare_asyncheck_async \
        >"$tmp/before.log" 2>&1; then
        cat "$tmp/before.log" >&2
        echo "bench/compare/inprocess.sh: building in $before failed" >&2
        exit 1
    fi
    old=$(cd "$before/bench/compare" && pwd)
fi

declare -A cmd
names=()
for w in trivial async; do
    cmd[cmocka_$w]="$cmp/compare_cmocka_$w"
    cmd[after_$w]="$cmp/compare_asyncheck_$w --no-fork"
    names+=("cmocka_$w" "after_$w")
    if [[ -n $before ]]; then
        cmd[before_$w]="$old/compare_asyncheck_$w --no-fork"
        names+=("before_$w")
    fi
    cmd[check_$w]="env CK_FORK=no $cmp/compare_check_$w"
    names+=("check_$w")
done

verify() { # verify NAME PATTERN
    local rc=0
    # shellcheck disable=SC2086 # the commands are split on spaces on purpose
    ${cmd[$1]} >"$tmp/verify.out" 2>&1 || rc=$?
    if ((rc != 0)) || ! grep -qE "$2" "$tmp/verify.out"; then
        echo "bench/compare/inprocess.sh: '${cmd[$1]}' exited with $rc or did not print /$2/:" >&2
        tail -n 20 "$tmp/verify.out" >&2
        exit 1
    fi
}
for name in "${names[@]}"; do
    case $name in
    cmocka_*) verify "$name" "^\[  PASSED  \] $ntests test\(s\)\." ;;
    check_*) verify "$name" "^100%: Checks: $ntests, Failures: 0, Errors: 0" ;;
    *) verify "$name" "^asyncheck: $ntests passed, 0 failed, 0 skipped" ;;
    esac
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'running %d repetitions:' "$reps" >&2
for ((r = 1; r <= reps; r++)); do
    printf ' %d' "$r" >&2
    for name in "${names[@]}"; do
        # shellcheck disable=SC2086
        if ! BENCH_WALL_CPU=1 "$wall" ${cmd[$name]} >>"$tmp/$name.both" 2>"$tmp/stderr"; then
            echo "bench/compare/inprocess.sh: '${cmd[$name]}' failed:" >&2
            tail -n 20 "$tmp/stderr" >&2
            exit 1
        fi
    done
done
echo >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for name in "${names[@]}"; do # NAME: wall ns a run; NAME.cpu: CPU ns a run
    cut -d' ' -f1 "$tmp/$name.both" >"$tmp/$name"
    cut -d' ' -f2 "$tmp/$name.both" >"$tmp/$name.cpu"
done

median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
per_test() { # per_test NAME: median µs per test
    awk -v n=$ntests '{ print $1 / n / 1000 }' "$tmp/$1" >"$tmp/$1.us"
    median "$tmp/$1.us"
}
ratio() { # ratio A B: median over the repetitions of A / B
    paste "$tmp/$1" "$tmp/$2" | awk '{ print $1 / $2 }' >"$tmp/ratio"
    median "$tmp/ratio"
}

printf '%s, %s repetitions (medians), %s cores, kernel %s; cmocka %s, Check %s\n' "$(date -u +%Y-%m-%d)" \
    "$reps" "$(nproc)" "$(uname -r)" "$(pkg-config --modversion cmocka)" "$(pkg-config --modversion check)"
printf 'load average (1, 5, 15 min) before: %s, after: %s\n' "$load_before" "$load_after"
for kind in wall cpu; do
    s=""
    [[ $kind == cpu ]] && s=.cpu
    printf '\n%-40s %10s %10s\n' "µs per test, $kind time (run / $ntests)" trivial async
    row() { printf '%-40s %10.1f %10.1f\n' "$1" "$(per_test "$2_trivial$s")" "$(per_test "$2_async$s")"; }
    row "asyncheck --no-fork" after
    [[ -n $before ]] && row "asyncheck --no-fork, before" before
    row "cmocka" cmocka
    row "Check, CK_FORK=no" check
    printf '%-40s %10s %10s\n' "ratios of $kind time (per repetition)" trivial async
    rrow() { printf '%-40s %9.2f× %9.2f×\n' "$1" "$(ratio "$2_trivial$s" "$3_trivial$s")" "$(ratio "$2_async$s" "$3_async$s")"; }
    rrow "asyncheck / cmocka (aim <= 1.5×)" after cmocka
    if [[ -n $before ]]; then
        rrow "before / cmocka" before cmocka
        rrow "asyncheck / before" after before
    fi
    rrow "asyncheck / Check no-fork" after check
done
