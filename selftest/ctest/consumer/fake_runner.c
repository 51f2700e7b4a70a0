/* fake_runner.c — not asyncheck: answers --list=tsv like an asyncheck test executable, with names full
 * of characters CMake and ctest treat specially (in the four columns of older runners, and two
 * exploring ones with runs, sweep and budget), and "runs" a test when --filter GLOB selects exactly
 * one name (fnmatch(3), as asyncheck does), printing "ran <name>". FAKE_LIST_FAIL in the environment
 * makes the listing fail; --only-plain lists one name; --explore-budget S is accepted when running. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *timeout;
} tests[] = {
    {"odd.plain", "2.5"},
    {"odd.tiny_timeout", "1e-05"},
    {"odd.huge_timeout", "1e+06"},
    {"odd.semi;colon", "30"},
    {"odd.params/[1,2]", "30"},
    {"odd.open[only", "30"},
    {"odd.close]only", "30"},
    {"odd.hash#1", "30"},
    {"odd.two  spaces here", "30"},
    {"odd.star/*", "30"},
    {"odd.star/x", "30"},
    {"odd.quest?", "30"},
    {"odd.questX", "30"},
    {"odd.dollar${HOME}", "30"},
    {"odd.quote\"q'", "30"},
    {"odd.back\\slash", "30"},
    {"odd.percent%41", "30"},
    {"odd.percentA", "30"},
    {"odd.bracket-close]==]", "30"},
    {"odd.mix/a b;c[d]#e$f", "30"},
    {"odd.explores", "2.5"},
    {"odd.sweeps", "1e-05"},
};
enum { NTESTS = sizeof tests / sizeof tests[0] };

/* The runs, sweep and budget columns of the exploring names; NULL: the four columns only. */
static const char *exploration_of(const char *name) {
    if (strcmp(name, "odd.explores") == 0)
        return "40\t0\t0.5";
    if (strcmp(name, "odd.sweeps") == 0)
        return "1\t1\t0";
    return NULL;
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    int list = 0, only_plain = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list=tsv") == 0)
            list = 1;
        else if (strcmp(argv[i], "--only-plain") == 0)
            only_plain = 1;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(argv[i], "--explore-budget") == 0 && i + 1 < argc)
            i++;
        else {
            fprintf(stderr, "fake_runner: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (list) {
        if (getenv("FAKE_LIST_FAIL")) {
            fprintf(stderr, "fake_runner: listing refused (FAKE_LIST_FAIL is set)\n");
            return 2;
        }
        for (int i = 0; i < (only_plain ? 1 : NTESTS); i++) {
            printf("%s\t%s\t%s\t%d", tests[i].name, tests[i].timeout, __FILE__, 20 + i);
            if (exploration_of(tests[i].name))
                printf("\t%s", exploration_of(tests[i].name));
            printf("\n");
        }
        return 0;
    }
    if (!filter) {
        fprintf(stderr, "fake_runner: no --filter\n");
        return 2;
    }
    int matches = 0, which = -1;
    for (int i = 0; i < NTESTS; i++)
        if (fnmatch(filter, tests[i].name, 0) == 0)
            matches++, which = i;
    if (matches != 1) {
        printf("fake_runner: --filter '%s' matched %d names\n", filter, matches);
        return 1;
    }
    printf("ran %s\n", tests[which].name);
    return 0;
}
