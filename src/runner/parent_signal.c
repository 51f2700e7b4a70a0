/* parent_signal.c — the signals a test sends its parent process. A test's parent is asyncheck (the runner
 * with one job slot, the slot's lane with more), not the process the code under test expects: a
 * kill(getppid(), SIGUSR1) meant to say "ready", or a SIGTERM or SIGHUP meant for a supervisor, would
 * otherwise end the run (or a lane) with the test's neighbours' results. Here they are caught: a signal
 * sent by a process descending from this one once tests have begun (a test, a process it started, what
 * a test left and the subreaper took in, or a process a run fixture started) is passed on, through a
 * pipe, as an ac__parent_signal for run.c to judge (a test's fails the test; a run fixture's process's
 * acts as one from outside, as every child's does before the tests begin); a signal from anyone else
 * (a terminal, a user's kill, a CI's timeout) does what it did before: SIGINT and SIGTERM what the caller
 * says, the others their default action. Signals the program (or a run fixture) handles or ignores
 * itself (but SIGINT and SIGTERM, which the runner always took), the stop signals, those a process cannot
 * catch (SIGKILL, SIGSTOP) and those a fault raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS,
 * SIGTRAP) are left alone. It must not judge or report a test. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Not the stop signals: caught, a stop and its continuation would interrupt the blocking calls of the
 * runner (and of what a run fixture forked) where the default restarts them. */
static const int fixed_signals[] = {SIGHUP,  SIGINT,  SIGQUIT,   SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,  SIGTERM,
                                    SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,   SIGPWR,  SIGSTKFLT};

static int pipe_fds[2] = {-1, -1};
static pid_t owner;                       /* the process that caught them: a child inherits the handler */
static void (*on_interrupt)(int sig);     /* SIGINT and SIGTERM from outside (NULL: ignored) */
static unsigned char caught[_NSIG];       /* which signals this file's handler holds */
static volatile sig_atomic_t tests_begun; /* before: every child is a run fixture's, from outside */
static volatile sig_atomic_t written;     /* signals put on the pipe; `taken` of them read back */
static sig_atomic_t taken;
static sigset_t handled; /* blocked while the handler runs: one handler at a time */

/* The parent and process group of `pid` from /proc (async-signal-safe: open, read, close). */
static bool stat_of(pid_t pid, pid_t *ppid, pid_t *group) {
    char path[32] = "/proc/", digits[16];
    size_t n = 0, at = 6;
    for (unsigned v = (unsigned)pid; v > 0 || n == 0; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    while (n > 0)
        path[at++] = digits[--n];
    memcpy(path + at, "/stat", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[512];
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
        return false;
    buf[got] = '\0';
    const char *p = NULL; /* after the command name, which may hold ") " itself: the last ')' */
    for (ssize_t i = got - 1; i >= 0 && !p; i--)
        if (buf[i] == ')')
            p = buf + i + 1;
    if (!p || p[0] != ' ' || !p[1] || p[2] != ' ') /* " S ppid pgrp" */
        return false;
    p += 3;
    long v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            v[k] = v[k] * 10 + (*p++ - '0');
        if (*p++ != ' ')
            return false;
    }
    *ppid = (pid_t)v[0];
    *group = (pid_t)v[1];
    return true;
}

static void handler(int sig, siginfo_t *si, void *context);

static bool is_ours(const struct sigaction *sa) {
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == handler;
}

void ac__parent_signal_default_action(int sig) {
    struct sigaction dfl = {.sa_handler = SIG_DFL}, before;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, &before);
    sigset_t one, mask;
    sigemptyset(&one);
    sigaddset(&one, sig);
    raise(sig); /* (blocked while its handler runs: pending until unblocked here) */
    sigprocmask(SIG_UNBLOCK, &one, &mask);
    /* Still here: its default is to ignore it, or to stop until continued */
    sigprocmask(SIG_SETMASK, &mask, NULL);
    sigaction(sig, &before, NULL);
}

/* 1: `pid` descends from this process (a child, or a child's child, up to 16 generations: a test is a
 * subreaper, so what it starts stays below it), `group` its process group; 0: it does not; -1: it has
 * ended (reaped: a child of ours stays a zombie until run.c reaps it, but not a test's child). */
static int descends(pid_t pid, pid_t *group) {
    pid_t ppid, g;
    for (int depth = 0; depth < 16 && pid > 1; depth++, pid = ppid) {
        if (!stat_of(pid, &ppid, &g))
            return -1;
        if (depth == 0)
            *group = g;
        if (ppid == owner)
            return 1;
    }
    return 0;
}

static void handler(int sig, siginfo_t *si, void *context) {
    (void)context;
    int saved = errno;
    pid_t group = 0;
    bool mine = getpid() == owner;
    bool sent = si && (si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL);
    int from = mine && sent && tests_begun && pipe_fds[1] >= 0 && si->si_pid > 0 && si->si_pid != owner
                   ? descends(si->si_pid, &group)
                   : 0;
    /* A sender gone already is passed on too (group 0), but for SIGINT and SIGTERM: those end the run */
    if (from > 0 || (from < 0 && sig != SIGINT && sig != SIGTERM)) {
        ac__parent_signal ps = {.sig = sig, .sender = si->si_pid, .group = from > 0 ? group : 0};
        if (write(pipe_fds[1], &ps, sizeof ps) == (ssize_t)sizeof ps)
            __atomic_add_fetch(&written, 1, __ATOMIC_SEQ_CST);
    } else if (mine && (sig == SIGINT || sig == SIGTERM)) {
        if (on_interrupt)
            on_interrupt(sig);
    } else {
        ac__parent_signal_default_action(sig);
    }
    errno = saved;
}

static void catch_one(int sig, bool always) {
    struct sigaction old;
    if (sig <= 0 || sig >= _NSIG || sigaction(sig, NULL, &old) != 0)
        return;
    /* what the program set itself stays; a lane finds the runner's, inherited */
    if (!always && !is_ours(&old) && !(old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)))
        return;
    /* SIGINT and SIGTERM as the runner always had them: they interrupt a blocking call (a run fixture's
     * setup waiting for a server); the others restart it. */
    struct sigaction sa = {.sa_sigaction = handler,
                           .sa_flags = SA_SIGINFO | (sig == SIGINT || sig == SIGTERM ? 0 : SA_RESTART),
                           .sa_mask = handled};
    if (sigaction(sig, &sa, NULL) == 0)
        caught[sig] = 1;
}

int ac__parent_signals_catch(void (*interrupt)(int sig)) {
    if (pipe_fds[0] < 0 && pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        pipe_fds[0] = pipe_fds[1] = -1; /* caught all the same: each then acts as one from outside */
    written = taken = 0;
    tests_begun = 0;
    owner = getpid();
    on_interrupt = interrupt;
    memset(caught, 0, sizeof caught);
    sigemptyset(&handled);
    for (size_t i = 0; i < sizeof fixed_signals / sizeof *fixed_signals; i++)
        sigaddset(&handled, fixed_signals[i]);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
        sigaddset(&handled, sig);
    for (int sig = 1; sig < _NSIG; sig++)
        if (sigismember(&handled, sig) == 1)
            catch_one(sig, sig == SIGINT || sig == SIGTERM);
    return pipe_fds[0];
}

void ac__parent_signals_tests_begin(void) {
    tests_begun = 1;
}

bool ac__parent_signal_read(int fd, ac__parent_signal *ps) {
    if (__atomic_load_n(&written, __ATOMIC_SEQ_CST) == taken)
        return false; /* (no system call: this is asked after every test) */
    ssize_t n;
    do
        n = read(fd, ps, sizeof *ps);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof *ps)
        return false;
    taken++;
    return true;
}

void ac__parent_signals_default(void) {
    struct sigaction now;
    for (int sig = 1; sig < _NSIG; sig++) /* (one a run fixture's setup has set since stays as it set it) */
        if (caught[sig] && sigaction(sig, NULL, &now) == 0 && is_ours(&now))
            signal(sig, SIG_DFL);
    memset(caught, 0, sizeof caught);
}

void ac__parent_signals_release(void) {
    ac__parent_signals_default();
    if (pipe_fds[0] >= 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    pipe_fds[0] = pipe_fds[1] = -1;
}

void ac__parent_signals_forget(void) {
    pipe_fds[0] = pipe_fds[1] = -1;
}
