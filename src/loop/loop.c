/* loop.c — see loop.h. (Minimal placeholder until the hygiene checks land: describes nothing.) */
#include "loop.h"

void ac__loop_begin(ac_test *t) {
    (void)t;
}

size_t ac__loop_describe_active(ac_test *t, ac_buf *out) {
    (void)t, (void)out;
    return 0;
}

void ac__loop_end(ac_test *t, bool report) {
    (void)t, (void)report;
}
