/* trace_check.c — the selftests' Trace Event Format validator (support/trace_check.c), shown to accept
 * well-formed traces and to reject each rule's violation, so that a trace test passing means something. */
#include <asyncheck.h>
#include <string.h>

#include "trace_check.h"

#define GOOD_TRACE                                                                                           \
    "{\"traceEvents\":["                                                                                     \
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"loop\"}},"              \
    "{\"ph\":\"X\",\"name\":\"on_read\",\"cat\":\"cb\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":12.5},"          \
    "{\"ph\":\"i\",\"name\":\"call send #0\",\"pid\":1,\"tid\":1,\"ts\":20,\"s\":\"t\"},"                    \
    "{\"ph\":\"s\",\"name\":\"send\",\"cat\":\"mock\",\"id\":7,\"pid\":1,\"tid\":1,\"ts\":20},"              \
    "{\"ph\":\"C\",\"name\":\"watchers\",\"pid\":1,\"tid\":1,\"ts\":25,\"args\":{\"active\":2}},"            \
    "{\"ph\":\"B\",\"name\":\"step\",\"pid\":1,\"tid\":1,\"ts\":30},"                                        \
    "{\"ph\":\"E\",\"name\":\"step\",\"pid\":1,\"tid\":1,\"ts\":31},"                                        \
    "{\"ph\":\"f\",\"name\":\"send\",\"cat\":\"mock\",\"id\":7,\"bp\":\"e\",\"pid\":1,\"tid\":1,\"ts\":40}," \
    "{\"ph\":\"i\",\"name\":\"completion send #0 \\u00e9\\n\",\"pid\":1,\"tid\":1,\"ts\":40}"                \
    "],\"otherData\":{\"replay\":\"./t --seed=3\",\"seed\":\"3\"}}"

AC_TEST(trace_check, accepts_a_well_formed_trace) {
    ac__buf why = {0};
    trace_doc *d = trace_parse(GOOD_TRACE, &why);
    if (!d)
        AC_FAIL("rejected: %s", ac__buf_str(&why));
    AC_EXPECT_EQ(trace_count(d, NULL, NULL), 9);
    AC_EXPECT_EQ(trace_count(d, "i", "send #0"), 2);
    AC_EXPECT_EQ(trace_count(d, "X", NULL), 1);
    AC_EXPECT_EQ(trace_count(d, "X", "nothing"), 0);
    AC_EXPECT_TRUE(trace_index(d, "i", "call send") < trace_index(d, "i", "completion send"));
    AC_EXPECT_EQ(trace_index(d, "Q", NULL), -1);
    AC_EXPECT_TRUE(trace_ts(d, "f", NULL) == 40.0);
    AC_EXPECT_STR_EQ(trace_meta(d, "replay"), "./t --seed=3");
    AC_EXPECT_TRUE(trace_meta(d, "absent") == NULL);
    trace_free(d);
    ac__buf_free(&why);
}

AC_TEST(trace_check, accepts_a_bare_array) {
    ac__buf why = {0};
    trace_doc *d = trace_parse(" [ {\"ph\":\"I\",\"name\":\"x\",\"pid\":1,\"tid\":2,\"ts\":1e3} ] ", &why);
    if (!d)
        AC_FAIL("rejected: %s", ac__buf_str(&why));
    AC_EXPECT_TRUE(trace_ts(d, "I", "x") == 1000.0);
    AC_EXPECT_TRUE(trace_meta(d, "replay") == NULL);
    trace_free(d);
    ac__buf_free(&why);
}

/* Each case breaks one rule; the validator must reject it and say why. */
static const struct {
    const char *text, *why;
} bad[] = {
    {"", "no JSON value"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1},]", "no JSON value"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}] x", "text after the JSON value"},
    {"[{\"ph\":\"i\",\"name\":\"a\tb\",\"pid\":1,\"tid\":1,\"ts\":1}]", "control character"},
    {"[{\"ph\":\"i\",\"name\":\"\\q\",\"pid\":1,\"tid\":1,\"ts\":1}]", "unknown escape"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":01}]", "an object not closed"},
    {"{\"events\":[]}", "traceEvents"},
    {"[{\"ph\":\"Z\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}]", "\"ph\" is not one of"},
    {"[{\"ph\":\"i\",\"pid\":1,\"tid\":1,\"ts\":1}]", "\"name\" is missing"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":\"1\",\"tid\":1,\"ts\":1}]", "must be integers"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1.5,\"tid\":1,\"ts\":1}]", "must be integers"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1}]", "\"ts\" is missing"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":-1}]", "negative"},
    {"[{\"ph\":\"X\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}]", "needs a number \"dur\""},
    {"[{\"ph\":\"C\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1,\"args\":{\"n\":\"2\"}}]",
     "is not a number"},
    {"[{\"ph\":\"C\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}]", "needs an \"args\""},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1,\"s\":\"q\"}]", "\"s\" must be"},
    {"[{\"ph\":\"M\",\"name\":\"colour\",\"pid\":1,\"tid\":1,\"args\":{}}]", "none the format defines"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1,\"args\":[]}]", "not an object"},
    {"[{\"ph\":\"s\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}]", "needs an \"id\""},
    {"[{\"ph\":\"s\",\"name\":\"x\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":1}]", "never ended"},
    {"[{\"ph\":\"f\",\"name\":\"x\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":1}]", "without an open start"},
    {"[{\"ph\":\"s\",\"name\":\"x\",\"cat\":\"a\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":1},"
     "{\"ph\":\"f\",\"name\":\"x\",\"cat\":\"b\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":2}]",
     "without an open start"},
    {"[{\"ph\":\"s\",\"name\":\"x\",\"id\":1,\"pid\":1,\"tid\":1,\"ts\":5},"
     "{\"ph\":\"f\",\"name\":\"x\",\"id\":1,\"pid\":1,\"tid\":2,\"ts\":2}]",
     "before its start"},
    {"[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":5},"
     "{\"ph\":\"i\",\"name\":\"y\",\"pid\":1,\"tid\":1,\"ts\":4}]",
     "comes after ts"},
    {"[{\"ph\":\"B\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}]", "never ended on track"},
    {"[{\"ph\":\"E\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":1}]", "without a begin"},
};

AC_TEST(trace_check, rejects_each_violation) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ac__buf why = {0};
        trace_doc *d = trace_parse(bad[i].text, &why);
        if (d)
            AC_FAIL_LATER("case %zu accepted: %s", i, bad[i].text);
        else if (!strstr(ac__buf_str(&why), bad[i].why))
            AC_FAIL_LATER("case %zu: '%s' does not say '%s'", i, ac__buf_str(&why), bad[i].why);
        trace_free(d);
        ac__buf_free(&why);
    }
}

/* Events on different tracks keep their own order: a later ts on one track does not bind another. */
AC_TEST(trace_check, orders_per_track) {
    ac__buf why = {0};
    trace_doc *d = trace_parse("[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":1,\"ts\":5},"
                               "{\"ph\":\"i\",\"name\":\"y\",\"pid\":1,\"tid\":2,\"ts\":4}]",
                               &why);
    if (!d)
        AC_FAIL_LATER("rejected: %s", ac__buf_str(&why));
    trace_free(d);
    ac__buf_free(&why);
}
