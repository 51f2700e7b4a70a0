/* registry.c — the list of tests and suites that AC_TEST / AC_SUITE register at program start, in
 * registration order. Owns no selection logic (see main.c). */
#include "runner.h"

#include <string.h>

static const ac__test_def **tests;
static size_t ntests, tests_cap;
static const ac__suite_def **suites;
static size_t nsuites, suites_cap;

void ac__register_test(ac__test_def *def) {
    if (ntests == tests_cap) {
        tests_cap = tests_cap ? tests_cap * 2 : 64;
        tests = ac__xrealloc(tests, tests_cap * sizeof *tests);
    }
    tests[ntests++] = def;
}

void ac__register_suite(ac__suite_def *def) {
    if (nsuites == suites_cap) {
        suites_cap = suites_cap ? suites_cap * 2 : 16;
        suites = ac__xrealloc(suites, suites_cap * sizeof *suites);
    }
    suites[nsuites++] = def;
}

size_t ac__test_count(void) {
    return ntests;
}

const ac__test_def *ac__test_at(size_t i) {
    return tests[i];
}

const ac__suite_def *ac__suite_find(const char *name) {
    for (size_t i = 0; i < nsuites; i++)
        if (strcmp(suites[i]->name, name) == 0)
            return suites[i];
    return NULL;
}
