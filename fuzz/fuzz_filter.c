/* fuzz_filter.c — --filter matching. The runner's select_tests (src/runner/main.c) is static and reads
 * the registry, so this target drives what is reachable the same way it does: the pattern goes through
 * ac__parse_options as `--filter PATTERN` (which decides what a pattern may be), then a leading '-'
 * makes it negative and the rest is matched with fnmatch(pattern, name, 0) against test names.
 *
 * Input: the pattern up to the first newline (or NUL), then test names one a line. Names are what the
 * registry can hold: control characters become '_' (as in parameterized names); the first 16 count;
 * with no names given, a fixed set of typical ones is used.
 *
 * Properties checked (abort otherwise):
 *  - no crash or undefined behaviour, and no slow match (libFuzzer's -timeout);
 *  - fnmatch answers match or no match (an error would silently count as "no match");
 *  - a pattern without glob characters (* ? [ \) matches exactly the name it spells;
 *  - the exact-name glob that ctest discovery writes (cmake/asyncheckAddTests.cmake,
 *    _asyncheck_glob_escape: \ * ? [ ] and a leading '-' escaped with '\') is accepted by --filter as a
 *    positive pattern and selects that name and no other. */
#include "fuzz.h"

#include <fnmatch.h>
#include <stdbool.h>

#include "runner/runner.h"

static const char *const typical_names[] = {
    "timers.fires_once",
    "math.squares/two",
    "math.squares/0",
    "net.slow_connect",
    "net.slow_*",
    "http.fetches_a_page_through_a_mocked_connect",
    "a.b",
    "suite.name/with space",
    "s.p/[x]",
    "s.p/a\\b",
};

enum { MAX_NAMES = 16 }; /* every name is matched against every other's exact glob: keep it quick */

/* The C twin of _asyncheck_glob_escape in cmake/asyncheckAddTests.cmake. */
static char *glob_escape(const char *name) {
    size_t n = strlen(name);
    char *out = malloc(2 * n + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\*?[]", name[i]) || (i == 0 && name[i] == '-'))
            *o++ = '\\';
        *o++ = name[i];
    }
    *o = '\0';
    return out;
}

/* As select_tests: the pattern as --filter stores it, negative or not. True when it matches. */
static bool filter_matches(const char *filter, const char *name) {
    bool neg = filter[0] == '-';
    int r = fnmatch(neg ? filter + 1 : filter, name, 0);
    FUZZ_CHECK(r == 0 || r == FNM_NOMATCH, "fnmatch('%s', '%s') returned %d", neg ? filter + 1 : filter, name,
               r);
    return r == 0;
}

/* --filter PATTERN through the real option parser; NULL when it refuses the pattern. */
static const char *accepted_filter(const char *pattern, ac__options *o) {
    char *argv[] = {"test", "--filter", (char *)pattern, NULL};
    ac__buf err = {0};
    int rc = ac__parse_options(3, argv, o, &err);
    ac__buf_free(&err);
    if (rc < 0)
        return NULL;
    FUZZ_CHECK(o->nfilters == 1, "one --filter gave %zu filters", o->nfilters);
    return o->filters[0];
}

int ac_fuzz_filter(const uint8_t *data, size_t size) {
    static bool cleared;
    if (!cleared) {
        unsetenv("TESTBRIDGE_TEST_ONLY"); /* would add a filter of its own */
        cleared = true;
    }
    char *text = fuzz_text(data, size);
    char *nl = strchr(text, '\n');
    const char *pattern = text;
    const char **names = malloc((MAX_NAMES + sizeof typical_names / sizeof *typical_names) * sizeof *names);
    if (!names)
        abort();
    size_t nnames = 0;
    if (nl) {
        *nl = '\0';
        for (char *p = nl + 1; *p;) {
            char *end = strchr(p, '\n');
            if (end)
                *end = '\0';
            for (char *c = p; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = '_';
            if (*p && nnames < MAX_NAMES)
                names[nnames++] = p;
            if (!end)
                break;
            p = end + 1;
        }
    }
    if (nnames == 0)
        for (size_t i = 0; i < sizeof typical_names / sizeof *typical_names; i++)
            names[nnames++] = typical_names[i];

    ac__options o;
    const char *filter = accepted_filter(pattern, &o);
    if (filter) {
        bool neg = filter[0] == '-';
        const char *glob = neg ? filter + 1 : filter;
        bool plain = !strpbrk(glob, "\\*?[");
        for (size_t i = 0; i < nnames; i++) {
            bool m = filter_matches(filter, names[i]);
            if (plain)
                FUZZ_CHECK(m == (strcmp(glob, names[i]) == 0), "plain pattern '%s' vs name '%s': %s", glob,
                           names[i], m ? "matched" : "did not match");
        }
    }
    ac__options_free(&o);

    for (size_t i = 0; i < nnames; i++) {
        char *exact = glob_escape(names[i]);
        ac__options eo;
        const char *f = accepted_filter(exact, &eo);
        FUZZ_CHECK(f != NULL, "--filter refused the exact-name glob '%s' of '%s'", exact, names[i]);
        FUZZ_CHECK(f[0] != '-', "the exact-name glob '%s' of '%s' excludes", f, names[i]);
        for (size_t j = 0; j < nnames; j++)
            FUZZ_CHECK(filter_matches(f, names[j]) == (strcmp(names[i], names[j]) == 0),
                       "the exact-name glob '%s' of '%s' vs '%s'", f, names[i], names[j]);
        ac__options_free(&eo);
        free(exact);
    }
    free(names);
    free(text);
    return 0;
}

AC_FUZZ_ENTRY(ac_fuzz_filter)
