/* fuzz_proto.c — the mock prototype parser (ac__proto_parse / ac__proto_free) and the completion-spec
 * parser (ac__completion_parse / ac__completion_free), src/ffi/proto.c. Every input is given to both:
 * prototypes and completions share the tokenizer, and each parser must cope with the other's text.
 *
 * Properties checked (abort otherwise):
 *  - no crash, leak or undefined behaviour (the sanitizers);
 *  - failure <=> a message: NULL / -1 comes with a non-empty one-line reason, success with none;
 *  - the reason quotes the text and names a column inside it (1 .. length + 1);
 *  - a parsed prototype is well formed: a name, no function-pointer return, no void parameter, every
 *    function pointer with its own parsed prototype (recursively), a libffi interface per prototype;
 *  - a parsed completion has a callback (a name or $N >= 0, not clamped from an out-of-range N) and
 *    well-formed arguments; a failed one leaves nothing for the caller to free. */
#include "fuzz.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>

#include "ffi/proto.h"

static bool is_identifier(const char *s) {
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static void check_type(ac__type t, bool is_param, int depth);

static void check_proto(const ac__proto *p, int depth) {
    FUZZ_CHECK(p != NULL, "a NULL prototype inside a parsed one");
    FUZZ_CHECK(depth < 10000, "implausibly deep nesting");
    FUZZ_CHECK(p->name == NULL || is_identifier(p->name), "function name '%s' is not an identifier", p->name);
    FUZZ_CHECK(p->ret.kind >= AC_TK_VOID && p->ret.kind <= AC_TK_FNPTR, "return kind %d", (int)p->ret.kind);
    FUZZ_CHECK(p->ret.kind != AC_TK_FNPTR || depth > 0,
               "a top-level function pointer return type was accepted");
    check_type(p->ret, false, depth);
    FUZZ_CHECK(p->n == 0 || (p->params && p->names), "%zu parameters without arrays", p->n);
    FUZZ_CHECK(p->atypes != NULL, "no libffi argument types");
    FUZZ_CHECK(p->cif.nargs == p->n, "libffi interface has %u arguments, the prototype %zu",
               (unsigned)p->cif.nargs, p->n);
    for (size_t i = 0; i < p->n; i++) {
        check_type(p->params[i], true, depth);
        FUZZ_CHECK(p->names[i] == NULL || is_identifier(p->names[i]), "parameter name '%s'", p->names[i]);
        FUZZ_CHECK(p->atypes[i] == ac__ffi_type(p->params[i]), "parameter %zu: wrong libffi type", i);
    }
}

static void check_type(ac__type t, bool is_param, int depth) {
    FUZZ_CHECK(t.kind >= AC_TK_VOID && t.kind <= AC_TK_FNPTR, "type kind %d", (int)t.kind);
    FUZZ_CHECK(!is_param || t.kind != AC_TK_VOID, "a void parameter was accepted");
    FUZZ_CHECK(ac__tkind_name(t.kind) != NULL, "kind %d has no name", (int)t.kind);
    if (t.kind == AC_TK_FNPTR) {
        FUZZ_CHECK(t.fn != NULL, "a function pointer without its prototype");
        FUZZ_CHECK(t.fn->name == NULL, "a function pointer type kept a function name '%s'", t.fn->name);
        check_proto(t.fn, depth + 1);
    }
}

/* "TEXT" at column N: ... — the text quoted as is or with C escapes, and a column inside it or just
 * past its end. */
static void check_reason(const char *what, const char *text, const ac__buf *err) {
    const char *msg = ac__buf_str(err);
    FUZZ_CHECK(fuzz_one_line(msg), "%s: the reason is not one non-empty line: [%s]", what, msg);
    ac__buf raw = {0}, escaped = {0};
    ac__buf_printf(&raw, "\"%s\" at column ", text);
    ac__escape_c(&escaped, text, strlen(text));
    ac__buf_puts(&escaped, " at column ");
    const char *rest = NULL;
    if (strncmp(msg, ac__buf_str(&raw), raw.len) == 0)
        rest = msg + raw.len;
    else if (strncmp(msg, ac__buf_str(&escaped), escaped.len) == 0)
        rest = msg + escaped.len;
    ac__buf_free(&raw);
    ac__buf_free(&escaped);
    FUZZ_CHECK(rest, "%s: the reason does not start with the quoted text and a column: [%s]", what, msg);
    char *end;
    unsigned long col = strtoul(rest, &end, 10);
    FUZZ_CHECK(end > rest && *end == ':' && col >= 1 && col <= strlen(text) + 1,
               "%s: column '%.*s' is not inside the text (%zu bytes): [%s]", what, (int)(end - rest), rest,
               strlen(text), msg);
}

static void fuzz_prototype(const char *text) {
    ac__buf err = {0};
    ac__proto *p = ac__proto_parse(text, &err);
    if (p) {
        FUZZ_CHECK(err.len == 0, "parsed, yet a reason was written: [%s]", ac__buf_str(&err));
        FUZZ_CHECK(p->name != NULL, "a parsed prototype without the function's name");
        check_proto(p, 0);
        ac__proto_free(p);
    } else {
        check_reason("prototype", text, &err);
    }
    ac__buf_free(&err);
}

static void fuzz_completion(const char *text) {
    ac__buf err = {0};
    ac__completion_spec spec;
    int rc = ac__completion_parse(text, &spec, &err);
    FUZZ_CHECK(rc == 0 || rc == -1, "ac__completion_parse returned %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(err.len == 0, "parsed, yet a reason was written: [%s]", ac__buf_str(&err));
        FUZZ_CHECK(spec.callback ? is_identifier(spec.callback) && spec.callback_index == -1
                                 : spec.callback_index >= 0,
                   "callback '%s' / $%ld", spec.callback ? spec.callback : "(null)", spec.callback_index);
        FUZZ_CHECK(spec.callback_index != LONG_MAX || strstr(text, "9223372036854775807"),
                   "an out-of-range $N became $%ld", spec.callback_index);
        FUZZ_CHECK(spec.n == 0 || spec.args, "%zu arguments without an array", spec.n);
        for (size_t i = 0; i < spec.n; i++) {
            const ac__lit *l = &spec.args[i];
            switch (l->kind) {
            case AC_LIT_STR:
                FUZZ_CHECK(l->s != NULL, "argument %zu: a string literal without its text", i);
                break;
            case AC_LIT_REF:
                FUZZ_CHECK(l->s ? is_identifier(l->s) && l->index == -1 : l->index >= 0,
                           "argument %zu: reference '%s' / $%ld", i, l->s ? l->s : "(null)", l->index);
                FUZZ_CHECK(l->index != LONG_MAX || strstr(text, "9223372036854775807"),
                           "argument %zu: an out-of-range $N became $%ld", i, l->index);
                break;
            case AC_LIT_INT:
            case AC_LIT_DOUBLE:
            case AC_LIT_NULL:
                FUZZ_CHECK(l->s == NULL, "argument %zu: a literal with a stray string", i);
                break;
            default:
                FUZZ_CHECK(0, "argument %zu: kind %d", i, (int)l->kind);
            }
        }
        ac__completion_free(&spec);
        FUZZ_CHECK(spec.args == NULL && spec.callback == NULL && spec.n == 0, "free left the spec set");
    } else {
        check_reason("completion", text, &err);
        /* callers do not free a spec that failed to parse (mock/completions.c): nothing may be left in it */
        FUZZ_CHECK(spec.callback == NULL && spec.args == NULL && spec.n == 0,
                   "a failed parse left memory in the spec");
    }
    ac__buf_free(&err);
}

int ac_fuzz_proto(const uint8_t *data, size_t size) {
    static bool registered;
    if (!registered) { /* the typedefs selftest/unit/mock.c registers, plus a struct pointer */
        ac__buf err = {0};
        FUZZ_CHECK(ac__typedef_add("ev_tstamp", "double", &err) == 0, "%s", ac__buf_str(&err));
        FUZZ_CHECK(ac__typedef_add("done_cb", "void (*)(int status, void *ud)", &err) == 0, "%s",
                   ac__buf_str(&err));
        FUZZ_CHECK(ac__typedef_add("conn_t", "struct conn *", &err) == 0, "%s", ac__buf_str(&err));
        ac__buf_free(&err);
        registered = true;
    }
    char *text = fuzz_text(data, size); /* the parsers take C strings: text ends at the first NUL */
    fuzz_prototype(text);
    fuzz_completion(text);
    free(text);
    return 0;
}

AC_FUZZ_ENTRY(ac_fuzz_proto)
