#!/bin/sh
# catches_a_backward_include.sh — shows cmake/check_layers.sh failing where it must, on a copy of the
# tree: the copy as it is passes; then each case breaks one rule in a fresh copy and expects exit status
# 1 with the exact line naming the file, the include and the rule:
#   - a backward include (loop, a lower layer, includes mock's header),
#   - reaching into another module's internal header (race includes loop_internal.h),
#   - the table in docs/ARCHITECTURE.md drifting from cmake/layers.txt.
#
#   selftest/layers/catches_a_backward_include.sh SOURCE_DIR
set -u
src=${1:?usage: $0 SOURCE_DIR}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

# A fresh copy of what the check reads: src/, the table, the script, the document.
fresh() {
    rm -rf "$tmp/tree" && mkdir -p "$tmp/tree/cmake" "$tmp/tree/docs" &&
        cp -R "$src/src" "$tmp/tree/src" &&
        cp "$src/cmake/layers.txt" "$src/cmake/check_layers.sh" "$tmp/tree/cmake/" &&
        cp "$src/docs/ARCHITECTURE.md" "$tmp/tree/docs/"
}

# Inserts line $2 into file $1 after its first #include line; prints the inserted line's number.
insert_include() {
    awk -v add="$2" '{ print } !done && /^#include/ { print add; done = 1; n = NR + 1 }
        END { print n > "/dev/stderr" }' "$1" >"$1.new" 2>"$tmp/lineno" && mv "$1.new" "$1" && cat "$tmp/lineno"
}

# expect NAME WANT_STATUS WANT_LINE: runs the check on the copy.
expect() {
    sh "$tmp/tree/cmake/check_layers.sh" "$tmp/tree" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$2" ]; then
        echo "FAIL $1: exit status $got, expected $2; stderr:" && cat "$tmp/err"
        status=1
        return
    fi
    if [ -n "$3" ] && ! grep -qxF -- "$3" "$tmp/err"; then
        echo "FAIL $1: stderr lacks the line"
        echo "  $3"
        echo "stderr:" && cat "$tmp/err"
        status=1
        return
    fi
    echo "ok $1"
}

fresh || exit 1
expect "the tree as it is passes" 0 ""

fresh || exit 1
n=$(insert_include "$tmp/tree/src/loop/loop.c" '#include "../mock/mock.h"')
expect "a backward include fails" 1 \
    "src/loop/loop.c:$n: #include \"../mock/mock.h\": loop may not include mock (mock is above loop in cmake/layers.txt; loop may include context, patch, timeline, util)"

fresh || exit 1
n=$(insert_include "$tmp/tree/src/race/props.c" '#include "loop/loop_internal.h"')
expect "an internal header of another module fails" 1 \
    "src/race/props.c:$n: #include \"loop/loop_internal.h\": src/loop/loop_internal.h is internal to loop (its interface: loop.h)"

fresh || exit 1
sed 's/^| `loop` | `loop.h` | `context`, `patch`, `timeline`, `util` |$/| `loop` | `loop.h` | `mock`, `context`, `patch`, `timeline`, `util` |/' \
    "$src/docs/ARCHITECTURE.md" >"$tmp/tree/docs/ARCHITECTURE.md"
expect "a document that differs from the table fails" 1 \
    "docs/ARCHITECTURE.md: layer table row 8 says \"loop  loop.h  mock,context,patch,timeline,util\", cmake/layers.txt says \"loop  loop.h  context,patch,timeline,util\""

exit $status
