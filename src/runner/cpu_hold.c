/* cpu_hold.c — a forked test's process keeps its supervisor's CPU until it could use another. The
 * process starts pinned to its job's CPU (its fork server's); where it used to be given the whole CPU
 * set back before the test's first line, it now keeps the one CPU while it is a single thread that has
 * asked nothing about CPUs, and gets the whole set back (every thread of it) at the first call that
 * starts a thread or a process, or that reads or sets a CPU set. A test that never does (most) is not
 * moved to another CPU mid-way and wakes its supervisor on the supervisor's own CPU: measured about 3 %
 * of a trivial test's wall time at -j1 and at -j2 (docs/PERFORMANCE.md).
 *
 * The calls are caught by rewriting their GOT/PLT slots (patch.h) once, in the runner before it forks
 * (the slots then stay: a test's process rewrites nothing); a thread started where no slot reaches (an
 * object dlopen'd later, glibc's own helpers) is caught at the test's next AC_AWAIT. This file owns the
 * held set, the giving back and those replacements. */
#include "runner.h"
#include "../patch/patch.h"

#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static cpu_set_t held AC__PER_TEST;      /* the set to give back */
static atomic_bool holding AC__PER_TEST; /* in a test's process, until it is given back */
static bool installed;                   /* the replacements are in the slots */

static void give_to(int tid, void *ctx) {
    (void)ctx;
    syscall(SYS_sched_setaffinity, tid, sizeof held, &held);
}

/* The whole set for every thread of the process: the caller's, and those started where no slot reached
 * (each has the pinned set it inherited). Raw system calls only: no allocation or call a test may count
 * or fail (a fault sweep's) happens in the test's code on its behalf. */
static void give_back(void) {
    if (ac__count_threads() <= 1 || ac__each_thread(give_to, NULL) == 0)
        give_to(0, NULL);
}

void ac__cpu_release(void) {
    if (atomic_load_explicit(&holding, memory_order_relaxed) && atomic_exchange(&holding, false))
        give_back();
}

void ac__cpu_hold(const cpu_set_t *set) {
    if (!installed) { /* nothing would give it back */
        sched_setaffinity(0, sizeof *set, set);
        return;
    }
    held = *set;
    atomic_store(&holding, true);
}

void ac__cpu_release_if_threaded(void) {
    if (atomic_load_explicit(&holding, memory_order_relaxed) && ac__count_threads() > 1)
        ac__cpu_release();
}

/* ---- the calls that give the set back first ---- */

static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static pid_t (*real_fork)(void);
static int (*real_posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                               const posix_spawnattr_t *, char *const[], char *const[]);
static int (*real_posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                                const posix_spawnattr_t *, char *const[], char *const[]);
static int (*real_system)(const char *);
static FILE *(*real_popen)(const char *, const char *);
static int (*real_sched_getaffinity)(pid_t, size_t, cpu_set_t *);
static int (*real_sched_setaffinity)(pid_t, size_t, const cpu_set_t *);
static int (*real_pthread_getaffinity_np)(pthread_t, size_t, cpu_set_t *);
static int (*real_pthread_setaffinity_np)(pthread_t, size_t, const cpu_set_t *);

static int hook_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    ac__cpu_release(); /* the new thread inherits the caller's set */
    return real_pthread_create(t, a, fn, arg);
}
static pid_t hook_fork(void) {
    ac__cpu_release();
    return real_fork();
}
static int hook_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *at, char *const argv[], char *const envp[]) {
    ac__cpu_release();
    return real_posix_spawn(pid, path, fa, at, argv, envp);
}
static int hook_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *at, char *const argv[], char *const envp[]) {
    ac__cpu_release();
    return real_posix_spawnp(pid, file, fa, at, argv, envp);
}
static int hook_system(const char *cmd) {
    ac__cpu_release();
    return real_system(cmd);
}
static FILE *hook_popen(const char *cmd, const char *mode) {
    ac__cpu_release();
    return real_popen(cmd, mode);
}
static int hook_sched_getaffinity(pid_t pid, size_t n, cpu_set_t *set) {
    ac__cpu_release();
    return real_sched_getaffinity(pid, n, set);
}
static int hook_sched_setaffinity(pid_t pid, size_t n, const cpu_set_t *set) {
    ac__cpu_release(); /* first, so that the test's own choice is the one that stays */
    return real_sched_setaffinity(pid, n, set);
}
static int hook_pthread_getaffinity_np(pthread_t t, size_t n, cpu_set_t *set) {
    ac__cpu_release();
    return real_pthread_getaffinity_np(t, n, set);
}
static int hook_pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *set) {
    ac__cpu_release();
    return real_pthread_setaffinity_np(t, n, set);
}

bool ac__cpu_hold_install(void) {
    if (installed)
        return true;
    struct {
        const char *name;
        void *fn;
        void **real;
    } calls[] = {
        {"pthread_create", (void *)hook_pthread_create, (void **)&real_pthread_create},
        {"fork", (void *)hook_fork, (void **)&real_fork},
        {"posix_spawn", (void *)hook_posix_spawn, (void **)&real_posix_spawn},
        {"posix_spawnp", (void *)hook_posix_spawnp, (void **)&real_posix_spawnp},
        {"system", (void *)hook_system, (void **)&real_system},
        {"popen", (void *)hook_popen, (void **)&real_popen},
        {"sched_getaffinity", (void *)hook_sched_getaffinity, (void **)&real_sched_getaffinity},
        {"sched_setaffinity", (void *)hook_sched_setaffinity, (void **)&real_sched_setaffinity},
        {"pthread_getaffinity_np", (void *)hook_pthread_getaffinity_np,
         (void **)&real_pthread_getaffinity_np},
        {"pthread_setaffinity_np", (void *)hook_pthread_setaffinity_np,
         (void **)&real_pthread_setaffinity_np},
    };
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
        if (!(*calls[i].real = ac__real(calls[i].name)))
            return false; /* not this libc: the set is given back at the test's start, as always */
    ac__patch_batch_begin();
    bool ok = true;
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        ac__patch p;
        long n = ac__patch_apply(&p, calls[i].name, calls[i].fn);
        if (n < 0) {
            ok = false;
            break;
        }
        if (n > 0) { /* never undone: the replacements stay for the process's life */
            free(p.slots);
            free(p.symbol);
        }
    }
    ac__patch_batch_end();
    installed = ok;
    return ok;
}
