/* proto.c — parsing C prototypes (with nested function-pointer parameters and registered typedefs)
 * into ac__proto with libffi call interfaces, and parsing completion specs ("cb(200, \"ok\", $ud)").
 * Errors name the column and what was expected there. Knows nothing about calls or tests. */
#include "proto.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- types: the tables generated from AC__TKINDS ---- */

const char *ac__tkind_name(ac__tkind k) {
#define NAME(KIND, name, ctype, member, ffi, class, is_signed) [AC_TK_##KIND] = name,
    static const char *const names[] = {AC__TKINDS(NAME)};
#undef NAME
    return names[k];
}

ac__tclass ac__tkind_class(ac__tkind k) {
#define CLASS(KIND, name, ctype, member, ffi, class, is_signed) [AC_TK_##KIND] = AC__TC_##class,
    static const ac__tclass classes[] = {AC__TKINDS(CLASS)};
#undef CLASS
    return classes[k];
}

bool ac__tkind_integral(ac__tkind k) {
    ac__tclass c = ac__tkind_class(k);
    return c == AC__TC_BOOL || c == AC__TC_INT;
}

bool ac__tkind_floating(ac__tkind k) {
    return ac__tkind_class(k) == AC__TC_FLOAT;
}

bool ac__tkind_pointer(ac__tkind k) {
    ac__tclass c = ac__tkind_class(k);
    return c == AC__TC_PTR || c == AC__TC_STR || c == AC__TC_FNPTR;
}

bool ac__tkind_signed(ac__tkind k) {
    switch (k) {
#define SIGNED(KIND, name, ctype, member, ffi, class, is_signed)                                             \
    case AC_TK_##KIND:                                                                                       \
        return is_signed;
        AC__TKINDS(SIGNED)
#undef SIGNED
    }
    return false;
}

/* sizeof the kind's C type; void has none. */
#define SIZE_VOID(ctype) 0
#define SIZE_BOOL(ctype) sizeof(ctype)
#define SIZE_INT(ctype) sizeof(ctype)
#define SIZE_FLOAT(ctype) sizeof(ctype)
#define SIZE_PTR(ctype) sizeof(ctype)
#define SIZE_STR(ctype) sizeof(ctype)
#define SIZE_FNPTR(ctype) sizeof(ctype)

size_t ac__tkind_size(ac__tkind k) {
#define SIZE(KIND, name, ctype, member, ffi, class, is_signed) [AC_TK_##KIND] = SIZE_##class(ctype),
    static const size_t sizes[] = {AC__TKINDS(SIZE)};
#undef SIZE
    return sizes[k];
}

ffi_type *ac__ffi_type(ac__type t) {
    switch (t.kind) {
#define FFI(KIND, name, ctype, member, ffi, class, is_signed)                                                \
    case AC_TK_##KIND:                                                                                       \
        return ffi;
        AC__TKINDS(FFI)
#undef FFI
    }
    return &ffi_type_pointer;
}

/* ---- typedefs ---- */

typedef struct tdef {
    char *name;
    ac__type type;
    struct tdef *next;
} tdef;

static tdef *typedefs;
static pthread_mutex_t typedefs_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fixed-width and size types, as on this ABI. */
static const struct {
    const char *name;
    ac__tkind kind;
} builtin_names[] = {
    {"int8_t", AC_TK_SCHAR},    {"uint8_t", AC_TK_UCHAR},   {"int16_t", AC_TK_SHORT},
    {"uint16_t", AC_TK_USHORT}, {"int32_t", AC_TK_INT},     {"uint32_t", AC_TK_UINT},
    {"int64_t", AC_TK_LLONG},   {"uint64_t", AC_TK_ULLONG}, {"size_t", AC_TK_ULONG},
    {"ssize_t", AC_TK_LONG},    {"intptr_t", AC_TK_LONG},   {"uintptr_t", AC_TK_ULONG},
    {"ptrdiff_t", AC_TK_LONG},  {"off_t", AC_TK_LONG},      {"socklen_t", AC_TK_UINT},
    {"pid_t", AC_TK_INT},       {"bool", AC_TK_BOOL},       {"time_t", AC_TK_LONG},
    {"uid_t", AC_TK_UINT},      {"gid_t", AC_TK_UINT},
};

static bool lookup_typename(const char *name, size_t len, ac__type *out) {
    for (size_t i = 0; i < sizeof builtin_names / sizeof *builtin_names; i++)
        if (strlen(builtin_names[i].name) == len && strncmp(builtin_names[i].name, name, len) == 0) {
            *out = (ac__type){builtin_names[i].kind, NULL, false};
            return true;
        }
    bool found = false;
    pthread_mutex_lock(&typedefs_lock);
    for (tdef *d = typedefs; d && !found; d = d->next)
        if (strlen(d->name) == len && strncmp(d->name, name, len) == 0) {
            *out = d->type;
            out->borrowed = true;
            found = true;
        }
    pthread_mutex_unlock(&typedefs_lock);
    return found;
}

/* ---- tokens ---- */

typedef enum { T_END, T_IDENT, T_NUMBER, T_STRING, T_PUNCT, T_DOLLAR, T_BAD } tok_kind;

typedef struct parser {
    const char *text;
    const char *p;
    tok_kind kind;
    const char *tok; /* start of the current token */
    size_t len;
    ac__buf *err;
    bool failed;
} parser;

static void next(parser *ps) {
    while (isspace((unsigned char)*ps->p))
        ps->p++;
    ps->tok = ps->p;
    char c = *ps->p;
    if (!c) {
        ps->kind = T_END;
        ps->len = 0;
    } else if (isalpha((unsigned char)c) || c == '_') {
        while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
            ps->p++;
        ps->kind = T_IDENT;
    } else if (isdigit((unsigned char)c) || ((c == '-' || c == '.') && (isdigit((unsigned char)ps->p[1]) ||
                                                                        (ps->p[1] == '.' && c == '-')))) {
        ps->p++;
        while (isalnum((unsigned char)*ps->p) || *ps->p == '.' ||
               ((*ps->p == '-' || *ps->p == '+') && (ps->p[-1] == 'e' || ps->p[-1] == 'E')))
            ps->p++;
        ps->kind = T_NUMBER;
    } else if (c == '"') {
        ps->p++;
        while (*ps->p && *ps->p != '"')
            ps->p += (*ps->p == '\\' && ps->p[1]) ? 2 : 1;
        if (*ps->p == '"') {
            ps->p++;
            ps->kind = T_STRING;
        } else {
            ps->kind = T_BAD;
        }
    } else if (c == '$') {
        ps->p++;
        ps->kind = T_DOLLAR;
    } else if (strncmp(ps->p, "...", 3) == 0) {
        ps->p += 3;
        ps->kind = T_PUNCT;
    } else if (strchr("()*,[];", c)) {
        ps->p++;
        ps->kind = T_PUNCT;
    } else {
        ps->p++;
        ps->kind = T_BAD;
    }
    ps->len = (size_t)(ps->p - ps->tok);
}

static bool is(const parser *ps, const char *punct_or_word) {
    return (ps->kind == T_PUNCT || ps->kind == T_IDENT) && strlen(punct_or_word) == ps->len &&
           strncmp(ps->tok, punct_or_word, ps->len) == 0;
}

/* `"text" at column N: `, the text with control characters escaped: a reason stays one line whatever the
 * input holds. */
static void where(parser *ps) {
    bool plain = true;
    for (const unsigned char *c = (const unsigned char *)ps->text; *c && plain; c++)
        plain = *c >= 0x20 && *c != 0x7f;
    if (plain)
        ac__buf_printf(ps->err, "\"%s\"", ps->text);
    else
        ac__escape_c(ps->err, ps->text, strlen(ps->text)); /* as a C string literal */
    ac__buf_printf(ps->err, " at column %zu: ", (size_t)(ps->tok - ps->text) + 1);
}

/* Records the first error: `"text" at column N: expected ...` (found ...). */
static void expected(parser *ps, const char *what) {
    if (ps->failed)
        return;
    ps->failed = true;
    where(ps);
    ac__buf_printf(ps->err, "expected %s", what);
    if (ps->kind == T_END) {
        ac__buf_puts(ps->err, ", found the end");
    } else {
        char *tok = strndup(ps->tok, ps->len), *shown = ac__one_line(tok);
        ac__buf_printf(ps->err, ", found '%s'", shown);
        free(tok);
        free(shown);
    }
}

static void problem(parser *ps, const char *fmt, const char *word, size_t len) {
    if (ps->failed)
        return;
    ps->failed = true;
    where(ps);
    char *w = strndup(word, len), *shown = ac__one_line(w);
    ac__buf_printf(ps->err, fmt, (int)strlen(shown), shown);
    free(w);
    free(shown);
}

/* ---- declarations ---- */

static ac__proto *parse_params(parser *ps, ac__type ret, char *name);
static void free_type(ac__type t);

enum {
    S_SIGNED = 1,
    S_UNSIGNED = 2,
    S_SHORT = 4,
    S_CHAR = 8,
    S_INT = 16,
    S_VOID = 32,
    S_BOOL = 64,
    S_FLOAT = 128,
    S_DOUBLE = 256
};

/* Declaration specifiers: qualifiers, base type words, struct/union/enum tags, typedef names. An
 * identifier after a complete type is left for the declarator (the parameter's name). */
static bool parse_specifiers(parser *ps, ac__type *out, bool *is_const, bool *is_struct) {
    static const struct {
        const char *word;
        unsigned bit;
    } base_words[] = {{"signed", S_SIGNED}, {"unsigned", S_UNSIGNED}, {"short", S_SHORT},
                      {"char", S_CHAR},     {"int", S_INT},           {"void", S_VOID},
                      {"_Bool", S_BOOL},    {"float", S_FLOAT},       {"double", S_DOUBLE}};
    unsigned words = 0;
    int longs = 0;
    bool have_typedef = false, have_tag = false;
    *is_const = *is_struct = false;
    while (ps->kind == T_IDENT) {
        bool matched = false;
        for (size_t i = 0; i < sizeof base_words / sizeof *base_words && !matched; i++)
            if (is(ps, base_words[i].word)) {
                words |= base_words[i].bit;
                matched = true;
            }
        if (matched) {
        } else if (is(ps, "const")) {
            *is_const = true;
        } else if (is(ps, "volatile") || is(ps, "restrict") || is(ps, "__restrict")) {
        } else if (is(ps, "long")) {
            longs++;
        } else if (is(ps, "struct") || is(ps, "union") || is(ps, "enum")) {
            bool is_enum = is(ps, "enum");
            next(ps);
            if (ps->kind != T_IDENT) {
                expected(ps, "a tag name after struct, union or enum");
                return false;
            }
            if (is_enum)
                words |= S_INT;
            else
                *is_struct = true;
            have_tag = true;
        } else if (words || longs || have_typedef || have_tag) {
            break; /* the declarator's name */
        } else if (lookup_typename(ps->tok, ps->len, out)) {
            have_typedef = true;
        } else {
            problem(ps, "unknown type '%.*s' (register it with ac_mock_typedef)", ps->tok, ps->len);
            return false;
        }
        next(ps);
    }
    if (!words && !longs && !have_typedef && !have_tag) {
        expected(ps, "a type");
        return false;
    }
    if (have_typedef || *is_struct)
        return true;
    if ((words & S_DOUBLE) && longs) {
        problem(ps, "long double is not supported%.*s", "", 0);
        return false;
    }
    bool u = words & S_UNSIGNED;
    ac__tkind k;
    if (words & S_VOID)
        k = AC_TK_VOID;
    else if (words & S_BOOL)
        k = AC_TK_BOOL;
    else if (words & S_FLOAT)
        k = AC_TK_FLOAT;
    else if (words & S_DOUBLE)
        k = AC_TK_DOUBLE;
    else if (words & S_CHAR)
        k = u ? AC_TK_UCHAR : (words & S_SIGNED) ? AC_TK_SCHAR : AC_TK_CHAR;
    else if (words & S_SHORT)
        k = u ? AC_TK_USHORT : AC_TK_SHORT;
    else if (longs >= 2)
        k = u ? AC_TK_ULLONG : AC_TK_LLONG;
    else if (longs == 1)
        k = u ? AC_TK_ULONG : AC_TK_LONG;
    else
        k = u ? AC_TK_UINT : AC_TK_INT;
    *out = (ac__type){.kind = k};
    return true;
}

/* A type with its pointer stars, and (for parameters) an optional name or a function-pointer
 * declarator. `name` receives the declared name (malloc'd) or NULL. */
static bool parse_type(parser *ps, ac__type *out, char **name, bool want_name) {
    bool is_const, is_struct;
    const char *start = ps->tok;
    ac__type base = {.kind = AC_TK_INT};
    if (!parse_specifiers(ps, &base, &is_const, &is_struct))
        return false;
    int stars = 0;
    while (is(ps, "*")) {
        stars++;
        next(ps);
        while (is(ps, "const") || is(ps, "volatile") || is(ps, "restrict"))
            next(ps);
    }
    *name = NULL;
    if (is(ps, "(")) { /* function pointer: ret (*name)(params) */
        next(ps);
        if (!is(ps, "*")) {
            expected(ps, "'*' of a function pointer");
            return false;
        }
        next(ps);
        if (ps->kind == T_IDENT) {
            *name = strndup(ps->tok, ps->len);
            next(ps);
        }
        if (!is(ps, ")")) {
            expected(ps, "')' after the function pointer's name");
            free(*name);
            *name = NULL;
            return false;
        }
        next(ps);
        if (!is(ps, "(")) {
            expected(ps, "'(' and the function pointer's parameters");
            free(*name);
            *name = NULL;
            return false;
        }
        ac__type ret = base;
        if (stars) /* a pointer return type */
            ret = (ac__type){.kind =
                                 (ret.kind == AC_TK_CHAR && is_const && stars == 1) ? AC_TK_STR : AC_TK_PTR};
        ac__proto *fn = parse_params(ps, ret, NULL);
        if (!fn) {
            free(*name);
            *name = NULL;
            return false;
        }
        *out = (ac__type){.kind = AC_TK_FNPTR, .fn = fn};
        return true;
    }
    if (is_struct && stars == 0) {
        const char *save = ps->tok;
        ps->tok = start;
        problem(ps, "a struct passed by value is not supported (pass a pointer)%.*s", "", 0);
        ps->tok = save;
        return false;
    }
    if (stars == 0) {
        *out = base;
    } else if (base.kind == AC_TK_FNPTR) {
        *out = (ac__type){.kind = AC_TK_PTR};
        free_type(base);
    } else {
        *out =
            (ac__type){.kind = (base.kind == AC_TK_CHAR && is_const && stars == 1) ? AC_TK_STR : AC_TK_PTR};
    }
    if (want_name && ps->kind == T_IDENT) {
        *name = strndup(ps->tok, ps->len);
        next(ps);
    }
    while (is(ps, "[")) { /* int a[] or int a[4]: a pointer, as in a parameter list */
        while (ps->kind != T_END && !is(ps, "]"))
            next(ps);
        if (!is(ps, "]")) {
            expected(ps, "']'");
            free(*name);
            *name = NULL;
            return false;
        }
        next(ps);
        free_type(*out);
        *out = (ac__type){.kind = AC_TK_PTR};
    }
    return true;
}

static void free_type(ac__type t) {
    if (t.kind == AC_TK_FNPTR && !t.borrowed)
        ac__proto_free(t.fn);
}

static bool prep_cif(ac__proto *p) {
    p->atypes = ac__xcalloc(p->n ? p->n : 1, sizeof *p->atypes);
    for (size_t i = 0; i < p->n; i++)
        p->atypes[i] = ac__ffi_type(p->params[i]);
    return ffi_prep_cif(&p->cif, FFI_DEFAULT_ABI, (unsigned)p->n, ac__ffi_type(p->ret), p->atypes) == FFI_OK;
}

/* '(' params ')' with the current token at '('. */
static ac__proto *parse_params(parser *ps, ac__type ret, char *name) {
    ac__proto *p = ac__xcalloc(1, sizeof *p);
    p->ret = ret;
    p->name = name;
    next(ps); /* ( */
    if (is(ps, "void")) {
        const char *save_p = ps->p;
        tok_kind save_kind = ps->kind;
        const char *save_tok = ps->tok;
        size_t save_len = ps->len;
        next(ps);
        if (!is(ps, ")")) { /* void * parameter: back up */
            ps->p = save_p, ps->kind = save_kind, ps->tok = save_tok, ps->len = save_len;
        }
    }
    while (!is(ps, ")")) {
        if (is(ps, "...")) {
            problem(ps, "variadic functions ('...') are not supported%.*s", "", 0);
            ac__proto_free(p);
            return NULL;
        }
        ac__type t;
        char *pname;
        if (!parse_type(ps, &t, &pname, true)) {
            ac__proto_free(p);
            return NULL;
        }
        if (t.kind == AC_TK_VOID) {
            expected(ps, "a parameter type other than void");
            ac__proto_free(p);
            free(pname);
            return NULL;
        }
        p->params = ac__xrealloc(p->params, (p->n + 1) * sizeof *p->params);
        p->names = ac__xrealloc(p->names, (p->n + 1) * sizeof *p->names);
        p->params[p->n] = t;
        p->names[p->n] = pname;
        p->n++;
        if (is(ps, ",")) {
            next(ps);
            continue;
        }
        if (!is(ps, ")")) {
            expected(ps, pname ? "',' or ')'" : "a parameter name, ',' or ')'");
            ac__proto_free(p);
            return NULL;
        }
    }
    next(ps); /* ) */
    if (!prep_cif(p)) {
        problem(ps, "libffi could not prepare this signature%.*s", "", 0);
        ac__proto_free(p);
        return NULL;
    }
    return p;
}

ac__proto *ac__proto_parse(const char *text, ac__buf *err) {
    parser ps = {.text = text, .p = text, .err = err};
    next(&ps);
    ac__type ret;
    char *name = NULL;
    if (!parse_type(&ps, &ret, &name, true))
        return NULL;
    if (ret.kind == AC_TK_FNPTR) {
        free_type(ret);
        free(name);
        problem(&ps, "a function returning a function pointer needs a typedef (ac_mock_typedef)%.*s", "", 0);
        return NULL;
    }
    if (!name) {
        expected(&ps, "the function's name");
        return NULL;
    }
    if (!is(&ps, "(")) {
        free(name);
        expected(&ps, "'(' and the parameters");
        return NULL;
    }
    ac__proto *p = parse_params(&ps, ret, name);
    if (!p)
        return NULL;
    if (is(&ps, ";"))
        next(&ps);
    if (ps.kind != T_END) {
        expected(&ps, "the end of the prototype");
        ac__proto_free(p);
        return NULL;
    }
    return p;
}

void ac__proto_free(ac__proto *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free_type(p->params[i]);
        free(p->names[i]);
    }
    free(p->params);
    free(p->names);
    free(p->atypes);
    free(p->name);
    free(p);
}

int ac__typedef_add(const char *name, const char *type, ac__buf *err) {
    parser ps = {.text = type, .p = type, .err = err};
    next(&ps);
    ac__type t;
    char *unused = NULL;
    if (!parse_type(&ps, &t, &unused, false))
        return -1;
    free(unused);
    if (ps.kind != T_END) {
        expected(&ps, "the end of the type");
        free_type(t);
        return -1;
    }
    tdef *d = ac__xmalloc(sizeof *d);
    d->name = ac__xstrdup(name);
    d->type = t;
    pthread_mutex_lock(&typedefs_lock);
    d->next = typedefs;
    typedefs = d;
    pthread_mutex_unlock(&typedefs_lock);
    return 0;
}

/* ---- completion specs ---- */

static char *unescape(const char *s, size_t n) {
    ac__buf b = {0};
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 == n) {
            ac__buf_append(&b, &c, 1);
            continue;
        }
        c = s[++i];
        switch (c) {
        case 'n':
            c = '\n';
            break;
        case 't':
            c = '\t';
            break;
        case 'r':
            c = '\r';
            break;
        case '0':
            c = '\0';
            break;
        case 'x': {
            unsigned v = 0;
            int k = 0;
            while (k < 2 && i + 1 < n && isxdigit((unsigned char)s[i + 1]))
                v = v * 16 + (unsigned)(isdigit((unsigned char)s[i + 1])
                                            ? s[i + 1] - '0'
                                            : (tolower((unsigned char)s[i + 1]) - 'a' + 10)),
                i++, k++;
            c = (char)v;
            break;
        }
        default:
            break; /* \" \\ \' and others stand for themselves */
        }
        ac__buf_append(&b, &c, 1);
    }
    return ac__buf_take(&b);
}

static bool parse_ref(parser *ps, char **name, long *index) {
    next(ps); /* $ */
    if (ps->kind == T_IDENT) {
        *name = strndup(ps->tok, ps->len);
        *index = -1;
    } else if (ps->kind == T_NUMBER && isdigit((unsigned char)ps->tok[0])) {
        char *end;
        errno = 0;
        *index = strtol(ps->tok, &end, 10);
        *name = NULL;
        if (errno == ERANGE || *index > 4096) {
            expected(ps, "a parameter position from $0 to $4096");
            return false;
        }
        if (end != ps->tok + ps->len) {
            expected(ps, "a parameter name or position after '$'");
            return false;
        }
    } else {
        expected(ps, "a parameter name or position after '$'");
        return false;
    }
    next(ps);
    return true;
}

/* errno names a completion may use in place of their values. */
static bool errno_value(const char *name, size_t len, long long *out) {
    static const struct {
        const char *name;
        int value;
    } names[] = {
        {"EPERM", EPERM},
        {"ENOENT", ENOENT},
        {"EINTR", EINTR},
        {"EIO", EIO},
        {"EBADF", EBADF},
        {"EAGAIN", EAGAIN},
        {"EWOULDBLOCK", EWOULDBLOCK},
        {"ENOMEM", ENOMEM},
        {"EACCES", EACCES},
        {"EEXIST", EEXIST},
        {"EINVAL", EINVAL},
        {"EMFILE", EMFILE},
        {"ENOSPC", ENOSPC},
        {"EPIPE", EPIPE},
        {"ERANGE", ERANGE},
        {"ENOSYS", ENOSYS},
        {"ETIME", ETIME},
        {"EPROTO", EPROTO},
        {"EMSGSIZE", EMSGSIZE},
        {"EADDRINUSE", EADDRINUSE},
        {"EADDRNOTAVAIL", EADDRNOTAVAIL},
        {"ENETDOWN", ENETDOWN},
        {"ENETUNREACH", ENETUNREACH},
        {"ECONNABORTED", ECONNABORTED},
        {"ECONNRESET", ECONNRESET},
        {"ENOBUFS", ENOBUFS},
        {"EISCONN", EISCONN},
        {"ENOTCONN", ENOTCONN},
        {"ETIMEDOUT", ETIMEDOUT},
        {"ECONNREFUSED", ECONNREFUSED},
        {"EHOSTDOWN", EHOSTDOWN},
        {"EHOSTUNREACH", EHOSTUNREACH},
        {"EALREADY", EALREADY},
        {"EINPROGRESS", EINPROGRESS},
        {"ECANCELED", ECANCELED},
        {"ENOTSUP", ENOTSUP},
        {"EOPNOTSUPP", EOPNOTSUPP},
        {"ESHUTDOWN", ESHUTDOWN},
        {"EPROTONOSUPPORT", EPROTONOSUPPORT},
        {"EAFNOSUPPORT", EAFNOSUPPORT},
        {"ENOPROTOOPT", ENOPROTOOPT},
        {"ENOTSOCK", ENOTSOCK},
        {"EDESTADDRREQ", EDESTADDRREQ},
        {"ENETRESET", ENETRESET},
        {"ENODATA", ENODATA},
        {"ENOMSG", ENOMSG},
        {"EBADMSG", EBADMSG},
        {"EOVERFLOW", EOVERFLOW},
        {"EBUSY", EBUSY},
        {"ENXIO", ENXIO},
        {"ENODEV", ENODEV},
        {"ENOTDIR", ENOTDIR},
        {"EISDIR", EISDIR},
        {"ENOTEMPTY", ENOTEMPTY},
        {"ENAMETOOLONG", ENAMETOOLONG},
        {"ELOOP", ELOOP},
        {"EFAULT", EFAULT},
        {"EFBIG", EFBIG},
        {"ENFILE", ENFILE},
        {"ENOTTY", ENOTTY},
        {"ESPIPE", ESPIPE},
        {"EROFS", EROFS},
        {"EXDEV", EXDEV},
        {"EDEADLK", EDEADLK},
        {"ENOLCK", ENOLCK},
        {"ESRCH", ESRCH},
        {"ECHILD", ECHILD},
        {"E2BIG", E2BIG},
        {"EDOM", EDOM},
        {"EILSEQ", EILSEQ},
        {"ESTALE", ESTALE},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i].name) == len && strncmp(names[i].name, name, len) == 0) {
            *out = names[i].value;
            return true;
        }
    return false;
}

#define UNKNOWN_ERRNO "unknown errno name '%.*s' (give its number, or use ac_mock_on_call_completef with %%d)"

/* An identifier shaped like an errno name (E and capitals or digits, e.g. EAGAIN), so that a misspelt one
 * is reported as such. */
static bool looks_like_errno(const parser *ps) {
    if (ps->kind != T_IDENT || ps->len < 2 || ps->tok[0] != 'E')
        return false;
    for (size_t i = 1; i < ps->len; i++)
        if (!isupper((unsigned char)ps->tok[i]) && !isdigit((unsigned char)ps->tok[i]))
            return false;
    return true;
}

/* A number: a double when it has a '.' or (outside hex) an exponent, else an integer (one too large for a
 * long long is read as unsigned); C suffixes (u, l, f) are allowed. */
static bool parse_number(parser *ps, ac__lit *lit) {
    char *end;
    errno = 0;
    bool is_float =
        memchr(ps->tok, '.', ps->len) || ((memchr(ps->tok, 'e', ps->len) || memchr(ps->tok, 'E', ps->len)) &&
                                          !(ps->len > 1 && (ps->tok[1] == 'x' || ps->tok[1] == 'X')));
    if (is_float) {
        lit->kind = AC_LIT_DOUBLE;
        lit->d = strtod(ps->tok, &end);
    } else {
        lit->kind = AC_LIT_INT;
        lit->i = strtoll(ps->tok, &end, 0);
        if (errno == ERANGE) {
            errno = 0;
            lit->i = (long long)strtoull(ps->tok, &end, 0);
        }
    }
    while (end < ps->tok + ps->len && strchr("uUlLfF", *end))
        end++;
    if (end != ps->tok + ps->len || errno) {
        expected(ps, "a number");
        return false;
    }
    next(ps);
    return true;
}

/* -EAGAIN (a -errno contract), with the current token at '-'. */
static bool parse_negative_errno(parser *ps, ac__lit *lit) {
    next(ps); /* - */
    if (ps->kind == T_IDENT && errno_value(ps->tok, ps->len, &lit->i)) {
        lit->kind = AC_LIT_INT;
        lit->i = -lit->i;
        next(ps);
        return true;
    }
    if (looks_like_errno(ps))
        problem(ps, UNKNOWN_ERRNO, ps->tok, ps->len);
    else
        expected(ps, "an errno name after '-'");
    return false;
}

/* One argument of the callback: a number, a "string", NULL, an errno name (or -name), true, false or a
 * reference to one of the call's arguments ($name, $N). */
static bool parse_lit(parser *ps, ac__lit *lit) {
    *lit = (ac__lit){.index = -1};
    if (ps->kind == T_NUMBER)
        return parse_number(ps, lit);
    if (ps->kind == T_STRING) {
        lit->kind = AC_LIT_STR;
        lit->s = unescape(ps->tok + 1, ps->len - 2);
    } else if (is(ps, "NULL") || is(ps, "nullptr")) {
        lit->kind = AC_LIT_NULL;
    } else if (ps->kind == T_IDENT && errno_value(ps->tok, ps->len, &lit->i)) {
        lit->kind = AC_LIT_INT;
    } else if (ps->kind == T_BAD && ps->len == 1 && ps->tok[0] == '-') {
        return parse_negative_errno(ps, lit);
    } else if (looks_like_errno(ps)) {
        problem(ps, UNKNOWN_ERRNO, ps->tok, ps->len);
        return false;
    } else if (is(ps, "true") || is(ps, "false")) {
        lit->kind = AC_LIT_INT;
        lit->i = is(ps, "true");
    } else if (ps->kind == T_DOLLAR) {
        lit->kind = AC_LIT_REF;
        return parse_ref(ps, &lit->s, &lit->index);
    } else {
        expected(ps, "an argument: a number, a \"string\", NULL, true, false, an errno name or $name");
        return false;
    }
    next(ps);
    return true;
}

/* The callback: its parameter's name or $N. */
static bool parse_callback(parser *ps, ac__completion_spec *out) {
    if (ps->kind == T_DOLLAR)
        return parse_ref(ps, &out->callback, &out->callback_index);
    if (ps->kind != T_IDENT) {
        expected(ps, "the callback parameter's name (or $N)");
        return false;
    }
    out->callback = strndup(ps->tok, ps->len);
    next(ps);
    return true;
}

/* '(' arguments ')', separated by commas, into out->args. */
static bool parse_args(parser *ps, ac__completion_spec *out) {
    if (!is(ps, "(")) {
        expected(ps, "'(' and the callback's arguments");
        return false;
    }
    next(ps);
    while (!is(ps, ")")) {
        ac__lit lit;
        if (!parse_lit(ps, &lit))
            return false;
        out->args = ac__xrealloc(out->args, (out->n + 1) * sizeof *out->args);
        out->args[out->n++] = lit;
        if (is(ps, ",")) {
            next(ps);
            continue;
        }
        if (!is(ps, ")")) {
            expected(ps, "',' or ')'");
            return false;
        }
    }
    next(ps); /* ) */
    return true;
}

int ac__completion_parse(const char *text, ac__completion_spec *out, ac__buf *err) {
    *out = (ac__completion_spec){.callback_index = -1};
    parser ps = {.text = text, .p = text, .err = err};
    next(&ps);
    if (!parse_callback(&ps, out)) {
        ac__completion_free(out);
        return -1;
    }
    if (!parse_args(&ps, out)) {
        ac__completion_free(out);
        return -1;
    }
    if (ps.kind != T_END) {
        expected(&ps, "the end of the completion");
        ac__completion_free(out);
        return -1;
    }
    return 0;
}

void ac__completion_free(ac__completion_spec *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->args[i].s);
    free(s->args);
    free(s->callback);
    *s = (ac__completion_spec){.callback_index = -1};
}
