/* stall.c — telling a callback that stalls the loop from one the machine was too busy to run: the
 * thread's CPU time and context switches (getrusage RUSAGE_THREAD) sampled when a callback starts
 * (dispatch.c) and, only when its wall time ran over the slow limit, again at its end. A callback that
 * computed past the limit, or blocked at all (a voluntary switch: a read, a lock, a sleep), is reported;
 * one that was only preempted (involuntary switches, no voluntary one) and used less CPU than the limit
 * was slowed by the load and is not. The virtual clock does not touch this clock. It must not report
 * anything itself. */
#include "loop_internal.h"

#include <sys/resource.h>

void ac__cpu_now(ac__cpu_sample *s) {
    struct rusage u;
    if (getrusage(RUSAGE_THREAD, &u) != 0) {
        *s = (ac__cpu_sample){-1, 0, 0};
        return;
    }
    s->cpu = (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    s->voluntary = u.ru_nvcsw;
    s->pree = u.ru_nivcsw;
}

__attribute__((cold)) bool ac__stall_is_the_callbacks(const ac__cpu_sample *start) {
    ac__cpu_sample end;
    ac__cpu_now(&end);
    if (start->cpu < 0 || end.cpu < 0)
        return true; /* cannot tell: wall time decides */
    bool preempted = end.pree > start->pree, blocked = end.voluntary > start->voluntary;
    return !preempted || blocked || end.cpu - start->cpu > ac__loop_test.slow_limit;
}
