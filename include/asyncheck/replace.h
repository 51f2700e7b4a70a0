/* asyncheck/replace.h — replacing a named function for the duration of one test.
 *
 *   static int fail_connect(int fd, const struct sockaddr *sa, socklen_t n) {
 *       errno = ECONNREFUSED;
 *       return -1;
 *   }
 *   AC_TEST(client, reports_refused) {
 *       ac_replace(t, "connect", fail_connect); // until the test ends
 *       ...
 *   }
 *
 * With a mock: ac_mock_replace(m) replaces the function the mock's prototype names (mock.h).
 *
 * ac_replace rewrites the GOT/PLT slots through which the loaded objects call the function: the
 * executable's calls to shared libraries (libc, libev, a library under test), calls between and inside
 * shared libraries that go through their PLT, lazily bound or not, and -fno-plt calls. It does not reach
 * calls inside the executable to its own functions (they are direct calls, with no slot to rewrite), calls
 * a library makes to itself without its PLT (-fno-semantic-interposition, hidden or protected functions),
 * function pointers stored in data before the replacement, nor objects dlopen'd after it. For calls inside
 * the executable, link with -Wl,--wrap=name and use AC_WRAP below: --wrap reaches exactly those (calls from
 * other object files of the executable), not calls from shared libraries, so the two complement each other.
 *
 * A replacement affects every caller in the process while it is in force, asyncheck's own code and
 * libev's included: replacing read, write, malloc, clock_gettime or epoll_wait also redirects the test
 * loop's and the harness's own calls of them. Let a replacement pass the calls it does not target through
 * to the original (by file descriptor, by argument, or by a flag the test sets around the code under test).
 * ac_replace itself calls nothing between rewriting the first slot and returning, so a replacement of a
 * function the harness uses (malloc, free, realloc, write...) may call the original it returns:
 *
 *   static void *(*real_malloc)(size_t);
 *   static void *counting_malloc(size_t n) { mallocs++; return real_malloc(n); }
 *   real_malloc = AC_REPLACE(t, malloc, counting_malloc); // counts the harness's mallocs too
 *
 * Functions only, on x86-64 and AArch64 Linux with glibc-style dynamic linking; elsewhere ac_replace fails
 * the test saying so. Call these on the test's thread. */
#ifndef ASYNCHECK_REPLACE_H
#define ASYNCHECK_REPLACE_H

#include "test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Redirects every call to the function named `symbol` that goes through a GOT/PLT slot of a loaded object
 * (the executable and every shared library) to `replacement`, for the rest of test `t`: the slots are
 * written back when the test ends (after teardown, also after a fatal failure), or earlier by ac_restore.
 * Read-only (RELRO) slot pages are made writable for the store and read-only again after it. Returns the
 * original function, as the dynamic linker binds it (dlsym), never a slot's lazy-binding stub, so the
 * replacement can call through to it. If no loaded object calls `symbol` through a slot, the test fails
 * fatally with a message naming it (calls inside the executable to its own functions cannot be reached
 * this way: use -Wl,--wrap and AC_WRAP); ac_replace_if_called below accepts that quietly. Replacing a symbol
 * again stacks: the later replacement wins, and the original returned is still the real function. The macro
 * form records the caller's file and line for that failure; `(ac_replace)(t, symbol, replacement)` calls the
 * function itself. */
void *ac_replace(ac_test *t, const char *symbol, void *replacement);
void *ac__replace_at(ac_test *t, const char *symbol, void *replacement, const char *file, int line);
#define ac_replace(t, symbol, replacement) ac__replace_at((t), (symbol), (replacement), __FILE__, __LINE__)

/* AC_REPLACE(t, fn, replacement): ac_replace with the types checked against the declaration of `fn` (a
 * replacement of another type draws a compiler warning) and the original returned with fn's own type:
 *
 *   static char *(*real_getenv)(const char *);
 *   real_getenv = AC_REPLACE(t, getenv, fake_getenv); */
#define AC_REPLACE(t, fn, replacement)                                                                       \
    ((__typeof__(&(fn)))ac__replace_at((t), #fn, (void *)(1 ? (replacement) : &(fn)), __FILE__, __LINE__))

/* ac_replace for a symbol that may have no caller: rewrites the GOT/PLT slots that call `symbol`, if any,
 * and when none does, changes nothing and does not fail the test. For code whose calls depend on the build
 * (a library that calls writev on one platform and write on another), or a replacement installed for
 * several libraries of which only some are loaded. Returns the original as ac_replace does (NULL when no
 * loaded object defines `symbol`). Every other failure of ac_replace (an unsupported architecture, a
 * slot page that cannot be made writable, a NULL replacement) still fails the test. */
void *ac_replace_if_called(ac_test *t, const char *symbol, void *replacement);
void *ac__replace_if_called_at(ac_test *t, const char *symbol, void *replacement, const char *file, int line);
#define ac_replace_if_called(t, symbol, replacement)                                                         \
    ac__replace_if_called_at((t), (symbol), (replacement), __FILE__, __LINE__)

/* AC_REPLACE_IF_CALLED(t, fn, replacement): ac_replace_if_called with AC_REPLACE's type checks. */
#define AC_REPLACE_IF_CALLED(t, fn, replacement)                                                             \
    ((__typeof__(&(fn)))ac__replace_if_called_at((t), #fn, (void *)(1 ? (replacement) : &(fn)), __FILE__,    \
                                                 __LINE__))

/* Undoes every replacement of `symbol` made in test `t` now, newest first, rather than when the test ends.
 * Does nothing when `symbol` is not replaced. */
void ac_restore(ac_test *t, const char *symbol);

/* ---- the -Wl,--wrap route, for calls inside the executable ----
 *
 * Link the test executable with -Wl,--wrap=name: the linker then sends every reference to `name` from the
 * executable's other object files to __wrap_name, and __real_name reaches the original. (References from
 * the object file that defines `name` itself, and from shared libraries, are not redirected.) AC_WRAP
 * defines __wrap_name once, in any one file of the executable:
 *
 *   AC_WRAP(int, parse_header, (const char *s, int n), (s, n))
 *
 * It calls the replacement the running test installed with ac_wrap_set(t, "parse_header", fn), and
 * __real_parse_header when none is installed (also outside tests). AC_WRAP_VOID is the same for functions
 * returning void. Note that --wrap also redirects asyncheck's own references when asyncheck is linked
 * statically (e.g. --wrap=write covers the harness's write calls while a replacement is installed). */

/* Installs `fn` as the replacement that the AC_WRAP-generated __wrap_<name> calls, for the rest of test
 * `t`; removed when the test ends. Installing again replaces the previous one; NULL removes it now. */
void ac_wrap_set(ac_test *t, const char *name, void *fn);

/* The replacement installed for `name` in the running test, or NULL. For AC_WRAP; async-signal-safe and
 * lock-free, and it calls no library function (it may itself be reached from a wrapped one). */
void *ac__wrap_get(const char *name);

#define AC_WRAP(ret, name, params, args)                                                                     \
    ret __real_##name params;                                                                                \
    ret __wrap_##name params;                                                                                \
    ret __wrap_##name params {                                                                               \
        ret(*ac__fn_) params = (ret(*) params)ac__wrap_get(#name);                                           \
        return ac__fn_ ? ac__fn_ args : __real_##name args;                                                  \
    }

#define AC_WRAP_VOID(name, params, args)                                                                     \
    void __real_##name params;                                                                               \
    void __wrap_##name params;                                                                               \
    void __wrap_##name params {                                                                              \
        void(*ac__fn_) params = (void(*) params)ac__wrap_get(#name);                                         \
        if (ac__fn_)                                                                                         \
            ac__fn_ args;                                                                                    \
        else                                                                                                 \
            __real_##name args;                                                                              \
    }

#ifdef __cplusplus
}
#endif

#endif
