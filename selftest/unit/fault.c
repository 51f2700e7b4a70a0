/* fault.c — fault specifications from inside: --fault-at and --fault-sweep values that parse, into the
 * point and the (function, failure) pairs a sweep runs, in order; and the formatting replay lines use
 * (the refusals are checked from outside by meta_fault.c). */
#include <asyncheck.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "fault/fault.h"

AC_TEST(fault_spec, a_point_parses_with_and_without_its_failure) {
    ac__fault_point p;
    ac__buf why = {0}, out = {0};
    AC_ASSERT_EQ(ac__fault_parse("write:3:EAGAIN", &p, &why), 0);
    AC_EXPECT_STR_EQ(p.fn, "write");
    AC_EXPECT_EQ(p.at, 3);
    AC_EXPECT_EQ(p.err, EAGAIN);
    AC_ASSERT_EQ(ac__fault_parse("recv:12", &p, &why), 0);
    AC_EXPECT_EQ(p.err, EINTR); /* the function's first failure */
    ac__fault_format(&p, &out);
    AC_EXPECT_STR_EQ(ac__buf_str(&out), "recv:12:EINTR");
    AC_EXPECT_STR_EQ(ac__buf_str(&why), "");
    AC_ASSERT_EQ(ac__fault_parse("writev:2:SHORT", &p, &why), 0);
    AC_EXPECT_EQ(p.err, AC__FAULT_SHORT);
    ac__buf_free(&out);
    ac__fault_format(&p, &out);
    AC_EXPECT_STR_EQ(ac__buf_str(&out), "writev:2:SHORT");
    AC_ASSERT_EQ(ac__fault_parse("realloc:4", &p, &why), 0);
    AC_EXPECT_EQ(p.err, ENOMEM);
    ac__buf_free(&out);
    ac__fault_format(&p, &out);
    AC_EXPECT_STR_EQ(ac__buf_str(&out), "realloc:4:ENOMEM");
    ac__buf_free(&out);
    ac__buf_free(&why);
}

AC_TEST(fault_spec, a_sweep_list_gives_each_function_each_failure_in_order) {
    ac__fault_point *pts;
    unsigned n;
    ac__buf why = {0};
    AC_ASSERT_EQ(ac__fault_sweep_parse("read,send", &pts, &n, &why), 0);
    AC_ASSERT_EQ(n, 6);
    AC_EXPECT_STR_EQ(pts[0].fn, "read");
    AC_EXPECT_EQ(pts[0].err, EINTR);
    AC_EXPECT_EQ(pts[1].err, EAGAIN);
    AC_EXPECT_EQ(pts[2].err, AC__FAULT_SHORT);
    AC_EXPECT_STR_EQ(pts[3].fn, "send");
    AC_EXPECT_EQ(pts[4].err, EAGAIN);
    AC_EXPECT_EQ(pts[5].err, AC__FAULT_SHORT);
    free(pts);
    AC_ASSERT_EQ(ac__fault_sweep_parse("writev", &pts, &n, &why), 0);
    AC_ASSERT_EQ(n, 3);
    AC_EXPECT_STR_EQ(pts[0].fn, "writev");
    free(pts);
    ac__buf_free(&why);
}

AC_TEST(fault_spec, a_point_takes_any_errno_by_name_and_an_eai_code_for_getaddrinfo) {
    ac__fault_point p;
    ac__buf why = {0}, out = {0};
    AC_ASSERT_EQ(ac__fault_parse("read:2:ECONNRESET", &p, &why), 0);
    AC_EXPECT_EQ(p.err, ECONNRESET);
    ac__fault_format(&p, &out);
    AC_EXPECT_STR_EQ(ac__buf_str(&out), "read:2:ECONNRESET");
    AC_ASSERT_EQ(ac__fault_parse("malloc:1:EIO", &p, &why), 0);
    AC_EXPECT_EQ(p.err, EIO);
    AC_ASSERT_EQ(ac__fault_parse("connect:1", &p, &why), 0);
    AC_EXPECT_EQ(p.err, ECONNREFUSED);
    AC_ASSERT_EQ(ac__fault_parse("accept4:3", &p, &why), 0);
    AC_EXPECT_EQ(p.err, EMFILE);
    AC_ASSERT_EQ(ac__fault_parse("getaddrinfo:1", &p, &why), 0);
    AC_EXPECT_EQ(p.err, AC__FAULT_EAI(EAI_AGAIN));
    AC_ASSERT_EQ(ac__fault_parse("getaddrinfo:2:EAI_NONAME", &p, &why), 0);
    ac__buf_free(&out);
    ac__fault_format(&p, &out);
    AC_EXPECT_STR_EQ(ac__buf_str(&out), "getaddrinfo:2:EAI_NONAME");
    AC_EXPECT_STR_EQ(ac__buf_str(&why), "");
    ac__buf_free(&out);
    ac__buf_free(&why);
}

AC_TEST(fault_spec, a_sweep_list_takes_the_failures_named_after_its_function) {
    ac__fault_point *pts;
    unsigned n;
    ac__buf why = {0};
    AC_ASSERT_EQ(ac__fault_sweep_parse("read=EIO+EINTR,write,getaddrinfo=EAI_FAIL", &pts, &n, &why), 0);
    AC_ASSERT_EQ(n, 6);
    AC_EXPECT_STR_EQ(pts[0].fn, "read");
    AC_EXPECT_EQ(pts[0].err, EIO);
    AC_EXPECT_EQ(pts[1].err, EINTR);
    AC_EXPECT_STR_EQ(pts[2].fn, "write"); /* its defaults */
    AC_EXPECT_EQ(pts[2].err, EINTR);
    AC_EXPECT_EQ(pts[4].err, AC__FAULT_SHORT);
    AC_EXPECT_STR_EQ(pts[5].fn, "getaddrinfo");
    AC_EXPECT_EQ(pts[5].err, AC__FAULT_EAI(EAI_FAIL));
    free(pts);
    AC_ASSERT_EQ(ac__fault_sweep_parse("connect,accept", &pts, &n, &why), 0);
    AC_ASSERT_EQ(n, 2);
    AC_EXPECT_EQ(pts[0].err, ECONNREFUSED);
    AC_EXPECT_EQ(pts[1].err, EMFILE);
    free(pts);
    AC_EXPECT_STR_EQ(ac__buf_str(&why), "");
    ac__buf_free(&why);
}
