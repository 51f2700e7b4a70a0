/* lane_pace.c — how much work a lane holds (lane.c, run.c): from the pace of its runs (how long they
 * recently took), how many runs the runner gives a lane to hold at once, and when a lane sends the
 * results it holds. With short runs a lane holds many, so that the runner wakes (and answers) once for
 * many runs and a lane it is slow to answer still has work; with long ones it holds few, so that no run
 * waits long behind a long one while another lane has nothing left to do. Measured: see
 * docs/PERFORMANCE.md ("Lanes that hold what their pace allows"). Policy only: no state, no I/O. */
#include "runner.h"

/* About this much work (seconds, at the lane's pace) is given to a lane to hold. */
#define LANE_QUEUE 0.005
/* A lane sends its results once the runs it has queued make less than this much work (seconds). */
#define LANE_LOW 0.001

double ac__lane_pace(double pace, double took) {
    if (!(took >= 0))
        return pace;
    return pace > 0 ? pace + (took - pace) / 4 : took;
}

size_t ac__lane_depth(double pace) {
    if (!(pace > 0))
        return AC_LANE_DEPTH_FIRST;
    double n = 1 + LANE_QUEUE / pace;
    return n >= AC_LANE_DEPTH_MAX ? AC_LANE_DEPTH_MAX : n < 2 ? 2 : (size_t)n;
}

bool ac__lane_send_now(size_t left, double pace) {
    return left <= 1 || (double)left * pace <= LANE_LOW;
}
