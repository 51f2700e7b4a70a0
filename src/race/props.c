/* props.c — properties (AC_ALWAYS, AC_SOMETIMES, AC_REACHABLE, AC_UNREACHABLE): counting each site's
 * evaluations and hits in the running test, failing the test where an AC_ALWAYS is false or an
 * AC_UNREACHABLE is reached (non-fatal, once per site and test; the message formatted with the macro's
 * arguments, when it has any, shown as "got"), and sending the sites in scope to the
 * runner, which unions them over a test's schedules and judges SOMETIMES and REACHABLE (explore.c).
 *
 * Sites are static records in the linker section "ac_props" of the executable; sites of shared libraries
 * are not in it, so every site evaluated is also remembered in a per-test list the first time it is
 * evaluated. Counts are reset when a test begins (several tests share a process under --no-fork, and a
 * forked test inherits the runner's). Outside a test, sites only count.
 *
 * In scope for the runner: every site evaluated in this run, and every SOMETIMES or REACHABLE of the
 * executable written in the test's own code, evaluated or not: in its source file (the same __FILE__
 * string) from its AC_TEST line up to the next test defined in that file. Narrower than "the test's
 * source file": with the whole file, every exploring test (and under --schedules every test) would also
 * answer for the other tests' REACHABLEs, which it never runs. Sites elsewhere in the file (helpers
 * above the first test, suite fixtures) count once evaluated, like the code under test. Must not judge
 * SOMETIMES or REACHABLE itself: one run cannot tell. */
#include "race.h"

#include "../loop/loop.h"
#include "../context/context.h"

#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both NULL when no site exists in the executable. */
extern ac__prop_site __start_ac_props[] __attribute__((weak));
extern ac__prop_site __stop_ac_props[] __attribute__((weak));

typedef struct seen {
    ac__prop_site *site;
    bool reported; /* its failure was reported in this test */
} seen;

static pthread_mutex_t lock AC__PER_TEST = PTHREAD_MUTEX_INITIALIZER;

static struct {
    seen *seen; /* the sites evaluated since the test began, in order */
    size_t n, cap;
} prop_state AC__PER_TEST;

/* The site's entry, added when absent. Under lock. */
static seen *seen_entry(ac__prop_site *site) {
    for (size_t i = 0; i < prop_state.n; i++)
        if (prop_state.seen[i].site == site)
            return &prop_state.seen[i];
    if (prop_state.n == prop_state.cap) {
        prop_state.cap = prop_state.cap ? prop_state.cap * 2 : 32;
        prop_state.seen = ac__xrealloc(prop_state.seen, prop_state.cap * sizeof *prop_state.seen);
    }
    prop_state.seen[prop_state.n] = (seen){site, false};
    return &prop_state.seen[prop_state.n++];
}

static void reset_site(ac__prop_site *s) {
    if (s->evaluated || s->hit) /* only what is not already clear: a forked child pays per page written */
        s->evaluated = s->hit = 0;
}

void ac__props_begin(ac_test *t) {
    (void)t;
    pthread_mutex_lock(&lock);
    if (__start_ac_props && __stop_ac_props)
        for (ac__prop_site *s = __start_ac_props; s < __stop_ac_props; s++)
            reset_site(s);
    for (size_t i = 0; i < prop_state.n; i++)
        reset_site(prop_state.seen[i].site);
    prop_state.n = 0;
    pthread_mutex_unlock(&lock);
}

static const char *kind_macro(int kind) {
    switch (kind) {
    case AC__PROP_ALWAYS:
        return "AC_ALWAYS";
    case AC__PROP_SOMETIMES:
        return "AC_SOMETIMES";
    case AC__PROP_REACHABLE:
        return "AC_REACHABLE";
    default:
        return "AC_UNREACHABLE";
    }
}

/* `AC_ALWAYS(n == 1, "one reply") was false in callback on_reply (ev_timer after=0.05 repeat=0.0)`,
 * with " (schedule seed S)" under a perturbed schedule; `detail` (the message formatted with its
 * arguments, or NULL) as "got". */
static void report(ac_test *t, const ac__prop_site *site, const char *detail) {
    ac__buf m = {0};
    ac__buf_printf(&m, "%s(", kind_macro(site->kind));
    if (site->cond)
        ac__buf_printf(&m, "%s, ", site->cond);
    const char *msg = site->message ? site->message : "";
    ac__escape_c(&m, msg, strlen(msg));
    ac__buf_puts(&m, site->kind == AC__PROP_ALWAYS ? ") was false in " : ") was reached in ");
    ac__loop_dispatch_describe(&m);
    unsigned long long seed = ac_schedule_seed(t);
    if (seed)
        ac__buf_printf(&m, " (schedule seed %llu)", seed);
    ac__report_failure(AC_FK_ASSERTION, false, site->file, site->line, ac__buf_str(&m), detail, NULL);
    ac__buf_free(&m);
}

bool ac__prop(ac__prop_site *site, bool value) {
    bool first = __atomic_fetch_add(&site->evaluated, 1, __ATOMIC_RELAXED) == 0;
    if (value)
        __atomic_fetch_add(&site->hit, 1, __ATOMIC_RELAXED);
    bool failed = (site->kind == AC__PROP_ALWAYS && !value) || site->kind == AC__PROP_UNREACHABLE;
    if (!first && !failed)
        return false;
    ac_test *t = ac_current();
    pthread_mutex_lock(&lock);
    seen *e = seen_entry(site);
    bool report_now = failed && t && !e->reported;
    if (report_now)
        e->reported = true;
    pthread_mutex_unlock(&lock);
    return report_now;
}

void ac__prop_fail_0(const ac__prop_site *site, const char *message) {
    (void)message; /* the site's own */
    ac_test *t = ac_current();
    if (t)
        report(t, site, NULL);
}

void ac__prop_fail_1(const ac__prop_site *site, const char *fmt, ...) {
    ac_test *t = ac_current();
    if (!t)
        return;
    ac__buf detail = {0};
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(&detail, fmt, ap);
    va_end(ap);
    report(t, site, ac__buf_str(&detail));
    ac__buf_free(&detail);
}

static void send_site(ac_test *t, const ac__prop_site *s) {
    char kind[16], line[16], evaluated[16], hit[16];
    snprintf(kind, sizeof kind, "%d", s->kind);
    snprintf(line, sizeof line, "%d", s->line);
    snprintf(evaluated, sizeof evaluated, "%d", __atomic_load_n(&s->evaluated, __ATOMIC_RELAXED));
    snprintf(hit, sizeof hit, "%d", __atomic_load_n(&s->hit, __ATOMIC_RELAXED));
    const char *fields[] = {
        kind, s->file ? s->file : "", line, s->message ? s->message : "", s->cond ? s->cond : "", evaluated,
        hit};
    ac__emit_record(t, AC_REC_PROPERTY, fields, 7);
}

/* The test's own lines in its file: from its AC_TEST to the line before the next test defined after it in
 * the same file (parameterized instances share their line). */
static void own_lines(const ac__test_def *def, int *first, int *last) {
    *first = def->line;
    *last = INT_MAX;
    for (size_t i = 0; i < ac__test_count(); i++) {
        const ac__test_def *d = ac__test_at(i);
        if (d->line > def->line && d->line <= *last && d->file && strcmp(d->file, def->file) == 0)
            *last = d->line - 1;
    }
}

void ac__props_end(ac_test *t, bool send) {
    if (!send)
        return;
    const ac__test_def *def = ac__test_def_of(t);
    int first = 0, last = -1;
    if (def->file)
        own_lines(def, &first, &last);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < prop_state.n; i++)
        send_site(t, prop_state.seen[i].site);
    if (__start_ac_props && __stop_ac_props)
        for (const ac__prop_site *s = __start_ac_props; s < __stop_ac_props; s++)
            if (__atomic_load_n(&s->evaluated, __ATOMIC_RELAXED) == 0 &&
                (s->kind == AC__PROP_SOMETIMES || s->kind == AC__PROP_REACHABLE) && s->line >= first &&
                s->line <= last && s->file && strcmp(s->file, def->file) == 0)
                send_site(t, s);
    pthread_mutex_unlock(&lock);
}
