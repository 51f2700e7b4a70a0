/* once.c — STUB (to be written): exactly-once callbacks and the operation's callback. */
#include "race.h"

void *ac__once(ac_test *t, const char *prototype, void *fn, const char *file, int line) {
    (void)t, (void)prototype, (void)file, (void)line;
    return fn;
}

size_t ac_once_calls(const void *wrapped) {
    (void)wrapped;
    return 0;
}

void *ac__op_callback(ac_test *t, const char *prototype, void *fn, int promise, const char *file, int line) {
    (void)t, (void)prototype, (void)promise, (void)file, (void)line;
    return fn;
}

int ac__op_promise(void) {
    return -1;
}

size_t ac__op_calls_after_cancel(void) {
    return 0;
}

void ac__asserts_begin(ac_test *t) {
    (void)t;
}

void ac__asserts_end(ac_test *t) {
    (void)t;
}
