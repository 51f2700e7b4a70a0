/* replace.c — replacing a named function for one test (ac_replace, ac_replace_if_called, ac_restore) and
 * the registry behind AC_WRAP (ac_wrap_set): what is in force for the running test, undone at its end.
 * The slot rewriting itself is src/patch/; the contract is include/asyncheck/replace.h. */
#include "asyncheck/replace.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../patch/patch.h"
#include "../context/context.h"

/* ---- per-test state: the replacements in force and the AC_WRAP replacements ---- */

typedef struct wrap_entry {
    struct wrap_entry *next;
    void *_Atomic fn;
    char name[];
} wrap_entry;

static wrap_entry *_Atomic wraps; /* read lock-free by ac__wrap_get, from any thread */

static struct {
    ac_test *t; /* the test that owns what follows; NULL between tests */
    ac__patch *patches;
    size_t n, cap;
} state;

static void at_test_end(ac_test *t, void *ctx) {
    (void)t, (void)ctx;
    while (state.n > 0)
        ac__patch_undo(&state.patches[--state.n]);
    free(state.patches);
    state.patches = NULL;
    state.cap = 0;
    wrap_entry *e = atomic_exchange(&wraps, NULL);
    while (e) {
        wrap_entry *next = e->next;
        free(e);
        e = next;
    }
    state.t = NULL;
}

/* Adopts `t` as the test whose replacements are kept, registering the undo for its end once. */
static void own(ac_test *t) {
    if (state.t == t)
        return;
    state.t = t;
    ac__at_test_end(t, at_test_end, NULL);
}

static _Noreturn void fail(const char *file, int line, const char *message) {
    ac__report_failure(AC_FK_ASSERTION, true, file, line, message, NULL, NULL);
    abort(); /* not reached: a fatal failure ends the test */
}

/* ac_replace, and with `if_called` ac_replace_if_called: no slot is then not a failure. */
static void *replace(ac_test *t, const char *symbol, void *replacement, bool if_called, const char *file,
                     int line) {
    char msg[1024]; /* on the stack: the fatal reports below do not return */
    if (!t)
        t = ac_current();
    if (!t)
        fail(file, line, "ac_replace called outside a test");
    if (!symbol || !*symbol || !replacement) {
        snprintf(msg, sizeof msg, "ac_replace(\"%s\") needs a symbol name and a non-NULL replacement",
                 symbol ? symbol : "(null)");
        fail(file, line, msg);
    }
    void *original = ac__real(symbol);
    /* Room for the patch and the undo at the test's end, made before the slots are rewritten: nothing
     * below may call what it replaces (malloc, realloc...) before the original is returned. */
    own(t);
    if (state.n == state.cap) {
        state.cap = state.cap ? 2 * state.cap : 8;
        state.patches = ac__xrealloc(state.patches, state.cap * sizeof *state.patches);
    }
    ac__patch p;
    long n = ac__patch_apply(&p, symbol, replacement);
    if (n == -1) {
        snprintf(msg, sizeof msg,
                 "cannot replace \"%s\": GOT/PLT patching is not supported on this architecture; link with "
                 "-Wl,--wrap=%s and use AC_WRAP instead",
                 symbol, symbol);
        fail(file, line, msg);
    }
    if (n < -1) {
        snprintf(msg, sizeof msg, "cannot replace \"%s\": a read-only GOT page could not be made writable",
                 symbol);
        fail(file, line, msg);
    }
    if (n == 0 && if_called)
        return original;
    if (n == 0) {
        snprintf(
            msg, sizeof msg,
            "cannot replace \"%s\": no loaded object (the executable or a shared library) calls it "
            "through a GOT/PLT slot. Calls inside the executable to its own functions bypass the PLT and "
            "cannot be reached this way: link with -Wl,--wrap=%s and use AC_WRAP and ac_wrap_set",
            symbol, symbol);
        fail(file, line, msg);
    }
    state.patches[state.n++] = p;
    return original;
}

void *ac__replace_at(ac_test *t, const char *symbol, void *replacement, const char *file, int line) {
    return replace(t, symbol, replacement, false, file, line);
}

void *ac__replace_if_called_at(ac_test *t, const char *symbol, void *replacement, const char *file,
                               int line) {
    return replace(t, symbol, replacement, true, file, line);
}

void *(ac_replace)(ac_test *t, const char *symbol, void *replacement) {
    return ac__replace_at(t, symbol, replacement, NULL, 0);
}

void *(ac_replace_if_called)(ac_test *t, const char *symbol, void *replacement) {
    return ac__replace_if_called_at(t, symbol, replacement, NULL, 0);
}

void ac_restore(ac_test *t, const char *symbol) {
    if (!t)
        t = ac_current();
    if (!t || state.t != t || !symbol)
        return;
    for (size_t i = state.n; i-- > 0;) {
        if (strcmp(state.patches[i].symbol, symbol) != 0)
            continue;
        ac__patch_undo(&state.patches[i]);
        memmove(&state.patches[i], &state.patches[i + 1], (state.n - i - 1) * sizeof *state.patches);
        state.n--;
    }
}

/* ---- AC_WRAP ---- */

static bool same_name(const char *a, const char *b) {
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

void *ac__wrap_get(const char *name) {
    for (wrap_entry *e = atomic_load_explicit(&wraps, memory_order_acquire); e; e = e->next)
        if (same_name(e->name, name))
            return atomic_load_explicit(&e->fn, memory_order_acquire);
    return NULL;
}

void ac_wrap_set(ac_test *t, const char *name, void *fn) {
    if (!t)
        t = ac_current();
    if (!t)
        fail(NULL, 0, "ac_wrap_set called outside a test");
    if (!name || !*name)
        fail(NULL, 0, "ac_wrap_set needs the wrapped function's name");
    own(t);
    for (wrap_entry *e = atomic_load_explicit(&wraps, memory_order_acquire); e; e = e->next)
        if (same_name(e->name, name)) {
            atomic_store_explicit(&e->fn, fn, memory_order_release);
            return;
        }
    if (!fn)
        return;
    size_t len = strlen(name);
    wrap_entry *e = ac__xmalloc(sizeof *e + len + 1);
    memcpy(e->name, name, len + 1);
    atomic_init(&e->fn, fn);
    e->next = atomic_load_explicit(&wraps, memory_order_relaxed);
    atomic_store_explicit(&wraps, e, memory_order_release);
}
