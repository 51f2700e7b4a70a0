/* values.c — a mock's arguments and values: capturing each argument where libffi put it (strings copied
 * at call time), converting and storing values as the prototype's C types (return values, a
 * completion's literals), printing a call ("send(3, \"hi\", on_done)"), and the ac_mock_arg_* readers.
 * The per-type code is generated from the ffi module's type list (AC__TKINDS). It must not record calls,
 * schedule completions or judge expectations. */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include "mock_internal.h"

/* ---- capture ---- */

/* Reading an argument of each class from where libffi put it. */
#define READ_VOID(ctype, is_signed)
#define READ_BOOL(ctype, is_signed) a.v.u = *(const ctype *)src;
#define READ_INT(ctype, is_signed)                                                                           \
    if (is_signed)                                                                                           \
        a.v.i = *(const ctype *)src;                                                                         \
    else                                                                                                     \
        a.v.u = *(const ctype *)src;
#define READ_FLOAT(ctype, is_signed) a.v.d = *(const ctype *)src;
#define READ_PTR(ctype, is_signed) a.v.p = *(void *const *)src;
#define READ_STR(ctype, is_signed)                                                                           \
    a.v.p = *(void *const *)src;                                                                             \
    a.str = a.v.p ? ac__xstrdup(a.v.p) : NULL;
#define READ_FNPTR(ctype, is_signed) a.v.p = *(void *const *)src;

ac__mock_arg ac__mock_arg_read(ac__tkind k, const void *src) {
    ac__mock_arg a = {.kind = k};
    switch (k) {
#define READ(KIND, name, ctype, member, ffi, class, is_signed)                                               \
    case AC_TK_##KIND:                                                                                       \
        READ_##class(ctype, is_signed) break;
        AC__TKINDS(READ)
#undef READ
    }
    return a;
}

ac__value ac__mock_arg_value(const ac__mock_arg *a) {
    switch (ac__tkind_class(a->kind)) {
    case AC__TC_BOOL:
        return ac__v_bool(a->v.u != 0);
    case AC__TC_FLOAT:
        return ac__v_double(a->v.d);
    case AC__TC_PTR:
    case AC__TC_STR:
    case AC__TC_FNPTR:
        return ac__v_ptr(a->v.p);
    default:
        return ac__tkind_signed(a->kind) ? ac__v_int(a->v.i) : ac__v_uint(a->v.u);
    }
}

/* ---- storing ---- */

/* Storing a value into a slot member of each class; si is the integer view of the value (the double
 * truncated, or the unsigned value's bits), as C's conversions would give it. */
#define STORE_VOID(ctype, member, is_signed)
#define STORE_BOOL(ctype, member, is_signed) out->member = is_double ? d != 0 : si != 0;
#define STORE_INT(ctype, member, is_signed) out->member = (is_signed || !is_unsigned) ? (ctype)si : (ctype)u;
#define STORE_FLOAT(ctype, member, is_signed)                                                                \
    out->member = (ctype)(is_double ? d : is_unsigned ? (double)u : (double)i);
#define STORE_PTR(ctype, member, is_signed) out->p = p;
#define STORE_STR(ctype, member, is_signed) out->p = p;
#define STORE_FNPTR(ctype, member, is_signed) out->p = p;

void ac__slot_store(ac__slot *out, ac__tkind k, long long i, unsigned long long u, bool is_unsigned, double d,
                    bool is_double, void *p) {
    long long si = is_double ? (long long)d : is_unsigned ? (long long)u : i;
    switch (k) {
#define STORE(KIND, name, ctype, member, ffi, class, is_signed)                                              \
    case AC_TK_##KIND:                                                                                       \
        STORE_##class(ctype, member, is_signed) break;
        AC__TKINDS(STORE)
#undef STORE
    }
}

void ac__slot_store_value(ac__slot *out, ac__tkind k, ac__value v) {
    switch (v.kind) {
    case AC__V_DOUBLE:
        ac__slot_store(out, k, 0, 0, false, v.as.d, true, NULL);
        break;
    case AC__V_PTR:
        ac__slot_store(out, k, (long long)(uintptr_t)v.as.p, 0, false, 0, false, (void *)v.as.p);
        break;
    case AC__V_UINT:
    case AC__V_BOOL:
        ac__slot_store(out, k, 0, v.as.u, true, 0, false, (void *)(uintptr_t)v.as.u);
        break;
    default:
        ac__slot_store(out, k, v.as.i, 0, false, 0, false, (void *)(intptr_t)v.as.i);
        break;
    }
}

/* Writing a return value of each class: libffi wants integers narrower than ffi_arg widened to it. */
#define RETURN_VOID(ctype, member, is_signed)
#define RETURN_BOOL(ctype, member, is_signed) *(ffi_arg *)ret = s->member;
#define RETURN_INT(ctype, member, is_signed)                                                                 \
    if (sizeof(ctype) >= sizeof(ffi_arg))                                                                    \
        *(ctype *)ret = s->member;                                                                           \
    else if (is_signed)                                                                                      \
        *(ffi_sarg *)ret = s->member;                                                                        \
    else                                                                                                     \
        *(ffi_arg *)ret = s->member;
#define RETURN_FLOAT(ctype, member, is_signed) *(ctype *)ret = s->member;
#define RETURN_PTR(ctype, member, is_signed) *(void **)ret = s->p;
#define RETURN_STR(ctype, member, is_signed) *(void **)ret = s->p;
#define RETURN_FNPTR(ctype, member, is_signed) *(void **)ret = s->p;

void ac__slot_write_return(void *ret, ac__tkind k, const ac__slot *s) {
    switch (k) {
#define RETURN(KIND, name, ctype, member, ffi, class, is_signed)                                             \
    case AC_TK_##KIND:                                                                                       \
        RETURN_##class(ctype, member, is_signed) break;
        AC__TKINDS(RETURN)
#undef RETURN
    }
}

/* ---- printing ---- */

static void print_arg(ac__buf *b, const ac__mock_arg *a) {
    if (a->kind == AC_TK_STR) {
        if (a->str)
            ac__escape_c(b, a->str, strlen(a->str));
        else
            ac__buf_puts(b, "NULL");
        return;
    }
    if (a->kind == AC_TK_FNPTR && a->v.p) {
        Dl_info info;
        if (dladdr(a->v.p, &info) && info.dli_sname && info.dli_saddr == a->v.p) {
            ac__buf_puts(b, info.dli_sname);
            return;
        }
    }
    ac__value_print(b, ac__mock_arg_value(a));
}

void ac__mock_call_print(ac__buf *b, const ac_mock_call *c) {
    const ac__proto *p = c->mock->proto;
    ac__buf_printf(b, "%s(", p->name);
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            ac__buf_puts(b, ", ");
        print_arg(b, &c->args[i]);
    }
    ac__buf_puts(b, ")");
}

const char *ac_mock_call_text(const ac_mock_call *c) {
    ac_mock_call *mc = (ac_mock_call *)c;
    if (!mc->text) {
        ac__buf b = {0};
        ac__mock_call_print(&b, c);
        mc->text = ac__buf_take(&b);
    }
    return mc->text;
}

/* ---- ac_mock_arg_* ---- */

/* Argument i of call c, which must be of a kind `ok` accepts (`want` names them); fails fatally at
 * file:line (the caller's) otherwise. */
static const ac__mock_arg *arg_of(const ac_mock_call *c, size_t i, const char *want, bool ok(ac__tkind),
                                  const char *file, int line) {
    const ac__proto *p = c->mock->proto;
    ac__buf msg = {0};
    if (i >= p->n)
        ac__buf_printf(&msg, "%s has %zu parameter%s: no argument %zu", p->name, p->n, p->n == 1 ? "" : "s",
                       i);
    else if (!ok(p->params[i].kind))
        ac__buf_printf(&msg, "argument %zu of %s is a %s, not %s", i, p->name,
                       ac__tkind_name(p->params[i].kind), want);
    if (msg.len)
        ac__mock_fail_fatal_buf(file, line, &msg);
    return &c->args[i];
}

static bool is_string(ac__tkind k) {
    return k == AC_TK_STR;
}

long long ac__mock_arg_int(const ac_mock_call *c, size_t i, const char *file, int line) {
    const ac__mock_arg *a = arg_of(c, i, "an integer", ac__tkind_integral, file, line);
    return ac__tkind_signed(a->kind) ? a->v.i : (long long)a->v.u;
}
unsigned long long ac__mock_arg_uint(const ac_mock_call *c, size_t i, const char *file, int line) {
    const ac__mock_arg *a = arg_of(c, i, "an integer", ac__tkind_integral, file, line);
    return ac__tkind_signed(a->kind) ? (unsigned long long)a->v.i : a->v.u;
}
double ac__mock_arg_double(const ac_mock_call *c, size_t i, const char *file, int line) {
    return arg_of(c, i, "floating point", ac__tkind_floating, file, line)->v.d;
}
const char *ac__mock_arg_str(const ac_mock_call *c, size_t i, const char *file, int line) {
    return arg_of(c, i, "a string (const char *)", is_string, file, line)->str;
}
void *ac__mock_arg_ptr(const ac_mock_call *c, size_t i, const char *file, int line) {
    return arg_of(c, i, "a pointer", ac__tkind_pointer, file, line)->v.p;
}
