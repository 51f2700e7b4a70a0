/* run.c — running a selection of tests: forking one child per test (up to --jobs at a time), watching
 * each child's record, stdout and stderr pipes, its exit (pidfd) and its real-time watchdog on the
 * runner's own libev loop (never the default loop), turning what happened into a result, and handing
 * results to the reporters in registration order. With more than one job the same slot code runs in
 * the lanes (lane.c), one process per job, and the runner only sends runs and takes results. --no-fork
 * runs the same tests in-process. It never formats report text. */
#include "runner.h"
#include "../timeline/timeline.h"
#include "../clock/clock.h"
#include "../mock/mock.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct runner runner;

/* The runner's signal self-pipe (see "SIGINT and SIGTERM" below); children close it. */
static int signal_pipe[2] = {-1, -1};

/* What a slot's test process tells the runner through memory they share (set to zeros before each test):
 * it survives however the process ends. */
typedef struct ac__slot_shared {
    unsigned char channel_lost; /* the test closed or replaced its record channel (fd 3) */
} ac__slot_shared;

typedef struct slot {
    runner *rn;
    size_t idx;
    pid_t pid;
    int pidfd;
    ev_io res_io, out_io, err_io, exit_io;
    ev_timer watchdog;
    ev_timer exit_poll; /* only where pidfd_open is unavailable */
    ac__buf records;
    double started;
    double limit;
    bool timed_out;
    bool hung_after_done;     /* the watchdog fired although a "done" record had arrived */
    int wait_error;           /* waitpid failed (errno): the exit status is unknown */
    int stop_signal;          /* the watchdog found the test stopped by this signal */
    bool traced_by_runner;    /* ... and traced by the runner (PTRACE_TRACEME) */
    int parent_signal;        /* a process of the test sent the test's parent (runner or lane) this signal */
    pid_t parent_signal_from; /* ... this process */
    bool parent_signal_known; /* ... known to be the test's (false: it had ended, the only test running) */
    bool busy;
    ac__sched_params sched;
    ac__explore *explore; /* the run is one of a test's explored runs: its result goes to `attempt` */
    unsigned sched_index;
    ac__result attempt;
    ac__result *target; /* where records go: the test's result, or `attempt` */
    ac__forksrv srv;    /* the slot's fork server (srv.sock -1: the runner forks for the slot itself) */
    ev_io srv_io;       /* its messages (always watched while it lives) */
    int held[3];        /* the test's ends of its pipes, until its process exists */
    bool awaiting;      /* a request is with the server, which has not said the process's pid yet */
    bool via_server;    /* the server made the running test's process: it holds the pipes' write ends */
    bool pipes_kept;    /* between tests: the read ends stay open (unwatched) for the slot's next test */
    int start_error;    /* the server could not make the process (errno) */
    struct lane *lane;  /* the lane that runs the slot's tests (NULL: the runner supervises them itself) */
    unsigned long lane_seq; /* the run's place in its lane's queue (the lane runs them in order) */
    bool retired;     /* a slot of a lane that is gone, beyond the one the runner took over: starts nothing */
    bool lane_unsent; /* the run could not be sent (its lane is going): it runs elsewhere once it is gone */
} slot;

/* The runner's side of a lane (lane.c): LANE_DEPTH slots share it, so that it always has a run queued. */
typedef struct lane {
    runner *rn;
    size_t idx;
    ac__lane l;
    ev_io io;              /* its messages (always watched while it lives) */
    unsigned long sent;    /* runs given to it so far (put in l.out, then written by lanes_flush_cb) */
    unsigned long flushed; /* ... and of those, written to it */
    double heard;          /* when it last sent a result (or was started) */
    double pace;           /* its runs' recent duration, seconds (ac__lane_pace); 0 until one has ended */
    size_t held;           /* runs given to it whose results have not come (at most ac__lane_depth) */
    bool closing;          /* lane_gone has begun: no more runs go to it */
    bool broken;           /* a send to it failed: lane_gone runs from its watcher (never inside a start) */
} lane;

/* What a lane says of the runs it holds through memory it shares with the runner alone (the lane marks
 * it MADV_DONTFORK: its fork server and the tests never have it): per runner slot, when (ac__monotonic)
 * the lane started the slot's run and when it ended it (its result then held or sent); 0: not yet. */
typedef struct lane_progress {
    _Atomic double started, ended;
} lane_progress;

/* A run taken back from a lane that is gone before it started it: the next free slot starts it. */
typedef struct requeued {
    size_t idx;
    ac__explore *explore;
    ac__sched_params sched;
    unsigned sched_index;
} requeued;

/* Runs a lane holds at once (the one it supervises, those queued behind it, those whose results it
 * holds): as many as its pace allows (lane_pace.c), so LANE_DEPTH slots share a lane. A lane sends its
 * results when a run failed, when its pace says so, or LANE_HOLD seconds after the first of them ended. */
#define LANE_DEPTH AC_LANE_DEPTH_MAX
#define LANE_HOLD 0.05

struct runner {
    const ac__run *run;
    struct ev_loop *loop;
    /* Per item, for the items between next_report and next_start only (a ring of `window` entries,
     * indexed through RESULT/READY/EXPLORE): a long --repeat is streamed, never held whole. */
    ac__result *results;
    bool *ready;
    ac__explore **explores; /* per item: its exploration while it runs, else NULL */
    size_t window;
    size_t next_start, next_report, running;
    bool stop;           /* --fail-fast or --repeat until-fail saw a failure: start nothing more */
    int interrupted;     /* SIGINT or SIGTERM reached the runner: start nothing, end what runs */
    ev_io signal_io;     /* the read end of the signal self-pipe */
    ev_io parent_io;     /* signals the tests sent their parent (parent_signal.c) */
    size_t done, failed; /* finished so far, in any order (for progress) */
    double started;
    ev_timer progress_tick;
    slot *slots;
    size_t nslots;
    ac__summary *sum;
    int devnull;             /* opened once; each child's stdin */
    bool pinned;             /* the runner is pinned to one CPU; tests get `affinity` back (ac__exec_test) */
    bool subreaper;          /* the runner made itself a child subreaper (see reap_leftovers) */
    int was_subreaper;       /* ... and was one before, or not */
    ac__slot_shared *shared; /* per slot, shared with the test processes */
    ac__tl_ring *timelines;  /* per slot, shared with the test processes: their event rings */
    size_t timeline_events;  /* the events each slot's ring has room for */
    pid_t preexisting[64];   /* children the process had before the run (the program's own): left alone */
    size_t npreexisting;
    cpu_set_t affinity; /* the CPUs the run may use */
    pid_t self;         /* the runner's pid: every test process's parent */
    lane *lanes;        /* in the runner: the lanes (nlanes), each serving LANE_DEPTH slots */
    size_t nlanes;
    ev_prepare lanes_out;     /* in the runner: writes what each lane was given (lanes_flush_cb) */
    ev_timer lanes_check;     /* in the runner: gives up a lane that stopped answering (lanes_check_cb) */
    double lanes_checked;     /* when lanes_check_cb last ran */
    double lanes_grace_until; /* no lane is given up before (the runner itself was stopped) */
    lane_progress *progress;  /* per slot, with lanes: what the lanes say of their runs */
    /* In a lane (lane.c): the socket to the runner, and the runner's number of the slot whose run the
     * lane's one slot runs (its event ring and shared memory are the runner's, by that number). -1 and 0
     * in the runner. */
    int lane_sock;
    size_t slot_base;
    ac__lane from_runner;               /* in a lane: what the runner sent, read and not yet handled */
    ac__fork_request queue[LANE_DEPTH]; /* in a lane: the runs the runner sent, not started yet */
    size_t nqueued;
    double pace;          /* in a lane: its runs' recent duration (ac__lane_pace) */
    ev_timer results_due; /* in a lane: when the results it holds must go (LANE_HOLD) */
    requeued *requeue;    /* in the runner: runs taken back from lanes that are gone (at most nslots) */
    size_t nrequeue;
};

/* The runner's number of slot s: its event ring and its shared memory. */
static size_t slot_no(const slot *s) {
    return s->rn->slot_base + (size_t)(s - s->rn->slots);
}

#define RESULT(rn, idx) ((rn)->results[(idx) % (rn)->window])
#define READY(rn, idx) ((rn)->ready[(idx) % (rn)->window])
#define EXPLORE(rn, idx) ((rn)->explores[(idx) % (rn)->window])

double ac__effective_timeout(const ac__options *o, const ac__test_def *def) {
    double base = def->options.timeout;
    if (base <= 0) {
        const ac__suite_def *suite = ac__suite_find(def->suite);
        base = suite && suite->options.timeout > 0 ? suite->options.timeout : o->timeout;
    }
    return base * o->multiplier;
}

/* When the runner's watchdog fires for a test of real-time limit `limit`: a little later than the test's
 * own limit, so that the test's own, more precise report wins. */
static double with_grace(double limit) {
    return limit + 0.2 + limit * 0.05;
}

/* ---- delivering results in order ---- */

static void count(ac__summary *sum, const ac__result *r) {
    if (r->not_run)
        sum->not_run++;
    else if (r->outcome == AC_PASS)
        sum->passed++;
    else if (r->outcome == AC_FAIL)
        sum->failed++;
    else
        sum->skipped++;
}

static void deliver_ready(runner *rn) {
    while (rn->next_report < rn->run->nitems && READY(rn, rn->next_report)) {
        ac__result *r = &RESULT(rn, rn->next_report);
        for (size_t i = 0; i < rn->run->nreporters; i++)
            rn->run->reporters[i]->result(rn->run->reporters[i], r);
        count(rn->sum, r);
        ac__result_free(r);
        READY(rn, rn->next_report) = false;
        rn->next_report++;
    }
}

static void report_progress(runner *rn) {
    for (size_t i = 0; i < rn->run->nreporters; i++)
        if (rn->run->reporters[i]->progress)
            rn->run->reporters[i]->progress(rn->run->reporters[i], rn->done, rn->run->nitems, rn->failed,
                                            ac__monotonic() - rn->started);
}

static void lanes_drop_queued(runner *rn);

static void mark_ready(runner *rn, size_t idx) {
    ac__result *r = &RESULT(rn, idx);
    ac__result_settle(r);
    if (r->outcome == AC_FAIL) {
        rn->failed++;
        if ((rn->run->opts->fail_fast || rn->run->opts->until_fail) && !rn->stop) {
            rn->stop = true;
            lanes_drop_queued(rn); /* the runs the lanes hold but have not started are not run either */
        }
    }
    rn->done++;
    READY(rn, idx) = true;
}

/* Item idx takes its place in the ring (the previous occupant was delivered). */
static void enter_window(runner *rn, size_t idx) {
    ac__item item = rn->run->item_at(rn->run->item_ctx, idx);
    RESULT(rn, idx) = (ac__result){.def = item.def,
                                   .repeat = item.repeat,
                                   .repeats = (unsigned)rn->run->opts->repeat,
                                   .number = idx + 1};
}

/* A test's own or its suite's timeout that is not a number of seconds the watchdog can keep (NaN,
 * infinity, 1e300: none would ever fire) fails the test unrun, as --timeout would be refused. */
static bool timeout_usable(const ac__options *o, ac__result *r) {
    double t = ac__effective_timeout(o, r->def);
    if (t > 0 && t <= 1e7) /* false for NaN */
        return true;
    const ac__suite_def *suite = ac__suite_find(r->def->suite);
    bool own = !(r->def->options.timeout <= 0);
    double base = own ? r->def->options.timeout : suite ? suite->options.timeout : o->timeout;
    ac__buf msg = {0};
    ac__buf_printf(&msg, "%s .timeout = %g s", own ? "the test's" : "its suite's", base);
    if (o->multiplier != 1)
        ac__buf_printf(&msg, " times AC_TIMEOUT_MULTIPLIER %g", o->multiplier);
    ac__buf_puts(&msg, " is not a number of seconds from 0 to 10,000,000; the test was not run");
    ac__result_add_failure(r, AC_FK_HARNESS, true, r->def->file, r->def->line, ac__buf_str(&msg), NULL, NULL);
    ac__buf_free(&msg);
    return false;
}

/* A test that never reaches a child: skipped by option, a timeout that cannot be kept, or not run after
 * --fail-fast. */
static bool settle_without_running(runner *rn, size_t idx) {
    ac__result *r = &RESULT(rn, idx);
    if (rn->interrupted) {
        r->not_run = true;
        ac__buf why = {0};
        ac__buf_printf(&why, "not run: the runner was interrupted by SIG%s", sigabbrev_np(rn->interrupted));
        r->skip_reason = ac__buf_take(&why);
    } else if (rn->stop) {
        r->not_run = true;
        r->skip_reason = ac__xstrdup(rn->run->opts->fail_fast
                                         ? "not run: --fail-fast stopped the run after a failure"
                                         : "not run: --repeat until-fail stopped the run after a failure");
    } else if (r->def->options.skip) {
        r->skip_reason = ac__xstrdup(r->def->options.skip);
    } else if (timeout_usable(rn->run->opts, r)) {
        return false; /* it runs */
    }
    mark_ready(rn, idx);
    return true;
}

/* ---- timelines ---- */

/* Maps one event ring per slot, before any test process is forked (a process forked later, a fork
 * server's children among them, inherits the mapping). NULL under AC_TIMELINE=off or when mapping fails:
 * tests then record nothing. */
static ac__tl_ring *timelines_setup(runner *rn, size_t nslots) {
    const ac__options *o = rn->run->opts;
    if (o->timeline_off)
        return NULL;
    rn->timeline_events = ac__timeline_capacity(o, NULL); /* room for the largest a selected test asks */
    for (size_t i = 0; i < rn->run->ntests; i++) {
        size_t own = ac__timeline_capacity(o, rn->run->tests[i]);
        if (own > rn->timeline_events)
            rn->timeline_events = own;
    }
    return ac__tl_map(nslots, rn->timeline_events, o->trace_dir ? AC_TL_FLAG_COUNT_FDS : 0);
}

/* The event ring of the runner's slot number i (slot_no). */
static ac__tl_ring *slot_ring(runner *rn, size_t i) {
    return ac__tl_slot(rn->timelines, i);
}

/* Reads a finished run's ring into its result when something will use it: a failure shows it, a trace
 * file carries it, --check-determinism compares two runs' timelines. */
static void take_timeline(runner *rn, ac__tl_ring *ring, ac__result *r, const ac__sched_params *p) {
    const ac__options *o = rn->run->opts;
    r->seed = p->seed;
    if (ring && (r->nfailures > 0 || o->trace_all || p->trace))
        ac__timeline_collect(ring, &r->timeline);
}

/* ---- the child's side of fork ---- */

#define CHILD_RECORD_FD 3

/* The test process keeps its stdio and its record channel, which takes fd 3, and closes everything
 * else it inherited from the runner (report files, other tests' pipes, the runner's loop): a test cannot
 * write into another's channel or a report, and every run of a test sees the same descriptor table
 * whatever ran beside it (--check-determinism compares runs made under different -j neighbours). */
static int own_fds_only(int res_w) {
    if (res_w != CHILD_RECORD_FD) {
        if (dup2(res_w, CHILD_RECORD_FD) < 0)
            return res_w;
        res_w = CHILD_RECORD_FD;
    }
    if (syscall(SYS_close_range, CHILD_RECORD_FD + 1, ~0U, 0) == 0)
        return res_w;
    DIR *d = opendir("/proc/self/fd"); /* kernels before 5.9 */
    if (!d)
        return res_w;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd > CHILD_RECORD_FD && fd != self)
            close(fd);
    }
    closedir(d);
    return res_w;
}

static _Noreturn void child_main(runner *rn, const ac__test_def *def, const ac__sched_params *sched,
                                 double timeout, pid_t parent, int res_w, int out_w, int err_w,
                                 size_t slot_index) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the runner, even if it is SIGKILLed */
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* what the test starts stays its descendant: see reap_leftovers */
    if (getppid() != parent)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    ac__parent_signals_default(); /* (nothing left to do in a process a fork server made) */
    if (signal_pipe[0] >= 0) {
        close(signal_pipe[0]);
        close(signal_pipe[1]);
    }
    ac__runner_child_state();
    if (rn->devnull >= 0)
        dup2(rn->devnull, 0);
    dup2(out_w, 1);
    dup2(err_w, 2);
    /* Line-buffered, so a crash loses at most a partial line. glibc ignores _IOLBF with a NULL buffer on
     * a stream that already has one (the runner's), so hand it a fresh buffer. */
    static char line_buffer[BUFSIZ];
    setvbuf(stdout, line_buffer, _IOLBF, sizeof line_buffer);
    res_w = own_fds_only(res_w);
    /* Blocking, and no flag an earlier test of the slot set on the pipes it passed on (O_NONBLOCK, O_DIRECT
     * and O_ASYNC belong to the pipe's open file, which the slot's tests share: see finish) */
    for (int fd = 1; fd <= CHILD_RECORD_FD; fd++)
        fcntl(fd == CHILD_RECORD_FD ? res_w : fd, F_SETFL, 0);
    struct stat channel, now;
    bool known = fstat(res_w, &channel) == 0;
    ac__sink sink = {.fd = res_w, .into = NULL};
    ac__tl_attach(slot_ring(rn, slot_index));
    ac__exec_test(def, timeout, rn->run->opts->clock, sched, &sink, rn->pinned ? &rn->affinity : NULL);
    if (known && rn->shared &&
        (fstat(res_w, &now) != 0 || now.st_ino != channel.st_ino || now.st_dev != channel.st_dev))
        rn->shared[slot_index].channel_lost = 1; /* the test closed or replaced its record channel */
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

/* The test's process as a fork server makes it: the runner's child_main, from the server's copy of the
 * runner. */
static void server_child(void *ctx, const ac__fork_request *req, int res_w, int out_w, int err_w) {
    runner *rn = ctx;
    child_main(rn, req->def, &req->sched, req->timeout, rn->self, res_w, out_w, err_w, req->slot);
}

/* Once in a new fork server, which has closed the runner's descriptors: the signal pipe's numbers may be
 * taken by a test's pipes now, and child_main must not close them. */
static void in_server(void *ctx) {
    (void)ctx;
    signal_pipe[0] = signal_pipe[1] = -1;
    ac__parent_signals_forget();
    ac__parent_signals_default(); /* once here: the tests it makes inherit the defaults (child_main) */
}

/* ---- reading a child's pipes ---- */

/* Bytes the test wrote to stream 0 (records), 1 (stdout) or 2 (stderr). */
static void take_bytes(slot *s, int stream, const char *p, size_t n) {
    ac__result *r = s->target;
    if (stream == 0) {
        ac__buf_append(&s->records, p, n);
        if (ac__records_consume(&s->records, r) < 0) {
            ac__result_add_failure(r, AC_FK_HARNESS, false, NULL, 0,
                                   "malformed record stream from the test process", NULL, NULL);
            s->records.len = 0;
        }
    } else {
        ac__capture_add(stream == 1 ? &r->out : &r->err, p, n);
    }
}

/* Reads what the pipe of `w` holds now: up to a short read, or with `to_end`, once its writer has ended,
 * up to EAGAIN (a pipe in packet mode, O_DIRECT, gives one packet a read: a short read does not mean it is
 * empty), but no more than a pipe can hold and a little (something else may still be writing). */
static void read_pipe(slot *s, ev_io *w, bool to_end) {
    char chunk[65536];
    size_t budget = 2u << 20; /* (a pipe holds at most 1 MiB unless root raised /proc/sys/fs/pipe-max-size) */
    for (;;) {
        ssize_t n = read(w->fd, chunk, sizeof chunk);
        if (n > 0) {
            take_bytes(s, w == &s->res_io ? 0 : w == &s->out_io ? 1 : 2, chunk, (size_t)n);
            if ((size_t)n < sizeof chunk && !to_end)
                return;
            if (to_end && (budget = budget > (size_t)n ? budget - (size_t)n : 0) == 0)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        /* EOF or error: this stream is finished */
        ev_io_stop(s->rn->loop, w);
        close(w->fd);
        w->fd = -1;
        return;
    }
}

static void pipe_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    read_pipe(w->data, w, false);
}

static void start_next(runner *rn);
static void explore_settle(runner *rn, size_t idx);
static void run_ended(runner *rn, slot *s);
static void lane_reply(runner *rn, slot *s);

static void progress_tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    report_progress(w->data);
}

static void describe_death(ac__buf *msg, int status, const ac__result *r, double elapsed) {
    const char *where = r->phase ? r->phase : "startup";
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        ac__buf_printf(msg, "crashed: SIG%s (%s) in %s after %.3f s", abbrev ? abbrev : "?", strsignal(sig),
                       where, elapsed);
    } else {
        ac__buf_printf(msg, "exited unexpectedly with status %d in %s after %.3f s, before the test finished",
                       WEXITSTATUS(status), where, elapsed);
    }
}

/* ---- what an ended test left behind outside its process group ----
 * The runner and every test process are child subreapers: a process a test started that left the test's
 * process group (setsid) and lost its parent is re-parented to the test while the test runs, and to the
 * runner once the test has ended. So a child of the runner that is not a running test is something an
 * ended test left: it is killed and reaped, again until none is left (each one killed hands its own
 * children to the runner). */

/* The runner's children, from /proc/self/task/T/children, else by each process's parent in /proc. */
static size_t runner_children(pid_t *out, size_t max) {
    size_t n = 0;
    bool listed = false;
    if (ac__count_threads() == 1) { /* the calling thread is the only one: no directory to list */
        /* The file stays open (one pread a look, after every test), for this thread and process (a fork
         * server or test process forked from the runner closes it with the rest) */
        static int fd = -1;
        static pid_t fd_tid, fd_pid;
        /* (the one thread is the main one, whose id is the process's: no gettid, no getpid) */
        pid_t self = ac__own_pid(), tid = self;
        if (fd >= 0 && (fd_tid != tid || fd_pid != self)) {
            if (fd_pid == self)
                close(fd);
            fd = -1;
        }
        if (fd < 0) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)tid);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            fd_tid = tid, fd_pid = self;
        }
        char buf[4096];
        if (fd >= 0) {
            /* (raw reads: a seq_file gives all it holds up to the buffer's size at each read) */
            size_t len = 0;
            ssize_t got;
            while (len < sizeof buf - 1 &&
                   (got = pread(fd, buf + len, sizeof buf - 1 - len, (off_t)len)) > 0) {
                len += (size_t)got;
                if (len < sizeof buf - 1)
                    break;
            }
            buf[len] = '\0';
            if (len < sizeof buf - 1) { /* else more children than the buffer holds: list them below */
                for (char *p = buf, *end; n < max; p = end) {
                    long pid = strtol(p, &end, 10);
                    if (end == p)
                        break;
                    out[n++] = (pid_t)pid;
                }
                return n;
            }
            n = 0;
        }
    }
    DIR *tasks = opendir("/proc/self/task");
    if (tasks) {
        struct dirent *e;
        while ((e = readdir(tasks)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/self/task/%.20s/children", e->d_name);
            FILE *f = fopen(path, "re");
            if (!f)
                continue;
            listed = true;
            int pid;
            while (n < max && fscanf(f, "%d", &pid) == 1)
                out[n++] = (pid_t)pid;
            fclose(f);
        }
        closedir(tasks);
    }
    if (listed)
        return n;
    DIR *proc = opendir("/proc"); /* kernels without CONFIG_PROC_CHILDREN */
    if (!proc)
        return 0;
    pid_t self = getpid();
    struct dirent *e;
    while (n < max && (e = readdir(proc)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        const char *paren = strrchr(buf, ')'); /* the command name may hold anything */
        int ppid;
        char state;
        if (paren && sscanf(paren + 1, " %c %d", &state, &ppid) == 2 && ppid == self)
            out[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(proc);
    return n;
}

static void await_replies(runner *rn);

/* One of the children the runner had before its first test (a run fixture's server, say). */
static bool preexisting_child(const runner *rn, pid_t pid) {
    for (size_t j = 0; j < rn->npreexisting; j++)
        if (rn->preexisting[j] == pid)
            return true;
    return false;
}

/* A child of the runner that is not something a test left: a running test, a fork server, or a child the
 * program had before the run. */
static bool known_child(const runner *rn, pid_t kid) {
    for (size_t j = 0; j < rn->nslots; j++)
        if ((rn->slots[j].busy && rn->slots[j].pid == kid) || rn->slots[j].srv.pid == kid ||
            (j < rn->nlanes && rn->lanes[j].l.pid == kid))
            return true;
    return preexisting_child(rn, kid);
}

/* One look at the runner's children: none that a test left. (A test process a server is making may not be
 * known yet: then false, and reap_leftovers, which waits for the servers' answers, sorts it out.) */
static bool left_nothing(const runner *rn) {
    pid_t kids[256];
    size_t n = runner_children(kids, sizeof kids / sizeof *kids);
    for (size_t i = 0; i < n; i++)
        if (!known_child(rn, kids[i]))
            return false;
    return n < sizeof kids / sizeof *kids;
}

static void reap_leftovers(runner *rn) {
    await_replies(rn);
    for (int round = 0; round < 64; round++) {
        pid_t kids[256];
        size_t n = runner_children(kids, sizeof kids / sizeof *kids), killed = 0;
        for (size_t i = 0; i < n; i++) {
            if (known_child(rn, kids[i]))
                continue;
            kill(kids[i], SIGKILL);
            while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
                ;
            killed++;
        }
        if (killed == 0)
            return;
    }
}

/* While a request is with the slot's server, the runner's loop watches nothing of the test's but its
 * watchdog (the server's socket does not keep the loop running): the request holds the loop itself. */
static void set_awaiting(runner *rn, slot *s, bool on) {
    if (on && !s->awaiting)
        ev_ref(rn->loop);
    else if (!on && s->awaiting)
        ev_unref(rn->loop);
    s->awaiting = on;
}

static void take_parent_signals(runner *rn);

static void finish(slot *s, int status) {
    runner *rn = s->rn;
    ac__result *r = s->target;
    double elapsed = ac__monotonic() - s->started;
    kill(-s->pid, SIGKILL); /* whatever the test left running in its process group goes with it */
    /* When the test left no process behind (the runner, a child subreaper, has every orphan of the test's
     * for a child by now: one look at its children), the test's process was the pipes' last writer but
     * for the fork server, which holds their write ends: once read to their end here they serve the
     * slot's next test (three pipe2, six close and their epoll_ctl saved a test). */
    bool clean = rn->subreaper && s->pid > 0 && left_nothing(rn);
    ev_io *ios[] = {&s->res_io, &s->out_io, &s->err_io};
    bool keep = clean && s->via_server && s->srv.sock >= 0;
    for (size_t i = 0; i < 3; i++) {
        if (ios[i]->fd >= 0)
            read_pipe(s, ios[i], true); /* what is buffered in the pipe now */
        keep = keep && ios[i]->fd >= 0;
    }
    for (size_t i = 0; i < 3; i++)
        if (ios[i]->fd >= 0) {
            ev_io_stop(rn->loop, ios[i]);
            if (!keep) {
                close(ios[i]->fd);
                ios[i]->fd = -1;
            }
        }
    s->pipes_kept = keep;
    s->via_server = false;
    ev_timer_stop(rn->loop, &s->watchdog);
    ev_timer_stop(rn->loop, &s->exit_poll);
    if (s->pidfd >= 0) {
        ev_io_stop(rn->loop, &s->exit_io);
        close(s->pidfd);
        s->pidfd = -1;
    }
    ac__buf_free(&s->records);
    set_awaiting(rn, s, false);
    r->duration = elapsed;
    if (!r->finished) {
        ac__buf msg = {0};
        ac__failure_kind kind;
        if (rn->interrupted) {
            kind = AC_FK_INTERRUPTED;
            ac__buf_printf(&msg,
                           "interrupted: the runner received SIG%s after %.3f s in %s; the test was killed",
                           sigabbrev_np(rn->interrupted), elapsed, r->phase ? r->phase : "startup");
        } else if (s->timed_out && s->stop_signal) {
            const char *abbrev = sigabbrev_np(s->stop_signal);
            kind = s->traced_by_runner ? AC_FK_CRASH : AC_FK_TIMEOUT;
            ac__buf_printf(
                &msg,
                "%s: SIG%s (%s) in %s; the signal stopped the test %s; it was killed at its limit after %.3f "
                "s",
                s->traced_by_runner ? "crashed" : "stopped", abbrev ? abbrev : "?", strsignal(s->stop_signal),
                r->phase ? r->phase : "startup",
                s->traced_by_runner
                    ? "instead of ending it (the test had made the runner its tracer with PTRACE_TRACEME)"
                    : "and nothing resumed it",
                elapsed);
        } else if (s->timed_out) {
            kind = AC_FK_TIMEOUT;
            ac__buf_printf(&msg,
                           "timed out after %.3f s (limit %.3f s) in %s; the test's process group was killed",
                           elapsed, s->limit, r->phase ? r->phase : "startup");
        } else if (rn->shared && rn->shared[slot_no(s)].channel_lost && WIFEXITED(status) &&
                   WEXITSTATUS(status) == 0) {
            kind = AC_FK_HARNESS;
            ac__buf_printf(&msg,
                           "the test closed its record channel (fd 3) in %s: nothing it reported after that "
                           "reached the runner, its end included (leave fd 3 open)",
                           r->phase ? r->phase : "startup");
        } else if (s->wait_error) {
            kind = AC_FK_HARNESS;
            ac__buf_printf(
                &msg, "the test process ended in %s after %.3f s, but its exit status was lost (waitpid: %s)",
                r->phase ? r->phase : "startup", elapsed, strerror(s->wait_error));
        } else {
            kind = WIFSIGNALED(status) ? AC_FK_CRASH : AC_FK_EXIT;
            describe_death(&msg, status, r, elapsed);
        }
        ac__result_add_failure(r, kind, true, r->def->file, r->def->line, ac__buf_str(&msg), NULL, NULL);
        ac__buf_free(&msg);
    } else if (!rn->interrupted && (s->hung_after_done || WIFSIGNALED(status))) {
        /* After its "done" record the test's process only exits: a record said the test was done, yet
         * the test's process went on, so the record did not come from it (a process it forked wrote it).
         * The outcome is what the test's own process did. */
        ac__buf msg = {0};
        if (s->hung_after_done)
            ac__buf_printf(&msg, "timed out after %.3f s (limit %.3f s); the test's process group was killed",
                           elapsed, s->limit);
        else
            describe_death(&msg, status, r, elapsed);
        ac__buf_puts(&msg, " (a \"done\" record had arrived, but not from the test's own process)");
        ac__result_add_failure(r, s->hung_after_done ? AC_FK_TIMEOUT : AC_FK_CRASH, true, r->def->file,
                               r->def->line, ac__buf_str(&msg), NULL, NULL);
        ac__buf_free(&msg);
    }
    take_parent_signals(rn); /* (a signal the test sent is caught before its end is seen) */
    if (s->parent_signal && !rn->interrupted) {
        ac__buf msg = {0}, name = {0};
        const char *abbrev = sigabbrev_np(s->parent_signal);
        if (abbrev)
            ac__buf_puts(&name, abbrev);
        else
            ac__buf_printf(&name, "RTMIN+%d", s->parent_signal - SIGRTMIN);
        ac__buf_printf(
            &msg,
            "the test's %s (pid %d%s) sent SIG%s (%s) to the test's parent, which is asyncheck's %s: not "
            "acted on (a test's parent is asyncheck, not the process the code under test expects)",
            s->parent_signal_from == s->pid ? "process" : "descendant", (int)s->parent_signal_from,
            s->parent_signal_known
                ? ""
                : ", ended before asyncheck could check whose it was: taken for this test's, "
                  "the only one running",
            ac__buf_str(&name), strsignal(s->parent_signal), rn->lane_sock >= 0 ? "lane" : "runner");
        ac__buf_free(&name);
        ac__result_add_failure(r, AC_FK_HARNESS, true, r->def->file, r->def->line, ac__buf_str(&msg), NULL,
                               NULL);
        ac__buf_free(&msg);
    }
    if (rn->lane_sock < 0) /* (a lane's runner reads the ring itself) */
        take_timeline(rn, slot_ring(rn, slot_no(s)), r, &s->sched);
    s->busy = false;
    rn->running--;
    if (rn->subreaper && !clean)
        reap_leftovers(rn);
    if (rn->lane_sock >= 0)
        lane_reply(rn, s);
    else
        run_ended(rn, s);
}

/* A run of slot s has its result: the exploration it belongs to takes it, or the test's result is ready;
 * reports and the next runs follow. */
static void run_ended(runner *rn, slot *s) {
    if (s->explore) {
        ac__explore *ex = s->explore;
        ac__explore_finish(ex, &s->sched, s->sched_index, &s->attempt);
        ac__result_free(&s->attempt);
        s->explore = NULL;
        if (rn->interrupted)
            ac__explore_stop(ex); /* start no more of its runs */
        explore_settle(rn, s->idx);
    } else {
        mark_ready(rn, s->idx);
    }
    deliver_ready(rn);
    report_progress(rn);
    start_next(rn);
}

static void exit_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    slot *s = w->data;
    int status = 0;
    pid_t got;
    do
        got = waitpid(s->pid, &status, 0);
    while (got < 0 && errno == EINTR);
    s->wait_error = got < 0 ? errno : 0;
    finish(s, status);
}

static void exit_poll_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    slot *s = w->data;
    int status = 0;
    pid_t got = waitpid(s->pid, &status, WNOHANG);
    if (got == s->pid || (got < 0 && errno != EINTR)) {
        s->wait_error = got < 0 ? errno : 0;
        finish(s, status);
    }
}

/* The process tracing pid (from /proc), 0 for none or unknown. */
static pid_t tracer_of(pid_t pid) {
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    pid_t tracer = 0;
    int v;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &v) == 1)
            tracer = (pid_t)v;
    if (f)
        fclose(f);
    return tracer;
}

static void watchdog_awaiting(runner *rn, slot *s);
static void lane_gone(lane *ln, const char *how);
static void lane_tell(lane *ln, int type, const void *payload, size_t n);

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    slot *s = w->data;
    if (s->awaiting) {
        watchdog_awaiting(s->rn, s);
        return;
    }
    /* A test that made the runner its tracer (PTRACE_TRACEME) stops at a signal instead of dying of it,
     * and a pidfd does not report stops: say which signal stopped it. */
    int status;
    pid_t got = waitpid(s->pid, &status, WNOHANG | WUNTRACED);
    if (got == s->pid && !WIFSTOPPED(status)) {
        finish(s, status); /* it has just ended */
        return;
    }
    if (got == s->pid) {
        s->stop_signal = WSTOPSIG(status);
        s->traced_by_runner = tracer_of(s->pid) == getpid();
    }
    s->timed_out = true;
    if (s->res_io.fd >= 0)
        read_pipe(s, &s->res_io, false); /* a "done" that is already on its way wins */
    s->hung_after_done = s->target->finished;
    kill(-s->pid, SIGKILL);
    kill(s->pid, SIGKILL);
}

/* ---- SIGINT and SIGTERM to the runner ----
 * A self-pipe rather than ev_signal: libev's signal handling blocks the signals it watches, and every
 * test child would inherit that mask. The first signal ends the run in order (running tests killed and
 * reported as interrupted, the rest as not run, reports completed); a second one exits at once. */
static volatile sig_atomic_t signals_seen;
static pid_t signal_owner; /* the runner; a process a run fixture's setup forked inherits the handler */

static void on_signal(int sig) {
    if (getpid() != signal_owner || signals_seen++) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    unsigned char c = (unsigned char)sig;
    (void)!write(signal_pipe[1], &c, 1);
}

static void signal_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    runner *rn = w->data;
    unsigned char c;
    if (read(w->fd, &c, 1) != 1 || rn->interrupted)
        return;
    rn->interrupted = c;
    for (size_t i = 0; i < rn->nlanes; i++) {
        int sig = c;
        lane_tell(&rn->lanes[i], AC_LANE_INTERRUPT, &sig, sizeof sig);
    }
    for (size_t i = 0; i < rn->nslots; i++)
        if (rn->slots[i].busy && rn->slots[i].pid > 0) { /* else killed once its fork server has made it */
            kill(-rn->slots[i].pid, SIGKILL);
            kill(rn->slots[i].pid, SIGKILL);
        }
}

/* ---- signals a test sends its parent (parent_signal.c) ----
 * The runner with one slot, a lane with more, is the parent of the tests it supervises: what a test sends
 * its parent is put on the test's result (finish) instead of acting on the runner or lane. */
static slot *slot_of_process(runner *rn, pid_t pid, pid_t group) {
    for (size_t i = 0; i < rn->nslots; i++) {
        slot *s = &rn->slots[i];
        pid_t p = s->pid > 0 ? s->pid : ac__forksrv_made(&s->srv);
        if (s->busy && !s->lane && p > 0 && (p == pid || p == group))
            return s;
    }
    return NULL;
}

/* The one test this runner or lane supervises now, if it supervises one. */
static slot *only_test(runner *rn) {
    slot *only = NULL;
    for (size_t i = 0; i < rn->nslots; i++)
        if (rn->slots[i].busy && !rn->slots[i].lane) {
            if (only)
                return NULL;
            only = &rn->slots[i];
        }
    return only;
}

static void on_signal(int sig);

static void take_parent_signals(runner *rn) {
    ac__parent_signal ps;
    while (rn->parent_io.fd >= 0 && ac__parent_signal_read(rn->parent_io.fd, &ps)) {
        slot *s = ps.group ? slot_of_process(rn, ps.sender, ps.group) : only_test(rn);
        if (s) {
            if (!s->parent_signal) {
                s->parent_signal = ps.sig;
                s->parent_signal_from = ps.sender;
                s->parent_signal_known = ps.group != 0;
            }
        } else if (preexisting_child(rn, ps.sender)) { /* not a test's (a run fixture's server, say) */
            if (ps.sig != SIGINT && ps.sig != SIGTERM)
                ac__parent_signal_default_action(ps.sig);
            else if (rn->lane_sock < 0)
                on_signal(ps.sig);
        } else {
            fprintf(stderr,
                    "asyncheck: process %d (process group %d), no running test's, sent signal %d (%s) to the "
                    "%s; not acted on\n",
                    (int)ps.sender, (int)ps.group, ps.sig, strsignal(ps.sig),
                    rn->lane_sock >= 0 ? "lane" : "runner");
        }
    }
}

static void parent_signal_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    take_parent_signals(w->data);
}

static void catch_parent_signals(runner *rn, void (*interrupt)(int sig)) {
    int fd = ac__parent_signals_catch(interrupt);
    ev_io_init(&rn->parent_io, parent_signal_cb, fd, EV_READ);
    rn->parent_io.data = rn;
    if (fd < 0)
        return;
    ev_io_start(rn->loop, &rn->parent_io);
    ev_unref(rn->loop);
}

static void release_parent_signals(runner *rn) {
    if (rn->parent_io.fd >= 0) {
        ev_ref(rn->loop);
        ev_io_stop(rn->loop, &rn->parent_io);
    }
    ac__parent_signals_release();
    rn->parent_io.fd = -1;
}

static void install_signal_handlers(runner *rn) {
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return;
    signals_seen = 0;
    signal_owner = getpid();
    ev_io_init(&rn->signal_io, signal_cb, signal_pipe[0], EV_READ);
    rn->signal_io.data = rn;
    ev_io_start(rn->loop, &rn->signal_io);
    ev_unref(rn->loop);
    catch_parent_signals(rn, on_signal); /* SIGINT and SIGTERM from outside: on_signal */
}

static void remove_signal_handlers(runner *rn) {
    if (signal_pipe[0] < 0)
        return;
    release_parent_signals(rn);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    ev_ref(rn->loop);
    ev_io_stop(rn->loop, &rn->signal_io);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    signal_pipe[0] = signal_pipe[1] = -1;
}

/* For the run fixtures' setups: a signal has reached the runner (set up no more). */
static bool signalled(void) {
    return signals_seen != 0;
}

/* A signal that came while the run fixtures were set up ends the run before any test starts. */
static void take_early_signal(runner *rn) {
    if (signals_seen && signal_pipe[0] >= 0)
        signal_cb(rn->loop, &rn->signal_io, 0);
}

/* ---- starting a child ---- */

/* An explored test whose runs have all finished gets its result. */
static void explore_settle(runner *rn, size_t idx) {
    ac__explore *ex = EXPLORE(rn, idx);
    if (!ex || !ac__explore_done(ex))
        return;
    ac__result *r = &RESULT(rn, idx);
    double started = r->duration; /* held the start until now */
    ac__explore_result(ex, r);
    EXPLORE(rn, idx) = NULL;
    r->duration = ac__monotonic() - started;
    mark_ready(rn, idx);
}

static void harness_failure(runner *rn, slot *s, size_t idx, const char *what) {
    ac__buf msg = {0};
    ac__buf_printf(&msg, "could not start the test: %s: %s", what, strerror(errno));
    if (s->explore) {
        ac__result_add_failure(&s->attempt, AC_FK_HARNESS, true, NULL, 0, ac__buf_str(&msg), NULL, NULL);
        ac__buf_free(&msg);
        ac__explore_finish(s->explore, &s->sched, s->sched_index, &s->attempt);
        ac__result_free(&s->attempt);
        s->explore = NULL;
        explore_settle(rn, idx);
        return;
    }
    ac__result_add_failure(&RESULT(rn, idx), AC_FK_HARNESS, true, NULL, 0, ac__buf_str(&msg), NULL, NULL);
    ac__buf_free(&msg);
    if (rn->lane_sock >= 0)
        lane_reply(rn, s);
    else
        mark_ready(rn, idx);
}

/* The test's process `pid` exists, and the runner watches its exit itself (its pidfd, else polling). */
static void attach_child(runner *rn, slot *s, pid_t pid) {
    setpgid(pid, pid);
    s->pid = pid;
    s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec by definition */
    if (s->pidfd >= 0) {
        ev_io_init(&s->exit_io, exit_cb, s->pidfd, EV_READ);
        s->exit_io.data = s;
        ev_io_start(rn->loop, &s->exit_io);
    } else {
        ev_timer_init(&s->exit_poll, exit_poll_cb, 0.002, 0.002);
        s->exit_poll.data = s;
        ev_timer_start(rn->loop, &s->exit_poll);
    }
    if (rn->interrupted) { /* the signal came while its fork server was forking it */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
}

/* Closes the read ends of the pipes the slot kept from its last test (see finish), if it kept any. */
static void close_pipes(runner *rn, slot *s) {
    ev_io *ios[3] = {&s->res_io, &s->out_io, &s->err_io};
    for (int i = 0; i < 3; i++)
        if (ios[i]->fd >= 0 && !s->busy) {
            ev_io_stop(rn->loop, ios[i]);
            close(ios[i]->fd);
            ios[i]->fd = -1;
        }
    s->pipes_kept = false;
}

static void close_held(slot *s) {
    for (int i = 0; i < 3; i++)
        if (s->held[i] >= 0) {
            close(s->held[i]);
            s->held[i] = -1;
        }
}

/* A start that made no process: the slot gives up its pipes and the test fails saying why. */
static void abandon_start(runner *rn, slot *s, const char *what) {
    int err = errno;
    close_held(s);
    ev_io *ios[3] = {&s->res_io, &s->out_io, &s->err_io};
    for (int i = 0; i < 3; i++)
        if (ios[i]->fd >= 0) {
            ev_io_stop(rn->loop, ios[i]);
            close(ios[i]->fd);
            ios[i]->fd = -1;
        }
    ac__buf_free(&s->records);
    ev_timer_stop(rn->loop, &s->watchdog);
    s->busy = false;
    rn->running--;
    errno = err;
    harness_failure(rn, s, s->idx, what);
}

/* Forks the test's process from the runner itself (no fork server, or its server failed), with the
 * write ends held in s->held. */
static void fork_direct(runner *rn, slot *s) {
    fflush(
        NULL); /* nothing buffered in the runner may be written twice (the child makes its ends blocking) */
    pid_t pid = fork();
    if (pid == 0) {
        close(s->res_io.fd), close(s->out_io.fd), close(s->err_io.fd);
        child_main(rn, RESULT(rn, s->idx).def, &s->sched, s->limit, rn->self, s->held[0], s->held[1],
                   s->held[2], slot_no(s));
    }
    if (pid < 0) {
        abandon_start(rn, s, "fork");
        return;
    }
    close_held(s);
    attach_child(rn, s, pid);
}

/* ---- the slot's fork server ---- */

/* The server made no process (or is gone without having made one): new pipes (the write ends went to
 * the server), and a fork from the runner. */
static void restart_direct(runner *rn, slot *s, int err) {
    set_awaiting(rn, s, false);
    s->via_server = false;
    errno = err;
    ev_io *ios[3] = {&s->res_io, &s->out_io, &s->err_io};
    for (int i = 0; i < 3; i++) {
        ev_io_stop(rn->loop, ios[i]);
        if (ios[i]->fd >= 0)
            close(ios[i]->fd);
        ios[i]->fd = -1;
    }
    for (int i = 0; i < 3; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
            abandon_start(rn, s, "pipe");
            return;
        }
        ev_io_init(ios[i], pipe_cb, p[0], EV_READ);
        ios[i]->data = s;
        ev_io_start(rn->loop, ios[i]);
        s->held[i] = p[1];
    }
    fork_direct(rn, s);
}

/* The server has made the test's process: the runner watches it from now on, as one it forked itself
 * (its pipes, whose read ends it kept, and its exit). */
static void watch_process(runner *rn, slot *s, pid_t pid) {
    set_awaiting(rn, s, false);
    /* the watchdog waited for the server's answer (SERVER_PATIENCE_MS at most): now for the test */
    double left = s->started + with_grace(s->limit) - ac__monotonic();
    ev_timer_stop(rn->loop, &s->watchdog);
    ev_timer_set(&s->watchdog, left > 0.001 ? left : 0.001, 0.);
    ev_timer_start(rn->loop, &s->watchdog);
    ev_io *ios[3] = {&s->res_io, &s->out_io, &s->err_io};
    for (int i = 0; i < 3; i++)
        if (ios[i]->fd >= 0)
            ev_io_start(rn->loop, ios[i]);
    attach_child(rn, s, pid);
}

static void srv_started(void *ctx, pid_t pid) {
    slot *s = ctx;
    if (!s->busy || !s->awaiting)
        return;
    if (pid <= 0)
        s->start_error = pid < 0 ? -pid : EPROTO;
    else
        watch_process(s->rn, s, pid);
}

/* How long the runner waits for a server's answer it needs now (a pid) before it kills the server and
 * does without it. */
#define SERVER_PATIENCE_MS 5000

/* One datagram from the slot's server, waiting for it (-1: the server is gone). The loop's idea of now is
 * brought up to date after the wait, so that timers started from here count from the real now. */
static int pump_wait(runner *rn, slot *s) {
    int got = ac__forksrv_pump(&s->srv, srv_started, s, SERVER_PATIENCE_MS, 1);
    ev_now_update(rn->loop);
    return got;
}

/* The server's socket has closed: this slot forks for itself from now on. */
static void drop_server(runner *rn, slot *s) {
    if (ev_is_active(&s->srv_io)) {
        ev_ref(rn->loop);
        ev_io_stop(rn->loop, &s->srv_io);
    }
    ac__forksrv_stop(&s->srv);
}

static void server_gone(runner *rn, slot *s) {
    pid_t made = ac__forksrv_made(&s->srv); /* (read before the server's page goes) */
    drop_server(rn, s);
    if (!s->busy || !s->awaiting || s->start_error)
        return;
    if (made <= 0) /* it died before making the process */
        restart_direct(rn, s, EPIPE);
    else /* it made the process and died before saying so */
        watch_process(rn, s, made);
}

/* What the server's answer calls for: a fork from the runner after all when it made no process. True
 * when the slot was freed (the caller delivers and starts more when it may). */
static bool after_server(runner *rn, slot *s) {
    if (!s->busy)
        return false;
    if (s->start_error) {
        int err = s->start_error;
        s->start_error = 0;
        if (err == ENOSYS || err == EINVAL || err == EPERM) /* it cannot fork here: give it up */
            drop_server(rn, s);
        restart_direct(rn, s, err);
        return !s->busy;
    }
    return false;
}

static void srv_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    slot *s = w->data;
    runner *rn = s->rn;
    if (ac__forksrv_pump(&s->srv, srv_started, s, 0, 1) < 0) /* one: the loop calls again for more */
        server_gone(rn, s);
    if (after_server(rn, s)) { /* no process could be made: the test has failed saying so */
        deliver_ready(rn);
        report_progress(rn);
        start_next(rn);
    }
}

/* Every test process a fork server is making has its pid known to the runner (before the runner lists
 * its children to kill what ended tests left): its first message says. */
static void await_replies(runner *rn) {
    for (size_t i = 0; i < rn->nslots; i++) {
        slot *s = &rn->slots[i];
        while (s->busy && s->awaiting && !s->start_error)
            if (pump_wait(rn, s) < 0) {
                server_gone(rn, s);
                break;
            }
        if (s->busy && s->start_error)
            after_server(rn, s);
    }
}

/* The watchdog of a test whose fork server never said the process's pid (stopped?): the server is given
 * up, and the test started anew. */
static void watchdog_awaiting(runner *rn, slot *s) {
    kill(s->srv.pid, SIGKILL);
    while (s->srv.sock >= 0 && s->awaiting && !s->start_error)
        pump_wait(rn, s);
    if (s->srv.sock < 0)
        server_gone(rn, s);
    if (after_server(rn, s)) {
        deliver_ready(rn);
        report_progress(rn);
        start_next(rn);
        return;
    }
    if (s->busy) {
        ev_timer_set(&s->watchdog, with_grace(s->limit), 0.);
        ev_timer_start(rn->loop, &s->watchdog);
    }
}

static void start_with_pipes(runner *rn, slot *s, size_t idx, int res_r, int out_r, int err_r);
static bool lane_start(runner *rn, slot *s, size_t idx);

static void start_child(runner *rn, slot *s, size_t idx, ac__explore *ex) {
    const ac__test_def *def = RESULT(rn, idx).def;
    s->explore = ex;
    if (ex) {
        memset(&s->attempt, 0, sizeof s->attempt);
        s->attempt.def = def;
        s->target = &s->attempt;
    } else {
        s->target = &RESULT(rn, idx);
    }
    if (s->lane && lane_start(rn, s, idx))
        return;
    if (s->srv.sock < 0 && s->srv.pid > 0)
        ac__forksrv_stop(&s->srv); /* it died after making the last test's process: reap it */
    bool reuse = s->pipes_kept && s->srv.sock >= 0; /* (see finish) */
    s->pipes_kept = false;
    if (reuse) {
        start_with_pipes(rn, s, idx, -1, -1, -1);
        return;
    }
    close_pipes(rn, s);
    int res[2], out[2], err[2];
    /* Non-blocking at both ends: the reads need it, and the test's process makes its ends blocking again
     * (child_main), off the runner's path. */
    if (pipe2(res, O_CLOEXEC | O_NONBLOCK) < 0) {
        harness_failure(rn, s, idx, "pipe");
        return;
    }
    if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) {
        close(res[0]), close(res[1]);
        harness_failure(rn, s, idx, "pipe");
        return;
    }
    if (pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
        close(res[0]), close(res[1]), close(out[0]), close(out[1]);
        harness_failure(rn, s, idx, "pipe");
        return;
    }
    s->held[0] = res[1], s->held[1] = out[1], s->held[2] = err[1];
    start_with_pipes(rn, s, idx, res[0], out[0], err[0]);
}

/* start_child's rest: the slot's pipes are new (their read ends given, the write ends in s->held), or
 * (all -1) the ones kept from the slot's last test, whose write ends its fork server holds. */
static void start_with_pipes(runner *rn, slot *s, size_t idx, int res_r, int out_r, int err_r) {
    const ac__test_def *def = RESULT(rn, idx).def;
    bool reuse = res_r < 0;
    double timeout = ac__effective_timeout(rn->run->opts, def);
    if (rn->shared)
        rn->shared[slot_no(s)] = (ac__slot_shared){0};
    ac__tl_reset(slot_ring(rn, slot_no(s)), ac__timeline_capacity(rn->run->opts, def));
    s->started = ac__monotonic();
    s->pid = 0; /* until the process exists */
    s->idx = idx;
    s->busy = true;
    s->timed_out = false;
    s->hung_after_done = false;
    s->wait_error = 0;
    s->stop_signal = 0;
    s->parent_signal = 0;
    s->traced_by_runner = false;
    s->start_error = 0;
    s->limit = timeout;
    rn->running++;
    /* The child enforces the timeout itself where it can (awaits, the drain); the watchdog is for a
     * test that no longer runs its loop (or whose fork server never answers). A little grace lets the
     * child's own report win. */
    ev_timer_init(&s->watchdog, watchdog_cb, with_grace(timeout), 0.);
    s->watchdog.data = s;
    ev_timer_start(rn->loop, &s->watchdog);
    ev_io *ios[3] = {&s->res_io, &s->out_io, &s->err_io};
    if (!reuse) {
        int fds[3] = {res_r, out_r, err_r};
        for (int i = 0; i < 3; i++) {
            ev_io_init(ios[i], pipe_cb, fds[i], EV_READ);
            ios[i]->data = s;
        }
    }
    if (s->srv.sock >= 0) {
        ac__fork_request req = {.def = def, .sched = s->sched, .timeout = timeout, .slot = slot_no(s)};
        if (ac__forksrv_request(&s->srv, &req, reuse ? NULL : s->held) == 0) {
            close_held(s);             /* the request holds them until the server has forked */
            s->via_server = true;      /* the server keeps the write ends */
            set_awaiting(rn, s, true); /* the pipes are watched once the process exists */
            /* a server that does not answer (stopped?) is given up after its patience, not the test's
             * whole timeout */
            if (with_grace(s->limit) > SERVER_PATIENCE_MS / 1000.0) {
                ev_timer_stop(rn->loop, &s->watchdog);
                ev_timer_set(&s->watchdog, SERVER_PATIENCE_MS / 1000.0, 0.);
                ev_timer_start(rn->loop, &s->watchdog);
            }
            return; /* srv_cb takes it from here */
        }
        server_gone(rn, s);
        if (reuse) { /* the kept pipes' write ends went with the server */
            restart_direct(rn, s, EPIPE);
            return;
        }
    }
    for (int i = 0; i < 3; i++)
        ev_io_start(rn->loop, ios[i]);
    fork_direct(rn, s);
}

/* A free slot's next run: another run of a test being explored (earliest test first), else the next
 * test. False when there is nothing to start now. */
static bool start_one(runner *rn, slot *s) {
    while (rn->nrequeue > 0) {
        requeued e = rn->requeue[0];
        memmove(rn->requeue, rn->requeue + 1, --rn->nrequeue * sizeof *rn->requeue);
        if (!e.explore && settle_without_running(rn, e.idx))
            continue; /* --fail-fast, until-fail or SIGINT stopped the run meanwhile */
        s->sched = e.sched;
        s->sched_index = e.sched_index;
        start_child(rn, s, e.idx, e.explore);
        if (s->busy)
            return true;
    }
    for (size_t idx = rn->next_report; idx < rn->next_start; idx++) {
        ac__explore *ex = EXPLORE(rn, idx);
        if (ex && !rn->interrupted && ac__explore_next(ex, &s->sched, &s->sched_index)) {
            start_child(rn, s, idx, ex);
            if (s->busy)
                return true;
        }
    }
    while (rn->next_start < rn->run->nitems) {
        if (rn->next_start - rn->next_report >= rn->window) {
            deliver_ready(rn); /* the ring is full: free what is ready, else wait for the oldest */
            if (rn->next_start - rn->next_report >= rn->window)
                return false;
        }
        size_t idx = rn->next_start++;
        enter_window(rn, idx);
        if (settle_without_running(rn, idx))
            continue;
        const ac__test_def *def = RESULT(rn, idx).def;
        ac__explore *ex = ac__explore_new(rn->run->opts, def);
        if (ex) {
            EXPLORE(rn, idx) = ex;
            RESULT(rn, idx).duration = ac__monotonic(); /* the start, until the exploration ends */
            if (!ac__explore_next(ex, &s->sched, &s->sched_index))
                continue;
        } else {
            ac__explore_plain_params(rn->run->opts, def, &s->sched);
        }
        start_child(rn, s, idx, ex);
        if (s->busy)
            return true;
    }
    return false;
}

static void start_next(runner *rn) {
    for (size_t i = 0; i < rn->nslots; i++) {
        slot *s = &rn->slots[i];
        if (s->busy || s->retired || (s->lane && s->lane->held >= ac__lane_depth(s->lane->pace)))
            continue;
        if (!start_one(rn, s))
            break;
    }
    deliver_ready(rn);
}

/* ---- lanes (lane.c) ----
 * With more than one job, the slots' runs are supervised by lanes: processes forked from the runner after
 * its set-up, one per job, each a runner of one slot (this file's code) that takes its runs from the
 * runner's messages and sends back their results instead of reporting them. LANE_DEPTH of the runner's
 * slots share a lane, of which it uses as many as its pace allows (lane_pace.c), so that it has its next
 * runs queued when one ends. The runner only chooses the runs, reads one message a run, and reports. */

/* When the runner must have heard from lane ln at the latest, INFINITY while it holds nothing. Each run
 * it holds (in the order given: the lane runs them so) ends by its limit and grace after it started, or,
 * not started yet, after the run before it ended or it was given, whichever is later; its result comes
 * LANE_HOLD after its end at the latest; and the runner has AC_LANE_PATIENCE_MS of patience. */
static double lane_due(lane *ln) {
    runner *rn = ln->rn;
    slot *held[LANE_DEPTH];
    size_t n = 0;
    for (size_t i = 0; i < rn->nslots && n < LANE_DEPTH; i++)
        if (rn->slots[i].lane == ln && rn->slots[i].busy && !rn->slots[i].lane_unsent)
            held[n++] = &rn->slots[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && held[j]->lane_seq < held[j - 1]->lane_seq; j--) {
            slot *t = held[j];
            held[j] = held[j - 1];
            held[j - 1] = t;
        }
    double after = ln->heard, due = INFINITY;
    for (size_t i = 0; i < n; i++) {
        slot *s = held[i];
        lane_progress *p = &rn->progress[slot_no(s)];
        double started = p->started, ended = p->ended;
        double end = ended > 0     ? ended
                     : started > 0 ? started + with_grace(s->limit)
                                   : (after > s->started ? after : s->started) + with_grace(s->limit);
        if (end + LANE_HOLD + AC_LANE_PATIENCE_MS / 1000.0 < due)
            due = end + LANE_HOLD + AC_LANE_PATIENCE_MS / 1000.0;
        after = end;
    }
    return due;
}

static bool lane_hear(lane *ln);

/* Twice a second: a lane the runner has not heard from by its due time (lane_due) is given up. */
static void lanes_check_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    runner *rn = w->data;
    double now = ac__monotonic();
    if (now - rn->lanes_checked > 2.0) /* the runner was stopped too (^Z): its lanes may catch up */
        rn->lanes_grace_until = now + AC_LANE_PATIENCE_MS / 1000.0;
    rn->lanes_checked = now;
    if (now < rn->lanes_grace_until)
        return;
    for (size_t i = 0; i < rn->nlanes; i++) {
        lane *ln = &rn->lanes[i];
        /* (what it sent may be waiting, unread, behind this timer) */
        if (ln->l.pid > 0 && !ln->closing && now > lane_due(ln) && lane_hear(ln) && now > lane_due(ln))
            lane_gone(ln, "stopped answering");
    }
}

/* A send to lane ln failed: lane_gone ends it from its watcher, at the loop's next turn (the caller may be
 * inside a start or a settle). */
static void lane_broken(lane *ln) {
    if (ln->closing || ln->broken)
        return;
    ln->broken = true;
    ev_feed_event(ln->rn->loop, &ln->io, EV_READ);
}

/* Writes what the runner has put for lane ln; when that fails, the runs in it were never sent. */
static void lane_flush(lane *ln) {
    if (ln->l.out.len == 0 || ln->closing || ln->broken)
        return;
    if (ac__lane_flush(&ln->l) == 0) {
        ln->flushed = ln->sent;
        return;
    }
    lane_broken(ln);
}

/* Every lane's messages put so far go, in one write a lane (a lane then wakes once for the runs it was
 * given together): before the runner's loop waits (lanes_flush_cb), and after a lane is given up. */
static void lanes_flush(runner *rn) {
    for (size_t i = 0; i < rn->nlanes; i++)
        lane_flush(&rn->lanes[i]);
}

static void lanes_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)loop, (void)revents;
    lanes_flush(w->data);
}

/* Sends lane ln a message at once (with what was put before it), unless it is going. */
static void lane_tell(lane *ln, int type, const void *payload, size_t n) {
    if (ln->l.sock < 0 || ln->closing || ln->broken)
        return;
    ac__lane_put(&ln->l, type, payload, n);
    lane_flush(ln);
}

/* Gives slot s's run to its lane (the runner's side; the message leaves with the others of this turn
 * of the loop, in lanes_flush_cb). A lane that is going (its socket failed, or lane_gone has begun)
 * takes nothing: the run waits on the slot, and lane_gone gives it to another (never from here: this
 * runs inside a start). Always true: the slot is busy. */
static bool lane_start(runner *rn, slot *s, size_t idx) {
    lane *ln = s->lane;
    const ac__test_def *def = RESULT(rn, idx).def;
    double timeout = ac__effective_timeout(rn->run->opts, def);
    ac__fork_request req = {.def = def, .sched = s->sched, .timeout = timeout, .slot = slot_no(s)};
    rn->progress[slot_no(s)].started = 0;
    rn->progress[slot_no(s)].ended = 0;
    s->lane_unsent = ln->closing || ln->broken;
    if (!s->lane_unsent)
        ac__lane_put(&ln->l, AC_LANE_RUN, &req, sizeof req); /* written by lanes_flush_cb */
    s->idx = idx;
    s->busy = true;
    s->started = ac__monotonic();
    s->limit = timeout;
    s->lane_seq = ++ln->sent;
    ln->held++;
    rn->running++;
    ev_ref(rn->loop); /* the run holds the loop until its result comes (the lane times the test) */
    return true;
}

/* The run of slot s has its result (from the lane, or the failure its lane's end is). */
static void lane_settle(runner *rn, slot *s) {
    ev_unref(rn->loop);
    if (s->lane)
        s->lane->held--;
    if (!s->target->not_run) /* (a run the lane never started left the ring as the slot's last run did) */
        take_timeline(rn, slot_ring(rn, slot_no(s)), s->target, &s->sched);
    s->busy = false;
    rn->running--;
    run_ended(rn, s);
}

/* Reads what lane ln sent and settles the runs whose results came. False when it sent something else
 * (then nothing more of it is read). */
static bool lane_take_results(lane *ln) {
    runner *rn = ln->rn;
    int type, got;
    const char *payload;
    size_t n;
    while (ln->l.sock >= 0 && (got = ac__lane_message(&ln->l, &type, &payload, &n)) != 0) {
        uint64_t no = 0;
        if (got > 0 && n >= sizeof no)
            memcpy(&no, payload, sizeof no);
        slot *s =
            got > 0 && type == AC_LANE_RESULT && n >= sizeof no && no < rn->nslots ? &rn->slots[no] : NULL;
        if (!s || !s->busy || s->lane != ln)
            return false;
        if (ac__result_wire_decode(payload + sizeof no, n - sizeof no, s->target) < 0)
            ac__result_add_failure(s->target, AC_FK_HARNESS, true, NULL, 0,
                                   "the test's result from its lane was malformed", NULL, NULL);
        ac__lane_consume(&ln->l);
        ln->heard = ac__monotonic();
        double began = rn->progress[no].started, ended = rn->progress[no].ended;
        if (began > 0 && ended >= began)
            ln->pace = ac__lane_pace(ln->pace, ended - began);
        lane_settle(rn, s);
    }
    return true;
}

/* Lane ln ended, or stopped answering (`how`): what it had sent is taken, it is reaped (killed first), the
 * run it was supervising (the one it started and had not ended: lane_progress) fails saying so, the runs
 * it had not started and those whose results it held (lost with it) start again, and the runner
 * supervises its slots itself from now on. */
static void lane_gone(lane *ln, const char *how) {
    runner *rn = ln->rn;
    if (ln->l.pid <= 0 || ln->closing)
        return;
    ln->closing = true;
    ln->held = 0; /* (what it held is settled or started again below) */
    ev_ref(rn->loop);
    ev_io_stop(rn->loop, &ln->io);
    ac__lane_read(&ln->l, false);
    lane_take_results(ln);
    int status = ac__lane_stop(&ln->l, true);
    if (rn->subreaper)
        reap_leftovers(rn); /* the test's process and the lane's fork server are the runner's now */
    slot *had[LANE_DEPTH], *running = NULL;
    size_t nhad = 0;
    for (size_t i = 0; i < rn->nslots; i++) {
        slot *s = &rn->slots[i];
        if (s->lane != ln)
            continue;
        if (s->busy && s->lane_seq > ln->flushed)
            s->lane_unsent = true; /* given to it, never written */
        s->lane = NULL;
        s->retired = i >= rn->nlanes; /* the runner keeps one slot of the lane: -j holds */
        if (s->busy && nhad < LANE_DEPTH) {
            had[nhad++] = s;
            if (!s->lane_unsent && rn->progress[i].started > 0 && rn->progress[i].ended == 0)
                running = s; /* the one the lane supervised (one at a time) */
        }
    }
    for (size_t i = 0; i < nhad; i++) { /* the others: run again by the next free slot */
        slot *s = had[i];
        if (s == running)
            continue;
        ev_unref(rn->loop);
        s->busy = false;
        rn->running--;
        rn->requeue[rn->nrequeue++] = (requeued){s->idx, s->explore, s->sched, s->sched_index};
    }
    if (running) {
        slot *s = running;
        ac__buf msg = {0};
        double began = rn->progress[slot_no(s)].started;
        ac__buf_printf(&msg,
                       "the lane that supervised the test (the process of its job slot) %s after %.3f s", how,
                       ac__monotonic() - began);
        if (WIFSIGNALED(status) && (WTERMSIG(status) != SIGKILL || strcmp(how, "ended") == 0)) {
            const char *abbrev = sigabbrev_np(WTERMSIG(status));
            ac__buf_printf(&msg, ", killed by SIG%s", abbrev ? abbrev : "?");
        }
        ac__buf_puts(&msg, "; the test was killed with it");
        if (strcmp(how, "ended") == 0 || strcmp(how, "stopped answering") == 0)
            ac__buf_puts(&msg, " (a test that signals its parent process signals its lane)");
        ac__result_add_failure(s->target, AC_FK_HARNESS, true, s->target->def->file, s->target->def->line,
                               ac__buf_str(&msg), NULL, NULL);
        ac__buf_free(&msg);
        s->target->duration = ac__monotonic() - began;
        lane_settle(rn, s); /* (and the next runs start, the taken-back ones first) */
    } else {
        start_next(rn);
    }
    lanes_flush(rn); /* (this may run inside the flush before the loop waits: lanes_flush_cb) */
}

/* Takes what lane ln has sent. False when it is gone (it ended, or sent what it should not). */
static bool lane_hear(lane *ln) {
    bool ended = ac__lane_read(&ln->l, false) < 0;
    if (!lane_take_results(ln))
        lane_gone(ln, "sent what the runner did not ask for");
    else if (ended || ln->broken)
        lane_gone(ln, "ended");
    else
        return true;
    return false;
}

static void lane_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    (void)lane_hear(w->data);
}

static void lane_next(runner *rn);
static void lane_drop_queued(runner *rn, const char *why);

/* In a lane: puts the result of the runner's slot `no` with those lane_flush_results sends. */
static void lane_put_result(runner *rn, uint64_t no, const ac__result *r) {
    ac__buf b = {0};
    ac__buf_append(&b, &no, sizeof no);
    ac__result_wire_encode(&b, r);
    ac__lane_put(&rn->from_runner, AC_LANE_RESULT, b.data, b.len);
    ac__buf_free(&b);
}

/* In a lane: sends the results put so far. False when the runner is gone (then the lane ends). */
static bool lane_flush_results(runner *rn) {
    ev_timer_stop(rn->loop, &rn->results_due);
    if (rn->from_runner.out.len == 0 || ac__lane_flush(&rn->from_runner) == 0)
        return true;
    rn->nqueued = 0;
    ev_break(rn->loop, EVBREAK_ALL);
    return false;
}

/* In a lane: the run has ended; its result goes to the runner, and the next queued run starts. */
static void lane_reply(runner *rn, slot *s) {
    double ended = ac__monotonic();
    rn->progress[rn->slot_base].ended = ended;
    rn->pace = ac__lane_pace(rn->pace, ended - rn->progress[rn->slot_base].started);
    lane_put_result(rn, rn->slot_base, s->target);
    bool failed = s->target->nfailures > 0;
    /* --fail-fast, --repeat until-fail: a test that ran once and failed stops the run; what the lane holds
     * queued is not run (the runner's own message would come after the lane had started it) */
    const ac__options *o = rn->run->opts;
    if ((o->fail_fast || o->until_fail) && failed && !s->sched.exploring)
        lane_drop_queued(rn, o->fail_fast ? "not run: --fail-fast stopped the run after a failure"
                                          : "not run: --repeat until-fail stopped the run after a failure");
    ac__result_free(s->target);
    /* The results wait while the runs left queued once the next has started are work enough (the runner
     * has no room to give more), except a failure's, which may stop an exploration or the run */
    size_t left = rn->nqueued > 0 ? rn->nqueued - 1 : 0;
    if (failed || ac__lane_send_now(left, rn->pace) || rn->interrupted) {
        if (!lane_flush_results(rn))
            return;
    } else if (!ev_is_active(&rn->results_due)) {
        ev_timer_set(&rn->results_due, LANE_HOLD, 0.);
        ev_timer_start(rn->loop, &rn->results_due);
    }
    lane_next(rn);
}

/* In a lane: results held LANE_HOLD seconds go, whatever is queued. */
static void lane_results_due_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    (void)lane_flush_results(w->data);
}

/* In a lane: the first queued run starts when the lane's slot is free. */
static void lane_next(runner *rn) {
    slot *s = &rn->slots[0];
    if (s->busy || rn->nqueued == 0)
        return;
    ac__fork_request req = rn->queue[0];
    memmove(rn->queue, rn->queue + 1, --rn->nqueued * sizeof *rn->queue);
    rn->slot_base = req.slot;
    rn->progress[req.slot].started = ac__monotonic();
    RESULT(rn, 0) = (ac__result){.def = req.def};
    s->sched = req.sched;
    start_child(rn, s, 0, NULL); /* (a start that fails replies at once, and comes back here) */
}

/* In a lane, interrupted or told by --fail-fast: the queued runs of tests that run once are not run
 * (`why`), as the runner would report them had it not sent them yet; an explored test's runs are started
 * (and when interrupted, killed at once by attach_child), as the runner's own would be. */
static void lane_drop_queued(runner *rn, const char *why) {
    size_t kept = 0;
    for (size_t i = 0; i < rn->nqueued; i++) {
        ac__fork_request req = rn->queue[i];
        if (req.sched.exploring) {
            rn->queue[kept++] = req;
            continue;
        }
        ac__result r = {.def = req.def, .not_run = true, .skip_reason = ac__xstrdup(why)};
        rn->progress[req.slot].ended = ac__monotonic();
        lane_put_result(rn, req.slot, &r);
        ac__result_free(&r);
    }
    rn->nqueued = kept;
    (void)lane_flush_results(rn);
}

/* In a lane: the runner's messages. */
static void lane_request_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    runner *rn = w->data;
    slot *s = &rn->slots[0];
    bool ended = ac__lane_read(&rn->from_runner, false) < 0;
    int type, got;
    const char *payload;
    size_t n;
    while ((got = ac__lane_message(&rn->from_runner, &type, &payload, &n)) != 0) {
        if (got > 0 && type == AC_LANE_RUN && n == sizeof(ac__fork_request) &&
            rn->nqueued < sizeof rn->queue / sizeof *rn->queue) {
            memcpy(&rn->queue[rn->nqueued++], payload, sizeof(ac__fork_request));
        } else if (got > 0 && type == AC_LANE_INTERRUPT && n == sizeof(int)) {
            int sig;
            memcpy(&sig, payload, sizeof sig);
            rn->interrupted = sig;
            if (s->busy && s->pid > 0) {
                kill(-s->pid, SIGKILL);
                kill(s->pid, SIGKILL);
            }
            char why[96];
            snprintf(why, sizeof why, "not run: the runner was interrupted by SIG%s", sigabbrev_np(sig));
            lane_drop_queued(rn, why);
        } else if (got > 0 && type == AC_LANE_DROP && n > 0 && memchr(payload, '\0', n) == payload + n - 1) {
            lane_drop_queued(rn, payload);
        } else {
            ended = true; /* not from the runner: give up */
            break;
        }
        ac__lane_consume(&rn->from_runner);
    }
    if (ended) { /* the run is over (or the runner gone): a running test is killed with the lane */
        rn->nqueued = 0;
        ev_io_stop(loop, w);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    lane_next(rn);
}

static void init_slots(runner *rn);
static void spawn_servers(runner *rn);

/* Pins the calling process to the n-th CPU of `set` (there being at least `of` of them). */
static bool pin_to(const cpu_set_t *set, size_t n, size_t of) {
    if ((size_t)CPU_COUNT(set) < of)
        return false;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, set) && (size_t)seen++ == n) {
            cpu_set_t only;
            CPU_ZERO(&only);
            CPU_SET(cpu, &only);
            return sched_setaffinity(0, sizeof only, &only) == 0;
        }
    return false;
}

/* A lane's life: a runner of one slot. */
static void lane_serve(void *ctx, int sock) {
    lane *mine = ctx;
    runner *parent = mine->rn;
    signal_pipe[0] = signal_pipe[1] = -1; /* closed with the runner's other descriptors */
    ac__parent_signals_forget();
    ac__run run = *parent->run;
    run.nitems = 0; /* the lane starts only what the runner sends, and reports nothing */
    run.nreporters = 0;
    ac__result result = {0};
    bool ready = false;
    ac__explore *explore = NULL;
    runner ln = {.run = &run,
                 .results = &result,
                 .ready = &ready,
                 .explores = &explore,
                 .window = 1,
                 .devnull = parent->devnull,
                 .shared = parent->shared,
                 .timelines = parent->timelines,
                 .timeline_events = parent->timeline_events,
                 .progress = parent->progress,
                 .nslots = 1,
                 .self = getpid(),
                 .lane_sock = sock,
                 .parent_io = {.fd = -1},
                 .from_runner = {.pid = -1, .sock = sock}};
    ln.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!ln.loop)
        _exit(1);
    slot only;
    ln.slots = &only;
    init_slots(&ln);
    ln.subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
    catch_parent_signals(&ln, NULL); /* the lane is its tests' parent; SIGINT and SIGTERM are the runner's */
    ac__parent_signals_tests_begin();
    /* With no more lanes than CPUs, each lane (and its fork server) keeps to a CPU of its own: its chain
     * of wake-ups (lane, server, test) then never waits on another lane's. The tests get the whole set
     * back when they could use it (cpu_hold.c). Measured: see docs/PERFORMANCE.md. */
    if (sched_getaffinity(0, sizeof ln.affinity, &ln.affinity) == 0)
        ln.pinned = pin_to(&ln.affinity, mine->idx, parent->nlanes);
    /* what the lane says of its runs is the runner's to read, not the fork server's or a test's to write */
    madvise(ln.progress, parent->nslots * sizeof *ln.progress, MADV_DONTFORK);
    spawn_servers(&ln);
    ev_init(&ln.results_due, lane_results_due_cb);
    ln.results_due.data = &ln;
    ev_io io;
    ev_io_init(&io, lane_request_cb, sock, EV_READ);
    io.data = &ln;
    ev_io_start(ln.loop, &io);
    ev_run(ln.loop, 0);
    if (only.busy && only.pid > 0) {
        kill(-only.pid, SIGKILL);
        kill(only.pid, SIGKILL);
    }
    close_pipes(&ln, &only);
    ac__forksrv_stop(&only.srv);
    if (ln.subreaper)
        reap_leftovers(&ln);
    _exit(0);
}

/* Starts the lanes (slot i goes to lane i mod nlanes, LANE_DEPTH slots a lane); the slots of a
 * lane that could not be started are the runner's own. */
static void spawn_lanes(runner *rn) {
    int keep[4] = {0, 1, 2, rn->devnull};
    for (size_t i = 0; i < rn->nlanes; i++) {
        lane *ln = &rn->lanes[i];
        ln->rn = rn;
        ln->idx = i;
        if (!ac__lane_spawn(&ln->l, lane_serve, ln, keep, 4)) {
            for (size_t j = i + rn->nlanes; j < rn->nslots; j += rn->nlanes)
                rn->slots[j].retired = true; /* the runner keeps one slot of the lane: -j holds */
            continue;
        }
        ln->heard = ac__monotonic();
        ev_io_init(&ln->io, lane_cb, ln->l.sock, EV_READ);
        ln->io.data = ln;
        ev_io_start(rn->loop, &ln->io);
        ev_unref(rn->loop); /* the run ends when the tests do, whatever the lanes */
        for (size_t j = i; j < rn->nslots; j += rn->nlanes)
            rn->slots[j].lane = ln;
    }
    ev_prepare_init(&rn->lanes_out, lanes_flush_cb);
    rn->lanes_out.data = rn;
    ev_prepare_start(rn->loop, &rn->lanes_out);
    ev_unref(rn->loop);
    ev_timer_init(&rn->lanes_check, lanes_check_cb, 0.5, 0.5);
    rn->lanes_check.data = rn;
    rn->lanes_checked = ac__monotonic();
    ev_timer_start(rn->loop, &rn->lanes_check);
    ev_unref(rn->loop);
}

/* --fail-fast or --repeat until-fail stopped the run: the lanes report their queued runs as not run. */
static void lanes_drop_queued(runner *rn) {
    const char *why = rn->run->opts->fail_fast
                          ? "not run: --fail-fast stopped the run after a failure"
                          : "not run: --repeat until-fail stopped the run after a failure";
    for (size_t i = 0; i < rn->nlanes; i++)
        lane_tell(&rn->lanes[i], AC_LANE_DROP, why, strlen(why) + 1);
}

static void stop_lanes(runner *rn) {
    for (size_t i = 0; i < rn->nlanes; i++) {
        lane *ln = &rn->lanes[i];
        if (ln->l.pid > 0) {
            ev_ref(rn->loop);
            ev_io_stop(rn->loop, &ln->io);
            ac__lane_stop(&ln->l, false);
        }
    }
    if (ev_is_active(&rn->lanes_out)) {
        ev_ref(rn->loop);
        ev_prepare_stop(rn->loop, &rn->lanes_out);
        ev_ref(rn->loop);
        ev_timer_stop(rn->loop, &rn->lanes_check);
    }
    free(rn->lanes);
    free(rn->requeue);
}

/* ---- --no-fork ---- */

/* Captures fds 1 and 2 of in-process tests into two memfds made once per run. */
typedef struct capture_fd {
    int fd;    /* 1 or 2 */
    int mem;   /* memfd, or -1 when capture is unavailable */
    int saved; /* the original fd, kept from the first test to the end of the run */
} capture_fd;

static void capture_begin(capture_fd *c) {
    if (c->mem < 0)
        return;
    if (c->saved < 0) /* once per run: the original, put back after each test */
        c->saved = dup(c->fd);
    dup2(c->mem, c->fd);
}

static void capture_end(capture_fd *c, ac__capture *into) {
    if (c->mem < 0)
        return;
    dup2(c->saved, c->fd);
    off_t size = lseek(c->mem, 0, SEEK_CUR);
    if (size <= 0)
        return;
    char chunk[65536];
    ssize_t n;
    lseek(c->mem, 0, SEEK_SET);
    while ((n = read(c->mem, chunk, sizeof chunk)) > 0)
        ac__capture_add(into, chunk, (size_t)n);
    (void)!ftruncate(c->mem, 0);
    lseek(c->mem, 0, SEEK_SET);
}

/* Without a process per test a crash ends the run; at least say which test it was. */
static const ac__test_def *in_process_test;
static int in_process_stderr = 2;

static void in_process_crash(int sig) {
    char msg[512];
    const char *abbrev = sigabbrev_np(sig);
    int n =
        snprintf(msg, sizeof msg,
                 "asyncheck: %s.%s crashed with SIG%s under --no-fork; run without --no-fork to isolate it\n",
                 in_process_test ? in_process_test->suite : "?",
                 in_process_test ? in_process_test->name : "?", abbrev ? abbrev : "?");
    if (n > 0)
        (void)!write(in_process_stderr, msg, (size_t)n);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_in_process(runner *rn) {
    static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++)
        signal(fatal_signals[i], in_process_crash);
    in_process_stderr = dup(2);
    capture_fd cap_out = {1, memfd_create("asyncheck-stdout", MFD_CLOEXEC), -1};
    capture_fd cap_err = {2, memfd_create("asyncheck-stderr", MFD_CLOEXEC), -1};
    for (size_t idx = 0; idx < rn->run->nitems; idx++) {
        rn->next_start = idx + 1;
        enter_window(rn, idx);
        if (settle_without_running(rn, idx)) {
            deliver_ready(rn);
            continue;
        }
        ac__result *r = &RESULT(rn, idx);
        double started = ac__monotonic();
        ac__explore *ex = ac__explore_new(rn->run->opts, r->def);
        ac__sched_params sched;
        unsigned sched_index = 0;
        if (!ex)
            ac__explore_plain_params(rn->run->opts, r->def, &sched);
        while (!ex || ac__explore_next(ex, &sched, &sched_index)) {
            ac__result attempt = {.def = r->def};
            ac__result *into = ex ? &attempt : r;
            fflush(NULL);
            capture_begin(&cap_out);
            capture_begin(&cap_err);
            in_process_test = r->def;
            ac__sink sink = {.fd = -1, .into = into};
            ac__tl_reset(rn->timelines, ac__timeline_capacity(rn->run->opts, r->def));
            ac__exec_test(r->def, ac__effective_timeout(rn->run->opts, r->def), rn->run->opts->clock, &sched,
                          &sink, NULL);
            fflush(stdout);
            fflush(stderr);
            capture_end(&cap_out, &into->out);
            capture_end(&cap_err, &into->err);
            take_timeline(rn, rn->timelines, into, &sched);
            if (!ex)
                break;
            ac__explore_finish(ex, &sched, sched_index, &attempt);
            ac__result_free(&attempt);
        }
        if (ex)
            ac__explore_result(ex, r);
        r->duration = ac__monotonic() - started;
        mark_ready(rn, idx);
        deliver_ready(rn);
        report_progress(rn);
    }
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++)
        signal(fatal_signals[i], SIG_DFL);
    close(in_process_stderr);
    for (capture_fd *c = &cap_out; c; c = c == &cap_out ? &cap_err : NULL) {
        if (c->mem >= 0)
            close(c->mem);
        if (c->saved >= 0)
            close(c->saved);
    }
}

/* Whether the run has more than one run of a test to make (more than one item, or an item that explores):
 * a lane is worth its fork only then. */
static bool more_than_one_run(const ac__run *run) {
    if (run->nitems != 1 || run->ntests != 1)
        return run->nitems > 1;
    unsigned runs = 1;
    bool sweep = false;
    double budget = 0;
    ac__explore_plan(run->opts, run->tests[0], &runs, &sweep, &budget);
    return runs > 1 || sweep;
}

static void init_slots(runner *rn) {
    for (size_t i = 0; i < rn->nslots; i++) {
        slot *s = &rn->slots[i];
        memset(s, 0, sizeof *s);
        s->rn = rn;
        s->pidfd = -1;
        s->srv = (ac__forksrv){.pid = -1, .sock = -1};
        s->held[0] = s->held[1] = s->held[2] = -1;
        ev_io_init(&s->res_io, pipe_cb, -1, EV_READ);
        ev_io_init(&s->out_io, pipe_cb, -1, EV_READ);
        ev_io_init(&s->err_io, pipe_cb, -1, EV_READ);
        ev_timer_init(&s->exit_poll, exit_poll_cb, 0., 0.);
        ev_timer_init(&s->watchdog, watchdog_cb, 0., 0.);
    }
}

/* A fork server for each slot without a lane, where servers can be used. */
static void spawn_servers(runner *rn) {
    if (!ac__forksrv_available())
        return;
    int keep[4] = {0, 1, 2, rn->devnull};
    for (size_t i = 0; i < rn->nslots; i++) {
        slot *s = &rn->slots[i];
        if (s->lane)
            continue;
        if (!ac__forksrv_spawn(&s->srv, server_child, in_server, rn, keep, 4))
            break; /* the slots without one fork for themselves */
        ev_io_init(&s->srv_io, srv_cb, s->srv.sock, EV_READ);
        s->srv_io.data = s;
        ev_io_start(rn->loop, &s->srv_io);
        ev_unref(rn->loop); /* the run ends when the tests do, whatever the servers */
    }
}

void ac__run_tests(const ac__run *run, ac__summary *sum) {
    runner rn = {.run = run, .sum = sum, .lane_sock = -1, .parent_io = {.fd = -1}};
    /* Results wait here to be delivered in order: while the oldest still runs, the others run at most
     * this far ahead of it. */
    rn.window = run->opts->no_fork ? 1 : 1024 + LANE_DEPTH * (size_t)run->opts->jobs;
    rn.results = ac__xcalloc(rn.window, sizeof *rn.results);
    rn.ready = ac__xcalloc(rn.window, sizeof *rn.ready);
    rn.explores = ac__xcalloc(rn.window, sizeof *rn.explores);
    double started = rn.started = ac__monotonic();
    if (run->opts->no_fork) {
        if (run->nitems > 0)
            ac__run_fixtures_setup(NULL);
        rn.timelines = timelines_setup(&rn, 1);
        ac__tl_attach(rn.timelines);
        run_in_process(&rn);
        ac__tl_attach(NULL);
        ac__tl_unmap(rn.timelines, 1, rn.timeline_events);
        ac__run_fixtures_teardown();
    } else {
        rn.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
        if (!rn.loop) {
            fprintf(stderr, "asyncheck: could not create the runner's libev loop\n");
            exit(1);
        }
        /* The run fixtures are set up under the runner's signal handling (a SIGINT lets the setup under way
         * finish, sets up no more and ends the run, tearing down what was set up), before the runner is
         * pinned to a CPU (a server a setup starts would inherit the pin) and before the runner lists the
         * children it leaves alone (a server a setup starts is one of them). */
        install_signal_handlers(&rn);
        if (run->nitems > 0)
            ac__run_fixtures_setup(signalled);
        take_early_signal(&rn);
        /* Pin the runner to the CPU it is on: a fork from a process whose memory is live on another
         * CPU costs a TLB shootdown there, and an unpinned runner wanders between CPUs constantly.
         * Tests get the original set back when they could use it (cpu_hold.c). Only with one job: with
         * more, a pinned runner competes with a child for its CPU (measured: slower at -j2). */
        if (run->opts->jobs == 1 && sched_getaffinity(0, sizeof rn.affinity, &rn.affinity) == 0 &&
            CPU_COUNT(&rn.affinity) > 1) {
            cpu_set_t one;
            CPU_ZERO(&one);
            int cpu = sched_getcpu();
            CPU_SET(cpu >= 0 ? cpu : 0, &one);
            rn.pinned = sched_setaffinity(0, sizeof one, &one) == 0;
        }
        /* One-time costs every test child would otherwise pay again: libffi's closure allocator, and
         * the virtual clock's replacements put into the slots (they pass calls on while no test's
         * virtual clock runs). */
        ac__mock_warm();
        ac__exec_warm();
        /* Tests keep their job's CPU until they could use another (cpu_hold.c): the runner at -j1, each
         * lane with more jobs, is pinned, and so are its fork server and, at their start, its tests. */
        cpu_set_t all;
        if (rn.pinned ||
            (run->opts->jobs > 1 && sched_getaffinity(0, sizeof all, &all) == 0 && CPU_COUNT(&all) > 1))
            ac__cpu_hold_install();
        bool virtual_clock = run->opts->clock == AC_CLOCK_VIRTUAL || run->opts->clock == AC_CLOCK_MANUAL;
        for (size_t i = 0; i < run->ntests && !virtual_clock; i++) {
            const ac__test_def *def = run->tests[i];
            const ac__suite_def *suite = ac__suite_find(def->suite);
            virtual_clock =
                def->options.clock > AC_CLOCK_REAL || (suite && suite->options.clock > AC_CLOCK_REAL);
        }
        if (virtual_clock)
            ac__clock_install();
        rn.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        rn.nslots = ac__runner_fd_slots((size_t)run->opts->jobs); /* never more than the fds allow */
        void *progress = MAP_FAILED;
        if (rn.nslots > 1 && more_than_one_run(run) && ac__lane_available() && /* see "lanes" */
            (progress = mmap(NULL, rn.nslots * LANE_DEPTH * sizeof *rn.progress, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED) {
            rn.progress = progress;
            rn.nlanes = rn.nslots;
            rn.nslots *= LANE_DEPTH;
            rn.lanes = ac__xcalloc(rn.nlanes, sizeof *rn.lanes);
            rn.requeue = ac__xcalloc(rn.nslots, sizeof *rn.requeue);
        }
        rn.slots = ac__xcalloc(rn.nslots, sizeof *rn.slots);
        void *shared = mmap(NULL, rn.nslots * sizeof *rn.shared, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        rn.shared = shared == MAP_FAILED ? NULL : shared;
        rn.timelines =
            timelines_setup(&rn, rn.nslots); /* before the fork servers: they and the tests inherit it */
        rn.self = getpid();
        init_slots(&rn);
        /* keeps the elapsed time on a progress line moving while a long test runs */
        ev_timer_init(&rn.progress_tick, progress_tick_cb, 0.5, 0.5);
        rn.progress_tick.data = &rn;
        ev_timer_start(rn.loop, &rn.progress_tick);
        ev_unref(rn.loop);
        size_t cap = sizeof rn.preexisting / sizeof *rn.preexisting;
        rn.npreexisting = runner_children(rn.preexisting, cap);
        ac__parent_signals_tests_begin(); /* (a process the fixtures started is one of those children) */
        prctl(PR_GET_CHILD_SUBREAPER, &rn.was_subreaper);
        /* (a program with more children of its own than the runner can tell apart gives this up) */
        rn.subreaper = rn.npreexisting < cap && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
        /* Last of the set-up, so that the lanes, the servers (and the test processes they fork) inherit
         * all of it, shared mappings included. Only when there is something to fork. With more than one
         * slot, each slot gets a lane (which makes its own fork server); the others, a fork server. */
        if (rn.nlanes > 0 && !rn.interrupted)
            spawn_lanes(&rn);
        if (run->nitems > 0 && !rn.interrupted)
            spawn_servers(&rn);
        start_next(&rn);
        ev_run(rn.loop, 0);
        stop_lanes(&rn);
        for (size_t i = 0; i < rn.nslots; i++) { /* every slot is idle: no request is pending */
            close_pipes(&rn, &rn.slots[i]);
            if (ev_is_active(&rn.slots[i].srv_io)) {
                ev_ref(rn.loop);
                ev_io_stop(rn.loop, &rn.slots[i].srv_io);
            }
            ac__forksrv_stop(&rn.slots[i].srv);
        }
        ac__run_fixtures_teardown(); /* every test has ended: finished, crashed, timed out or killed */
        remove_signal_handlers(&rn);
        if (rn.subreaper) {
            reap_leftovers(&rn); /* every slot is idle now */
            prctl(PR_SET_CHILD_SUBREAPER, rn.was_subreaper);
        }
        ev_ref(rn.loop);
        ev_timer_stop(rn.loop, &rn.progress_tick);
        ev_loop_destroy(rn.loop);
        free(rn.slots);
        if (rn.shared)
            munmap(rn.shared, rn.nslots * sizeof *rn.shared);
        if (rn.progress)
            munmap(rn.progress, rn.nslots * sizeof *rn.progress);
        ac__tl_unmap(rn.timelines, rn.nslots, rn.timeline_events);
        if (rn.devnull >= 0)
            close(rn.devnull);
        if (rn.pinned)
            sched_setaffinity(0, sizeof rn.affinity, &rn.affinity);
    }
    deliver_ready(&rn);
    sum->interrupted = rn.interrupted;
    sum->total = run->nitems;
    sum->duration = ac__monotonic() - started;
    free(rn.results);
    free(rn.ready);
    free(rn.explores);
}
