#!/usr/bin/env bash
# bench/faults.sh [BUILD_DIR [BEFORE_BUILD_DIR]] — the page faults a test's process takes, by kind, for
# 1,000 trivial isolated tests at -j1 (bench_trivial), for this tree and, when BEFORE_BUILD_DIR is given,
# for another build. Each fault the kernel reports for user memory (the exceptions:page_fault_user
# tracepoint, under `perf record`; needs perf, as root) is counted in the process that took it; the test
# processes are those with fewer than 200 faults (the runner and the fork server take thousands). Kinds,
# from the fault's error code: "exec" (first run of a code page: the kernel copies no page-table entries
# of a file mapping at fork), "read" (first read of a page the process has not mapped yet) and "write"
# (copy-on-write of a page the parent had, or a first write: each costs a page of memory, which on some
# VMs is ten times a read — docs/PERFORMANCE.md). A benchmark: never a ctest test.
set -euo pipefail

builds=("${1:-build}")
labels=(after)
if [[ -n ${2:-} ]]; then
    builds+=("$2")
    labels+=(before)
fi
if ! command -v perf >/dev/null 2>&1 || ! perf record -q -e exceptions:page_fault_user -o /dev/null -- true >/dev/null 2>&1; then
    echo "bench/faults.sh: needs perf with the exceptions:page_fault_user tracepoint (as root)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-8s %10s %8s %8s %8s %8s\n' build processes faults exec read write
for i in "${!builds[@]}"; do
    b=${builds[$i]}
    if ! cmake --build "$b" -j"$(nproc)" --target bench_trivial >"$tmp/build.log" 2>&1; then
        cat "$tmp/build.log" >&2
        echo "bench/faults.sh: building bench_trivial in $b failed" >&2
        exit 1
    fi
    perf record -q -e exceptions:page_fault_user -o "$tmp/perf.data" -- "$b/bench/bench_trivial" -j1 >/dev/null 2>&1
    perf script -i "$tmp/perf.data" 2>/dev/null | awk -v label="${labels[$i]}" '
        match($0, /error_code=0x[0-9a-f]+/) {
            pid = $2
            hex = substr($0, RSTART + 13, RLENGTH - 13)
            code = 0
            for (j = 1; j <= length(hex); j++)
                code = code * 16 + index("0123456789abcdef", substr(hex, j, 1)) - 1
            kind = int(code / 16) % 2 ? "exec" : int(code / 2) % 2 ? "write" : "read"
            n[pid]++
            k[pid, kind]++
        }
        END {
            for (p in n)
                if (n[p] < 200) {
                    procs++
                    all += n[p]
                    e += k[p, "exec"]
                    r += k[p, "read"]
                    w += k[p, "write"]
                }
            if (!procs) {
                print "bench/faults.sh: no test process found in the trace" > "/dev/stderr"
                exit 1
            }
            printf "%-8s %10d %8.1f %8.1f %8.1f %8.1f\n", label, procs, all / procs, e / procs, r / procs, w / procs
        }'
done
