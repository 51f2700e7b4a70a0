/* replace_lib.c — see replace_lib.h. */
#include "replace_lib.h"

#include <stdlib.h>
#include <unistd.h>

const char *rl_getenv(const char *name) {
    return getenv(name);
}

unsigned rl_getuid(void) {
    return (unsigned)getuid();
}
