/* proto.h — the ffi module's interface: the model of a parsed C prototype (types, parameters and their
 * libffi call interface) and the parsers for prototypes, typedefs and completion specs. Used by mocks
 * (closures, completions) and by the race assertions (AC_ONCE's callback signature). Knows nothing about
 * calls or tests. */
#ifndef AC_FFI_PROTO_H
#define AC_FFI_PROTO_H

#include <ffi.h>
#include <stdbool.h>
#include <stddef.h>

#include "../util/util.h"

/* The C types a prototype may use, one line each, lowest first: every per-type table (the kinds, their
 * names, sizes and libffi types here; reading, storing and returning values in the mocks) is generated
 * from this list, so that a type is added in one place.
 *   X(KIND, name, ctype, member, ffi, class, is_signed)
 *   KIND       the ac__tkind enumerator: AC_TK_KIND
 *   name       the type as messages name it
 *   ctype      the C type a value of it has (unused for void)
 *   member     the field holding it in a value slot (the scalar classes only)
 *   ffi        its libffi type
 *   class      how its values are read, stored and converted: VOID, BOOL, INT (an integer other than
 *              bool), FLOAT, PTR (any data pointer), STR (const char *: a string) or FNPTR (a function
 *              pointer with a parsed prototype); a table takes one macro per class, pasted with it
 *   is_signed  whether an integer of it is signed (0 for the other classes) */
#define AC__TKINDS(X)                                                                                        \
    X(VOID, "void", void, v, &ffi_type_void, VOID, 0)                                                        \
    X(BOOL, "bool", _Bool, b, &ffi_type_uint8, BOOL, 0)                                                      \
    X(CHAR, "char", char, c, ((char)-1 < 0 ? &ffi_type_schar : &ffi_type_uchar), INT, ((char)-1 < 0))        \
    X(SCHAR, "signed char", signed char, sc, &ffi_type_schar, INT, 1)                                        \
    X(UCHAR, "unsigned char", unsigned char, uc, &ffi_type_uchar, INT, 0)                                    \
    X(SHORT, "short", short, s, &ffi_type_sshort, INT, 1)                                                    \
    X(USHORT, "unsigned short", unsigned short, us, &ffi_type_ushort, INT, 0)                                \
    X(INT, "int", int, i, &ffi_type_sint, INT, 1)                                                            \
    X(UINT, "unsigned int", unsigned, ui, &ffi_type_uint, INT, 0)                                            \
    X(LONG, "long", long, l, &ffi_type_slong, INT, 1)                                                        \
    X(ULONG, "unsigned long", unsigned long, ul, &ffi_type_ulong, INT, 0)                                    \
    X(LLONG, "long long", long long, ll, &ffi_type_sint64, INT, 1)                                           \
    X(ULLONG, "unsigned long long", unsigned long long, ull, &ffi_type_uint64, INT, 0)                       \
    X(FLOAT, "float", float, f, &ffi_type_float, FLOAT, 0)                                                   \
    X(DOUBLE, "double", double, d, &ffi_type_double, FLOAT, 0)                                               \
    X(PTR, "pointer", void *, p, &ffi_type_pointer, PTR, 0)                                                  \
    X(STR, "string", const char *, p, &ffi_type_pointer, STR, 0)                                             \
    X(FNPTR, "function pointer", void (*)(void), p, &ffi_type_pointer, FNPTR, 0)

#define AC__TK_ENUMERATOR(KIND, name, ctype, member, ffi, class, is_signed) AC_TK_##KIND,
typedef enum ac__tkind { AC__TKINDS(AC__TK_ENUMERATOR) } ac__tkind;
#undef AC__TK_ENUMERATOR

/* How values of a kind are handled (the list's class column). */
typedef enum ac__tclass {
    AC__TC_VOID,
    AC__TC_BOOL,
    AC__TC_INT,
    AC__TC_FLOAT,
    AC__TC_PTR,
    AC__TC_STR,
    AC__TC_FNPTR
} ac__tclass;

typedef struct ac__proto ac__proto;

typedef struct ac__type {
    ac__tkind kind;
    ac__proto *fn; /* AC_TK_FNPTR */
    bool borrowed; /* fn belongs to a typedef: not freed with this type */
} ac__type;

struct ac__proto {
    char *name; /* NULL for an abstract (unnamed) function pointer type */
    ac__type ret;
    size_t n;
    ac__type *params;
    char **names; /* parameter names, NULL entries where unnamed */
    ffi_cif cif;
    ffi_type **atypes;
};

/* Parses a prototype. On failure returns NULL and writes one line into err: where, and what was
 * expected there. */
ac__proto *ac__proto_parse(const char *text, ac__buf *err);
void ac__proto_free(ac__proto *p);
/* Registers a typedef; -1 with a reason in err when `type` does not parse. */
int ac__typedef_add(const char *name, const char *type, ac__buf *err);

/* The libffi type of a value of type t. */
ffi_type *ac__ffi_type(ac__type t);
/* The class of kind k (the list's class column). */
ac__tclass ac__tkind_class(ac__tkind k);
/* Whether k is an integer type, bool included. */
bool ac__tkind_integral(ac__tkind k);
/* Whether k is a floating type. */
bool ac__tkind_floating(ac__tkind k);
/* Whether k is a pointer of any class: data, string or function. */
bool ac__tkind_pointer(ac__tkind k);
/* Whether k is a signed integer type (char as this ABI has it). */
bool ac__tkind_signed(ac__tkind k);
/* The type's name in messages ("unsigned int", "string", "function pointer"). */
const char *ac__tkind_name(ac__tkind k);
/* The size of a value of kind k (0 for void). */
size_t ac__tkind_size(ac__tkind k);

/* A literal or a reference in a completion spec. */
typedef enum ac__lit_kind { AC_LIT_INT, AC_LIT_DOUBLE, AC_LIT_STR, AC_LIT_NULL, AC_LIT_REF } ac__lit_kind;
typedef struct ac__lit {
    ac__lit_kind kind;
    long long i;
    double d;
    char *s;    /* AC_LIT_STR (unescaped), or the reference's name (AC_LIT_REF by name) */
    long index; /* AC_LIT_REF by position, or -1 */
} ac__lit;

/* "cb(200, \"ok\", $ud)" into the callback's name (or $N) and its arguments. */
typedef struct ac__completion_spec {
    char *callback;      /* name, or NULL when given by position */
    long callback_index; /* -1 unless given as $N */
    size_t n;
    ac__lit *args;
} ac__completion_spec;

int ac__completion_parse(const char *text, ac__completion_spec *out, ac__buf *err);
void ac__completion_free(ac__completion_spec *s);

#endif
