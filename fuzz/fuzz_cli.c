/* fuzz_cli.c — the test executable's command line: ac__parse_options / ac__options_free,
 * src/runner/options.c, with the environment variables it reads.
 *
 * Input: the arguments after the program name, one per line — or, when the input holds a NUL, one
 * per NUL-terminated piece (so an argument may contain a newline, as a shell can pass). A piece
 * "@NAME=value" whose NAME is one of the variables the parser reads sets that variable for this run
 * instead of being an argument.
 *
 * Properties checked (abort otherwise):
 *  - no crash, leak or undefined behaviour (the sanitizers);
 *  - -1 <=> a reason: a non-empty single line naming the bad part (an argument, its option or value,
 *    or the variable), which ac_main prints as "prog: REASON" before exiting 2; 0 writes no reason;
 *  - accepted options are within their documented ranges (jobs 1..4096 when given, positive finite
 *    timeout and multiplier with a finite product, repeat 1..1000000, shard index below the count,
 *    TAP version 13 or 14), a seed only from a whole number written in digits, a shard from the
 *    environment exactly as the variables say, and every filter one of the arguments given (nothing
 *    made up or lost). */
#include "fuzz.h"

#include <math.h>
#include <stdbool.h>

#include "runner/runner.h"

static const char *const env_vars[] = {
    "GTEST_SHARD_INDEX",    "GTEST_TOTAL_SHARDS", "TEST_SHARD_INDEX",       "TEST_TOTAL_SHARDS",
    "TESTBRIDGE_TEST_ONLY", "XML_OUTPUT_FILE",    "TEST_SHARD_STATUS_FILE", "TEST_PREMATURE_EXIT_FILE",
    "TEST_TMPDIR",          "GITHUB_ACTIONS",     "AC_TIMEOUT_MULTIPLIER",  "HARNESS_ACTIVE",
    "HARNESS_VERSION",
};
enum { NVARS = sizeof env_vars / sizeof *env_vars };

static int env_index(const char *name, size_t len) {
    for (int i = 0; i < NVARS; i++)
        if (strlen(env_vars[i]) == len && strncmp(env_vars[i], name, len) == 0)
            return i;
    return -1;
}

/* s with control characters escaped, as a one-line reason may show them: \n \t \r and \xNN for the rest
 * (short), or \xNN for all of them. */
static void escape_controls(ac__buf *b, const char *s, size_t n, bool short_forms) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (short_forms && (c == '\n' || c == '\t' || c == '\r'))
            ac__buf_printf(b, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
        else if (c < 0x20 || c == 0x7F)
            ac__buf_printf(b, "\\x%02x", c);
        else
            ac__buf_append(b, &s[i], 1);
    }
}

/* msg holds s[0..n), as it is or with its control characters escaped. */
static bool contains(const char *msg, const char *s, size_t n) {
    if (n == 0)
        return false;
    ac__buf raw = {0}, short_forms = {0}, hex = {0};
    ac__buf_append(&raw, s, n);
    escape_controls(&short_forms, s, n, true);
    escape_controls(&hex, s, n, false);
    bool found = strstr(msg, ac__buf_str(&raw)) || strstr(msg, ac__buf_str(&short_forms)) ||
                 strstr(msg, ac__buf_str(&hex));
    ac__buf_free(&raw);
    ac__buf_free(&short_forms);
    ac__buf_free(&hex);
    return found;
}

/* The reason names an argument (whole, its --name before '=', the value after it, or N of -jN), the
 * empty argument as '', or a variable that was set. */
static bool names_bad_part(const char *msg, int argc, char **argv, const bool *set) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (!*a && strstr(msg, "''"))
            return true;
        if (contains(msg, a, strlen(a)))
            return true;
        if (eq && (contains(msg, a, (size_t)(eq - a)) || contains(msg, eq + 1, strlen(eq + 1)) ||
                   (!eq[1] && strstr(msg, "''"))))
            return true;
        if (strncmp(a, "-j", 2) == 0 && contains(msg, a + 2, strlen(a + 2)))
            return true;
    }
    for (int v = 0; v < NVARS; v++)
        if (set[v] && strstr(msg, env_vars[v]))
            return true;
    return false;
}

/* Some argument (or the value of --seed=) is the seed written in decimal digits only. */
static bool seed_given_in_digits(unsigned long long seed, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *v = strncmp(argv[i], "--seed=", 7) == 0 ? argv[i] + 7 : argv[i];
        if (!*v || strspn(v, "0123456789") != strlen(v))
            continue;
        if (strtoull(v, NULL, 10) == seed)
            return true;
    }
    return false;
}

static bool points_into_args(const char *f, int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (f >= argv[i] && f <= argv[i] + strlen(argv[i]))
            return true;
    return false;
}

int ac_fuzz_cli(const uint8_t *data, size_t size) {
    static bool cleared;
    if (!cleared) { /* the fuzzer's own environment must not leak into the runs */
        for (int v = 0; v < NVARS; v++)
            unsetenv(env_vars[v]);
        cleared = true;
    }
    char *text = fuzz_text(data, size);
    char sep = memchr(data, '\0', size) ? '\0' : '\n';
    /* the pieces: at most size + 1 of them, plus the program name and argv's NULL */
    char **argv = malloc((size + 3) * sizeof *argv);
    if (!argv)
        abort();
    int argc = 0;
    argv[argc++] = "test";
    bool set[NVARS] = {false};
    for (size_t start = 0; start < size;) {
        char *piece = text + start;
        char *end = memchr(piece, sep, size - start);
        size_t len = end ? (size_t)(end - piece) : size - start;
        piece[len] = '\0';
        start += len + 1;
        const char *eq = piece[0] == '@' ? strchr(piece, '=') : NULL;
        int v = eq ? env_index(piece + 1, (size_t)(eq - piece - 1)) : -1;
        if (v >= 0) {
            setenv(env_vars[v], eq + 1, 1);
            set[v] = true;
        } else {
            argv[argc++] = piece;
        }
    }
    argv[argc] = NULL;

    ac__options o;
    ac__buf err = {0};
    int rc = ac__parse_options(argc, argv, &o, &err);
    FUZZ_CHECK(rc == 0 || rc == -1, "ac__parse_options returned %d", rc);
    if (rc < 0) {
        const char *msg = ac__buf_str(&err);
        FUZZ_CHECK(fuzz_one_line(msg), "the reason is not one non-empty line: [%s]", msg);
        FUZZ_CHECK(names_bad_part(msg, argc, argv, set), "the reason names no argument or variable: [%s]",
                   msg);
    } else {
        FUZZ_CHECK(err.len == 0, "accepted, yet a reason was written: [%s]", ac__buf_str(&err));
        FUZZ_CHECK(o.jobs >= 1, "jobs %ld", o.jobs);
        FUZZ_CHECK(isfinite(o.timeout) && o.timeout > 0, "timeout %g", o.timeout);
        FUZZ_CHECK(isfinite(o.multiplier) && o.multiplier > 0, "multiplier %g", o.multiplier);
        FUZZ_CHECK(isfinite(o.timeout * o.multiplier), "timeout %g s x multiplier %g is not finite",
                   o.timeout, o.multiplier);
        FUZZ_CHECK(o.repeat >= 1 && o.repeat <= 1000000, "repeat %ld", o.repeat);
        FUZZ_CHECK(o.explore_budget == 0 || (o.explore_budget > 0 && o.explore_budget <= 1e7),
                   "explore budget %g", o.explore_budget);
        FUZZ_CHECK(o.tap_version == 13 || o.tap_version == 14, "tap version %d", o.tap_version);
        FUZZ_CHECK(o.color >= AC_COLOR_AUTO && o.color <= AC_COLOR_NEVER, "color %d", (int)o.color);
        FUZZ_CHECK(o.shard_count == 0 || (o.shard_index >= 0 && o.shard_index < o.shard_count),
                   "shard %ld of %ld", o.shard_index, o.shard_count);
        /* a shard from Bazel's or GoogleTest's variables */
        if (o.shard_source && strcmp(o.shard_source, "--shard") != 0) {
            bool gtest = strncmp(o.shard_source, "GTEST_", 6) == 0;
            const char *index = getenv(gtest ? "GTEST_SHARD_INDEX" : "TEST_SHARD_INDEX");
            const char *total = getenv(gtest ? "GTEST_TOTAL_SHARDS" : "TEST_TOTAL_SHARDS");
            FUZZ_CHECK(index && total && strtol(index, NULL, 10) == o.shard_index &&
                           strtol(total, NULL, 10) == o.shard_count,
                       "%s: shard %ld of %ld from index '%s', total '%s'", o.shard_source, o.shard_index,
                       o.shard_count, index ? index : "(unset)", total ? total : "(unset)");
        }
        FUZZ_CHECK(!o.seed_given || seed_given_in_digits(o.seed, argc, argv),
                   "seed %llu was not given as a whole number", o.seed);
        FUZZ_CHECK(o.nfilters == 0 || o.filters, "%zu filters without an array", o.nfilters);
        const char *bazel = getenv("TESTBRIDGE_TEST_ONLY");
        for (size_t f = 0; f < o.nfilters; f++) {
            const char *pat = o.filters[f];
            FUZZ_CHECK(pat && *pat, "filter %zu is empty", f);
            if (f == 0 && bazel && *bazel && pat == bazel)
                continue;
            FUZZ_CHECK(strcmp(pat, "-") != 0, "filter %zu excludes the empty pattern", f);
            FUZZ_CHECK(points_into_args(pat, argc, argv), "filter %zu '%s' is none of the arguments", f, pat);
        }
    }
    ac__options_free(&o);
    FUZZ_CHECK(o.filters == NULL, "ac__options_free left the filters");
    ac__buf_free(&err);
    for (int v = 0; v < NVARS; v++)
        if (set[v])
            unsetenv(env_vars[v]);
    free(argv);
    free(text);
    return 0;
}

AC_FUZZ_ENTRY(ac_fuzz_cli)
