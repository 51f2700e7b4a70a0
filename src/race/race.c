/* race.c — the race module's per-test lifecycle, in one place: ac__race_begin and ac__race_end begin and
 * end the state of every file of the module (sched.c, cancel.c, once.c, props.c, regions.c, events.c) in
 * a fixed order, and register the schedule with the loop's dispatcher. Each file exposes only its own
 * begin/end and none calls another's. It must not hold any state of those files, and must not end a
 * test (ac__race_end runs after the test's end hooks, outside any frame a fatal failure could unwind
 * to). */
#include "race.h"

#include <stddef.h>

static struct {
    ac_test *t;     /* between ac__race_begin and ac__race_end */
    bool exploring; /* one of several runs of the test: send property records */
} race_run AC__PER_TEST;

void ac__race_begin(ac_test *t, const ac__sched_params *p) {
    race_run.t = t;
    race_run.exploring = p->exploring;
    ac__sched_begin(t, p);
    ac__cancel_begin(t);
    ac__once_begin(t);
    ac__props_begin(t);
    ac__regions_begin(t);
    ac__events_begin(t);
    static const ac__loop_scheduler scheduler = {
        .active = ac__sched_active,
        .order = ac__sched_order,
        .before_dispatch = ac__sched_before_dispatch,
        .dispatching = ac__sched_dispatching,
        .returned = ac__sched_returned,
        .defer = ac__sched_defer,
    };
    ac__loop_set_scheduler(&scheduler); /* the loop's dispatcher calls up to the schedule only through it */
}

/* Failures come out in this order: open regions, once-callbacks never called, then a replayed cancel
 * point never reached; the property records last. */
void ac__race_end(ac_test *t) {
    if (!race_run.t || race_run.t != t)
        return;
    bool op_completed = ac__op_promise() >= 0 && ac__op_calls() > 0; /* before once.c forgets it */
    ac__regions_end(t);
    ac__events_end(t);
    ac__once_end(t);
    ac__sched_end(t, op_completed);
    ac__props_end(t, race_run.exploring);
    race_run.t = NULL;
    race_run.exploring = false;
}
