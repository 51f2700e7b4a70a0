#!/usr/bin/env bash
# bench/race/profile.sh [BUILD_DIR] — where the time of one explored schedule goes: the runner against
# its children. Needs perf and strace; builds bench_race_bugs and bench_floor like bench/race/run.sh.
#
# For det.same_every_run --schedules N (N = BENCH_SCHEDULES, default 3000), -j1 and -j2:
#   perf stat (task-clock, page faults, context switches) of the whole process tree and of the runner
#     alone (--no-inherit); the children (with the fork servers that make them) are the difference. Per
#     schedule.
#   bench_floor's bare fork + _exit + waitpid beside it, and perf stat --no-inherit of its parent.
#   strace -ff of 200 schedules at -j1: syscalls per schedule in the runner and in one child.
#   perf record -g (cpu-clock, all processes) of N schedules at -j1, each sample put in one category by
#     the kernel functions on its call chain (the first of a fixed list that appears: fork, exit, page
#     fault kinds, then syscalls by name); user-space call chains are not walked (no frame pointers), so
#     user time is shown by its leaf function. Shares of the runner's and of the children's samples.
# Numbers move with load; the shares and counts much less. A diagnostic, never a ctest test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
n=${BENCH_SCHEDULES:-3000}

for tool in perf strace; do
    command -v $tool >/dev/null 2>&1 || { echo "bench/race/profile.sh: needs $tool" >&2; exit 1; }
done
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/race/profile.sh: BENCH_SCHEDULES='$n' is not a positive whole number" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DASYNCHECK_WERROR=ON >"$tmp/configure.log" 2>&1 ||
        { cat "$tmp/configure.log" >&2; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" --target bench_race_bugs bench_floor >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; exit 1; }
prog=$(cd "$build/bench/race" && pwd)/bench_race_bugs
floor=$(cd "$build/bench" && pwd)/bench_floor
test=det.same_every_run

# pstat OUT ARGS...: perf stat -x, of ARGS; writes "event value" lines to OUT.
pstat() {
    local out=$1
    shift
    perf stat -x, -e task-clock,page-faults,context-switches -o "$tmp/stat.csv" -- "$@" >/dev/null 2>"$tmp/stat.err" ||
        { cat "$tmp/stat.err" >&2; echo "bench/race/profile.sh: '$*' failed" >&2; exit 1; }
    awk -F, '$3 ~ /task-clock|page-faults|context-switches/ { print $3, $1 }' "$tmp/stat.csv" >"$out"
}
val() { awk -v e="$2" '$1 == e { print $2 }' "$1"; }

printf 'load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'per schedule (%s --schedules %d), from perf stat\n' "$test" "$n"
printf '%-8s %10s %12s %12s %12s %12s %12s %12s\n' "jobs" "wall µs" "runner CPU" "child CPU" "runner pf" "child pf" "runner cs" "child cs"
for j in 1 2; do
    t0=$(date +%s%N)
    pstat "$tmp/all" "$prog" --filter $test --schedules "$n" -j$j
    wall=$((($(date +%s%N) - t0) / 1000))
    perf stat --no-inherit -x, -e task-clock,page-faults,context-switches -o "$tmp/stat.csv" -- \
        "$prog" --filter $test --schedules "$n" -j$j >/dev/null 2>&1
    awk -F, '$3 ~ /task-clock|page-faults|context-switches/ { print $3, $1 }' "$tmp/stat.csv" >"$tmp/runner"
    awk -v n="$n" -v w="$wall" -v j="-j$j" \
        -v at="$(val "$tmp/all" task-clock)" -v rt="$(val "$tmp/runner" task-clock)" \
        -v ap="$(val "$tmp/all" page-faults)" -v rp="$(val "$tmp/runner" page-faults)" \
        -v ac="$(val "$tmp/all" context-switches)" -v rc="$(val "$tmp/runner" context-switches)" 'BEGIN {
        printf "%-8s %10.1f %9.1f µs %9.1f µs %12.1f %12.1f %12.1f %12.1f\n", j, w / n, rt * 1000 / n,
            (at - rt) * 1000 / n, rp / n, (ap - rp) / n, rc / n, (ac - rc) / n }'
done
printf '  (wall: of the perf stat run of the whole tree; runner and child from two runs, so they need not add up)\n'

"$floor" 1000 >"$tmp/floor.out"
perf stat --no-inherit -x, -e task-clock,page-faults -o "$tmp/stat.csv" -- "$floor" 1000 >/dev/null
printf '\nbench_floor (1,000 of each): fork+_exit+waitpid %s µs wall, fork+loop %s µs wall;\n' \
    "$(awk '$1 == "fork" { print $2 }' "$tmp/floor.out")" "$(awk '$1 == "forkloop" { print $2 }' "$tmp/floor.out")"
awk -F, '$3 ~ /task-clock/ { printf "  its parent: %.1f µs of CPU per fork (2,000 forks and 1,000 loops; task-clock / 2,000)\n", $1 * 1000 / 2000 }' "$tmp/stat.csv"

# ---- syscalls per schedule ----
mkdir "$tmp/st"
strace -ff -o "$tmp/st/t" -- "$prog" --filter $test --schedules 200 -j1 >/dev/null 2>&1
# the runner is the process strace started (the fork servers' traces may be longer)
runner_trace=$(cd "$tmp/st" && grep -l '^execve(' -- * | head -n1)
# shellcheck disable=SC2012 # the names are strace's t.PID
child_trace=$(ls -S "$tmp/st" | sed -n 100p) # any child: they all make the same calls
printf '\nsyscalls per schedule (strace -ff, 200 schedules, -j1): runner %s, child %s\n' \
    "$(awk 'END { printf "%.1f", NR / 200 }' "$tmp/st/$runner_trace")" "$(grep -c '(' "$tmp/st/$child_trace")"
for who in runner child; do
    f=$tmp/st/$([[ $who == runner ]] && echo "$runner_trace" || echo "$child_trace")
    d=$([[ $who == runner ]] && echo 200 || echo 1)
    printf '  %-7s' "$who:"
    sed -n 's/^\([a-z_0-9]*\)(.*/\1/p' "$f" | sort | uniq -c | sort -rn |
        awk -v d="$d" '$1 / d >= 0.5 { printf " %s %.3g,", $2, $1 / d }' | sed 's/,$//'
    printf '\n'
done

# ---- where the CPU goes ----
perf record -q -o "$tmp/perf.data" -g -F 10000 -- "$prog" --filter $test --schedules "$n" -j1 >/dev/null 2>"$tmp/rec.err" ||
    { cat "$tmp/rec.err" >&2; exit 1; }
perf script -i "$tmp/perf.data" -F pid,ip,sym 2>/dev/null | awk '
function flush(   who, cat, i, n, co, kv) {
    if (pid == "") return
    who = pid == runner ? "runner" : "child"
    cat = ""
    n = split(order, co, "|")
    for (i = 1; i <= n; i++) { split(co[i], kv, "="); if (index(chain, " " kv[1] " ")) { cat = kv[2]; break } }
    if (cat == "") cat = leaf ~ /^\[/ || leaf == "" ? "user space, unknown" : "user: " leaf
    cnt[who SUBSEP cat]++; tot[who]++
}
BEGIN {
    order = "ret_from_fork=fork, child side (first return)|do_exit=exit (freeing the mm, files)|" \
        "kernel_clone=fork (clone in the runner)|" \
        "proc_task_readdir=/proc/self/task scans (threads count)|__x64_sys_getdents64=/proc/self/task scans (threads count)|" \
        "do_wp_page=page fault: copy-on-write|do_anonymous_page=page fault: new anonymous page|" \
        "filemap_map_pages=page fault: file page (text, data)|do_read_fault=page fault: file page (text, data)|" \
        "asm_exc_page_fault=page fault: other (vma lookup, accounting)|" \
        "__x64_sys_openat=/proc/self/task scans (threads count)|__do_sys_newfstatat=/proc/self/task scans (threads count)|" \
        "__x64_sys_mprotect=mprotect (patching GOT slots)|__x64_sys_ppoll=ppoll (fd scans)|" \
        "__x64_sys_epoll_wait=epoll_wait (incl. switching away)|__x64_sys_epoll_ctl=epoll_ctl|" \
        "__x64_sys_epoll_create1=loop: epoll_create1, eventfd2|__x64_sys_eventfd2=loop: epoll_create1, eventfd2|" \
        "__x64_sys_pipe2=pipe2|__x64_sys_pidfd_open=pidfd_open|__x64_sys_close=close|" \
        "ksys_write=write (records; wakes the runner)|ksys_read=read|kernel_wait4=wait4 (reaping)|" \
        "__x64_sys_sched_setaffinity=sched_setaffinity|__schedule=context switch|" \
        "do_syscall_64=other syscalls (entry, exit, small ones)|finish_task_switch.isra.0=context switch|asm_sysvec_apic_timer_interrupt=interrupts"
}
/^[0-9]+ *$/ { flush(); pid = $1; if (runner == "") runner = pid; chain = " "; leaf = ""; next }
/^\t/ { chain = chain $2 " "; if (leaf == "") leaf = $2; next }
END {
    flush()
    for (k in cnt) { split(k, p, SUBSEP); if (cnt[k] / tot[p[1]] >= 0.01) printf "%s\t%.1f\t%s\n", p[1], 100 * cnt[k] / tot[p[1]], p[2] }
    printf "samples\t%d\t%d\n", tot["runner"], tot["child"]
}' >"$tmp/cats"
read -r _ rs cs < <(grep '^samples' "$tmp/cats")
printf '\nwhere the CPU goes at -j1 (perf record -g, cpu-clock; %s runner and %s child samples; >= 1 %% shown)\n' "$rs" "$cs"
for who in runner child; do
    printf '  %s:\n' "$who"
    awk -F'\t' -v w="$who" '$1 == w { printf "    %5.1f %%  %s\n", $2, $3 }' "$tmp/cats" | sort -rn
done
