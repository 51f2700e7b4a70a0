/* fuzz.h — shared by the fuzz targets. Each target has one entry function, built two ways:
 *  - for libFuzzer (-DASYNCHECK_FUZZ=ON, clang): AC_FUZZ_ENTRY makes it LLVMFuzzerTestOneInput;
 *  - in the normal build (gcc), with AC_FUZZ_REGRESS defined: regress.c runs every file of a folder
 *    through it (ctest: selftest.fuzz_regress), so every input that once failed keeps being checked.
 * A broken property is reported with FUZZ_CHECK: it prints what failed and aborts, which libFuzzer
 * saves as a crash and the regression runner reports as a failed input. */
#ifndef AC_FUZZ_H
#define AC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                                \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: fuzz property failed: %s: ", __FILE__, __LINE__, #cond);                 \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* The input as a NUL-terminated copy (malloc'd; the caller frees it). */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* True when s is one non-empty line: no '\n' anywhere (a terminal shows '\r' and other control
 * characters in place; only a newline makes a second line). */
static inline int fuzz_one_line(const char *s) {
    return s && *s && !strchr(s, '\n');
}

typedef int (*fuzz_entry)(const uint8_t *data, size_t size);
int ac_fuzz_proto(const uint8_t *data, size_t size);
int ac_fuzz_cli(const uint8_t *data, size_t size);
int ac_fuzz_filter(const uint8_t *data, size_t size);

#ifdef AC_FUZZ_REGRESS
#define AC_FUZZ_ENTRY(fn)
#else
#define AC_FUZZ_ENTRY(fn)                                                                                    \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                            \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                                           \
        return fn(data, size);                                                                               \
    }
#endif

#endif
