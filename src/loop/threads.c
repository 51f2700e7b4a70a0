/* threads.c — which thread touches the test's loop: naming the calling thread when it is not the test's
 * loop thread (for callbacks that must run on the loop: AC_EXPECT_ON_LOOP_THREAD, AC_ONCE wrappers, mock
 * completions), and reporting libev calls on the test's loop made from another thread (libev's loops are
 * not thread-safe; ev_async_send is the one call meant for other threads and is not checked). It reports
 * through ac__report_failure only, never fatally (the caller is another thread, which must not be
 * unwound), and must not touch the watcher records, which belong to the test's thread. */
#include "loop_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AC_FOREIGN_SITES 32 /* call sites reported per test (each once) */

static pthread_mutex_t sites_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *sites[AC_FOREIGN_SITES];
static size_t nsites AC__PER_TEST;

/* Appends `thread 4242 "worker"`: the kernel's id of the calling thread and its name (/proc). */
static void describe_thread(ac__buf *b) {
    long tid = (long)syscall(SYS_gettid);
    char path[64], name[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, name, sizeof name - 1);
        close(fd);
        name[n > 0 ? n : 0] = '\0';
        name[strcspn(name, "\n")] = '\0';
    }
    ac__buf_printf(b, "thread %ld", tid);
    if (name[0])
        ac__buf_printf(b, " \"%s\"", name);
}

bool ac__loop_off_thread(ac__buf *who) {
    if (!__atomic_load_n(&ac__loop_test.loop, __ATOMIC_RELAXED) || ac__on_test_thread())
        return false;
    describe_thread(who);
    return true;
}

void ac__threads_reset(void) {
    if (!__atomic_load_n(&nsites, __ATOMIC_RELAXED))
        return; /* nothing written: a forked test child pays a page fault per page it writes */
    pthread_mutex_lock(&sites_lock);
    nsites = 0;
    pthread_mutex_unlock(&sites_lock);
}

/* Whether `site` was reported already in this test; records it if not (false when the table is full:
 * reported again rather than lost). */
static bool seen(const void *site) {
    pthread_mutex_lock(&sites_lock);
    bool found = false;
    for (size_t i = 0; i < nsites && !found; i++)
        found = sites[i] == site;
    if (!found && nsites < AC_FOREIGN_SITES)
        sites[nsites++] = site;
    pthread_mutex_unlock(&sites_lock);
    return found;
}

__attribute__((cold, noinline)) void ac__loop_foreign_call(const char *fn, const void *caller) {
    if (ac__hooks_in_libev(caller) || seen(caller))
        return;
    ac__buf msg = {0};
    ac__buf_printf(&msg, "%s on the test's loop from ", fn);
    describe_thread(&msg);
    ac__buf_puts(&msg, ", not the loop's thread (libev's loops are not thread-safe: hand the work over with "
                       "ev_async_send), called at ");
    ac__sym_format(&msg, caller, true);
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure_buf(AC_FK_ASSERTION, false, def ? def->file : NULL, def ? def->line : 0, &msg, NULL,
                           NULL);
}
