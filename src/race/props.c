/* props.c — STUB (to be written): AC_ALWAYS, AC_SOMETIMES, AC_REACHABLE, AC_UNREACHABLE. */
#include "race.h"

void ac__prop(ac__prop_site *site, bool value) {
    site->evaluated++;
    if (value)
        site->hit++;
}

void ac__props_send(ac_test *t) {
    (void)t;
}
