/* echo_buf.c — see echo_buf.h. */
#include "echo_buf.h"

#include <stdlib.h>

bool echo_reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 4096;
    while (cap2 < need)
        cap2 *= 2;
    char *p = realloc(*buf, cap2);
    if (!p)
        return false;
    *buf = p;
    *cap = cap2;
    return true;
}
