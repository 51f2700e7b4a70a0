#!/usr/bin/env bash
# bench/compare/run.sh [BUILD_DIR] — asyncheck against Criterion, Check and cmocka on the same tests.
#
# Installs what is missing (Debian: libcriterion-dev check libcmocka-dev pkg-config; with apt-get as
# root, otherwise it prints the command and exits 1), configures BUILD_DIR (default: build) so that
# bench/compare/CMakeLists.txt finds the three frameworks, builds the comparison programs, checks once
# that every program runs all its tests and passes, then BENCH_REPS times (default 5) runs, one after
# another within each repetition (compared pairs next to each other):
#   bench_floor 1000                       the floors: fork+_exit+waitpid, and a forked child making a loop
#   trivial: 1,000 tests, one assertion each
#     asyncheck -j1, -j2 (its default here), --no-fork; Criterion --jobs 1 and its default (one job per
#     core); Check CK_FORK=yes and CK_FORK=no; cmocka
#   async: 1,000 tests, each a 1 ms ev_timer and a socketpair round-trip read by an ev_io
#     asyncheck on its test loop with AC_AWAIT; the others on a libev loop made in the test body;
#     the same modes as above
#   cpu: 200 asyncheck tests burning about 2 ms of CPU each, -j1 and -j2
# Each whole run is timed on CLOCK_MONOTONIC by bench_wall with stdout on /dev/null; any run that exits
# non-zero (or a Criterion run whose summary is not all passed) stops the benchmark with its stderr.
# Prints medians in µs per test and ratios; ratios are computed within each repetition (side by side)
# and then medianed. A benchmark: never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
reps=${BENCH_REPS:-5}
ntests=1000
ncpu_tests=200

if ! [[ $reps =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/compare/run.sh: BENCH_REPS='$reps' is not a positive whole number" >&2
    exit 2
fi

# ---- packages ----
# Debian package => pkg-config module that shows it is installed.
declare -A module_of=([libcriterion-dev]=criterion [check]=check [libcmocka-dev]=cmocka)
missing=()
if ! command -v pkg-config >/dev/null 2>&1; then
    missing=(pkg-config libcriterion-dev check libcmocka-dev)
else
    for pkg in libcriterion-dev check libcmocka-dev; do
        pkg-config --exists "${module_of[$pkg]}" || missing+=("$pkg")
    done
fi
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]} ..." >&2
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null; then
            echo "bench/compare/run.sh: apt-get install ${missing[*]} failed" >&2
            exit 1
        fi
    else
        echo "bench/compare/run.sh: missing ${missing[*]}; install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ----
# Configure every time: a build directory configured before the frameworks were installed finds them
# now (pkg_check_modules looks again for what it did not find); an existing cache keeps its settings.
configure=(cmake -S "$root" -B "$build")
[[ -f $build/CMakeCache.txt ]] || configure+=(-DASYNCHECK_WERROR=ON)
if ! "${configure[@]}" >"$tmp/configure.log" 2>&1; then
    cat "$tmp/configure.log" >&2
    echo "bench/compare/run.sh: configuring $build failed" >&2
    exit 1
fi
peers=$(cat "$build/bench/compare/peers.txt")
for peer in criterion check cmocka; do
    if [[ ";$peers;" != *";$peer;"* ]]; then
        echo "bench/compare/run.sh: CMake did not find $peer with pkg-config (found: '$peers')" >&2
        exit 1
    fi
done
targets=(bench_wall bench_floor compare_asyncheck_trivial compare_asyncheck_async compare_asyncheck_cpu)
for peer in criterion check cmocka; do targets+=("compare_${peer}_trivial" "compare_${peer}_async"); done
if ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "bench/compare/run.sh: building the comparison programs in $build failed" >&2
    exit 1
fi
bin=$(cd "$build/bench" && pwd)
cmp=$bin/compare

# ---- the runs ----
# name => command (words split on spaces; no argument has one)
declare -A cmd
for w in trivial async; do
    cmd[ac_j1_$w]="$cmp/compare_asyncheck_$w -j1"
    cmd[ac_j2_$w]="$cmp/compare_asyncheck_$w -j2"
    cmd[ac_nofork_$w]="$cmp/compare_asyncheck_$w --no-fork"
    cmd[crit_j1_$w]="$cmp/compare_criterion_$w --jobs 1"
    cmd[crit_def_$w]="$cmp/compare_criterion_$w"
    cmd[check_fork_$w]="env CK_FORK=yes $cmp/compare_check_$w"
    cmd[check_nofork_$w]="env CK_FORK=no $cmp/compare_check_$w"
    cmd[cmocka_$w]="$cmp/compare_cmocka_$w"
done
cmd[cpu_j1]="$cmp/compare_asyncheck_cpu -j1"
cmd[cpu_j2]="$cmp/compare_asyncheck_cpu -j2"
order=()
for w in trivial async; do
    # Pairs that are compared run next to each other, so that a change of load between them is unlikely.
    for m in check_fork ac_j1 cmocka ac_nofork check_nofork ac_j2 crit_def crit_j1; do order+=("${m}_$w"); done
done
order+=(cpu_j1 cpu_j2)

# A Criterion run prints its summary on stderr; it must say that all tests ran and passed.
criterion_ok() { # criterion_ok STDERR_FILE
    grep -qE "Synthesis: Tested: $ntests \| Passing: $ntests \| Failing: 0 \| Crashing: 0" "$1"
}

# Once, outside the timing, with output kept: every program runs all its tests and they pass.
# (Criterion is checked on every timed run instead, from its stderr: a run of it takes seconds.)
verify() { # verify NAME PATTERN: the run's stdout+stderr must match PATTERN (grep -E)
    local rc=0
    # shellcheck disable=SC2086 # the commands are split on spaces on purpose
    ${cmd[$1]} >"$tmp/verify.out" 2>&1 || rc=$?
    if ((rc != 0)) || ! grep -qE "$2" "$tmp/verify.out"; then
        echo "bench/compare/run.sh: '${cmd[$1]}' exited with $rc or did not print /$2/; its output ends:" >&2
        tail -n 20 "$tmp/verify.out" >&2
        exit 1
    fi
}
for w in trivial async; do
    for m in ac_j1 ac_j2 ac_nofork; do verify "${m}_$w" "^asyncheck: $ntests passed, 0 failed, 0 skipped"; done
    verify "check_fork_$w" "^100%: Checks: $ntests, Failures: 0, Errors: 0"
    verify "check_nofork_$w" "^100%: Checks: $ntests, Failures: 0, Errors: 0"
    verify "cmocka_$w" "^\[  PASSED  \] $ntests test\(s\)\."
done
verify cpu_j1 "^asyncheck: $ncpu_tests passed, 0 failed, 0 skipped"

# wall NAME: appends the wall time in ns of one run of cmd[NAME] to $tmp/NAME; fails loudly.
wall() {
    local name=$1 ns rc=0
    # shellcheck disable=SC2086
    ns=$("$bin/bench_wall" ${cmd[$name]} 2>"$tmp/stderr") || rc=$?
    if ((rc != 0)); then
        echo "bench/compare/run.sh: '${cmd[$name]}' exited with status $rc; its stderr ends:" >&2
        tail -n 20 "$tmp/stderr" >&2
        exit 1
    fi
    if [[ $name == crit_* ]] && ! criterion_ok "$tmp/stderr"; then
        echo "bench/compare/run.sh: '${cmd[$name]}' did not report $ntests tests passed; its stderr ends:" >&2
        tail -n 20 "$tmp/stderr" >&2
        exit 1
    fi
    echo "$ns" >>"$tmp/$name"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'running %d repetitions (about a minute each):' "$reps" >&2
for ((r = 1; r <= reps; r++)); do
    printf ' %d' "$r" >&2
    if ! "$bin/bench_floor" "$ntests" >"$tmp/floor.out" 2>"$tmp/stderr"; then
        echo "bench/compare/run.sh: bench_floor failed; its stderr:" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    for f in fork forkloop; do
        if ! awk -v f=$f '$1 == f { print $2; found = 1 } END { exit !found }' "$tmp/floor.out" >>"$tmp/$f"; then
            echo "bench/compare/run.sh: bench_floor printed no '$f' line" >&2
            exit 1
        fi
    done
    for name in "${order[@]}"; do wall "$name"; done
done
echo >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results ----
# median FILE: the median of the numbers in FILE.
median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# per_test NAME N: median µs per test of the runs of NAME, N tests each.
per_test() {
    awk -v n="$2" '{ print $1 / n / 1000 }' "$tmp/$1" >"$tmp/$1.us"
    median "$tmp/$1.us"
}
# ratio A B: the median over the repetitions of A's time / B's time (the same number of tests).
ratio() {
    paste "$tmp/$1" "$tmp/$2" | awk '{ print $1 / $2 }' >"$tmp/ratio"
    median "$tmp/ratio"
}
verdict() { # verdict VALUE OP AIM
    awk -v v="$1" -v op="$2" -v a="$3" 'BEGIN { ok = op == "<=" ? v <= a : v >= a; print ok ? "met" : "MISSED" }'
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
version() { pkg-config --modversion "$1" 2>/dev/null || echo '?'; }
printf 'asyncheck against Criterion %s, Check %s, cmocka %s; libev %s\n' \
    "$(version criterion)" "$(version check)" "$(version cmocka)" \
    "$(dpkg-query -W -f='${Version}' libev4 2>/dev/null || echo '?')"
printf '%s, %s repetitions (medians), %s cores, %s, kernel %s\n' \
    "$(date -u +%Y-%m-%d)" "$reps" "$(nproc)" "${cpu:-unknown CPU}" "$(uname -r)"
printf 'load average (1, 5, 15 min) before: %s, after: %s\n\n' "$load_before" "$load_after"

printf 'µs per test (wall time of the whole run / %d tests, median)\n' "$ntests"
printf '%-44s %12s %12s\n' "framework and mode" "trivial" "async"
printf '%-44s %12s %12s\n' "--------------------------------------------" "------------" "------------"
row() { # row LABEL NAME
    printf '%-44s %12.1f %12.1f\n' "$1" "$(per_test "$2_trivial" $ntests)" "$(per_test "$2_async" $ntests)"
}
printf 'isolated (a process per test)\n'
row "  asyncheck -j1" ac_j1
row "  asyncheck -j2 (its default here)" ac_j2
row "  Criterion --jobs 1" crit_j1
row "  Criterion, default jobs (one per core)" crit_def
row "  Check, CK_FORK=yes (its default)" check_fork
printf 'in-process\n'
row "  asyncheck --no-fork" ac_nofork
row "  Check, CK_FORK=no" check_nofork
row "  cmocka" cmocka
printf 'floors (bench_floor, same repetitions)\n'
printf '%-44s %12.1f\n' "  fork + _exit + waitpid" "$(median "$tmp/fork")"
printf '%-44s %12.1f\n' "  fork, child makes one libev loop, _exit" "$(median "$tmp/forkloop")"

printf '\nratios asyncheck / peer (per repetition, then median; < 1: asyncheck is faster)\n'
printf '%-44s %12s %12s   %s\n' "comparison" "trivial" "async" "aim (trivial)"
printf '%-44s %12s %12s   %s\n' "--------------------------------------------" "------------" "------------" "-------------"
rrow() { # rrow LABEL A B [OP AIM]
    local t a
    t=$(ratio "$1_trivial" "$2_trivial")
    a=$(ratio "$1_async" "$2_async")
    if (($# > 3)); then
        printf '%-44s %11.3f× %11.3f×   %s %s: %s\n' "$3" "$t" "$a" "$4" "$5" "$(verdict "$t" "$4" "$5")"
    else
        printf '%-44s %11.3f× %11.3f×\n' "$3" "$t" "$a"
    fi
}
printf 'isolated\n'
rrow ac_j1 check_fork "  asyncheck -j1 / Check fork" "<=" 0.4
rrow ac_j2 check_fork "  asyncheck -j2 / Check fork"
rrow ac_j1 crit_j1 "  asyncheck -j1 / Criterion --jobs 1"
rrow ac_j2 crit_def "  asyncheck -j2 / Criterion default jobs"
printf 'in-process\n'
rrow ac_nofork cmocka "  asyncheck --no-fork / cmocka" "<=" 1.5
rrow ac_nofork check_nofork "  asyncheck --no-fork / Check no-fork"
printf 'speed-up (peer / asyncheck)\n'
for pair in "crit_j1 ac_j1 Criterion --jobs 1 / asyncheck -j1" "crit_def ac_j2 Criterion default / asyncheck -j2" \
    "check_fork ac_j1 Check fork / asyncheck -j1"; do
    read -r p a label <<<"$pair"
    t=$(ratio "${p}_trivial" "${a}_trivial")
    s=$(ratio "${p}_async" "${a}_async")
    if [[ $p == crit_* ]]; then
        printf '%-44s %11.1f× %11.1f×   >= 40×: %s\n' "  $label" "$t" "$s" "$(verdict "$t" ">=" 40)"
    else
        printf '%-44s %11.2f× %11.2f×\n' "  $label" "$t" "$s"
    fi
done

j1=$(median "$tmp/cpu_j1")
j2=$(median "$tmp/cpu_j2")
speed=$(ratio cpu_j1 cpu_j2)
printf '\nCPU-bound: %d asyncheck tests, each ~2 ms of CPU (medians of whole runs)\n' "$ncpu_tests"
printf '%-44s %10.1f ms\n' "  -j1" "$(awk -v v="$j1" 'BEGIN { print v / 1e6 }')"
printf '%-44s %10.1f ms\n' "  -j2" "$(awk -v v="$j2" 'BEGIN { print v / 1e6 }')"
printf '%-44s %10.2f ×   >= 1.8×: %s\n' "  speed-up -j1 / -j2" "$speed" "$(verdict "$speed" ">=" 1.8)"

printf '\nraw per-repetition wall times (ms for the whole run):\n'
for name in "${order[@]}"; do
    printf '  %-22s' "$name"
    awk '{ printf " %10.1f", $1 / 1e6 } END { printf "\n" }' "$tmp/$name"
done
