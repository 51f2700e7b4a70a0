/* assert.c — the checks behind the assertion macros: comparing captured values exactly across types and
 * printing both sides; AC_ASSERT_IDLE's look at the test's watchers (through the loop module). A failed check
 * hands message, got and expected to the running test (ac__report_failure), which decides whether the test
 * ends. Formats no report text. */
#include "asyncheck/assert.h"
#include "../loop/loop.h"
#include "../context/context.h"
#include "values.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ac__value ac__v_int(long long v) {
    return (ac__value){.kind = AC__V_INT, .as.i = v};
}
ac__value ac__v_uint(unsigned long long v) {
    return (ac__value){.kind = AC__V_UINT, .as.u = v};
}
ac__value ac__v_bool(bool v) {
    return (ac__value){.kind = AC__V_BOOL, .as.u = v};
}
ac__value ac__v_char(char v) {
    return (ac__value){.kind = AC__V_CHAR, .as.i = v};
}
ac__value ac__v_double(double v) {
    return (ac__value){.kind = AC__V_DOUBLE, .as.d = v};
}
ac__value ac__v_ptr(const volatile void *v) {
    return (ac__value){.kind = AC__V_PTR, .as.p = v};
}

/* ---- printing values ---- */

static void print_double(ac__buf *b, double d) {
    char tmp[64];
    if (isnan(d)) {
        ac__buf_puts(b, "nan");
        return;
    }
    for (int prec = 6; prec <= 17; prec++) { /* shortest text that reads back as the same value */
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    ac__buf_puts(b, tmp);
}

void ac__value_print(ac__buf *b, ac__value v) {
    switch (v.kind) {
    case AC__V_INT:
        ac__buf_printf(b, "%lld", v.as.i);
        break;
    case AC__V_UINT:
        ac__buf_printf(b, "%llu", v.as.u);
        break;
    case AC__V_BOOL:
        ac__buf_puts(b, v.as.u ? "true" : "false");
        break;
    case AC__V_CHAR: {
        char c = (char)v.as.i;
        if (isprint((unsigned char)c) && c != '\'' && c != '\\')
            ac__buf_printf(b, "'%c' (%lld)", c, v.as.i);
        else
            ac__buf_printf(b, "'\\x%02x' (%lld)", (unsigned char)c, v.as.i);
        break;
    }
    case AC__V_DOUBLE:
        print_double(b, v.as.d);
        break;
    case AC__V_PTR:
        if (v.as.p)
            ac__buf_printf(b, "%p", (const void *)v.as.p);
        else
            ac__buf_puts(b, "NULL");
        break;
    }
}

static void print_string(ac__buf *b, const char *s) {
    if (s)
        ac__escape_c(b, s, strlen(s));
    else
        ac__buf_puts(b, "NULL");
}

/* ---- failing ---- */

static void fail_site(const ac__site *s, const char *detail, ac__buf *got, ac__buf *expected) {
    ac__buf msg = {0};
    if (s->args[0])
        ac__buf_printf(&msg, "%s(%s) failed", s->macro, s->args);
    else
        ac__buf_puts(&msg, s->macro);
    if (detail)
        ac__buf_printf(&msg, ": %s", detail);
    ac__report_failure_buf(AC_FK_ASSERTION, s->fatal, s->file, s->line, &msg, got, expected);
}

/* Fails with got/expected built in buffers; frees them first (a fatal failure does not return). */
static bool fail_with(const ac__site *s, const char *detail, ac__buf *got, ac__buf *expected) {
    fail_site(s, detail, got, expected);
    return false;
}

/* ---- truthiness and comparisons ---- */

static bool truthy(ac__value v) {
    switch (v.kind) {
    case AC__V_INT:
    case AC__V_CHAR:
        return v.as.i != 0;
    case AC__V_UINT:
    case AC__V_BOOL:
        return v.as.u != 0;
    case AC__V_DOUBLE:
        return v.as.d != 0;
    case AC__V_PTR:
        return v.as.p != NULL;
    }
    return false;
}

bool ac__check_bool(const ac__site *s, ac__value value, bool expected) {
    if (truthy(value) == expected)
        return true;
    ac__buf got = {0}, exp = {0};
    ac__value_print(&got, value);
    ac__buf_puts(&exp, expected ? "true (non-zero)" : "false (zero)");
    return fail_with(s, NULL, &got, &exp);
}

/* -1, 0, 1, or 2 when unordered (NaN). Integers compare exactly whatever their signedness. */
int ac__value_compare(ac__value a, ac__value b) {
    if (a.kind == AC__V_DOUBLE || b.kind == AC__V_DOUBLE) {
        long double x = a.kind == AC__V_DOUBLE                          ? a.as.d
                        : (a.kind == AC__V_INT || a.kind == AC__V_CHAR) ? (long double)a.as.i
                        : a.kind == AC__V_PTR                           ? (long double)(uintptr_t)a.as.p
                                                                        : (long double)a.as.u;
        long double y = b.kind == AC__V_DOUBLE                          ? b.as.d
                        : (b.kind == AC__V_INT || b.kind == AC__V_CHAR) ? (long double)b.as.i
                        : b.kind == AC__V_PTR                           ? (long double)(uintptr_t)b.as.p
                                                                        : (long double)b.as.u;
        if (isnan(x) || isnan(y))
            return 2;
        return x < y ? -1 : x > y;
    }
    bool aneg = (a.kind == AC__V_INT || a.kind == AC__V_CHAR) && a.as.i < 0;
    bool bneg = (b.kind == AC__V_INT || b.kind == AC__V_CHAR) && b.as.i < 0;
    if (aneg != bneg)
        return aneg ? -1 : 1;
    if (aneg)
        return a.as.i < b.as.i ? -1 : a.as.i > b.as.i;
    unsigned long long x = a.kind == AC__V_PTR ? (uintptr_t)a.as.p : a.as.u;
    unsigned long long y = b.kind == AC__V_PTR ? (uintptr_t)b.as.p : b.as.u;
    return x < y ? -1 : x > y;
}

bool ac__check_cmp(const ac__site *s, ac__op op, ac__value a, ac__value b) {
    int c = ac__value_compare(a, b);
    bool ok;
    switch (op) {
    case AC__EQ:
        ok = c == 0;
        break;
    case AC__NE:
        ok = c != 0;
        break;
    case AC__LT:
        ok = c == -1;
        break;
    case AC__LE:
        ok = c == -1 || c == 0;
        break;
    case AC__GT:
        ok = c == 1;
        break;
    default:
        ok = c == 1 || c == 0;
        break;
    }
    if (ok)
        return true;
    static const char *const prefix[] = {"", "!= ", "< ", "<= ", "> ", ">= "};
    ac__buf got = {0}, exp = {0};
    ac__value_print(&got, a);
    ac__buf_puts(&exp, prefix[op]);
    ac__value_print(&exp, b);
    return fail_with(s, NULL, &got, &exp);
}

bool ac__check_str(const ac__site *s, bool want_equal, const char *a, const char *b) {
    bool equal = (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
    if (equal == want_equal)
        return true;
    ac__buf got = {0}, exp = {0};
    char detail[64] = "";
    print_string(&got, a);
    if (want_equal) {
        print_string(&exp, b);
        if (a && b) {
            size_t i = 0;
            while (a[i] == b[i])
                i++;
            snprintf(detail, sizeof detail, "strings differ at byte %zu", i);
        }
    } else {
        ac__buf_puts(&exp, "not ");
        print_string(&exp, b);
    }
    return fail_with(s, detail[0] ? detail : NULL, &got, &exp);
}

bool ac__check_str_contains(const ac__site *s, const char *hay, const char *needle) {
    if (hay && needle && strstr(hay, needle))
        return true;
    ac__buf got = {0}, exp = {0};
    print_string(&got, hay);
    ac__buf_puts(&exp, "a string containing ");
    print_string(&exp, needle);
    return fail_with(s, NULL, &got, &exp);
}

bool ac__check_mem(const ac__site *s, const void *a, const void *b, size_t n) {
    if (a == b || (a && b && memcmp(a, b, n) == 0))
        return true;
    ac__buf got = {0}, exp = {0};
    if (!a || !b) {
        ac__buf_puts(&got, a ? "(memory)" : "NULL");
        ac__buf_puts(&exp, b ? "(memory)" : "NULL");
        return fail_with(s, NULL, &got, &exp);
    }
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    while (x[i] == y[i])
        i++;
    char detail[96];
    snprintf(detail, sizeof detail, "first difference at byte %zu of %zu", i, n);
    ac__hex_window(&got, x, n, i);
    ac__hex_window(&exp, y, n, i);
    return fail_with(s, detail, &got, &exp);
}

bool ac__check_null(const ac__site *s, bool want_null, const volatile void *p) {
    if ((p == NULL) == want_null)
        return true;
    ac__buf got = {0}, exp = {0};
    ac__value_print(&got, ac__v_ptr(p));
    ac__buf_puts(&exp, want_null ? "NULL" : "not NULL");
    return fail_with(s, NULL, &got, &exp);
}

bool ac__check_near(const ac__site *s, double a, double b, double eps) {
    double diff = fabs(a - b);
    if (diff <= eps)
        return true;
    ac__buf got = {0}, exp = {0}, detail = {0};
    print_double(&got, a);
    print_double(&exp, b);
    ac__buf_puts(&exp, " +/- ");
    print_double(&exp, eps);
    ac__buf_puts(&detail, "difference ");
    print_double(&detail, diff);
    char d[128];
    snprintf(d, sizeof d, "%s", ac__buf_str(&detail));
    ac__buf_free(&detail);
    return fail_with(s, d, &got, &exp);
}

/* ---- AC_FAIL, AC_FAIL_LATER, AC_SKIP ---- */

/* ---- the test's watchers ---- */

bool ac__check_idle(const ac__site *s, struct ac_test *t) {
    ac__buf list = {0};
    size_t n = t ? ac__loop_describe_body(t, &list) : 0;
    if (n == 0) {
        ac__buf_free(&list);
        return true;
    }
    char detail[128]; /* on the stack: a fatal failure does not return */
    snprintf(detail, sizeof detail, "%zu watcher%s started by the test %s still active", n, n == 1 ? "" : "s",
             n == 1 ? "is" : "are");
    fail_site(s, detail, &list, NULL);
    return false;
}

bool ac__check_loop_thread(const ac__site *s) {
    ac__buf who = {0};
    if (!ac__loop_off_thread(&who))
        return true;
    char detail[160];
    snprintf(detail, sizeof detail, "called on %s, not on the test's loop thread", ac__buf_str(&who));
    ac__buf_free(&who);
    fail_site(s, detail, NULL, NULL);
    return false;
}

static void vfail(const ac__site *s, const char *fmt, va_list ap) {
    char text[4096];
    vsnprintf(text, sizeof text, fmt, ap);
    ac__report_failure(AC_FK_ASSERTION, s->fatal, s->file, s->line, text, NULL, NULL);
}

void ac__fail(const ac__site *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(s, fmt, ap);
    va_end(ap);
}

_Noreturn void ac__fail_fatal(const ac__site *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(s, fmt, ap);
    va_end(ap);
    abort(); /* not reached: a fatal failure ends the test */
}

_Noreturn void ac__skip(const ac__site *s, const char *fmt, ...) {
    (void)s;
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    ac__report_skip(text);
}
