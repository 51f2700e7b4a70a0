/* once.c — exactly-once callbacks (AC_ONCE) and the operation's callback (ac_op_callback). Each wrapper
 * is a libffi closure with the wrapped function's own ABI (the prototype parsed by the mock module's
 * parser) whose handler counts the call, remembers where the first one ran, and forwards the call —
 * arguments and return value — to the function wrapped, through ffi_call with the same call interface.
 * A second call of an AC_ONCE wrapper fails the test there (non-fatal: the call may come from library
 * code or another thread, which must not be unwound); a wrapper never called fails the test at its end,
 * unless the test was skipped, ended by a fatal failure, or its operation cancelled (a cancelled
 * operation need not call back; cancel.c judges the op callback's promise). The op callback is counted, and
 * its calls after the cancel, but not checked here. Wrappers stay callable until ac__once_end, after the
 * test's end hooks (race.c begins and ends this file's state with the module's). It must not end a test
 * except through ac__report_failure, and never fatally from ac__once_end (which runs outside any frame a
 * fatal failure could unwind to). */
#include "race.h"

#include "../loop/loop.h"
#include "../ffi/proto.h"
#include "../context/context.h"

#include <ctype.h>
#include <ffi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wrapper {
    struct wrapper *next;
    ffi_closure *closure;
    void *code;       /* the function the test passes on */
    void *fn;         /* the function it forwards to */
    ac__proto *proto; /* the signature: the closure's and the forwarded call's */
    bool named;       /* the prototype named the function (proto->name) */
    bool op;          /* ac_op_callback's: counted, not checked for exactly once */
    const char *file;
    int line;
    size_t calls;              /* changed under lock */
    size_t calls_after_cancel; /* under lock */
    char *first;               /* where the first call ran (under lock) */
    bool off_thread_reported;  /* a call off the loop's thread was reported (under lock) */
} wrapper;

static pthread_mutex_t lock AC__PER_TEST = PTHREAD_MUTEX_INITIALIZER;

static struct {
    wrapper *wrappers, **tail;
    wrapper *op;
    int promise;
} once_state AC__PER_TEST;

static _Noreturn void fail_fatal(const char *file, int line, ac__buf *msg) {
    ac__report_failure_buf(AC_FK_ASSERTION, true, file, line, msg, NULL, NULL);
    abort(); /* not reached */
}

/* ---- prototypes ---- */

/* The parser's own quoting of a prototype in its messages (`"text"`, or a C literal when the text holds
 * control characters). */
static void quote_like_parser(ac__buf *b, const char *text) {
    bool plain = true;
    for (const unsigned char *c = (const unsigned char *)text; *c && plain; c++)
        plain = *c >= 0x20 && *c != 0x7f;
    if (plain)
        ac__buf_printf(b, "\"%s\"", text);
    else
        ac__escape_c(b, text, strlen(text));
}

/* Finds the declarator of a function-pointer type, "(*)" or "(*name)", in "ret (*name)(params)": its
 * first and last byte and the name's span (length 0 when unnamed). */
static bool fnptr_declarator(const char *s, size_t *open, size_t *close, size_t *name, size_t *name_len) {
    const char *p = strchr(s, '(');
    if (!p)
        return false;
    const char *q = p + 1;
    while (isspace((unsigned char)*q))
        q++;
    if (*q != '*')
        return false;
    q++;
    while (isspace((unsigned char)*q))
        q++;
    const char *nm = q;
    while (isalnum((unsigned char)*q) || *q == '_')
        q++;
    *name = (size_t)(nm - s);
    *name_len = (size_t)(q - nm);
    while (isspace((unsigned char)*q))
        q++;
    if (*q != ')')
        return false;
    *open = (size_t)(p - s);
    *close = (size_t)(q - s);
    return true;
}

/* Parses "void done(int status, void *ud)" as it is, and a function-pointer type, "void (*)(int, void *)"
 * or "void (*done)(int, void *)", as the prototype it points to: the declarator is rewritten in place,
 * "(*done)" into " done  " and "(*)" into " _ ", so every column the parser reports stays the user's.
 * On failure returns NULL with the parser's one-line reason in `err`, quoting the text as written. */
static ac__proto *parse_prototype(const char *text, bool *named, ac__buf *err) {
    size_t open, close, name, name_len;
    if (!fnptr_declarator(text, &open, &close, &name, &name_len)) {
        ac__proto *p = ac__proto_parse(text, err);
        *named = p != NULL;
        return p;
    }
    char *rewritten = ac__xstrdup(text);
    memset(rewritten + open, ' ', close - open + 1);
    if (name_len)
        memcpy(rewritten + open + 1, text + name, name_len);
    else
        rewritten[open + 1] = '_';
    *named = name_len > 0;
    ac__buf why = {0};
    ac__proto *p = ac__proto_parse(rewritten, &why);
    if (!p) {
        ac__buf head = {0};
        quote_like_parser(&head, rewritten);
        const char *w = ac__buf_str(&why);
        size_t column = 0;
        int used = 0;
        if (strncmp(w, ac__buf_str(&head), head.len) == 0 &&
            sscanf(w + head.len, " at column %zu: %n", &column, &used) == 1 && used > 0 && column > open &&
            column <= close + 1) {
            /* the problem is in the declarator itself: what the parser says of the text as written */
            ac__proto_free(ac__proto_parse(text, err));
        } else if (strncmp(w, ac__buf_str(&head), head.len) == 0) {
            quote_like_parser(err, text);
            ac__buf_puts(err, w + head.len);
        } else {
            ac__buf_puts(err, w);
        }
        ac__buf_free(&head);
    }
    ac__buf_free(&why);
    free(rewritten);
    return p;
}

/* ---- wrappers ---- */

/* A wrapper called on a thread other than the test loop's: the callback would run there, racing the
 * loop. Reported once per wrapper, not fatally (the caller is another thread). */
static void off_thread(wrapper *w) {
    ac_test *t = ac_current();
    ac__buf who = {0};
    if (!t || (ac__test_def_of(t)->options.allow & AC_ALLOW_OFF_LOOP_CALLBACKS) || !ac__loop_off_thread(&who))
        return;
    pthread_mutex_lock(&lock);
    bool first = !w->off_thread_reported;
    w->off_thread_reported = true;
    pthread_mutex_unlock(&lock);
    if (first) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "%s%s%s%s was called on %s, not on the test's loop thread",
                       w->op ? "ac_op_callback callback" : "AC_ONCE callback", w->named ? " \"" : "",
                       w->named ? w->proto->name : "", w->named ? "\"" : "", ac__buf_str(&who));
        ac__report_failure_buf(AC_FK_ASSERTION, false, w->file, w->line, &msg, NULL, NULL);
    }
    ac__buf_free(&who);
}

bool ac__race_off_thread(ac__buf *who) {
    return ac__loop_off_thread(who);
}

static void handler(ffi_cif *cif, void *ret, void **args, void *ud) {
    wrapper *w = ud;
    bool cancelled = ac__cancel_done();
    ac__buf here = {0};
    if (__atomic_load_n(&w->calls, __ATOMIC_RELAXED) < 2)
        ac__loop_dispatch_describe(&here);
    char msg[2048];
    msg[0] = '\0';
    pthread_mutex_lock(&lock);
    size_t n = __atomic_add_fetch(&w->calls, 1, __ATOMIC_RELAXED); /* also read without the lock */
    if (w->op && cancelled)
        w->calls_after_cancel++;
    if (n == 1)
        w->first = ac__buf_take(&here);
    else if (n == 2 && !w->op)
        snprintf(msg, sizeof msg,
                 "AC_ONCE callback%s%s%s was called a second time, in %s; the first call was in %s",
                 w->named ? " \"" : "", w->named ? w->proto->name : "", w->named ? "\"" : "",
                 ac__buf_str(&here), w->first ? w->first : "?");
    pthread_mutex_unlock(&lock);
    ac__buf_free(&here);
    if (msg[0])
        ac__report_failure(AC_FK_ASSERTION, false, w->file, w->line, msg, NULL, NULL);
    off_thread(w);
    ffi_call(cif, FFI_FN(w->fn), ret, args);
}

static void wrapper_free(wrapper *w) {
    ffi_closure_free(w->closure);
    ac__proto_free(w->proto);
    free(w->first);
    free(w);
}

static void *wrap(const char *api, const char *prototype, void *fn, bool op, const char *file, int line) {
    ac__buf msg = {0};
    if (!fn) {
        ac__buf_printf(&msg, "%s: the function to wrap is NULL", api);
        fail_fatal(file, line, &msg);
    }
    ac__buf err = {0};
    bool named = false;
    ac__proto *p = parse_prototype(prototype ? prototype : "", &named, &err);
    if (!p) {
        ac__buf_printf(&msg, "%s: bad prototype %s", api, ac__buf_str(&err));
        ac__buf_free(&err);
        fail_fatal(file, line, &msg);
    }
    wrapper *w = ac__xcalloc(1, sizeof *w);
    w->fn = fn;
    w->proto = p;
    w->named = named;
    w->op = op;
    w->file = file;
    w->line = line;
    w->closure = ffi_closure_alloc(sizeof(ffi_closure), &w->code);
    if (!w->closure || ffi_prep_closure_loc(w->closure, &p->cif, handler, w, w->code) != FFI_OK) {
        if (w->closure)
            ffi_closure_free(w->closure);
        ac__proto_free(p);
        free(w);
        ac__buf_printf(&msg, "%s: libffi could not make a closure for %s", api, prototype);
        fail_fatal(file, line, &msg);
    }
    pthread_mutex_lock(&lock);
    if (!once_state.tail)
        once_state.tail = &once_state.wrappers;
    *once_state.tail = w;
    once_state.tail = &w->next;
    pthread_mutex_unlock(&lock);
    return w->code;
}

void *ac__once(ac_test *t, const char *prototype, void *fn, const char *file, int line) {
    (void)t;
    return wrap("AC_ONCE", prototype, fn, false, file, line);
}

size_t ac_once_calls(const void *wrapped) {
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (const wrapper *w = once_state.wrappers; w; w = w->next)
        if (w->code == wrapped)
            n = __atomic_load_n(&w->calls, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
    return n;
}

void *ac__op_callback(ac_test *t, const char *prototype, void *fn, ac_cancel_promise promise,
                      const char *file, int line) {
    (void)t;
    ac__buf msg = {0};
    if (once_state.op) {
        ac__buf_printf(&msg,
                       "ac_op_callback: the test already wrapped its operation's callback at %s:%d (one per "
                       "test)",
                       ac__base_name(once_state.op->file), once_state.op->line);
        fail_fatal(file, line, &msg);
    }
    if (promise != AC_CANCEL_SILENT && promise != AC_CANCEL_CALLS_BACK_ONCE) {
        ac__buf_printf(&msg,
                       "ac_op_callback: promise %d is neither AC_CANCEL_SILENT nor AC_CANCEL_CALLS_BACK_ONCE",
                       (int)promise);
        fail_fatal(file, line, &msg);
    }
    void *code = wrap("ac_op_callback", prototype, fn, true, file, line);
    pthread_mutex_lock(&lock);
    for (wrapper *w = once_state.wrappers; w; w = w->next)
        if (w->code == code)
            once_state.op = w;
    once_state.promise = promise;
    pthread_mutex_unlock(&lock);
    return code;
}

int ac__op_promise(void) {
    return once_state.op ? once_state.promise : -1;
}

size_t ac__op_calls(void) {
    pthread_mutex_lock(&lock);
    size_t n = once_state.op ? __atomic_load_n(&once_state.op->calls, __ATOMIC_RELAXED) : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

size_t ac__op_calls_after_cancel(void) {
    pthread_mutex_lock(&lock);
    size_t n = once_state.op ? once_state.op->calls_after_cancel : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Frees every wrapper (those of a test that never reached ac__once_end too). */
static void wrappers_clear(void) {
    pthread_mutex_lock(&lock);
    wrapper *w = once_state.wrappers;
    once_state.wrappers = NULL;
    once_state.tail = &once_state.wrappers;
    once_state.op = NULL;
    once_state.promise = -1;
    pthread_mutex_unlock(&lock);
    while (w) {
        wrapper *next = w->next;
        wrapper_free(w);
        w = next;
    }
}

/* ---- per test ---- */

void ac__once_begin(ac_test *t) {
    (void)t;
    wrappers_clear();
}

void ac__once_end(ac_test *t) {
    bool judge = !ac__test_ended_early(t) && !ac__cancel_done();
    for (const wrapper *w = once_state.wrappers; w && judge; w = w->next) {
        if (w->op || __atomic_load_n(&w->calls, __ATOMIC_RELAXED) > 0)
            continue;
        char msg[512];
        snprintf(msg, sizeof msg, "AC_ONCE callback%s%s%s was never called", w->named ? " \"" : "",
                 w->named ? w->proto->name : "", w->named ? "\"" : "");
        ac__report_failure(AC_FK_ASSERTION, false, w->file, w->line, msg, NULL, NULL);
    }
    wrappers_clear();
}
