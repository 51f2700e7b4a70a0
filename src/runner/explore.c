/* explore.c — exploring a test's schedules: which runs ("attempts") a test needs — its schedules, the
 * cancel points of a cancel sweep, the second run of each seed under --check-determinism — in what
 * order, and how their results become the test's one result: the first failing schedule with the
 * command line that replays it, the failures grouped by message (--keep-going), the first step at which
 * two runs of one seed dispatched differently, and the properties no schedule satisfied. It starts no
 * process itself: run.c asks it for the next attempt and hands back each attempt's result.
 *
 * Seeds. Schedule 0 is libev's own order (seed 0) unless --seed was given; schedule i >= 1 has a seed
 * drawn from a base (--seed, or the --shuffle seed, else a fixed one, so that CI explores the same
 * schedules every run). --seed without --shuffle or --schedules runs that one schedule: the replay.
 *
 * Backends. A test that runs on several libev backends (--backend=all, .backend) runs its whole plan on
 * each, one after the other: "plan index" g = backend * nsched + schedule, which keys traces, groups and
 * the representative as a schedule does when there is one backend. */
#include "runner.h"

#include <ctype.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BASE 0x5EEDULL
#define AC__XSTR(x) #x
#define AC__STR(x) AC__XSTR(x)
#define MAX_GROUPS 64
#define SWEEP_MAX 10000 /* cancel points per schedule */

typedef struct group {
    char *key;     /* the first failure's kind and message, digits folded */
    char *message; /* the first failure's message as it was */
    unsigned count;
    unsigned long long seed;
    long cancel_at;
    ac__fault_point fault; /* the fault point of its earliest run (at 0: none) */
    unsigned sched;
} group;

typedef struct trace_slot {
    unsigned sched;
    char *trace;
} trace_slot;

struct ac__explore {
    const ac__options *o;
    const ac__test_def *def;
    int mode, depth;
    long steps;       /* PCT steps: --schedule-mode's, else learned from schedule 0 */
    bool steps_known; /* PCT may start schedules >= 1 */
    unsigned nsched;
    unsigned backends[3], nback; /* EVBACKEND_* bits to run the plan on, in order (1: one backend) */
    unsigned copies;             /* 2 under --check-determinism (not with a sweep) */
    bool sweep, keep_going, seeded;
    unsigned long long base;
    /* progress */
    unsigned next_attempt; /* no sweep: attempt a is schedule a / copies, copy a % copies */
    unsigned sweep_sched;  /* sweep: the schedule and cancel point to run next */
    long sweep_k;
    bool sweep_waiting; /* sweep: one attempt at a time */
    bool sweep_gave_up; /* a run still reached cancel point SWEEP_MAX */
    unsigned cancelled; /* sweep: runs that cancelled their operation in flight */
    unsigned late;      /* sweep: schedules swept up to the point where the operation had completed */
    unsigned inflight, ran, failed;
    bool stop;
    /* a fault sweep (src/fault/): per schedule, each (function, failure) pair, calls 1, 2, ... until a
     * run makes fewer counted calls than its point; it uses sweep_sched, sweep_k and sweep_waiting */
    bool fsweep;
    ac__fault_point *faults;
    unsigned nfaults, fault_i;
    unsigned fault_points; /* runs that failed a call */
    char *fault_error;     /* the test's .fault_sweep did not parse */
    /* results */
    ac__result rep; /* the representative attempt: the first failing one (lowest schedule), else the first */
    bool have_rep, rep_failed;
    unsigned rep_sched;
    long rep_cancel;
    ac__fault_point rep_fault;
    unsigned long long rep_seed;
    group groups[MAX_GROUPS];
    size_t ngroups;
    unsigned other_failures; /* failures in groups beyond MAX_GROUPS */
    trace_slot *traces;      /* --check-determinism: first runs waiting for their second */
    size_t ntraces;
    char *divergence; /* the first divergence found */
    unsigned long long divergence_seed;
    unsigned divergence_backend;
    ac__prop_obs *props; /* union over attempts */
    size_t nprops;
    unsigned long max_steps;
    /* the exploration budget: no run starts once `budget` seconds of wall time have passed since
     * `started`; and what ran, for the summary (ac__exploration) */
    double budget, started;
    bool budget_reached;
    unsigned sched_seen;
};

static unsigned long long seed_of(const ac__explore *ex, unsigned i) {
    if (i == 0)
        return ex->seeded ? ex->base : 0;
    unsigned long long s = ex->base + i * 0x9E3779B97F4A7C15ULL;
    unsigned long long v = ac__splitmix64(&s) % 1000000000000ULL; /* twelve digits: short enough to type */
    return v ? v : 1;
}

static void plain(const ac__options *o, const ac__test_def *def, int *mode, int *depth) {
    *mode = def->options.schedule_mode ? def->options.schedule_mode
            : o->schedule_mode         ? (ac_schedule_mode)o->schedule_mode
                                       : AC_SCHED_SHUFFLE;
    *depth = def->options.pct_depth > 0 ? def->options.pct_depth : o->pct_depth > 0 ? o->pct_depth : 3;
}

/* --seed without --shuffle and without --schedules: run that one schedule (the replay). */
static bool replaying(const ac__options *o) {
    return o->seed_given && !o->shuffle && o->schedules == 0;
}

static void set_fault(ac__sched_params *p, const ac__fault_point *f) {
    memcpy(p->fault_fn, f->fn, sizeof p->fault_fn);
    p->fault_at = f->at;
    p->fault_err = f->err;
}

static ac__fault_point fault_of(const ac__sched_params *p) {
    ac__fault_point f = {.at = p->fault_at, .err = p->fault_err};
    memcpy(f.fn, p->fault_fn, sizeof f.fn);
    return f;
}

/* The backends a test runs on, into `out` in the order epoll, poll, select; returns how many. --backend
 * wins over the test's .backend (as --schedules over .schedules); neither: epoll. A virtual or manual
 * clock keeps epoll only when epoll is among them (exec.c skips such a test on another backend). */
static unsigned backends_of(const ac__options *o, const ac__test_def *def, unsigned out[3]) {
    unsigned mask = o->backend ? o->backend : def->options.backend ? def->options.backend : AC_BACKEND_EPOLL;
    static unsigned supported; /* libev asks the kernel's version (uname) at every call: once per run */
    if (!supported)
        supported = ev_supported_backends();
    if (mask & supported)
        mask &= supported;
    const ac__suite_def *suite = ac__suite_find(def->suite);
    int clock = def->options.clock              ? (int)def->options.clock
                : suite && suite->options.clock ? (int)suite->options.clock
                                                : o->clock;
    if ((clock == AC_CLOCK_VIRTUAL || clock == AC_CLOCK_MANUAL) && (mask & AC_BACKEND_EPOLL))
        mask = AC_BACKEND_EPOLL;
    static const unsigned order[] = {AC_BACKEND_EPOLL, AC_BACKEND_POLL, AC_BACKEND_SELECT};
    unsigned n = 0;
    for (size_t i = 0; i < 3; i++)
        if (mask & order[i])
            out[n++] = order[i];
    return n;
}

static const char *backend_name(unsigned b) {
    return b == AC_BACKEND_POLL ? "poll" : b == AC_BACKEND_SELECT ? "select" : "epoll";
}

void ac__explore_plain_params(const ac__options *o, const ac__test_def *def, ac__sched_params *p) {
    memset(p, 0, sizeof *p);
    unsigned backends[3];
    p->backend = backends_of(o, def, backends) ? backends[0] : 0;
    p->defer_readiness = o->defer_readiness || def->options.defer_readiness;
    p->callback_time = o->callback_time_max > 0 ? o->callback_time_max : def->options.callback_time_max;
    plain(o, def, &p->mode, &p->pct_depth);
    p->pct_steps = o->pct_steps;
    p->seed = replaying(o) ? o->seed : 0;
    p->cancel_at = o->cancel_at;
    set_fault(p, &o->fault_at);
}

/* The smaller of the test's own .explore_budget and --explore-budget; 0: none. */
static double budget_of(const ac__options *o, const ac__test_def *def) {
    double own = def->options.explore_budget > 0 ? def->options.explore_budget : 0;
    if (o->explore_budget > 0 && (own == 0 || o->explore_budget < own))
        return o->explore_budget;
    return own;
}

ac__explore *ac__explore_new(const ac__options *o, const ac__test_def *def) {
    unsigned nsched = replaying(o)             ? 1
                      : o->schedules > 0       ? (unsigned)o->schedules
                      : def->options.schedules ? def->options.schedules
                                               : 1;
    const char *flist = o->fault_sweep ? o->fault_sweep : def->options.fault_sweep;
    ac__fault_point *faults = NULL;
    unsigned nfaults = 0;
    ac__buf ferr = {0};
    bool bad = false;
    if (flist && o->fault_at.at == 0 && o->cancel_at < 0) {
        ac__buf_puts(&ferr, ".fault_sweep: "); /* (--fault-sweep was checked when parsed) */
        bad = ac__fault_sweep_parse(flist, &faults, &nfaults, &ferr) < 0;
    }
    bool fsweep = flist && !bad && o->fault_at.at == 0 && o->cancel_at < 0;
    /* a fault sweep takes the place of a cancel sweep */
    bool sweep = !fsweep && (def->options.cancel_sweep || o->cancel_sweep) && o->cancel_at < 0;
    unsigned backends[3] = {0}, nback = backends_of(o, def, backends);
    if (nsched <= 1 && !sweep && !fsweep && !o->check_determinism && !bad && nback <= 1) {
        ac__buf_free(&ferr);
        return NULL;
    }
    ac__explore *ex = ac__xcalloc(1, sizeof *ex);
    ex->fsweep = fsweep;
    ex->faults = faults;
    ex->nfaults = nfaults;
    ex->fault_error = bad ? ac__buf_take(&ferr) : NULL;
    ac__buf_free(&ferr);
    memcpy(ex->backends, backends, sizeof backends);
    ex->nback = nback ? nback : 1;
    ex->o = o;
    ex->def = def;
    plain(o, def, &ex->mode, &ex->depth);
    ex->steps = o->pct_steps;
    ex->nsched = nsched ? nsched : 1;
    ex->sweep = sweep;
    ex->copies = o->check_determinism && !sweep && !fsweep ? 2 : 1;
    ex->keep_going = o->keep_going;
    ex->seeded = o->seed_given && !o->shuffle;
    ex->base = o->seed_given || o->shuffle ? o->seed : DEFAULT_BASE;
    /* PCT draws its change points from the dispatches a run makes: learn how many from libev's own
     * order first, unless --schedule-mode says, or there is no such run */
    ex->steps_known = ex->mode != AC_SCHED_PCT || ex->steps > 0 || ex->seeded;
    if (!ex->steps_known && ex->nsched == 1)
        ex->steps_known = true;
    ex->sweep_k = fsweep ? 1 : 0;
    ex->budget = budget_of(o, def);
    ex->started = ac__monotonic();
    return ex;
}

void ac__explore_plan(const ac__options *o, const ac__test_def *def, unsigned *runs, bool *sweep,
                      double *budget) {
    ac__explore *ex = ac__explore_new(o, def); /* the same decisions as the run's */
    *runs = ex ? ex->nsched * ex->nback * ex->copies : 1;
    *sweep = ex && (ex->sweep || ex->fsweep);
    *budget = ex ? ex->budget : 0;
    if (ex) {
        free(ex->faults);
        free(ex->fault_error);
    }
    free(ex);
}

/* The plan still has runs to start (whatever stops it early). */
static bool more_to_start(const ac__explore *ex) {
    unsigned plan = ex->nsched * ex->nback;
    return ex->sweep || ex->fsweep ? ex->sweep_sched < plan : ex->next_attempt < plan * ex->copies;
}

/* True once the budget is spent while runs are left to start: the exploration then starts no more. */
static bool budget_spent(ac__explore *ex) {
    if (ex->budget > 0 && !ex->budget_reached && more_to_start(ex) &&
        ac__monotonic() - ex->started >= ex->budget)
        ex->budget_reached = true;
    return ex->budget_reached;
}

bool ac__explore_next(ac__explore *ex, ac__sched_params *p, unsigned *sched) {
    if (ex->stop)
        return false;
    if (ex->inflight > 0 && budget_spent(ex)) { /* (with none in flight, finish has just checked) */
        ex->stop = true;
        return false;
    }
    unsigned i;
    memset(p, 0, sizeof *p);
    if (ex->sweep) {
        if (ex->sweep_waiting || ex->sweep_sched >= ex->nsched * ex->nback)
            return false;
        i = ex->sweep_sched;
        if (i > 0 && !ex->steps_known)
            return false;
        p->cancel_at = ex->sweep_k;
        ex->sweep_waiting = true;
    } else if (ex->fsweep) {
        if (ex->sweep_waiting || ex->sweep_sched >= ex->nsched * ex->nback)
            return false;
        i = ex->sweep_sched;
        if (i > 0 && !ex->steps_known)
            return false;
        p->cancel_at = -1;
        ac__fault_point f = ex->faults[ex->fault_i];
        f.at = ex->sweep_k;
        set_fault(p, &f);
        ex->sweep_waiting = true;
    } else {
        p->cancel_at = -1;
        if (ex->next_attempt >= ex->nsched * ex->nback * ex->copies)
            return false;
        i = ex->next_attempt / ex->copies;
        if (i > 0 && !ex->steps_known)
            return false;
        ex->next_attempt++;
        p->trace = ex->copies > 1;
        set_fault(p, &ex->o->fault_at); /* --fault-at under --schedules */
    }
    p->seed = seed_of(ex, i % ex->nsched);
    p->backend = ex->backends[i / ex->nsched];
    p->defer_readiness = ex->o->defer_readiness || ex->def->options.defer_readiness;
    p->callback_time =
        ex->o->callback_time_max > 0 ? ex->o->callback_time_max : ex->def->options.callback_time_max;
    p->mode = ex->mode;
    p->pct_depth = ex->depth;
    p->pct_steps = ex->steps > 0 ? ex->steps : 50;
    p->exploring = true;
    ex->inflight++;
    *sched = i;
    return true;
}

/* "AC_ASSERT_EQ(a, 1) failed" with runs of digits folded to "N", so that timings and addresses do not
 * split one failure into many groups. */
static char *group_key(const ac__result *r) {
    ac__buf b = {0};
    const ac__failure *f = r->nfailures ? &r->failures[0] : NULL;
    ac__buf_printf(&b, "%s: ", f ? ac__failure_kind_name(f->kind) : "?");
    ac__fold_digits(&b, f && f->message ? f->message : "");
    return ac__buf_take(&b);
}

static void merge_props(ac__explore *ex, const ac__result *r) {
    for (size_t i = 0; i < r->nprops; i++) {
        const ac__prop_obs *o = &r->props[i];
        size_t j = 0;
        while (j < ex->nprops &&
               !(ex->props[j].kind == o->kind && ex->props[j].line == o->line &&
                 strcmp(ex->props[j].file, o->file) == 0 && strcmp(ex->props[j].message, o->message) == 0))
            j++;
        if (j == ex->nprops) {
            ex->props = ac__xrealloc(ex->props, (ex->nprops + 1) * sizeof *ex->props);
            ex->props[ex->nprops++] = (ac__prop_obs){o->kind,
                                                     ac__xstrdup(o->file),
                                                     o->line,
                                                     ac__xstrdup(o->message),
                                                     o->cond ? ac__xstrdup(o->cond) : NULL,
                                                     0,
                                                     0};
        }
        ex->props[j].evaluated += o->evaluated;
        ex->props[j].hit += o->hit;
    }
}

/* A trace with what may differ between two faithful runs of one seed rewritten: each descriptor number
 * ("fd=7") becomes its rank in order of first appearance ("fd=#1"), and each address ("0x55d3...")
 * becomes "0x?". Two runs that open their descriptors in the same order, whatever numbers the kernel
 * hands out, and allocate at different addresses then compare equal; a run that uses a different
 * descriptor where the other used the same one still differs. */
static char *normalise_trace(const char *s) {
    ac__buf b = {0};
    long fds[256];
    size_t nfds = 0;
    while (*s) {
        if (strncmp(s, "fd=", 3) == 0 && s[3] >= '0' && s[3] <= '9') {
            char *end;
            long fd = strtol(s + 3, &end, 10);
            size_t k = 0;
            while (k < nfds && fds[k] != fd)
                k++;
            if (k == nfds && nfds < sizeof fds / sizeof *fds)
                fds[nfds++] = fd;
            ac__buf_printf(&b, "fd=#%zu", k + 1);
            s = end;
        } else if (s[0] == '0' && s[1] == 'x' && isxdigit((unsigned char)s[2])) {
            s += 2;
            while (isxdigit((unsigned char)*s))
                s++;
            ac__buf_puts(&b, "0x?");
        } else {
            ac__buf_append(&b, s++, 1);
        }
    }
    return ac__buf_take(&b);
}

/* The line `n` (1-based) of `s`, or "(nothing more)". */
static void nth_line(ac__buf *b, const char *s, size_t n) {
    while (--n && s && *s)
        s = (s = strchr(s, '\n')) ? s + 1 : NULL;
    if (!s || !*s) {
        ac__buf_puts(b, "(nothing more)");
        return;
    }
    const char *e = strchr(s, '\n');
    ac__buf_append(b, s, e ? (size_t)(e - s) : strlen(s));
}

/* Compares two traces of one seed, descriptor numbers and addresses aside (normalise_trace); on a
 * difference, describes the first one with both runs' lines as they were. */
static char *diverge(const char *a, const char *b) {
    char *na_all = normalise_trace(a), *nb_all = normalise_trace(b);
    size_t line = 1;
    const char *la = na_all, *lb = nb_all;
    char *out = NULL;
    for (;;) {
        const char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
        size_t na = ea ? (size_t)(ea - la) : strlen(la), nb = eb ? (size_t)(eb - lb) : strlen(lb);
        if (na != nb || memcmp(la, lb, na) != 0 || (!ea) != (!eb)) {
            ac__buf d = {0};
            ac__buf_printf(&d, "dispatch %zu differs:\n  first run:  ", line);
            nth_line(&d, a, line);
            ac__buf_puts(&d, "\n  second run: ");
            nth_line(&d, b, line);
            out = ac__buf_take(&d);
            break;
        }
        if (!ea)
            break;
        la = ea + 1;
        lb = eb + 1;
        line++;
    }
    free(na_all);
    free(nb_all);
    return out;
}

static void take_rep(ac__explore *ex, ac__result *r, const ac__sched_params *p, unsigned sched, bool failed) {
    long cancel = p->cancel_at;
    unsigned long long seed = p->seed;
    ex->rep_fault = fault_of(p);
    if (ex->have_rep)
        ac__result_free(&ex->rep);
    ex->rep = *r;
    memset(r, 0, sizeof *r);
    ex->have_rep = true;
    ex->rep_failed = failed;
    ex->rep_sched = sched;
    ex->rep_cancel = cancel;
    ex->rep_seed = seed;
}

/* --check-determinism: keeps the first trace of a schedule and compares the second with it; the first
 * divergence is kept (and stops the exploration unless --keep-going). */
static void compare_trace(ac__explore *ex, const ac__sched_params *p, unsigned sched, ac__result *r) {
    size_t j = 0;
    while (j < ex->ntraces && ex->traces[j].sched != sched)
        j++;
    if (j == ex->ntraces) {
        ex->traces = ac__xrealloc(ex->traces, (ex->ntraces + 1) * sizeof *ex->traces);
        ex->traces[ex->ntraces++] = (trace_slot){sched, r->trace};
        r->trace = NULL;
        return;
    }
    char *d = diverge(ex->traces[j].trace, r->trace);
    free(ex->traces[j].trace);
    ex->traces[j] = ex->traces[--ex->ntraces];
    if (d && !ex->divergence) {
        ex->divergence = d;
        ex->divergence_seed = p->seed;
        ex->divergence_backend = p->backend;
        if (!ex->keep_going)
            ex->stop = true;
    } else {
        free(d);
    }
}

/* Counts a failed run in its group (by folded first message; past MAX_GROUPS as "other"), each group
 * remembering its earliest schedule and cancel point, and makes it the representative when it is the
 * earliest failure so far. */
static void count_failure(ac__explore *ex, const ac__sched_params *p, unsigned sched, ac__result *r) {
    ex->failed++;
    char *key = group_key(r);
    size_t g = 0;
    while (g < ex->ngroups && strcmp(ex->groups[g].key, key) != 0)
        g++;
    if (g == ex->ngroups && g < MAX_GROUPS) {
        ex->groups[g] = (group){key,
                                ac__xstrdup(r->nfailures ? r->failures[0].message : "?"),
                                0,
                                p->seed,
                                p->cancel_at,
                                fault_of(p),
                                sched};
        ex->ngroups++;
        key = NULL;
    }
    free(key);
    if (g < ex->ngroups) {
        ex->groups[g].count++;
        if (sched < ex->groups[g].sched ||
            (sched == ex->groups[g].sched && p->cancel_at < ex->groups[g].cancel_at)) {
            ex->groups[g].sched = sched;
            ex->groups[g].seed = p->seed;
            ex->groups[g].cancel_at = p->cancel_at;
            ex->groups[g].fault = fault_of(p);
        }
    } else {
        ex->other_failures++;
    }
    if (!ex->rep_failed || sched < ex->rep_sched || (sched == ex->rep_sched && p->cancel_at < ex->rep_cancel))
        take_rep(ex, r, p, sched, true);
    if (!ex->keep_going)
        ex->stop = true;
}

/* A cancel sweep's next step after a run: the next cancel point of the schedule while runs reach theirs,
 * else the next schedule. */
static void advance_sweep(ac__explore *ex, bool reached, bool late) {
    ex->sweep_waiting = false;
    if (reached)
        ex->cancelled++;
    else if (late)
        ex->late++;
    if (reached && ex->sweep_k >= SWEEP_MAX) {
        ex->sweep_gave_up = true; /* a test that never ends: say so rather than sweep forever */
        ex->sweep_sched++;
        ex->sweep_k = 0;
    } else if (reached) {
        ex->sweep_k++;
    } else { /* the run or its operation completed before its cancel point: that schedule is swept */
        ex->sweep_sched++;
        ex->sweep_k = 0;
    }
}

/* A fault sweep's next step after a run: the next call while runs make as many counted calls as their
 * fault point, else the next (function, failure) pair, else the next schedule. */
static void advance_fault(ac__explore *ex, long calls) {
    ex->sweep_waiting = false;
    if (calls >= ex->sweep_k) {
        ex->fault_points++;
        if (ex->sweep_k < SWEEP_MAX) {
            ex->sweep_k++;
            return;
        }
        ex->sweep_gave_up = true;
    }
    ex->sweep_k = 1;
    if (++ex->fault_i >= ex->nfaults) {
        ex->fault_i = 0;
        ex->sweep_sched++;
    }
}

void ac__explore_finish(ac__explore *ex, const ac__sched_params *p, unsigned sched, ac__result *r) {
    ex->inflight--;
    ex->ran++;
    if (sched % ex->nsched + 1 > ex->sched_seen)
        ex->sched_seen = sched % ex->nsched + 1;
    ac__result_settle(r);
    bool reached = r->cancel_reached, late = r->cancel_late; /* take_rep empties r */
    long fault_calls = r->fault_calls;
    if (r->sched_steps > ex->max_steps)
        ex->max_steps = r->sched_steps;
    if (sched == 0 && !ex->steps_known) {
        ex->steps = r->sched_steps > 0 ? (long)r->sched_steps : 1;
        ex->steps_known = true;
    }
    merge_props(ex, r);
    bool failed = r->outcome == AC_FAIL;
    if (p->trace && r->trace && !failed)
        compare_trace(ex, p, sched, r);
    if (r->outcome == AC_SKIP && !ex->have_rep) {
        take_rep(ex, r, p, sched, false);
        ex->stop = true; /* a skip skips every schedule */
    } else if (failed) {
        count_failure(ex, p, sched, r);
    } else if (!ex->have_rep) {
        take_rep(ex, r, p, sched, false);
    }
    if (ex->sweep)
        advance_sweep(ex, reached, late);
    else if (ex->fsweep)
        advance_fault(ex, fault_calls);
    if (budget_spent(ex))
        ex->stop = true;
}

void ac__explore_stop(ac__explore *ex) {
    ex->stop = true;
}

bool ac__explore_done(const ac__explore *ex) {
    if (ex->inflight)
        return false;
    if (ex->stop)
        return true;
    if (ex->sweep || ex->fsweep)
        return ex->sweep_sched >= ex->nsched * ex->nback;
    return ex->next_attempt >= ex->nsched * ex->nback * ex->copies;
}

static void shell_quote(ac__buf *b, const char *s) {
    ac__buf_puts(b, "'");
    for (; *s; s++) {
        if (*s == '\'')
            ac__buf_puts(b, "'\\''");
        else
            ac__buf_append(b, s, 1);
    }
    ac__buf_puts(b, "'");
}

/* The command line that runs this test under one schedule (and cancel point) again, with every option
 * of this run that changes what a run does; the name is glob-escaped so that --filter selects exactly
 * this test, whatever characters its name holds. */
static void replay_command(const ac__explore *ex, unsigned long long seed, long cancel_at,
                           const ac__fault_point *fault, bool determinism, unsigned backend, ac__buf *b) {
    const ac__options *o = ex->o;
    ac__buf name = {0}, glob = {0};
    ac__full_name(ex->def, &name);
    for (const char *c = ac__buf_str(&name); *c; c++) {
        if (strchr("*?[]\\", *c))
            ac__buf_puts(&glob, "\\");
        ac__buf_append(&glob, c, 1);
    }
    ac__buf_puts(b, o->prog ? o->prog : "test");
    ac__buf_puts(b, " --filter=");
    shell_quote(b, ac__buf_str(&glob));
    ac__buf_free(&name);
    ac__buf_free(&glob);
    if (o->no_fork)
        ac__buf_puts(b, " --no-fork");
    static const char *const clocks[] = {"", "real", "virtual", "manual"};
    if (o->clock > 0 && o->clock <= 3)
        ac__buf_printf(b, " --clock=%s", clocks[o->clock]);
    if (o->timeout_given)
        ac__buf_printf(b, " --timeout=%g", o->timeout);
    if (ex->nback > 1 || ex->o->backend)
        ac__buf_printf(b, " --backend=%s", backend_name(backend));
    ac__buf_printf(b, " --seed=%llu", seed);
    if (ex->mode == AC_SCHED_PCT && seed)
        ac__buf_printf(b, " --schedule-mode=pct:%d:%ld", ex->depth, ex->steps > 0 ? ex->steps : 50);
    if (cancel_at >= 0)
        ac__buf_printf(b, " --cancel-at=%ld", cancel_at);
    if (fault && fault->at > 0) {
        ac__buf_puts(b, " --fault-at=");
        ac__fault_format(fault, b);
    }
    if (o->defer_readiness)
        ac__buf_puts(b, " --defer-readiness");
    if (o->callback_time_max > 0) { /* the shortest form that reads back as the same number */
        int prec = 1;
        char num[40];
        do
            snprintf(num, sizeof num, "%.*g", prec, o->callback_time_max);
        while (strtod(num, NULL) != o->callback_time_max && ++prec < 17);
        ac__buf_printf(b, " --callback-time-max=%s", num);
    }
    if (determinism)
        ac__buf_puts(b, " --check-determinism");
}

static const char *mode_name(const ac__explore *ex) {
    return ex->mode == AC_SCHED_PCT ? "pct" : "shuffle";
}

static void where(const ac__explore *ex, unsigned sched, long cancel_at, const ac__fault_point *fault,
                  unsigned long long seed, ac__buf *b) {
    if (ex->fsweep && fault->at > 0) {
        ac__buf_puts(b, "fault point ");
        ac__fault_format(fault, b);
        ac__buf_printf(b, " (counted call %ld to %s after ac_fault_start failed) of ", fault->at, fault->fn);
    }
    if (ex->sweep && cancel_at == 0)
        ac__buf_puts(b, "cancel point 0 (cancelled before the first callback after ac_cancel_with)");
    else if (ex->sweep)
        ac__buf_printf(b, "cancel point %ld (cancelled after callback %ld after ac_cancel_with)", cancel_at,
                       cancel_at);
    if (ex->nsched > 1 || !ex->sweep || ex->fsweep) {
        if (ex->sweep)
            ac__buf_puts(b, " of ");
        ac__buf_printf(b, "schedule %u", sched % ex->nsched + 1);
        if (ex->nsched > 1)
            ac__buf_printf(b, " of %u", ex->nsched);
    }
    ac__buf_printf(b, " (seed %llu%s%s)", seed, seed ? ", " : ", libev's own order",
                   seed ? mode_name(ex) : "");
    if (ex->nback > 1)
        ac__buf_printf(b, " on the %s backend", backend_name(ex->backends[sched / ex->nsched]));
}

static void check_props(ac__explore *ex, ac__result *out) {
    for (size_t i = 0; i < ex->nprops; i++) {
        const ac__prop_obs *p = &ex->props[i];
        if (p->hit > 0 || (p->kind != AC__PROP_SOMETIMES && p->kind != AC__PROP_REACHABLE))
            continue;
        ac__buf m = {0};
        if (p->kind == AC__PROP_SOMETIMES)
            ac__buf_printf(&m, "AC_SOMETIMES(%s, \"%s\") was never true", p->cond ? p->cond : "?",
                           p->message);
        else
            ac__buf_printf(&m, "AC_REACHABLE(\"%s\") was never reached", p->message);
        if (p->kind == AC__PROP_SOMETIMES && p->evaluated == 0)
            ac__buf_puts(&m, " (never even evaluated)");
        ac__buf_printf(&m, " in %u run%s of the test", ex->ran, ex->ran == 1 ? "" : "s");
        if (ex->stop && ex->failed)
            ac__buf_puts(&m, " (exploration stopped at the first failure)");
        if (ex->budget_reached && more_to_start(ex))
            ac__buf_printf(&m, " (the exploration budget of %g s ran out first)", ex->budget);
        ac__result_add_failure(out, AC_FK_SCHEDULE, false, p->file, p->line, ac__buf_str(&m), NULL, NULL);
        ac__buf_free(&m);
    }
}

/* What the exploration ran, into the result model for every reporter. */
static void summarize(const ac__explore *ex, ac__exploration *s) {
    *s = (ac__exploration){.explored = true,
                           .mode = mode_name(ex),
                           .schedules = ex->sched_seen,
                           .schedules_total = ex->nsched,
                           .runs = ex->ran,
                           .sweep = ex->sweep,
                           .cancel_points = ex->cancelled, /* runs that cancelled in flight */
                           .fault_sweep = ex->fsweep,
                           .fault_points = ex->fault_points,
                           .determinism = ex->copies > 1,
                           .budget = ex->budget,
                           .budget_reached = ex->budget_reached};
}

void ac__explore_result(ac__explore *ex, ac__result *out) {
    summarize(ex, &out->exploration);
    if (ex->have_rep) {
        /* the representative's outcome, failures and output become the test's */
        out->failures = ex->rep.failures;
        out->nfailures = ex->rep.nfailures;
        out->failures_omitted = ex->rep.failures_omitted;
        out->skip_reason = ex->rep.skip_reason;
        out->phase = ex->rep.phase;
        out->out = ex->rep.out;
        out->err = ex->rep.err;
        out->finished = ex->rep.finished;
        out->notes = ex->rep.notes;
        memset(&ex->rep.notes, 0, sizeof ex->rep.notes);
        ex->rep.failures = NULL;
        ex->rep.nfailures = 0;
        ex->rep.skip_reason = NULL;
        memset(&ex->rep.out, 0, sizeof ex->rep.out);
        memset(&ex->rep.err, 0, sizeof ex->rep.err);
        ac__result_free(&ex->rep);
    }
    const char *file = ex->def->file;
    int line = ex->def->line;
    if (ex->failed && !ex->keep_going) {
        ac__buf m = {0};
        where(ex, ex->rep_sched, ex->rep_cancel, &ex->rep_fault, ex->rep_seed, &m);
        ac__buf_puts(&m, " failed");
        if (ex->ran > ex->failed)
            ac__buf_printf(&m, " (%u other run%s passed)", ex->ran - ex->failed,
                           ex->ran - ex->failed == 1 ? "" : "s");
        ac__buf_puts(&m, "; replay: ");
        replay_command(ex, ex->rep_seed, ex->rep_cancel, &ex->rep_fault, false,
                       ex->backends[ex->rep_sched / ex->nsched], &m);
        ac__result_add_failure(out, AC_FK_SCHEDULE, false, file, line, ac__buf_str(&m), NULL, NULL);
        ac__buf_free(&m);
    } else if (ex->failed) {
        ac__buf m = {0}, g = {0};
        ac__buf_printf(&m, "%u of %u run%s failed (%s%s), in %zu group%s by failure", ex->failed, ex->ran,
                       ex->ran == 1 ? "" : "s",
                       ex->sweep    ? "cancel sweep, "
                       : ex->fsweep ? "fault sweep, "
                                    : "",
                       mode_name(ex), ex->ngroups, ex->ngroups == 1 ? "" : "s");
        for (size_t i = 0; i < ex->ngroups; i++) {
            const group *gr = &ex->groups[i];
            ac__buf_printf(&g, "%s%u× ", i ? "\n" : "", gr->count);
            for (const char *c = gr->message; *c; c++) /* every line of the group under its count */
                ac__buf_puts(&g, *c == '\n' ? "\n    " : (char[]){*c, 0});
            ac__buf_puts(&g, "\n    first at ");
            where(ex, gr->sched, gr->cancel_at, &gr->fault, gr->seed, &g);
            ac__buf_puts(&g, "; replay: ");
            replay_command(ex, gr->seed, gr->cancel_at, &gr->fault, false,
                           ex->backends[gr->sched / ex->nsched], &g);
        }
        if (ex->other_failures)
            ac__buf_printf(&g, "\n%u× in further groups", ex->other_failures);
        ac__result_add_failure(out, AC_FK_SCHEDULE, false, file, line, ac__buf_str(&m), ac__buf_str(&g),
                               NULL);
        ac__buf_free(&m);
        ac__buf_free(&g);
    }
    if (ex->divergence) {
        ac__buf m = {0};
        ac__buf_printf(
            &m,
            "nondeterministic: two runs of seed %llu dispatched differently (uninitialised memory, "
            "real time, threads or addresses decide something); replay: ",
            ex->divergence_seed);
        replay_command(ex, ex->divergence_seed, -1, &ex->o->fault_at, true, ex->divergence_backend, &m);
        ac__result_add_failure(out, AC_FK_SCHEDULE, false, file, line, ac__buf_str(&m), ex->divergence, NULL);
        ac__buf_free(&m);
    }
    if (ex->sweep_gave_up)
        ac__result_add_failure(
            out, AC_FK_SCHEDULE, false, file, line,
            ex->fsweep
                ? "fault sweep stopped at call " AC__STR(
                      SWEEP_MAX) ": the test makes more calls than that (does it ever finish?)"
                : "cancel sweep stopped at cancel point " AC__STR(
                      SWEEP_MAX) ": the test dispatches more callbacks than that (does it ever finish?)",
            NULL, NULL);
    if (ex->sweep && !ex->cancelled && !ex->failed && !ex->sweep_gave_up && !out->skip_reason)
        ac__result_add_failure(out, AC_FK_SCHEDULE, false, file, line,
                               ex->late
                                   ? "cancel sweep cancelled nothing: the operation's callback had always "
                                     "run before the first cancel point (cancel point 0 comes right "
                                     "before the first callback dispatched after ac_cancel_with)"
                                   : "cancel sweep cancelled nothing: no run reached a cancel point (does "
                                     "the test call ac_cancel_with after starting its operation, and "
                                     "does the operation dispatch any callback?)",
                               NULL, NULL);
    if (ex->fault_error)
        ac__result_add_failure(out, AC_FK_HARNESS, false, file, line, ex->fault_error, NULL, NULL);
    if (ex->fsweep && !ex->fault_points && !ex->failed && !ex->sweep_gave_up && !out->skip_reason)
        ac__result_add_failure(out, AC_FK_SCHEDULE, false, file, line,
                               "fault sweep failed no call: no run made a counted call to the functions "
                               "swept (does the test call ac_fault_start before starting its operation, "
                               "and does the operation call them?)",
                               NULL, NULL);
    if (out->skip_reason == NULL || out->nfailures)
        check_props(ex, out);
    for (size_t i = 0; i < ex->ngroups; i++) {
        free(ex->groups[i].key);
        free(ex->groups[i].message);
    }
    for (size_t i = 0; i < ex->ntraces; i++)
        free(ex->traces[i].trace);
    free(ex->traces);
    free(ex->divergence);
    free(ex->faults);
    free(ex->fault_error);
    ac__props_free(ex->props, ex->nprops);
    free(ex);
}
