/* replace_lib.h — a tiny shared library for the ac_replace selftests (selftest/unit/replace.c). It is
 * linked lazily (-z lazy): its PLT slots hold the resolver stub until each function is first called. */
#ifndef AC_SELFTEST_REPLACE_LIB_H
#define AC_SELFTEST_REPLACE_LIB_H

/* getenv(name), called from inside the library. */
const char *rl_getenv(const char *name);

/* getuid(), called from inside the library. Only replace.lazy_slot_* calls it, so that test finds the
 * library's getuid slot still unbound. */
unsigned rl_getuid(void);

#endif
