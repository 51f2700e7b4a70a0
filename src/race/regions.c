/* regions.c — atomic regions over named resources (AC_ATOMIC_BEGIN, AC_ATOMIC_END, AC_TOUCH): which
 * resource is held, by which callback ("segment") and since which line, and the touches by other
 * segments while it is held. Failures are non-fatal and name both segments and both lines.
 *
 * Segments. A callback dispatched on the test's loop is one segment, identified by its dispatch serial
 * (ac__loop_dispatch_serial). The test body (and its setup, teardown and end hooks, and any other thread)
 * is one segment between two runs of the loop that dispatch the test's callbacks: its segment is told by
 * how many counted callbacks (ac__sched_steps: the test's own, mock completions, peers; not the
 * harness's bookkeeping) have run so far.
 *
 * Judging. Opening a region that is open fails at once (the region then belongs to its new opener). A
 * touch by a segment other than the opener is pending until that segment ends: a callback's touch fails
 * when the callback returns with the region still open (closing it first, in the same segment, is the
 * operation finishing); the body's fails when the first counted callback after it returns, since the
 * body let callbacks run with the region open. One intrusion is reported per opening. An END with no open
 * region is ignored. At the test's end, pending touches by the body are judged, touches by callbacks that
 * never returned (a fatal failure unwound them) are dropped, and every region still open fails as never
 * closed — after a cancel too: a cancelled operation must still release what it holds. Nothing is reported
 * for a test that was skipped or ended by a fatal failure (what it left open is expected then). */
#include "race.h"

#include "../loop/loop.h"
#include "../context/context.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A callback's segment is its dispatch serial; the body's is this bit | the counted dispatches so far. */
#define BODY_SEGMENT (1ULL << 63)

typedef struct region {
    char *name;
    bool open;
    unsigned long episode; /* which opening */
    unsigned long long opener;
    char *opener_desc;
    const char *file;
    int line;
    bool intrusion_reported; /* for this opening */
} region;

typedef struct touch {
    size_t region;
    unsigned long episode;
    unsigned long long by;
    char *desc;
    const char *file;
    int line;
} touch;

static pthread_mutex_t lock AC__PER_TEST = PTHREAD_MUTEX_INITIALIZER;

static struct {
    bool on; /* between ac__regions_begin and ac__regions_end */
    pthread_t thread;
    region *regions;
    size_t nregions, cap_regions;
    touch *pending;
    size_t npending, cap_pending;
    unsigned long episodes;
} region_state AC__PER_TEST;

static unsigned long long current_segment(void) {
    unsigned long serial =
        pthread_equal(pthread_self(), region_state.thread) ? ac__loop_dispatch_serial() : 0;
    return serial ? serial : BODY_SEGMENT | ac__sched_steps();
}

static char *describe_here(void) {
    ac__buf b = {0};
    ac__loop_dispatch_describe(&b);
    return ac__buf_take(&b);
}

static size_t region_index(const char *name) {
    for (size_t i = 0; i < region_state.nregions; i++)
        if (strcmp(region_state.regions[i].name, name) == 0)
            return i;
    if (region_state.nregions == region_state.cap_regions) {
        region_state.cap_regions = region_state.cap_regions ? region_state.cap_regions * 2 : 8;
        region_state.regions =
            ac__xrealloc(region_state.regions, region_state.cap_regions * sizeof *region_state.regions);
    }
    region_state.regions[region_state.nregions] = (region){.name = ac__xstrdup(name)};
    return region_state.nregions++;
}

/* `atomic region on "cache:k" opened by callback on_a (...) at file.c:12` */
static void region_head(ac__buf *m, const region *r) {
    ac__buf_puts(m, "atomic region on ");
    ac__escape_c(m, r->name, strlen(r->name));
    ac__buf_printf(m, " opened by %s at %s:%d", r->opener_desc, ac__base_name(r->file), r->line);
}

/* A failure to report once the lock is released. */
typedef struct failure {
    char *message;
    const char *file;
    int line;
} failure;

static void report_all(failure *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ac__report_failure(AC_FK_ASSERTION, false, f[i].file, f[i].line, f[i].message, NULL, NULL);
        free(f[i].message);
    }
    free(f);
}

static void add_failure(failure **f, size_t *n, ac__buf *m, const char *file, int line) {
    *f = ac__xrealloc(*f, (*n + 1) * sizeof **f);
    (*f)[(*n)++] = (failure){ac__buf_take(m), file, line};
}

/* The intrusion a pending touch is, if its opening has not been reported yet. */
static void judge(const touch *p, failure **f, size_t *n) {
    region *r = &region_state.regions[p->region];
    if (r->episode != p->episode || r->intrusion_reported)
        return;
    r->intrusion_reported = true;
    ac__buf m = {0};
    region_head(&m, r);
    ac__buf_printf(&m, " was entered by %s at %s:%d before it was closed", p->desc, ac__base_name(p->file),
                   p->line);
    if ((r->opener & BODY_SEGMENT) && (p->by & BODY_SEGMENT))
        ac__buf_puts(&m, " (callbacks ran in between)");
    add_failure(f, n, &m, p->file, p->line);
}

static void drop_pending(size_t i) {
    free(region_state.pending[i].desc);
    memmove(&region_state.pending[i], &region_state.pending[i + 1],
            (region_state.npending - i - 1) * sizeof *region_state.pending);
    region_state.npending--;
}

void ac__atomic(int op, const char *res, const char *file, int line) {
    if (!ac_current() || !res)
        return;
    failure *f = NULL;
    size_t nf = 0;
    pthread_mutex_lock(&lock);
    if (!region_state.on) {
        pthread_mutex_unlock(&lock);
        return;
    }
    unsigned long long seg = current_segment();
    size_t ri = region_index(res); /* may move region_state.regions: index it after */
    region *r = &region_state.regions[ri];
    if (op == 0) { /* BEGIN */
        char *desc = describe_here();
        if (r->open) {
            ac__buf m = {0};
            region_head(&m, r);
            ac__buf_printf(&m, " was opened again by %s at %s:%d while still open", desc, ac__base_name(file),
                           line);
            add_failure(&f, &nf, &m, file, line);
        }
        free(r->opener_desc);
        *r = (region){.name = r->name,
                      .open = true,
                      .episode = ++region_state.episodes,
                      .opener = seg,
                      .opener_desc = desc,
                      .file = file,
                      .line = line};
    } else if (op == 1) { /* END */
        if (r->open) {
            r->open = false;
            for (size_t i = region_state.npending; i-- > 0;)
                if (region_state.pending[i].region == ri && region_state.pending[i].by == seg)
                    drop_pending(i);
        }
    } else if (r->open && r->opener != seg) { /* TOUCH by another segment: pending until it ends */
        bool known = false;
        for (size_t i = 0; i < region_state.npending && !known; i++)
            known = region_state.pending[i].region == ri && region_state.pending[i].episode == r->episode &&
                    region_state.pending[i].by == seg;
        if (!known) {
            if (region_state.npending == region_state.cap_pending) {
                region_state.cap_pending = region_state.cap_pending ? region_state.cap_pending * 2 : 8;
                region_state.pending = ac__xrealloc(region_state.pending,
                                                    region_state.cap_pending * sizeof *region_state.pending);
            }
            region_state.pending[region_state.npending++] =
                (touch){ri, r->episode, seg, describe_here(), file, line};
        }
    }
    pthread_mutex_unlock(&lock);
    report_all(f, nf);
}

void ac__regions_segment_end(unsigned long serial) {
    failure *f = NULL;
    size_t nf = 0;
    pthread_mutex_lock(&lock);
    if (region_state.on) {
        /* in pending order: the body's touches came before this callback; its own, during it */
        for (size_t i = 0; i < region_state.npending;) {
            touch *p = &region_state.pending[i];
            bool body = (p->by & BODY_SEGMENT) != 0;
            /* the body's segment ended once a counted callback has run since its touch */
            bool ended = body ? (p->by & ~BODY_SEGMENT) != ac__sched_steps() : p->by == serial;
            if (!ended) {
                i++;
                continue;
            }
            /* the body let callbacks run with the region open (its END would have dropped the touch); a
             * callback returned: the region must still be open */
            if (body || region_state.regions[p->region].open)
                judge(p, &f, &nf);
            drop_pending(i);
        }
    }
    pthread_mutex_unlock(&lock);
    report_all(f, nf);
}

static void clear(void) {
    for (size_t i = 0; i < region_state.nregions; i++) {
        free(region_state.regions[i].name);
        free(region_state.regions[i].opener_desc);
    }
    for (size_t i = 0; i < region_state.npending; i++)
        free(region_state.pending[i].desc);
    free(region_state.regions);
    free(region_state.pending);
    memset(&region_state, 0, sizeof region_state);
}

void ac__regions_begin(ac_test *t) {
    (void)t;
    pthread_mutex_lock(&lock);
    clear();
    region_state.on = true;
    region_state.thread = pthread_self();
    pthread_mutex_unlock(&lock);
}

void ac__regions_end(ac_test *t) {
    failure *f = NULL;
    size_t nf = 0;
    pthread_mutex_lock(&lock);
    if (region_state.on && !ac__test_ended_early(t)) {
        for (size_t i = 0; i < region_state.npending; i++)
            if ((region_state.pending[i].by & BODY_SEGMENT) &&
                region_state.regions[region_state.pending[i].region].open)
                judge(&region_state.pending[i], &f, &nf);
        for (size_t i = 0; i < region_state.nregions; i++) {
            const region *r = &region_state.regions[i];
            if (!r->open)
                continue;
            ac__buf m = {0};
            region_head(&m, r);
            ac__buf_puts(&m, " was never closed");
            add_failure(&f, &nf, &m, r->file, r->line);
        }
    }
    clear();
    pthread_mutex_unlock(&lock);
    report_all(f, nf);
}
