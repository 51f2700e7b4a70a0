/* events.c — STUB (to be written): AC_EVENT and ordering between events. */
#include "race.h"

void ac__event(const char *name, const char *file, int line) {
    (void)name, (void)file, (void)line;
}

size_t ac_event_count(ac_test *t, const char *name) {
    (void)t, (void)name;
    return 0;
}

void ac_require_order(ac_test *t, const char *before, const char *after) {
    (void)t, (void)before, (void)after;
}

bool ac__check_before(bool fatal, const char *a, const char *b, const char *file, int line) {
    (void)fatal, (void)a, (void)b, (void)file, (void)line;
    return true;
}
