/* consumer_asan_test.c — a consumer's test file built with asyncheck::asan (docs/ASAN.md) by
 * check_install.sh: a planted use after free inside a loop callback (a session freed by its owner's
 * callback, then touched), and its fixed twin. The runner must name AddressSanitizer's report as the
 * failure of the first and pass the second. */
#include <asyncheck.h>

#include <ev.h>
#include <stdlib.h>

typedef struct session {
    ev_timer done;
    int answered;
    bool fixed;
} session;

static void on_done(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    session *s = w->data;
    if (s->fixed) {
        s->answered++;
        free(s);
        return;
    }
    free(s);       /* the owner's callback ends the session */
    s->answered++; /* planted: a use after free */
}

static void run_session(ac_test *t, bool fixed) {
    session *s = calloc(1, sizeof *s);
    s->fixed = fixed;
    ev_timer_init(&s->done, on_done, 0.001, 0.);
    s->done.data = s;
    ev_timer_start(ac_loop(t), &s->done);
    ev_run(ac_loop(t), 0);
}

AC_TEST(consumer_asan, session_touched_after_free) {
    run_session(t, false);
}

AC_TEST(consumer_asan, session_freed_last) {
    run_session(t, true);
}
