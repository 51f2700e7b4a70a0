/* clock_lib.c — a tiny shared library that reads the time from inside itself, for the virtual clock's
 * selftests (selftest/unit/clock_layer.c): never linked, only dlopen'd, so that it is an object loaded
 * after the clock's replacements went into the slots. */
#include <time.h>

long cl_time(void);

long cl_time(void) {
    return (long)time(NULL);
}
