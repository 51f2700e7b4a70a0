/* process.c — the runner's own process state, made sane at start-up whatever the parent left: fds 0-2
 * open, the signal dispositions and mask the runner depends on, the descriptor limit raised (and given
 * back to test processes), how many tests the descriptors allow at once, and refusing a nested ac_main. */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static struct rlimit original_nofile;
static bool nofile_raised;

/* A closed 0, 1 or 2 would be taken by the next file the runner opens (a report file would receive the
 * human report): each is opened on /dev/null instead. open() returns the lowest free descriptor, so
 * going up from 0 fills exactly the closed ones. */
static void open_std_fds(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (got >= 0 && got != fd) { /* not expected; keep the table as it was */
            close(got);
            return;
        }
    }
}

/* The runner waits for each test process with waitpid (and its pidfd): a parent that left SIGCHLD
 * ignored (or SA_NOCLDWAIT) makes the kernel reap the children itself, and their exit is lost. SIGINT
 * and SIGTERM end a run in order (run.c): they must not stay blocked, nor SIGCHLD. */
static void reset_signals(void) {
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Each running test holds descriptors in the runner: the soft limit goes up to the hard one (tests get
 * the original back: ac__runner_child_state). */
static void raise_nofile(void) {
    if (getrlimit(RLIMIT_NOFILE, &original_nofile) != 0)
        return;
    struct rlimit raised = original_nofile;
    raised.rlim_cur = raised.rlim_max;
    if (raised.rlim_cur > 65536) /* plenty for 4096 jobs; some code walks every possible descriptor */
        raised.rlim_cur = 65536;
    if (raised.rlim_cur > original_nofile.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
        nofile_raised = true;
}

int ac__runner_startup(const char *prog) {
    if (ac_current()) {
        ac__buf msg = {0};
        ac__buf_printf(&msg,
                       "%s: ac_main was called from inside the running test %s; a test cannot start a "
                       "nested run (run the other executable as a process instead)",
                       prog, ac_test_name(ac_current()));
        ac__report_failure(AC_FK_HARNESS, false, NULL, 0, ac__buf_str(&msg), NULL, NULL);
        ac__buf_free(&msg);
        return 2;
    }
    open_std_fds();
    reset_signals();
    raise_nofile();
    return 0;
}

void ac__runner_child_state(void) {
    if (nofile_raised)
        setrlimit(RLIMIT_NOFILE, &original_nofile);
}

/* Descriptors open now: counted in /proc/self/fd, else by probing up to the limit. */
static size_t open_fds(rlim_t limit) {
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            n += e->d_name[0] != '.';
        closedir(d);
        return n > 0 ? n - 1 : 0; /* the directory's own */
    }
    for (rlim_t fd = 0; fd < limit && fd < 65536; fd++)
        n += fcntl((int)fd, F_GETFD) >= 0;
    return n;
}

size_t ac__runner_fd_slots(size_t jobs) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
        return jobs;
    size_t used = open_fds(lim.rlim_cur);
    /* A running test holds 5 (its record, stdout and stderr pipes, its pidfd and its slot's fork server
     * socket); starting one briefly takes 3 more (the pipes' other ends, until they are sent to the
     * server or forked). Keep a few for reports and libev. */
    size_t reserve = 3 + 8;
    size_t room = lim.rlim_cur > used + reserve ? (size_t)lim.rlim_cur - used - reserve : 0;
    size_t fit = room / 5;
    if (fit < 1)
        fit = 1;
    return jobs < fit ? jobs : fit;
}
