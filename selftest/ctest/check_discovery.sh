#!/usr/bin/env bash
# check_discovery.sh BUILD_DIR SOURCE_DIR — asyncheck_discover_tests() as a user meets it: a consumer
# project (selftest/ctest/consumer) gets asyncheck through add_subdirectory(), then through the
# installed package and find_package(asyncheck); ctest must show one entry per test case with the
# right name, result, TIMEOUT, LABELS and command, and work with -R, -j2, --output-junit and
# --repeat until-fail:N, in both discovery modes. Prints "ok: ..." per check; stops at the first failure.
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $1" >&2
    if [ $# -gt 1 ] && [ -f "$2" ]; then
        echo "---- $2:" >&2
        cat "$2" >&2
    fi
    exit 1
}
ok() { echo "ok: $*"; }

# The test cases of consumer_test.c, their ctest names and results. (pre: is the PRE_TEST registration
# with EXTRA_ARGS --timeout 7 -v --filter -consumer.hangs; it has no ENVIRONMENT property, so
# consumer.environment skips there.)
expected_results() {
    cat <<'EOF'
consumer.passes|Passed
consumer.fails|***Failed
consumer.skipped|***Skipped
consumer.hangs|***Failed
consumer.long_limit|Passed
consumer.environment|Passed
other.passes|Passed
explore.schedules|Passed
explore.many|Passed
explore.budgeted|Passed
explore.sweep|Passed
pre:consumer.passes|Passed
pre:consumer.fails|***Failed
pre:consumer.skipped|***Skipped
pre:consumer.long_limit|Passed
pre:consumer.environment|***Skipped
pre:other.passes|Passed
pre:explore.schedules|Passed
pre:explore.many|Passed
pre:explore.budgeted|Passed
pre:explore.sweep|Passed
pre-fake:odd.plain|Passed
EOF
    odd_names | cut -d'|' -f2 | sed 's/$/|Passed/'
}
# fake_runner's names and the ctest names they must get (TEST_SUFFIX @fake): %, ;, [, ], #, $, " and \
# written as %XX, everything else as it is.
odd_names() {
    cat <<'EOF'
odd.plain|odd.plain@fake
odd.tiny_timeout|odd.tiny_timeout@fake
odd.huge_timeout|odd.huge_timeout@fake
odd.semi;colon|odd.semi%3Bcolon@fake
odd.params/[1,2]|odd.params/%5B1,2%5D@fake
odd.open[only|odd.open%5Bonly@fake
odd.close]only|odd.close%5Donly@fake
odd.hash#1|odd.hash%231@fake
odd.two  spaces here|odd.two  spaces here@fake
odd.star/*|odd.star/*@fake
odd.star/x|odd.star/x@fake
odd.quest?|odd.quest?@fake
odd.questX|odd.questX@fake
odd.dollar${HOME}|odd.dollar%24{HOME}@fake
odd.quote"q'|odd.quote%22q'@fake
odd.back\slash|odd.back%5Cslash@fake
odd.percent%41|odd.percent%2541@fake
odd.percentA|odd.percentA@fake
odd.bracket-close]==]|odd.bracket-close%5D==%5D@fake
odd.mix/a b;c[d]#e$f|odd.mix/a b%3Bc%5Bd%5D%23e%24f@fake
odd.explores|odd.explores@fake
odd.sweeps|odd.sweeps@fake
EOF
}

# status NAME FILE: what ctest printed as NAME's result in FILE ("Passed", "***Failed", "***Skipped"...).
status() {
    NAME=$1 awk '
        / sec$/ && /Test +#[0-9]+: / {
            i = index($0, ": " ENVIRON["NAME"] " ")
            if (i) {
                s = substr($0, i + length(ENVIRON["NAME"]) + 3)
                sub(/^[ .]*/, "", s); sub(/ +[0-9.]+ sec$/, "", s); print s; exit
            }
        }' "$2"
}

# ctest_in DIR OUT [ctest args...]: runs ctest in DIR, output to OUT; sets rc to its exit status.
ctest_in() {
    local dir=$1 out=$2
    shift 2
    rc=0
    (cd "$dir" && ctest "$@") >"$out" 2>&1 || rc=$?
}

# props DIR OUT [env...]: ctest's view of every test (--show-only=json-v1) as lines of
# NUMBER, NAME, TIMEOUT=, LABELS=, SKIP_RETURN_CODE=, ENVIRONMENT=, COMMAND=<arg>... (tab-separated).
props() {
    local dir=$1 out=$2
    shift 2
    (cd "$dir" && env "$@" ctest --show-only=json-v1) >"$out.json" 2>"$out.err" || fail "ctest --show-only=json-v1" "$out.err"
    cmake -D JSON_FILE="$out.json" -D OUT_FILE="$out" -P "$src/selftest/ctest/ctest_json.cmake" ||
        fail "could not read ctest's JSON" "$out.json"
}
# prop FILE NAME KEY: KEY's value for test NAME in a props file (fails when there is no such test).
prop() {
    NAME=$2 KEY=$3 awk -F'\t' '
        $2 == ENVIRON["NAME"] { found = 1; for (i = 3; i <= NF; i++) if (index($i, ENVIRON["KEY"] "=") == 1) print substr($i, length(ENVIRON["KEY"]) + 2) }
        END { exit !found }' "$1"
}
expect_prop() { # FILE NAME KEY VALUE
    local got
    got=$(prop "$1" "$2" "$3") || fail "no test '$2' in ctest's list" "$1"
    [ "$got" = "$4" ] || fail "test '$2': $3 is '$got', expected '$4'" "$1"
}

# check_results OUT WHAT: every expected test has its expected result in OUT, and no other test ran.
check_results() {
    local out=$1 what=$2 name want got n=0 failed=0
    while IFS='|' read -r name want; do
        got=$(status "$name" "$out")
        [ "$got" = "$want" ] || fail "$what: '$name' has result '$got', expected '$want'" "$out"
        n=$((n + 1))
        case $want in *Failed) failed=$((failed + 1)) ;; esac
    done < <(expected_results)
    grep -q "tests passed, $failed tests failed out of $n\$" "$out" ||
        fail "$what: expected $failed failures out of $n tests" "$out"
}

# ---- round 1: add_subdirectory(<asyncheck source>) ----
cp -r "$src/selftest/ctest/consumer" "$work/consumer"
b=$work/subdir
cmake -S "$work/consumer" -B "$b" -DASYNCHECK_SOURCE_DIR="$src" >"$work/configure.log" 2>&1 ||
    fail "configuring the consumer with add_subdirectory(asyncheck)" "$work/configure.log"
for d in selftest examples bench; do
    [ ! -e "$b/asyncheck/$d" ] || fail "asyncheck as a subproject configured its $d (should default to OFF)"
done
ctest_in "$b" "$work/unbuilt" -N
grep -q "Total Tests: 4\$" "$work/unbuilt" && grep -q ": consumer_tests_NOT_BUILT\$" "$work/unbuilt" &&
    grep -q ": pre:consumer_tests_NOT_BUILT\$" "$work/unbuilt" ||
    fail "before the build, ctest should list only the <target>_NOT_BUILT placeholders" "$work/unbuilt"
ctest_in "$b" "$work/unbuilt_run" -R '^consumer_tests_NOT_BUILT$' --output-on-failure
[ $rc -ne 0 ] && grep -q "the test executable has not been" "$work/unbuilt_run" ||
    fail "the NOT_BUILT placeholder should fail and say why" "$work/unbuilt_run"
ok "add_subdirectory: asyncheck::asyncheck and asyncheck_discover_tests() available, own tests/examples/bench off; before the build only failing <target>_NOT_BUILT placeholders"

cmake --build "$b" -j2 >"$work/build.log" 2>&1 || fail "building the consumer" "$work/build.log"
grep -q "Discovering asyncheck tests in consumer_tests" "$work/build.log" ||
    fail "no POST_BUILD discovery step in the build output" "$work/build.log"
[ -f "$b/consumer_tests_asyncheck_1_tests.cmake" ] || fail "POST_BUILD wrote no test list"
[ ! -e "$b/consumer_tests_asyncheck_2_tests.cmake" ] || fail "PRE_TEST discovered at build time"
ok "POST_BUILD discovers right after linking; PRE_TEST does not"

# Every case is its own ctest entry with its own result; junit at the same time.
mkdir -p "$b/marks"
ctest_in "$b" "$work/run" --output-on-failure --output-junit "$work/junit.xml"
[ $rc -ne 0 ] || fail "ctest passed although cases fail" "$work/run"
check_results "$work/run" "ctest"
ok "one ctest entry per case with the right name; pass, fail, skip and timeout results as expected"
grep -q "^The following tests did not run:" "$work/run" &&
    grep -Eq "^[[:space:]]+[0-9]+ - consumer\.skipped \(Skipped\)\$" "$work/run" ||
    fail "the skipped case should be listed as '(Skipped)' under 'did not run'" "$work/run"
ok "exit 77 (.skip) is ctest's SKIP_RETURN_CODE: '***Skipped', listed under 'did not run', not a failure"
grep -q "timed out after 0\.[0-9]* s (limit 0\.500 s)" "$work/run" ||
    fail "the hanging case should be reported by asyncheck's own watchdog" "$work/run"
hang_time=$(grep -E "Test +#[0-9]+: consumer\.hangs " "$work/run" | grep -Eo '[0-9.]+ sec$' | cut -d' ' -f1)
awk -v t="$hang_time" 'BEGIN { exit !(t < 5) }' || fail "consumer.hangs took $hang_time s" "$work/run"
ok "a case over its own timeout fails through asyncheck's report (${hang_time} s), not ctest's TIMEOUT"

# JUnit: one <testcase> per ctest entry, with the results.
[ -f "$work/junit.xml" ] || fail "ctest --output-junit wrote nothing"
if command -v xmllint >/dev/null; then
    xmllint --noout "$work/junit.xml" || fail "ctest's JUnit file is not well-formed" "$work/junit.xml"
fi
total=$(expected_results | wc -l)
[ "$(grep -c '<testcase ' "$work/junit.xml")" -eq "$total" ] || fail "expected $total <testcase> in the JUnit file" "$work/junit.xml"
grep -q '<testcase name="consumer.passes" [^>]*status="run"' "$work/junit.xml" &&
    grep -q '<testcase name="consumer.fails" [^>]*status="fail"' "$work/junit.xml" &&
    grep -A1 '<testcase name="consumer.skipped" [^>]*status="notrun"' "$work/junit.xml" | grep -q '<skipped message="SKIP_RETURN_CODE=77"/>' &&
    grep -q '<testcase name="odd.mix/a b%3Bc%5Bd%5D%23e%24f@fake" [^>]*status="run"' "$work/junit.xml" ||
    fail "JUnit entries per case (run, fail, notrun + skipped)" "$work/junit.xml"
ok "ctest --output-junit: one <testcase> per case ($total) with run/fail/notrun"

# ctest's properties.
props "$b" "$work/props"
[ "$(wc -l <"$work/props")" -eq "$total" ] || fail "expected $total tests in ctest's list" "$work/props"
expect_prop "$work/props" consumer.passes TIMEOUT 42
expect_prop "$work/props" consumer.hangs TIMEOUT 11
expect_prop "$work/props" consumer.long_limit TIMEOUT 137
expect_prop "$work/props" consumer.passes SKIP_RETURN_CODE 77
expect_prop "$work/props" consumer.passes LABELS consumer,from_consumer
expect_prop "$work/props" other.passes LABELS from_consumer,other
expect_prop "$work/props" consumer.passes ENVIRONMENT "CONSUMER_A=1,CONSUMER_MARKS=$b/marks"
expect_prop "$work/props" consumer.passes COMMAND "<$b/consumer_tests><--filter><consumer.passes>"
ok "--show-only=json-v1: TIMEOUT = ceil(T*1.05+0.2)+10 (30 s -> 42, 0.5 s -> 11, 120 s -> 137), SKIP_RETURN_CODE 77, LABELS suite + PROPERTIES' LABELS, list-valued PROPERTIES kept"

# TEST_PREFIX, EXTRA_ARGS (in the command, in discovery: --timeout sets TIMEOUT, --filter leaves a case
# out and is not repeated per case) and their effect when run (-v shows a passing case's output).
expect_prop "$work/props" pre:consumer.passes COMMAND "<$b/consumer_tests><--filter><consumer.passes><--timeout><7><-v>"
expect_prop "$work/props" pre:consumer.passes TIMEOUT 18
expect_prop "$work/props" pre:consumer.long_limit TIMEOUT 137
expect_prop "$work/props" pre:other.passes LABELS other
! prop "$work/props" pre:consumer.hangs TIMEOUT >/dev/null || fail "EXTRA_ARGS --filter -consumer.hangs did not leave it out" "$work/props"
ctest_in "$b" "$work/verbose_pre" -V -R '^pre:consumer\.passes$'
ctest_in "$b" "$work/verbose_plain" -V -R '^consumer\.passes$'
grep -q "hello from consumer.passes" "$work/verbose_pre" || fail "EXTRA_ARGS -v had no effect" "$work/verbose_pre"
! grep -q "hello from consumer.passes" "$work/verbose_plain" || fail "output shown without -v" "$work/verbose_plain"
ok "TEST_PREFIX names; EXTRA_ARGS reach each case's command and the discovery (--timeout 7 -> TIMEOUT 18, --filter excludes)"

# Exploring cases: TIMEOUT covers the exploration (runs * K, or budget + K), never one run's; a case
# whose exploration could outlast EXPLORE_BUDGET (default 300 s; pre: 60 s) runs with that budget.
expect_prop "$work/props" explore.schedules TIMEOUT 160
expect_prop "$work/props" explore.schedules COMMAND "<$b/consumer_tests><--filter><explore.schedules>"
expect_prop "$work/props" explore.budgeted TIMEOUT 15
expect_prop "$work/props" explore.budgeted COMMAND "<$b/consumer_tests><--filter><explore.budgeted>"
expect_prop "$work/props" explore.many TIMEOUT 342
expect_prop "$work/props" explore.many COMMAND "<$b/consumer_tests><--filter><explore.many><--explore-budget><300>"
expect_prop "$work/props" explore.sweep TIMEOUT 342
expect_prop "$work/props" explore.sweep COMMAND "<$b/consumer_tests><--filter><explore.sweep><--explore-budget><300>"
expect_prop "$work/props" pre:explore.schedules TIMEOUT 73
expect_prop "$work/props" pre:explore.schedules COMMAND "<$b/consumer_tests><--filter><explore.schedules><--timeout><7><-v><--explore-budget><60>"
expect_prop "$work/props" pre:explore.budgeted TIMEOUT 15
expect_prop "$work/props" pre:explore.many TIMEOUT 78
expect_prop "$work/props" pre:explore.sweep TIMEOUT 78
expect_prop "$work/props" odd.explores@fake TIMEOUT 14
expect_prop "$work/props" odd.explores@fake COMMAND "<$b/fake_runner><--filter><odd.explores>"
expect_prop "$work/props" odd.sweeps@fake TIMEOUT 311
expect_prop "$work/props" odd.sweeps@fake COMMAND "<$b/fake_runner><--filter><odd.sweeps><--explore-budget><300>"
ctest_in "$b" "$work/budgeted" -V -R '^explore\.budgeted$'
[ $rc -eq 0 ] && [ "$(status explore.budgeted "$work/budgeted")" = Passed ] &&
    grep -Eq "explored [0-9]+ of 100000 schedules \(shuffle\), [0-9]+ runs; budget 1 s reached" "$work/budgeted" ||
    fail "explore.budgeted should pass under ctest, its budget reached, with the count" "$work/budgeted"
ok "exploring cases: TIMEOUT = runs*K+10 (50 x 2 s -> 160), min(runs*K, B+K)+10 with a budget (-> 15; %g 0.5 -> 14), --explore-budget EXPLORE_BUDGET beyond it and for sweeps (300 -> 342, 60 -> 73/78, 1e-05 sweep -> 311); a budgeted case passes under ctest with its count"

# ctest -R selects exactly one case, also by an encoded name.
ctest_in "$b" "$work/one" -R '^consumer\.passes$'
[ $rc -eq 0 ] && grep -q "100% tests passed, 0 tests failed out of 1\$" "$work/one" &&
    [ "$(status consumer.passes "$work/one")" = Passed ] || fail "ctest -R '^consumer\\.passes\$'" "$work/one"
ctest_in "$b" "$work/one_odd" -R '^odd\.mix/a b%3Bc%5Bd%5D%23e%24f@fake$'
[ $rc -eq 0 ] && grep -q "out of 1\$" "$work/one_odd" || fail "ctest -R by an encoded name" "$work/one_odd"
ok "ctest -R selects one case (by plain and by encoded name)"

# Names: each odd name has its encoded ctest name, and its escaped --filter runs exactly that name.
ctest_in "$b" "$work/odd" -V -R '@fake$'
[ $rc -eq 0 ] || fail "fake_runner's cases" "$work/odd"
while IFS='|' read -r raw name; do
    number=$(prop "$work/props" "$name" COMMAND >/dev/null && NAME=$name awk -F'\t' '$2 == ENVIRON["NAME"] { print $1 }' "$work/props") ||
        fail "no ctest test named '$name'" "$work/props"
    grep -Fxq "$number: ran $raw" "$work/odd" || fail "test #$number '$name' did not run exactly '$raw'" "$work/odd"
done < <(odd_names)
expect_prop "$work/props" "odd.star/*@fake" COMMAND "<$b/fake_runner><--filter><odd.star/\\*>"
expect_prop "$work/props" "odd.mix/a b%3Bc%5Bd%5D%23e%24f@fake" COMMAND "<$b/fake_runner><--filter><odd.mix/a b;c\\[d\\]#e\$f>"
expect_prop "$work/props" odd.plain@fake TIMEOUT 13
expect_prop "$work/props" odd.tiny_timeout@fake TIMEOUT 11
expect_prop "$work/props" odd.huge_timeout@fake TIMEOUT 1050011
ok "names with ; [ ] # \$ \" \\ % spaces * ? get their %XX ctest names and a --filter glob that selects exactly them; TEST_SUFFIX; %g timeouts (2.5, 1e-05, 1e+06)"

# ctest -j2: the same results.
ctest_in "$b" "$work/run_j2" -j2
check_results "$work/run_j2" "ctest -j2"
ok "ctest -j2: the same per-case results"

# ctest --repeat until-fail:2: a passing case runs twice, a failing one stops after its first run.
rm -rf "$b/marks" && mkdir "$b/marks"
ctest_in "$b" "$work/repeat" -R '^consumer\.(passes|fails)$' --repeat until-fail:2
[ $rc -ne 0 ] || fail "--repeat until-fail:2 with a failing case passed" "$work/repeat"
[ "$(cat "$b/marks/passes" 2>/dev/null | wc -l)" -eq 2 ] || fail "consumer.passes ran $(cat "$b/marks/passes" 2>/dev/null | wc -l) times, expected 2" "$work/repeat"
[ "$(cat "$b/marks/fails" 2>/dev/null | wc -l)" -eq 1 ] || fail "consumer.fails ran $(cat "$b/marks/fails" 2>/dev/null | wc -l) times, expected 1" "$work/repeat"
ok "ctest --repeat until-fail:2: passing case run twice, failing case once"

# PRE_TEST discovers when ctest starts (AC_TIMEOUT_MULTIPLIER at ctest time changes its TIMEOUT,
# not the POST_BUILD list's); a failing PRE_TEST discovery is one failing test, the rest still run.
props "$b" "$work/props_mult" AC_TIMEOUT_MULTIPLIER=2
expect_prop "$work/props_mult" pre:consumer.passes TIMEOUT 25
expect_prop "$work/props_mult" consumer.passes TIMEOUT 42
ok "PRE_TEST discovers at ctest time (AC_TIMEOUT_MULTIPLIER=2: pre: TIMEOUT 18 -> 25; POST_BUILD's stays 42)"
export FAKE_LIST_FAIL=1
ctest_in "$b" "$work/pre_fail" -R 'fake' --output-on-failure
unset FAKE_LIST_FAIL
[ $rc -ne 0 ] && [ "$(status pre-fake:fake_runner_DISCOVERY_FAILED "$work/pre_fail")" = "***Failed" ] &&
    grep -q "listing refused" "$work/pre_fail" && [ "$(status odd.plain@fake "$work/pre_fail")" = Passed ] ||
    fail "a failing PRE_TEST discovery should give one failing <target>_DISCOVERY_FAILED test" "$work/pre_fail"
ok "a failing PRE_TEST discovery: one failing pre-fake:fake_runner_DISCOVERY_FAILED showing why; other tests still run"

# POST_BUILD: a case added and rebuilt appears without reconfiguring; a failing discovery fails the
# build and leaves no stale list.
cat >>"$work/consumer/consumer_test.c" <<'EOF'
AC_TEST(added, later) {}
EOF
cmake --build "$b" -j2 >"$work/rebuild.log" 2>&1 || fail "rebuilding" "$work/rebuild.log"
ctest_in "$b" "$work/added" -N
grep -q ": added\.later\$" "$work/added" || fail "a case added after the first build was not discovered" "$work/added"
touch "$work/consumer/fake_runner.c"
rc=0
export FAKE_LIST_FAIL=1
cmake --build "$b" -j2 >"$work/fail_build.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q "could not list the tests of" "$work/fail_build.log" && grep -q "listing refused" "$work/fail_build.log" ||
    fail "a failing POST_BUILD discovery should fail the build and say why" "$work/fail_build.log"
ctest_in "$b" "$work/after_fail" -N
unset FAKE_LIST_FAIL
grep -Eq ": fake_runner_(NOT_BUILT|DISCOVERY_FAILED)@fake\$" "$work/after_fail" && ! grep -q ": odd\.plain@fake\$" "$work/after_fail" ||
    fail "after a failed POST_BUILD discovery ctest should show a failing placeholder, not the old list" "$work/after_fail"
cmake --build "$b" -j2 >"$work/fixed_build.log" 2>&1 || fail "rebuilding after the failed discovery" "$work/fixed_build.log"
ctest_in "$b" "$work/fixed" -N
grep -q ": odd\.plain@fake\$" "$work/fixed" || fail "the list did not come back after a good build" "$work/fixed"
ok "POST_BUILD: a new case appears after a rebuild; a failing discovery fails the build, leaves a failing placeholder, recovers"

# ---- round 2: the installed package, find_package(asyncheck) ----
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || fail "cmake --install" "$work/install.log"
for f in asyncheckDiscoverTests.cmake asyncheckAddTests.cmake; do
    find "$prefix" -path "*/cmake/asyncheck/$f" | grep -q . || fail "$f not installed in <prefix>/<libdir>/cmake/asyncheck"
done
rm -rf "$work/consumer" && cp -r "$src/selftest/ctest/consumer" "$work/consumer"
p=$work/package
cmake -S "$work/consumer" -B "$p" -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure_pkg.log" 2>&1 ||
    fail "configuring the consumer with find_package(asyncheck)" "$work/configure_pkg.log"
cmake --build "$p" -j2 >"$work/build_pkg.log" 2>&1 || fail "building the find_package consumer" "$work/build_pkg.log"
helper=$(find "$prefix" -name asyncheckAddTests.cmake)
grep -qF "$helper" "$p/consumer_tests_asyncheck_1_include.cmake" ||
    fail "the consumer does not use the installed module ($helper)" "$p/consumer_tests_asyncheck_1_include.cmake"
mkdir -p "$p/marks"
ctest_in "$p" "$work/run_pkg" -j2 --output-junit "$work/junit_pkg.xml"
check_results "$work/run_pkg" "find_package: ctest -j2"
[ "$(grep -c '<testcase ' "$work/junit_pkg.xml")" -eq "$total" ] || fail "find_package: JUnit entries" "$work/junit_pkg.xml"
props "$p" "$work/props_pkg" AC_TIMEOUT_MULTIPLIER=2
expect_prop "$work/props_pkg" consumer.hangs TIMEOUT 11
expect_prop "$work/props_pkg" consumer.long_limit TIMEOUT 137
expect_prop "$work/props_pkg" other.passes LABELS from_consumer,other
expect_prop "$work/props_pkg" pre:consumer.passes TIMEOUT 25
expect_prop "$work/props_pkg" pre:consumer.passes COMMAND "<$p/consumer_tests><--filter><consumer.passes><--timeout><7><-v>"
expect_prop "$work/props_pkg" "odd.mix/a b%3Bc%5Bd%5D%23e%24f@fake" COMMAND "<$p/fake_runner><--filter><odd.mix/a b;c\\[d\\]#e\$f>"
ctest_in "$p" "$work/one_pkg" -R '^other\.passes$' --repeat until-fail:2
[ $rc -eq 0 ] && grep -q "out of 1\$" "$work/one_pkg" || fail "find_package: ctest -R --repeat until-fail:2" "$work/one_pkg"
ok "find_package(asyncheck): the installed module gives the same per-case results (-j2), JUnit, TIMEOUT/LABELS/commands, PRE_TEST, -R and --repeat"
