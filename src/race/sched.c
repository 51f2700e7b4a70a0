/* sched.c — the schedule a test runs under: the seeded order in which the loop's dispatcher runs the
 * callbacks that are ready together, the schedule's own random numbers (latencies), the count of
 * dispatched callbacks (the cancel point, PCT's steps), and the dispatch trace for --check-determinism.
 * It must not dispatch anything itself: the loop's dispatcher (src/loop/dispatch.c) asks it for an order
 * and tells it what ran.
 *
 * Legal orders. Within one dispatch round the items arrive sorted by libev priority, highest first, and
 * in libev's own order within a priority. Only the order within a priority changes, and within it:
 * check and idle watchers keep their place at the front (libev queues checks last and runs its pending
 * queue last-in first-out, so they always run before the same iteration's other events; idles are
 * queued only when nothing else is), timers keep deadline order among themselves and periodics among
 * themselves (libev promises that), timers due at the same instant may swap, and everything else (fds,
 * signals, asyncs, children, stats) may take any place. Each item gets a key — random under shuffle, its
 * PCT priority under PCT — the keys held by timers are handed back to the timers in deadline order, and
 * the items are sorted by key.
 *
 * Cancel points are counted from the test's ac_cancel_with (the operation has started): point 0 is the
 * moment the loop is about to dispatch the first counted callback after it (nothing has happened to
 * the operation yet); point K >= 1 is the return of the K-th counted callback after it. A point reached after
 * the operation's callback (ac_op_callback) already ran is not a cancellation: the run goes on uncancelled
 * and tells the runner the operation had completed, which ends the sweep of that schedule.
 *
 * PCT. Every watcher gets a random priority the first time it is ready (depth d and above); at d-1
 * change points, drawn from dispatches 1..steps, the watcher dispatched there drops below every initial
 * priority (to d-1, d-2, ...). */
#include "race.h"

#include "../clock/clock.h"
#include "../context/context.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct prio_entry {
    const void *w;
    long prio;
} prio_entry;

static struct {
    ac_test *t;
    ac_sched_params p;
    bool on;                      /* a test is running under this module */
    unsigned long long order_rng; /* dispatch order */
    unsigned long long value_rng; /* ac_schedule_uniform, ac_deliver_within */
    unsigned long steps;          /* counted dispatches */
    unsigned long cancel_serial;  /* the dispatch serial of the cancel point's callback */
    bool cancel_reached;          /* the operation was cancelled at the cancel point */
    bool cancel_late;             /* the cancel point came after the operation had completed */
    bool declared;                /* the test has declared its cancel (ac_cancel_with) */
    unsigned long cancel_base;    /* counted dispatches before that declaration */
    long change[16];              /* PCT change points (steps), ascending */
    int nchange;
    prio_entry *prios; /* PCT: open addressing by watcher address */
    size_t nprios, prio_cap;
    ac_buf trace;
    size_t trace_entries;
    double start_mono;
} S;

#define TRACE_MAX_ENTRIES 20000

static unsigned long long mix_seed(unsigned long long seed, unsigned long long stream) {
    unsigned long long s = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    return ac__splitmix64(&s);
}

static unsigned long long rnd(unsigned long long *state) {
    return ac__splitmix64(state);
}

/* A uniform integer in [0, n). */
static unsigned long long below(unsigned long long *state, unsigned long long n) {
    return n ? rnd(state) % n : 0;
}

void ac__sched_begin(ac_test *t, const ac_sched_params *p) {
    free(S.prios);
    ac__buf_free(&S.trace);
    memset(&S, 0, sizeof S);
    S.t = t;
    S.p = *p;
    S.on = true;
    S.order_rng = mix_seed(p->seed, 1);
    S.value_rng = mix_seed(p->seed, 2);
    S.start_mono = ac__clock_kind() != AC_CLOCK_REAL ? ac__clock_mono() : 0;
    if (p->seed && p->mode == AC_SCHED_PCT) {
        int d = p->pct_depth > 0 ? p->pct_depth : 3;
        long k = p->pct_steps > 0 ? p->pct_steps : 50;
        unsigned long long pr = mix_seed(p->seed, 3);
        for (int i = 0; i < d - 1 && i < 16; i++)
            S.change[S.nchange++] = 1 + (long)below(&pr, (unsigned long long)k);
        for (int i = 1; i < S.nchange; i++) /* insertion sort, ascending */
            for (int j = i; j > 0 && S.change[j - 1] > S.change[j]; j--) {
                long tmp = S.change[j];
                S.change[j] = S.change[j - 1];
                S.change[j - 1] = tmp;
            }
    }
}

/* --cancel-at K given by hand (a replay) and the run never cancelled at K: say why, rather than pass as
 * if the cancel had been tried. */
static void cancel_point_missed(ac_test *t) {
    const ac__test_def *def = ac__test_def_of(t);
    char msg[400];
    unsigned long after = S.steps - S.cancel_base;
    if (!S.declared)
        snprintf(msg, sizeof msg,
                 "--cancel-at %ld: the test never declared how to cancel its operation (ac_cancel_with)",
                 S.p.cancel_at);
    else if (S.cancel_late && S.p.cancel_at == 0)
        snprintf(msg, sizeof msg,
                 "--cancel-at 0: the operation's callback had already run before the first cancel point "
                 "(nothing was dispatched between ac_cancel_with and its completion)");
    else if (S.cancel_late)
        snprintf(msg, sizeof msg,
                 "--cancel-at %ld: the operation had completed (its callback ran) before cancel point %ld "
                 "(%lu callback%s dispatched after ac_cancel_with); a lower point cancels it in flight",
                 S.p.cancel_at, S.p.cancel_at, after, after == 1 ? "" : "s");
    else
        snprintf(
            msg, sizeof msg,
            "--cancel-at %ld: the test never reached cancel point %ld (it dispatched %lu callback%s after "
            "ac_cancel_with); its cancel points are 0 to %lu",
            S.p.cancel_at, S.p.cancel_at, after, after == 1 ? "" : "s", after);
    ac__report_failure(AC_FK_ASSERTION, false, def->file, def->line, msg, NULL, NULL);
}

void ac__sched_end(ac_test *t, bool op_completed) {
    if (!S.on || S.t != t)
        return;
    if (S.p.cancel_at >= 0 && S.declared && !S.cancel_reached && op_completed)
        S.cancel_late = true; /* the operation completed, and no cancel point came before */
    char steps[32];
    snprintf(steps, sizeof steps, "%lu", S.steps);
    const char *fields[] = {steps, S.cancel_reached ? "1" : S.cancel_late ? "2" : "0"};
    ac__emit_record(t, AC_REC_SCHED, fields, 2);
    if (S.p.cancel_at >= 0 && !S.p.exploring && !S.cancel_reached && !ac__test_ended_early(t))
        cancel_point_missed(t); /* (a test that failed or skipped before its point says so already) */
    if (S.p.trace) {
        const char *tr = ac__buf_str(&S.trace);
        ac__emit_record(t, AC_REC_TRACE, &tr, 1);
    }
    free(S.prios);
    ac__buf_free(&S.trace);
    memset(&S, 0, sizeof S);
}

unsigned long long ac_schedule_seed(ac_test *t) {
    (void)t;
    return S.on ? S.p.seed : 0;
}

double ac__sched_uniform(double lo, double hi) {
    if (!S.on || !S.p.seed || hi <= lo)
        return lo;
    /* 53 random bits: every double in [0, 1) this can produce is exact */
    double u = (double)(rnd(&S.value_rng) >> 11) * (1.0 / 9007199254740992.0);
    double v = lo + (hi - lo) * u;
    return v > hi ? hi : v;
}

double ac_schedule_uniform(ac_test *t, double lo, double hi) {
    (void)t;
    return ac__sched_uniform(lo, hi);
}

bool ac__sched_active(void) {
    return S.on && S.p.seed != 0;
}

/* ---- PCT priorities ---- */

static size_t prio_slot(const void *w) {
    uintptr_t h = (uintptr_t)w;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 7) & (S.prio_cap - 1);
}

static prio_entry *prio_find(const void *w, bool create) {
    if (S.prio_cap == 0 || (create && (S.nprios + 1) * 2 > S.prio_cap)) {
        size_t old_cap = S.prio_cap;
        prio_entry *old = S.prios;
        S.prio_cap = old_cap ? old_cap * 2 : 64;
        S.prios = ac__xcalloc(S.prio_cap, sizeof *S.prios);
        S.nprios = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].w) {
                prio_entry *e = prio_find(old[i].w, true);
                e->prio = old[i].prio;
            }
        free(old);
    }
    for (size_t i = prio_slot(w);; i = (i + 1) & (S.prio_cap - 1)) {
        if (S.prios[i].w == w)
            return &S.prios[i];
        if (!S.prios[i].w) {
            if (!create)
                return NULL;
            S.prios[i].w = w;
            S.nprios++;
            int d = S.p.pct_depth > 0 ? S.p.pct_depth : 3;
            S.prios[i].prio = d + (long)below(&S.order_rng, 1u << 30);
            return &S.prios[i];
        }
    }
}

/* ---- ordering a round ---- */

typedef struct keyed {
    ac_sched_item item;
    unsigned long long key; /* smaller runs first */
} keyed;

static int by_key(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->item.natural < y->item.natural ? -1 : x->item.natural > y->item.natural;
}

/* Hands the keys held by chain `chain` back to its members in deadline order (ties: by key, so items
 * due at the same instant keep their random order). */
static void fix_chain(keyed *k, size_t n, int chain) {
    size_t idx[64], m = 0;
    unsigned long long keys[64];
    for (size_t i = 0; i < n && m < 64; i++)
        if (k[i].item.chain == chain) {
            idx[m] = i;
            keys[m++] = k[i].key;
        }
    if (m < 2)
        return;
    for (size_t i = 1; i < m; i++) { /* members by (deadline, key) */
        for (size_t j = i; j > 0; j--) {
            const keyed *a = &k[idx[j - 1]], *b = &k[idx[j]];
            if (a->item.deadline < b->item.deadline ||
                (a->item.deadline == b->item.deadline && a->key <= b->key))
                break;
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
        for (size_t j = i; j > 0 && keys[j - 1] > keys[j]; j--) { /* keys ascending */
            unsigned long long t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    }
    for (size_t i = 0; i < m; i++)
        k[idx[i]].key = keys[i];
}

static void order_group(ac_sched_item *items, size_t n) {
    keyed k[64];
    size_t first = 0;
    while (first < n && items[first].chain == AC_CHAIN_FIRST)
        first++; /* libev's order: they stay in front */
    size_t m = 0;
    for (size_t i = first; i < n && m < 64; i++) {
        k[m].item = items[i];
        if (S.p.mode == AC_SCHED_PCT) {
            prio_entry *e = prio_find(items[i].w, true);
            k[m].key = (unsigned long long)(LONG_MAX - e->prio); /* higher priority first */
        } else {
            k[m].key = rnd(&S.order_rng);
        }
        m++;
    }
    fix_chain(k, m, AC_CHAIN_TIMER);
    fix_chain(k, m, AC_CHAIN_PERIODIC);
    qsort(k, m, sizeof *k, by_key);
    for (size_t i = 0; i < m; i++)
        items[first + i] = k[i].item;
}

void ac__sched_order(ac_sched_item *items, size_t n) {
    if (!ac__sched_active() || n < 2)
        return;
    /* check/idle watchers first within each priority: move them to the front of their group, keeping
     * their relative order (they arrive in libev's order) */
    for (size_t g = 0; g < n;) {
        size_t e = g;
        while (e < n && items[e].priority == items[g].priority)
            e++;
        size_t w = g;
        for (size_t i = g; i < e; i++)
            if (items[i].chain == AC_CHAIN_FIRST) {
                ac_sched_item it = items[i];
                memmove(&items[w + 1], &items[w], (i - w) * sizeof *items);
                items[w++] = it;
            }
        order_group(&items[g], e - g > 64 ? 64 : e - g);
        g = e;
    }
}

/* ---- what ran ---- */

void ac__sched_dispatching(unsigned long serial, const void *w, void (*describe)(ac_buf *b, const void *ctx),
                           const void *ctx) {
    if (!S.on)
        return;
    S.steps++;
    if (S.declared && S.p.cancel_at > 0 && S.steps - S.cancel_base == (unsigned long)S.p.cancel_at)
        S.cancel_serial = serial;
    if (S.nchange && S.p.mode == AC_SCHED_PCT)
        for (int i = 0; i < S.nchange; i++)
            if (S.change[i] == (long)S.steps) {
                prio_entry *e = prio_find(w, true);
                int d = S.p.pct_depth > 0 ? S.p.pct_depth : 3;
                e->prio = d - 1 - i; /* below every initial priority, later changes lower still */
            }
    if (S.p.trace && S.trace_entries < TRACE_MAX_ENTRIES) {
        ac__buf_printf(&S.trace, "%lu: ", S.steps);
        describe(&S.trace, ctx);
        if (ac__clock_kind() != AC_CLOCK_REAL)
            ac__buf_printf(&S.trace, " at +%.6f s", ac__clock_mono() - S.start_mono);
        ac__buf_puts(&S.trace, "\n");
        if (++S.trace_entries == TRACE_MAX_ENTRIES)
            ac__buf_printf(&S.trace, "(trace cut at %d entries)\n", TRACE_MAX_ENTRIES);
    }
}

/* The cancel point has come: cancel the operation, unless it has completed already (then the run goes
 * on uncancelled). Does not return when it cancels (the body is ended). */
static void cancel_point(void) {
    if (S.cancel_reached || S.cancel_late || !ac__exec_cancel_open(S.t))
        return;
    if (ac__op_promise() >= 0 && ac__op_calls() > 0) {
        S.cancel_late = true;
        return;
    }
    S.cancel_reached = true;
    ac__cancel_at_point();
}

void ac__sched_before_dispatch(void) {
    if (S.on && S.declared && S.p.cancel_at == 0 && S.steps == S.cancel_base)
        cancel_point();
}

void ac__sched_cancel_declared(void) {
    if (S.on && !S.declared) {
        S.declared = true;
        S.cancel_base = S.steps;
    }
}

void ac__sched_returned(unsigned long serial) {
    if (!S.on)
        return;
    ac__regions_segment_end(serial);
    if (S.cancel_serial && serial == S.cancel_serial)
        cancel_point();
}

unsigned long ac__sched_steps(void) {
    return S.steps;
}
