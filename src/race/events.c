/* events.c — named events and the order between them (AC_EVENT, ac_event_count, ac_require_order,
 * AC_ASSERT_BEFORE/AC_EXPECT_BEFORE): per test, each event's count, the sequence number of its first
 * occurrence, where that ran (the dispatch description) and the AC_EVENT line; and the order
 * requirements declared so far. A requirement is checked when it is declared (its `after` may already
 * have happened first) and at each later `after`; it fails at the `after`'s AC_EVENT line, non-fatally
 * and once. Events outside a test are not recorded. All state is per test and freed at its end. */
#include "race.h"

#include "../loop/loop.h"
#include "../context/context.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct event {
    char *name;
    size_t count;
    unsigned long first_seq; /* of all events of the test, 1-based */
    char *first_where;       /* where the first occurrence ran */
    const char *file;        /* its AC_EVENT */
    int line;
} event;

typedef struct order {
    char *before, *after;
    bool reported;
} order;

static pthread_mutex_t lock AC__PER_TEST = PTHREAD_MUTEX_INITIALIZER;

static struct {
    bool on;
    event *events;
    size_t n, cap;
    order *orders;
    size_t norders, cap_orders;
    unsigned long seq;
} event_state AC__PER_TEST;

static void quoted(ac__buf *b, const char *s) {
    ac__escape_c(b, s, strlen(s));
}

static event *find(const char *name) {
    for (size_t i = 0; i < event_state.n; i++)
        if (strcmp(event_state.events[i].name, name) == 0)
            return &event_state.events[i];
    return NULL;
}

/* `event "reply" happened in callback on_early (...) before event "request" (ac_require_order: "request"
 * must come first)` */
static void order_message(ac__buf *m, const order *o, const char *where) {
    ac__buf_puts(m, "event ");
    quoted(m, o->after);
    ac__buf_printf(m, " happened in %s before event ", where);
    quoted(m, o->before);
    ac__buf_puts(m, " (ac_require_order: ");
    quoted(m, o->before);
    ac__buf_puts(m, " must come first)");
}

void ac__event(const char *name, const char *file, int line) {
    if (!name || !ac_current())
        return;
    char **broken = NULL; /* messages of the requirements this occurrence breaks */
    size_t nbroken = 0;
    pthread_mutex_lock(&lock);
    if (!event_state.on) {
        pthread_mutex_unlock(&lock);
        return;
    }
    event *e = find(name);
    if (!e) {
        if (event_state.n == event_state.cap) {
            event_state.cap = event_state.cap ? event_state.cap * 2 : 16;
            event_state.events =
                ac__xrealloc(event_state.events, event_state.cap * sizeof *event_state.events);
        }
        ac__buf where = {0};
        ac__loop_dispatch_describe(&where);
        e = &event_state.events[event_state.n++];
        *e = (event){ac__xstrdup(name), 0, 0, ac__buf_take(&where), file, line};
    }
    event_state.seq++;
    if (e->count++ == 0)
        e->first_seq = event_state.seq;
    for (size_t i = 0; i < event_state.norders; i++) {
        order *o = &event_state.orders[i];
        if (o->reported || strcmp(o->after, name) != 0)
            continue;
        const event *b = find(o->before);
        if (b && b->count)
            continue;
        o->reported = true;
        ac__buf where = {0}, m = {0};
        ac__loop_dispatch_describe(&where);
        order_message(&m, o, ac__buf_str(&where));
        ac__buf_free(&where);
        broken = ac__xrealloc(broken, (nbroken + 1) * sizeof *broken);
        broken[nbroken++] = ac__buf_take(&m);
    }
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < nbroken; i++) {
        ac__report_failure(AC_FK_ASSERTION, false, file, line, broken[i], NULL, NULL);
        free(broken[i]);
    }
    free(broken);
}

size_t ac_event_count(ac_test *t, const char *name) {
    (void)t;
    pthread_mutex_lock(&lock);
    const event *e = name ? find(name) : NULL;
    size_t n = e ? e->count : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

void ac_require_order(ac_test *t, const char *before, const char *after) {
    (void)t;
    if (!before || !after)
        return;
    ac__buf m = {0};
    const char *file = NULL;
    int line = 0;
    pthread_mutex_lock(&lock);
    if (event_state.norders == event_state.cap_orders) {
        event_state.cap_orders = event_state.cap_orders ? event_state.cap_orders * 2 : 8;
        event_state.orders =
            ac__xrealloc(event_state.orders, event_state.cap_orders * sizeof *event_state.orders);
    }
    order *o = &event_state.orders[event_state.norders++];
    *o = (order){ac__xstrdup(before), ac__xstrdup(after), false};
    const event *a = find(after), *b = find(before);
    if (a && a->count && (!b || !b->count || b->first_seq > a->first_seq)) {
        o->reported = true;
        order_message(&m, o, a->first_where);
        file = a->file;
        line = a->line;
    }
    pthread_mutex_unlock(&lock);
    if (m.len)
        ac__report_failure(AC_FK_ASSERTION, false, file, line, ac__buf_str(&m), NULL, NULL);
    ac__buf_free(&m);
}

/* "happened 2 times, first in callback on_b (...)" */
static void occurrences(ac__buf *m, const event *e) {
    ac__buf_printf(m, "happened %zu time%s, first in %s", e->count, e->count == 1 ? "" : "s", e->first_where);
}

/* "\"a\" never happened (\"b\" happened 2 times, first in ...)": `missing` did not happen, `other` (e) did.
 */
static void never_happened(ac__buf *m, const char *missing, const char *other, const event *e) {
    quoted(m, missing);
    ac__buf_puts(m, " never happened (");
    quoted(m, other);
    ac__buf_puts(m, " ");
    occurrences(m, e);
    ac__buf_puts(m, ")");
}

bool ac__check_before(bool fatal, const char *a, const char *b, const char *file, int line) {
    const char *macro = fatal ? "AC_ASSERT_BEFORE" : "AC_EXPECT_BEFORE";
    a = a ? a : "";
    b = b ? b : "";
    ac__buf m = {0};
    ac__buf_printf(&m, "%s(", macro);
    quoted(&m, a);
    ac__buf_puts(&m, ", ");
    quoted(&m, b);
    ac__buf_puts(&m, ") failed: ");
    bool ok = false;
    pthread_mutex_lock(&lock);
    const event *ea = find(a), *eb = find(b);
    bool has_a = ea && ea->count, has_b = eb && eb->count;
    if (strcmp(a, b) == 0) {
        ac__buf_puts(&m, "an event cannot come before itself");
    } else if (!has_a && !has_b) {
        ac__buf_puts(&m, "neither event happened");
    } else if (!has_a) {
        never_happened(&m, a, b, eb);
    } else if (!has_b) {
        never_happened(&m, b, a, ea);
    } else if (eb->first_seq < ea->first_seq) {
        quoted(&m, b);
        ac__buf_printf(&m, " happened first, in %s; ", eb->first_where);
        quoted(&m, a);
        ac__buf_printf(&m, " only after it, in %s", ea->first_where);
    } else {
        ok = true;
    }
    pthread_mutex_unlock(&lock);
    if (ok) {
        ac__buf_free(&m);
        return true;
    }
    ac__report_failure_buf(AC_FK_ASSERTION, fatal, file, line, &m, NULL, NULL);
    return false;
}

static void clear(void) {
    for (size_t i = 0; i < event_state.n; i++) {
        free(event_state.events[i].name);
        free(event_state.events[i].first_where);
    }
    for (size_t i = 0; i < event_state.norders; i++) {
        free(event_state.orders[i].before);
        free(event_state.orders[i].after);
    }
    free(event_state.events);
    free(event_state.orders);
    memset(&event_state, 0, sizeof event_state);
}

void ac__events_begin(ac_test *t) {
    (void)t;
    pthread_mutex_lock(&lock);
    clear();
    event_state.on = true;
    pthread_mutex_unlock(&lock);
}

void ac__events_end(ac_test *t) {
    (void)t;
    pthread_mutex_lock(&lock);
    clear();
    pthread_mutex_unlock(&lock);
}
