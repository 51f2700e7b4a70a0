/* regions.c — STUB (to be written): atomic regions over named resources. */
#include "race.h"

void ac__atomic(int op, const char *res, const char *file, int line) {
    (void)op, (void)res, (void)file, (void)line;
}

void ac__regions_segment_end(unsigned long serial) {
    (void)serial;
}
