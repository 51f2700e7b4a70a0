/* lane_pace.c — how much work a lane holds (src/runner/lane_pace.c): its pace follows its runs, it holds
 * many short runs and few long ones, and it sends its results while the runs it has queued are still work
 * enough for the runner to answer in time. (That the runner keeps a lane to this: meta_lanes.c.) */
#include <asyncheck.h>

#include "runner/runner.h"

AC_TEST(lane_pace, follows_the_runs_a_quarter_at_a_time) {
    AC_EXPECT_NEAR(ac__lane_pace(0, 0.002), 0.002, 1e-12); /* the first run sets it */
    AC_EXPECT_NEAR(ac__lane_pace(0.002, 0.010), 0.004, 1e-12);
    AC_EXPECT_NEAR(ac__lane_pace(0.004, 0.0), 0.003, 1e-12);
    AC_EXPECT_NEAR(ac__lane_pace(0.004, -1), 0.004, 1e-12); /* a run with no duration changes nothing */
    double pace = 1.0; /* a long run, then short ones: the pace comes down within a few dozen */
    for (int i = 0; i < 40; i++)
        pace = ac__lane_pace(pace, 0.0003);
    AC_EXPECT_LT(pace, 0.0004);
}

AC_TEST(lane_pace, a_lane_holds_about_5ms_of_work_between_2_and_16_runs) {
    AC_EXPECT_EQ(ac__lane_depth(0), (size_t)AC_LANE_DEPTH_FIRST); /* nothing known yet */
    AC_EXPECT_EQ(AC_LANE_DEPTH_FIRST, 4);
    AC_EXPECT_EQ(AC_LANE_DEPTH_MAX, 16);
    AC_EXPECT_EQ(ac__lane_depth(0.0003), 16u); /* a trivial test's process: 0.3 ms */
    AC_EXPECT_EQ(ac__lane_depth(0.000001), 16u);
    AC_EXPECT_EQ(ac__lane_depth(0.001), 6u);
    AC_EXPECT_EQ(ac__lane_depth(0.0025), 3u);
    AC_EXPECT_EQ(ac__lane_depth(0.010), 2u); /* the one it runs and the next */
    AC_EXPECT_EQ(ac__lane_depth(30.0), 2u);
    for (double pace = 1e-6; pace < 10; pace *= 1.7) { /* the longer the runs, the fewer */
        AC_EXPECT_GE(ac__lane_depth(pace), ac__lane_depth(pace * 1.7));
        AC_EXPECT_LE((double)(ac__lane_depth(pace) - 2) * pace, 0.005 + 1e-12);
    }
}

AC_TEST(lane_pace, results_go_while_what_is_queued_is_still_work_enough) {
    AC_EXPECT_TRUE(ac__lane_send_now(0, 0.0003));
    AC_EXPECT_TRUE(ac__lane_send_now(1, 0.0003));
    AC_EXPECT_TRUE(ac__lane_send_now(1, 5.0));     /* long runs: every result goes */
    AC_EXPECT_TRUE(ac__lane_send_now(3, 0.0003));  /* 0.9 ms left */
    AC_EXPECT_FALSE(ac__lane_send_now(4, 0.0003)); /* 1.2 ms: the runner may wait */
    AC_EXPECT_FALSE(ac__lane_send_now(14, 0.0003));
    AC_EXPECT_FALSE(ac__lane_send_now(2, 0.1));
}
