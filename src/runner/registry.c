/* registry.c — the list of tests and suites that AC_TEST / AC_SUITE register at program start, in
 * registration order. Owns no selection logic (see main.c). */
#include "runner.h"

#include <string.h>

static const ac__test_def **tests;
static size_t ntests, tests_cap;
static const ac__suite_def **suites;
static size_t nsuites, suites_cap;

static void add_test(const ac__test_def *def) {
    if (ntests == tests_cap) {
        tests_cap = tests_cap ? tests_cap * 2 : 64;
        tests = ac__xrealloc(tests, tests_cap * sizeof *tests);
    }
    tests[ntests++] = def;
}

const char *ac_param_name_first_field(const void *param) {
    return *(const char *const *)param;
}

/* An AC_PARAM_TEST becomes one test per table element, named "name/<param name>"; control
 * characters in a parameter's name become '_' so that every report keeps it on one line. The
 * instances live as long as the program. */
void ac__register_test(ac__test_def *def) {
    if (def->nparams == 0) {
        add_test(def);
        return;
    }
    for (size_t i = 0; i < def->nparams; i++) {
        ac__test_def *inst = ac__xmalloc(sizeof *inst);
        *inst = *def;
        inst->nparams = 0;
        inst->param = (const char *)def->params + i * def->param_size;
        const char *pname = def->options.param_name ? def->options.param_name(inst->param) : NULL;
        ac__buf name = {0};
        ac__buf_printf(&name, "%s/", def->name);
        size_t at = name.len;
        if (pname && *pname)
            ac__buf_puts(&name, pname);
        else
            ac__buf_printf(&name, "%zu", i);
        for (size_t k = at; k < name.len; k++)
            if ((unsigned char)name.data[k] < 0x20 || name.data[k] == 0x7f)
                name.data[k] = '_';
        inst->name = ac__buf_take(&name);
        add_test(inst);
    }
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
