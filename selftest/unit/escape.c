/* escape.c — the text escapers behind TAP/YAML, JUnit XML and failure messages, on hostile input. */
#include <asyncheck.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define ESCAPED(fn, text, size) (ac__buf_free(&out), fn(&out, text, size), ac__buf_str(&out))

AC_TEST(escape, quoted_yaml) {
    ac__buf out = {0};
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "plain", 5), "plain");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "a\"b\\c\n\t\r", 8), "a\\\"b\\\\c\\n\\t\\r");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "\x01\x7f", 2), "\\x01\\x7F");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "bad\xff", 4), "bad\\xFF");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "caf\xc3\xa9", 5), "caf\xc3\xa9");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "\xc2\x85", 2), "\\u0085");    /* C1 control */
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "\xc0\xaf", 2), "\\xC0\\xAF"); /* overlong form */
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "nul\0x", 5), "nul\\x00x");
    ac__buf_free(&out);
}

AC_TEST(escape, xml_attribute) {
    ac__buf out = {0};
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_attr, "<a&b>\"'", 7), "&lt;a&amp;b&gt;&quot;&apos;");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_attr, "line\nnext", 9), "line&#10;next");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_attr, "x\x01\x0by\xff", 5), "xy");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_attr, "\xef\xbf\xbe", 3), ""); /* U+FFFE is not XML */
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_attr, "\xe2\x82\xac", 3), "\xe2\x82\xac");
    ac__buf_free(&out);
}

AC_TEST(escape, xml_cdata) {
    ac__buf out = {0};
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_cdata, "a]]>b", 5), "<![CDATA[a]]]]><![CDATA[>b]]>");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_cdata, "<&>", 3), "<![CDATA[<&>]]>");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_cdata, "\x02z\n", 3), "<![CDATA[z\n]]>");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_xml_cdata, "]]]>>", 5), "<![CDATA[]]]]]><![CDATA[>>]]>");
    ac__buf_free(&out);
}

AC_TEST(escape, c_literal) {
    ac__buf out = {0};
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_c, "say \"hi\"\n", 9), "\"say \\\"hi\\\"\\n\"");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_c, "\x1b[0m", 4), "\"\\x1b[0m\"");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_c, "\xfe", 1), "\"\\xfe\"");
    ac__buf_free(&out);
}

/* The C escaper and the YAML one share their code: YAML's extra rules must stay out of C literals. */
AC_TEST(escape, c_literals_keep_the_yaml_rules_out) {
    ac__buf out = {0};
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_c, "##[x", 4), "\"##[x\"");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "##[x", 4), "\\x23#[x");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_c, "\xc2\x85\xe2\x80\xa8", 5), "\"\xc2\x85\xe2\x80\xa8\"");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "\xc2\x85\xe2\x80\xa8", 5), "\\u0085\\u2028");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_c, "\x1f", 1), "\"\\x1f\"");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "\x1f", 1), "\\x1F");
    ac__buf_free(&out);
}

AC_TEST(escape, base_names) {
    AC_EXPECT_STR_EQ(ac__base_name("src/race/once.c"), "once.c");
    AC_EXPECT_STR_EQ(ac__base_name("once.c"), "once.c");
    AC_EXPECT_STR_EQ(ac__base_name("/"), "");
    AC_EXPECT_STR_EQ(ac__base_name(NULL), "?");
}

/* One rule for AC_TIMEOUT_MULTIPLIER wherever it is read: unset or empty is 1, else a finite number > 0. */
AC_TEST(escape, timeout_multiplier_has_one_rule) {
    const char *was = getenv("AC_TIMEOUT_MULTIPLIER");
    char *saved = was ? strdup(was) : NULL;
    double m = 0;
    unsetenv("AC_TIMEOUT_MULTIPLIER");
    AC_EXPECT_TRUE(ac__timeout_multiplier(&m));
    AC_EXPECT_EQ(m, 1.0);
    setenv("AC_TIMEOUT_MULTIPLIER", "", 1);
    AC_EXPECT_TRUE(ac__timeout_multiplier(&m));
    AC_EXPECT_EQ(m, 1.0);
    setenv("AC_TIMEOUT_MULTIPLIER", "2.5", 1);
    AC_EXPECT_TRUE(ac__timeout_multiplier(&m));
    AC_EXPECT_EQ(m, 2.5);
    const char *bad[] = {"0", "-1", "fast", "inf", "2x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("AC_TIMEOUT_MULTIPLIER", bad[i], 1);
        m = 0;
        AC_EXPECT_FALSE(ac__timeout_multiplier(&m));
        AC_EXPECT_EQ(m, 1.0);
    }
    if (saved)
        setenv("AC_TIMEOUT_MULTIPLIER", saved, 1);
    else
        unsetenv("AC_TIMEOUT_MULTIPLIER");
    free(saved);
}

AC_TEST(escape, number_parsers) {
    double d;
    long n;
    AC_EXPECT_TRUE(ac__parse_seconds("2.5", &d));
    AC_EXPECT_EQ(d, 2.5);
    AC_EXPECT_FALSE(ac__parse_seconds("2.5s", &d));
    AC_EXPECT_FALSE(ac__parse_seconds("-1", &d));
    AC_EXPECT_FALSE(ac__parse_seconds("inf", &d));
    AC_EXPECT_FALSE(ac__parse_seconds("", &d));
    AC_EXPECT_TRUE(ac__parse_count("8", &n));
    AC_EXPECT_EQ(n, 8);
    AC_EXPECT_FALSE(ac__parse_count("0", &n));
    AC_EXPECT_FALSE(ac__parse_count("+3", &n));
    AC_EXPECT_FALSE(ac__parse_count("3x", &n));
    AC_EXPECT_FALSE(ac__parse_count("99999999999999999999", &n));
}

AC_TEST(escape, folding_counts_timings_and_addresses) {
    ac__buf b = {0};
    ac__fold_digits(&b, "request 0x55d3a0c4e2b0 answered twice after 12.5 ms on fd 7 (0XAB, 0x, x1)");
    AC_EXPECT_STR_EQ(ac__buf_str(&b), "request 0xN answered twice after N.N ms on fd N (0xN, Nx, xN)");
    ac__buf_free(&b);
    ac__fold_digits(&b, "started at poll_scenario+0x19b");
    AC_EXPECT_STR_EQ(ac__buf_str(&b), "started at poll_scenario+0xN");
    ac__buf_free(&b);
}

#define LINE(text, size, flags)                                                                              \
    (ac__buf_free(&out), ac__escape_line(&out, text, size, flags), ac__buf_str(&out))

AC_TEST(escape, one_line_for_line_readers) {
    ac__buf out = {0};
    AC_EXPECT_STR_EQ(LINE("plain\ttab", 9, 0), "plain\ttab");
    AC_EXPECT_STR_EQ(LINE("a\nb\rc", 5, 0), "a\\nb\\rc");
    AC_EXPECT_STR_EQ(LINE("\x0b\x0c\x1c\x1d\x1e", 5, 0), "\\x0B\\x0C\\x1C\\x1D\\x1E");
    AC_EXPECT_STR_EQ(LINE("\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9", 10, 0), "\\u0085|\\u2028|\\u2029");
    /* other controls and bad bytes only when asked; a backslash only when asked */
    AC_EXPECT_STR_EQ(LINE("\x1b[1m\xff\\", 6, 0), "\x1b[1m\xff\\");
    AC_EXPECT_STR_EQ(LINE("\x1b[1m\xff\\", 6, AC_ESC_CONTROLS | AC_ESC_BACKSLASH), "\\x1B[1m\\xFF\\\\");
    AC_EXPECT_STR_EQ(LINE("caf\xc3\xa9", 5, AC_ESC_CONTROLS), "caf\xc3\xa9");
    /* workflow commands: "::" first (after blanks), "##[" anywhere */
    AC_EXPECT_STR_EQ(LINE("  ::error::x", 12, AC_ESC_COMMANDS), "  \\x3A:error::x");
    AC_EXPECT_STR_EQ(LINE("a ::b", 5, AC_ESC_COMMANDS), "a ::b");
    AC_EXPECT_STR_EQ(LINE("a ##[error]b", 12, AC_ESC_COMMANDS), "a \\x23#[error]b");
    AC_EXPECT_STR_EQ(LINE("::x ##[y", 8, 0), "::x ##[y");
    AC_EXPECT_STR_EQ(ESCAPED(ac__escape_quoted, "a##[error]b #[", 14), "a\\x23#[error]b #[");
    ac__buf_free(&out);
}
