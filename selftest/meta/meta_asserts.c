/* meta_asserts.c — every assertion macro fails when it should, fatal and non-fatal, with its message,
 * both printed values and file:line, checked through the TAP that fixtures/asserts.c produces. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acase {
    const char *name, *macro, *args, *detail, *got, *expected;
} acase;

/* got beginning with "0x" matches any address. */
static const acase cases[] = {
    {"truthy", "TRUE", "zero", NULL, "0", "true (non-zero)"},
    {"falsy", "FALSE", "one", NULL, "1", "false (zero)"},
    {"eq", "EQ", "three, 4", NULL, "3", "4"},
    {"ne", "NE", "three, 3", NULL, "3", "!= 3"},
    {"lt", "LT", "three, 2", NULL, "3", "< 2"},
    {"le", "LE", "three, 2", NULL, "3", "<= 2"},
    {"gt", "GT", "three, 4", NULL, "3", "> 4"},
    {"ge", "GE", "three, 4", NULL, "3", ">= 4"},
    {"str_eq", "STR_EQ", "hello, \"help\\n\"", "strings differ at byte 3", "\"hello\\n\"", "\"help\\n\""},
    {"str_ne", "STR_NE", "hello, \"hello\\n\"", NULL, "\"hello\\n\"", "not \"hello\\n\""},
    {"str_eq_null", "STR_EQ", "NULL, \"x\"", NULL, "NULL", "\"x\""},
    {"str_contains", "STR_CONTAINS", "hello, \"bye\"", NULL, "\"hello\\n\"", "a string containing \"bye\""},
    {"mem_eq", "MEM_EQ", "mem_a, mem_b, sizeof mem_a", "first difference at byte 20 of 32",
     "@0xc: ... 0c 0d 0e 0f 10 11 12 13 [14] 15 16 17 18 19 1a 1b 1c ...",
     "@0xc: ... 0c 0d 0e 0f 10 11 12 13 [ff] 15 16 17 18 19 1a 1b 1c ..."},
    {"null", "NULL", "some_ptr", NULL, "0x", "NULL"},
    {"not_null", "NOT_NULL", "no_ptr", NULL, "NULL", "not NULL"},
    {"near", "NEAR", "1.5, 2.0, 0.1", "difference 0.5", "1.5", "2 +/- 0.1"},
    {"eq_mixed_sign", "EQ", "UINT64_MAX, -1", NULL, "18446744073709551615", "-1"},
    {"lt_exact_sign", "LT", "1u, -1", NULL, "1", "< -1"},
    {"eq_double", "EQ", "0.1 + 0.2, 0.3", NULL, "0.30000000000000004", "0.3"},
    {"eq_char", "EQ", "letter, 'b'", NULL, "'a' (97)", "98"},
    {"eq_bool", "EQ", "flag, true", NULL, "false", "1"},
    {"eq_null_ptr", "EQ", "some_ptr, NULL", NULL, "0x", "NULL"},
};

static void check_case(const char *name, bool fatal) {
    const acase *c = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (strcmp(cases[i].name, name) == 0)
            c = &cases[i];
    AC_ASSERT_NOT_NULL(c);

    char test[128], filter[160], message[512];
    snprintf(test, sizeof test, "asserts.%s%s", fatal ? "" : "expect_", name);
    snprintf(filter, sizeof filter, "--filter=%s", test);
    snprintf(message, sizeof message, "AC_%s_%s(%s) failed%s%s", fatal ? "ASSERT" : "EXPECT", c->macro,
             c->args, c->detail ? ": " : "", c->detail ? c->detail : "");
    fixture_run r;
    const char *args[] = {filter, NULL};
    fixture_tap(&r, FIXTURE_ASSERTS, args, NULL);
    AC_ASSERT_EQ(r.p.status, 1);
    const tap_point *pt = point(&r, test);
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "asserts.c");
    AC_EXPECT_GT(atoi(field(pt, "    line: ")), 0);
    if (strcmp(c->got, "0x") == 0)
        AC_EXPECT_EQ(strncmp(field(pt, "  got: "), "0x", 2), 0);
    else
        AC_EXPECT_STR_EQ(field(pt, "  got: "), c->got);
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), c->expected);
    /* fatal ones stop at the failure; non-fatal ones go on */
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), fatal ? "" : "continued\n");
    fixture_done(&r);
}

#define META(name)                                                                                           \
    AC_TEST(meta_asserts, name) {                                                                            \
        check_case(#name, true);                                                                             \
    }                                                                                                        \
    AC_TEST(meta_asserts, expect_##name) {                                                                   \
        check_case(#name, false);                                                                            \
    }

META(truthy)
META(falsy)
META(eq)
META(ne)
META(lt)
META(le)
META(gt)
META(ge)
META(str_eq)
META(str_ne)
META(str_eq_null)
META(str_contains)
META(mem_eq)
META(null)
META(not_null)
META(near)
META(eq_mixed_sign)
META(lt_exact_sign)
META(eq_double)
META(eq_char)
META(eq_bool)
META(eq_null_ptr)

AC_TEST(meta_asserts, fail_and_fail_later) {
    fixture_run r;
    const char *args[] = {"--filter=asserts.fail", "--filter=asserts.expect_fail", NULL};
    fixture_tap(&r, FIXTURE_ASSERTS, args, NULL);
    const tap_point *fatal = point(&r, "asserts.fail"), *later = point(&r, "asserts.expect_fail");
    AC_EXPECT_FALSE(fatal->ok);
    AC_EXPECT_STR_EQ(field(fatal, "  message: "), "custom 42");
    AC_EXPECT_STR_EQ(field(fatal, "  stdout: "), "");
    AC_EXPECT_STR_EQ(field(fatal, "  got: "), ""); /* no values to show */
    AC_EXPECT_FALSE(later->ok);
    AC_EXPECT_STR_EQ(field(later, "  message: "), "custom 42");
    AC_EXPECT_STR_EQ(field(later, "  stdout: "), "continued\n");
    fixture_done(&r);
}

AC_TEST(meta_asserts, every_non_fatal_failure_is_reported_in_order) {
    fixture_run r;
    const char *args[] = {"--filter=asserts.many_expects", NULL};
    fixture_tap(&r, FIXTURE_ASSERTS, args, NULL);
    const tap_point *pt = point(&r, "asserts.many_expects");
    AC_ASSERT_FALSE(pt->ok);
    const char *yaml = pt->yaml;
    const char *a = strstr(yaml, "    - message: \"AC_EXPECT_EQ(1, 2) failed\"");
    const char *b = strstr(
        yaml, "    - message: \"AC_EXPECT_STR_EQ(\\\"x\\\", \\\"y\\\") failed: strings differ at byte 0\"");
    const char *c = strstr(yaml, "    - message: \"AC_EXPECT_TRUE(0) failed\"");
    AC_ASSERT_NOT_NULL(a);
    AC_ASSERT_NOT_NULL(b);
    AC_ASSERT_NOT_NULL(c);
    AC_EXPECT_LT(a, b);
    AC_EXPECT_LT(b, c);
    fixture_done(&r);
}
