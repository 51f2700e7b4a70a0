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
 * Deferred readiness (p.defer_readiness, under a seed). Each pending ev_io, ev_async and ev_signal (and
 * ev_timer and ev_periodic: the dispatcher holds those 1 iteration only, and the later ones of the same
 * kind with a held one) is held over with probability 1/3, for 1 to 3 loop iterations (the dispatcher
 * feeds it back then), drawn from a stream of its own so that the dispatch order draws stay those of the
 * same seed without deferral.
 *
 * Time inside callbacks (p.callback_time, under a seed and the virtual clock). When a counted callback
 * returns, the virtual clock moves forward by a duration drawn uniformly from [0, p.callback_time] on a
 * stream of its own (the dispatch order and the deferral draws stay those of the seed), as if the callback
 * had spent it working: ev_now() stays where the iteration began, ev_time() and ev_now_update() see it.
 * A callback dispatched inside another (a nested ev_run) is charged on its own return, and its parent again
 * on its own. The trace's "at +S s" shows each dispatch's virtual time, so --check-determinism covers it.
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
    ac__sched_params p;
    bool on;                      /* a test is running under this module */
    unsigned long long order_rng; /* dispatch order */
    unsigned long long value_rng; /* ac_schedule_uniform, ac_deliver_within */
    unsigned long long defer_rng; /* deferred readiness */
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
    ac__buf trace;
    size_t trace_entries;
    double start_mono;
    unsigned long long time_rng; /* time charged to callbacks */
    unsigned long counted[64];   /* the serials of the counted callbacks running now, innermost last */
    int ncounted;
} sched_state AC__PER_TEST;

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

void ac__sched_begin(ac_test *t, const ac__sched_params *p) {
    free(sched_state.prios);
    ac__buf_free(&sched_state.trace);
    memset(&sched_state, 0, sizeof sched_state);
    sched_state.t = t;
    sched_state.p = *p;
    sched_state.on = true;
    sched_state.order_rng = mix_seed(p->seed, 1);
    sched_state.value_rng = mix_seed(p->seed, 2);
    sched_state.defer_rng = mix_seed(p->seed, 4);
    sched_state.time_rng = mix_seed(p->seed, 5);
    sched_state.start_mono = ac__clock_kind() != AC_CLOCK_REAL ? ac__clock_mono() : 0;
    if (p->seed && p->mode == AC_SCHED_PCT) {
        int d = p->pct_depth > 0 ? p->pct_depth : 3;
        long k = p->pct_steps > 0 ? p->pct_steps : 50;
        unsigned long long pr = mix_seed(p->seed, 3);
        for (int i = 0; i < d - 1 && i < 16; i++)
            sched_state.change[sched_state.nchange++] = 1 + (long)below(&pr, (unsigned long long)k);
        for (int i = 1; i < sched_state.nchange; i++) /* insertion sort, ascending */
            for (int j = i; j > 0 && sched_state.change[j - 1] > sched_state.change[j]; j--) {
                long tmp = sched_state.change[j];
                sched_state.change[j] = sched_state.change[j - 1];
                sched_state.change[j - 1] = tmp;
            }
    }
}

/* --cancel-at K given by hand (a replay) and the run never cancelled at K: say why, rather than pass as
 * if the cancel had been tried. */
static void cancel_point_missed(ac_test *t) {
    const ac__test_def *def = ac__test_def_of(t);
    char msg[400];
    unsigned long after = sched_state.steps - sched_state.cancel_base;
    if (!sched_state.declared)
        snprintf(msg, sizeof msg,
                 "--cancel-at %ld: the test never declared how to cancel its operation (ac_cancel_with)",
                 sched_state.p.cancel_at);
    else if (sched_state.cancel_late && sched_state.p.cancel_at == 0)
        snprintf(msg, sizeof msg,
                 "--cancel-at 0: the operation's callback had already run before the first cancel point "
                 "(nothing was dispatched between ac_cancel_with and its completion)");
    else if (sched_state.cancel_late)
        snprintf(msg, sizeof msg,
                 "--cancel-at %ld: the operation had completed (its callback ran) before cancel point %ld "
                 "(%lu callback%s dispatched after ac_cancel_with); a lower point cancels it in flight",
                 sched_state.p.cancel_at, sched_state.p.cancel_at, after, after == 1 ? "" : "s");
    else
        snprintf(
            msg, sizeof msg,
            "--cancel-at %ld: the test never reached cancel point %ld (it dispatched %lu callback%s after "
            "ac_cancel_with); its cancel points are 0 to %lu",
            sched_state.p.cancel_at, sched_state.p.cancel_at, after, after == 1 ? "" : "s", after);
    ac__report_failure(AC_FK_ASSERTION, false, def->file, def->line, msg, NULL, NULL);
}

void ac__sched_end(ac_test *t, bool op_completed) {
    if (!sched_state.on || sched_state.t != t)
        return;
    if (sched_state.p.cancel_at >= 0 && sched_state.declared && !sched_state.cancel_reached && op_completed)
        sched_state.cancel_late = true; /* the operation completed, and no cancel point came before */
    char steps[32];
    snprintf(steps, sizeof steps, "%lu", sched_state.steps);
    const char *fields[] = {steps, sched_state.cancel_reached ? "1" : sched_state.cancel_late ? "2" : "0"};
    ac__emit_record(t, AC_REC_SCHED, fields, 2);
    if (sched_state.p.cancel_at >= 0 && !sched_state.p.exploring && !sched_state.cancel_reached &&
        !ac__test_ended_early(t))
        cancel_point_missed(t); /* (a test that failed or skipped before its point says so already) */
    if (sched_state.p.trace) {
        const char *tr = ac__buf_str(&sched_state.trace);
        ac__emit_record(t, AC_REC_TRACE, &tr, 1);
    }
    free(sched_state.prios);
    ac__buf_free(&sched_state.trace);
    memset(&sched_state, 0, sizeof sched_state);
}

unsigned long long ac_schedule_seed(ac_test *t) {
    (void)t;
    return sched_state.on ? sched_state.p.seed : 0;
}

double ac__sched_uniform(double lo, double hi) {
    if (!sched_state.on || !sched_state.p.seed || hi <= lo)
        return lo;
    /* 53 random bits: every double in [0, 1) this can produce is exact */
    double u = (double)(rnd(&sched_state.value_rng) >> 11) * (1.0 / 9007199254740992.0);
    double v = lo + (hi - lo) * u;
    return v > hi ? hi : v;
}

double ac_schedule_uniform(ac_test *t, double lo, double hi) {
    (void)t;
    return ac__sched_uniform(lo, hi);
}

bool ac__sched_active(void) {
    return sched_state.on && sched_state.p.seed != 0;
}

/* ---- PCT priorities ---- */

static size_t prio_slot(const void *w) {
    uintptr_t h = (uintptr_t)w;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 7) & (sched_state.prio_cap - 1);
}

static prio_entry *prio_find(const void *w, bool create) {
    if (sched_state.prio_cap == 0 || (create && (sched_state.nprios + 1) * 2 > sched_state.prio_cap)) {
        size_t old_cap = sched_state.prio_cap;
        prio_entry *old = sched_state.prios;
        sched_state.prio_cap = old_cap ? old_cap * 2 : 64;
        sched_state.prios = ac__xcalloc(sched_state.prio_cap, sizeof *sched_state.prios);
        sched_state.nprios = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].w) {
                prio_entry *e = prio_find(old[i].w, true);
                e->prio = old[i].prio;
            }
        free(old);
    }
    for (size_t i = prio_slot(w);; i = (i + 1) & (sched_state.prio_cap - 1)) {
        if (sched_state.prios[i].w == w)
            return &sched_state.prios[i];
        if (!sched_state.prios[i].w) {
            if (!create)
                return NULL;
            sched_state.prios[i].w = w;
            sched_state.nprios++;
            int d = sched_state.p.pct_depth > 0 ? sched_state.p.pct_depth : 3;
            sched_state.prios[i].prio = d + (long)below(&sched_state.order_rng, 1u << 30);
            return &sched_state.prios[i];
        }
    }
}

/* ---- ordering a round ---- */

typedef struct keyed {
    ac__sched_item item;
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

static void order_group(ac__sched_item *items, size_t n) {
    keyed k[64];
    size_t first = 0;
    while (first < n && items[first].chain == AC_CHAIN_FIRST)
        first++; /* libev's order: they stay in front */
    size_t m = 0;
    for (size_t i = first; i < n && m < 64; i++) {
        k[m].item = items[i];
        if (sched_state.p.mode == AC_SCHED_PCT) {
            prio_entry *e = prio_find(items[i].w, true);
            k[m].key = (unsigned long long)(LONG_MAX - e->prio); /* higher priority first */
        } else {
            k[m].key = rnd(&sched_state.order_rng);
        }
        m++;
    }
    fix_chain(k, m, AC_CHAIN_TIMER);
    fix_chain(k, m, AC_CHAIN_PERIODIC);
    ac__qsort(k, m, sizeof *k, by_key);
    for (size_t i = 0; i < m; i++)
        items[first + i] = k[i].item;
}

void ac__sched_order(ac__sched_item *items, size_t n) {
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
                ac__sched_item it = items[i];
                memmove(&items[w + 1], &items[w], (i - w) * sizeof *items);
                items[w++] = it;
            }
        order_group(&items[g], e - g > 64 ? 64 : e - g);
        g = e;
    }
}

/* ---- what ran ---- */

void ac__sched_dispatching(unsigned long serial, const void *w, void (*describe)(ac__buf *b, const void *ctx),
                           const void *ctx) {
    if (!sched_state.on)
        return;
    sched_state.steps++;
    if (sched_state.ncounted < 64)
        sched_state.counted[sched_state.ncounted++] = serial;
    if (sched_state.declared && sched_state.p.cancel_at > 0 &&
        sched_state.steps - sched_state.cancel_base == (unsigned long)sched_state.p.cancel_at)
        sched_state.cancel_serial = serial;
    if (sched_state.nchange && sched_state.p.mode == AC_SCHED_PCT)
        for (int i = 0; i < sched_state.nchange; i++)
            if (sched_state.change[i] == (long)sched_state.steps) {
                prio_entry *e = prio_find(w, true);
                int d = sched_state.p.pct_depth > 0 ? sched_state.p.pct_depth : 3;
                e->prio = d - 1 - i; /* below every initial priority, later changes lower still */
            }
    if (sched_state.p.trace && sched_state.trace_entries < TRACE_MAX_ENTRIES) {
        ac__buf_printf(&sched_state.trace, "%lu: ", sched_state.steps);
        describe(&sched_state.trace, ctx);
        if (ac__clock_kind() != AC_CLOCK_REAL)
            ac__buf_printf(&sched_state.trace, " at +%.6f s", ac__clock_mono() - sched_state.start_mono);
        ac__buf_puts(&sched_state.trace, "\n");
        if (++sched_state.trace_entries == TRACE_MAX_ENTRIES)
            ac__buf_printf(&sched_state.trace, "(trace cut at %d entries)\n", TRACE_MAX_ENTRIES);
    }
}

/* The cancel point has come: cancel the operation, unless it has completed already (then the run goes
 * on uncancelled). Does not return when it cancels (the body is ended). */
static void cancel_point(void) {
    if (sched_state.cancel_reached || sched_state.cancel_late || !ac__exec_cancel_open(sched_state.t))
        return;
    if (ac__op_promise() >= 0 && ac__op_calls() > 0) {
        sched_state.cancel_late = true;
        return;
    }
    sched_state.cancel_reached = true;
    ac__cancel_at_point();
}

void ac__sched_before_dispatch(void) {
    if (sched_state.on && sched_state.declared && sched_state.p.cancel_at == 0 &&
        sched_state.steps == sched_state.cancel_base)
        cancel_point();
}

void ac__sched_cancel_declared(void) {
    if (sched_state.on && !sched_state.declared) {
        sched_state.declared = true;
        sched_state.cancel_base = sched_state.steps;
    }
}

void ac__sched_returned(unsigned long serial) {
    if (!sched_state.on)
        return;
    ac__regions_segment_end(serial);
    while (sched_state.ncounted && sched_state.counted[sched_state.ncounted - 1] > serial)
        sched_state.ncounted--; /* frames a fatal failure abandoned */
    if (sched_state.ncounted && sched_state.counted[sched_state.ncounted - 1] == serial) {
        sched_state.ncounted--;
        if (sched_state.p.seed && sched_state.p.callback_time > 0) {
            double u = (double)(rnd(&sched_state.time_rng) >> 11) * (1.0 / 9007199254740992.0);
            ac__clock_charge(u * sched_state.p.callback_time);
        }
    }
    if (sched_state.cancel_serial && serial == sched_state.cancel_serial)
        cancel_point();
}

unsigned ac__sched_defer(void (*describe)(ac__buf *b, const void *ctx), const void *ctx) {
    if (!sched_state.on || !sched_state.p.seed || !sched_state.p.defer_readiness)
        return 0;
    if (below(&sched_state.defer_rng, 3) != 0)
        return 0;
    unsigned k = 1 + (unsigned)below(&sched_state.defer_rng, 3);
    if (sched_state.p.trace && sched_state.trace_entries < TRACE_MAX_ENTRIES) {
        ac__buf_puts(&sched_state.trace, "held: ");
        describe(&sched_state.trace, ctx);
        ac__buf_printf(&sched_state.trace, " for %u iteration%s\n", k, k == 1 ? "" : "s");
        if (++sched_state.trace_entries == TRACE_MAX_ENTRIES)
            ac__buf_printf(&sched_state.trace, "(trace cut at %d entries)\n", TRACE_MAX_ENTRIES);
    }
    return k;
}

unsigned long ac__sched_steps(void) {
    return sched_state.steps;
}
