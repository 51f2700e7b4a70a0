/* system.c — what the harness reads about its own process and environment for itself: the real monotonic
 * clock, the number of threads, the AC_TIMEOUT_MULTIPLIER setting, and the mark of its own calls on a test's
 * thread (ac__harness_call_begin). It must not follow anything a test
 * replaces (a virtual clock, patched open or read), and it holds no state about tests. */
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#include <sys/single_threaded.h>
#define AC_SINGLE_THREADED() (__libc_single_threaded != 0)
#else
#define AC_SINGLE_THREADED() false
#endif

static __thread int harness_calls; /* depth of ac__harness_call_begin/end on this thread */

void ac__harness_call_begin(void) {
    harness_calls++;
}

void ac__harness_call_end(void) {
    harness_calls--;
}

bool ac__in_harness_call(void) {
    return harness_calls > 0;
}

void ac__qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    ac__harness_call_begin();
    qsort(base, n, size, cmp);
    ac__harness_call_end();
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define AC_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AC_SANITIZED 1
#endif

/* Always the real clock, through the function the dynamic linker binds (dlsym): a test's virtual clock
 * replaces the clock_gettime that calls through GOT slots reach, and the harness must not follow it. */
double ac__monotonic(void) {
    static int (*real_clock_gettime)(clockid_t, struct timespec *);
    if (!real_clock_gettime)
        real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_DEFAULT, "clock_gettime");
    struct timespec ts;
    real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Raw system calls into a buffer on the stack: a test may have replaced open or read, and the clock
 * counts threads at every autojump, where opendir's 32 KiB allocation would dominate a virtual day under
 * ThreadSanitizer. */
int ac__each_thread(void (*fn)(int tid, void *ctx), void *ctx) {
    char buf[4096] __attribute__((aligned(8)));
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int threads = 0;
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; off < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + offsetof(struct dirent64, d_reclen), sizeof reclen);
            const char *name = buf + off + offsetof(struct dirent64, d_name);
            if (name[0] != '.') {
                threads++;
                if (fn)
                    fn(atoi(name), ctx);
            }
            off += reclen;
        }
    syscall(SYS_close, fd);
    return threads;
}

int ac__count_threads(void) {
#if !defined(AC_SANITIZED)
    /* No pthread_create has run in this process (glibc clears the flag at the first one, for good), so
     * its one thread is the caller: no /proc scan, which in a freshly forked test child costs a stack
     * page, an openat and two getdents64. Under a sanitizer the runtime starts threads of its own
     * without pthread_create: always scan there. */
    if (AC_SINGLE_THREADED())
        return 1;
#endif
    return ac__each_thread(NULL, NULL);
}

int ac__own_pid(void) {
    static volatile int *cache; /* a page wiped in a forked child; NULL: no such page here */
    static bool tried;
    if (!tried) {
        tried = true;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifdef MADV_WIPEONFORK
        if (p != MAP_FAILED && madvise(p, 4096, MADV_WIPEONFORK) == 0)
            cache = p;
        else
#endif
            if (p != MAP_FAILED)
            munmap(p, 4096);
    }
    int pid = cache ? *cache : 0;
    if (pid == 0) {
        pid = (int)syscall(SYS_getpid);
        if (cache)
            *cache = pid;
    }
    return pid;
}

bool ac__timeout_multiplier(double *out) {
    *out = 1.0;
    const char *m = getenv("AC_TIMEOUT_MULTIPLIER");
    if (!m || !*m)
        return true;
    double v;
    if (!ac__parse_seconds(m, &v) || v <= 0)
        return false;
    *out = v;
    return true;
}
