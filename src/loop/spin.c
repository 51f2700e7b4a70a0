/* spin.c — spinning loops: one of the test's io watchers made ready iteration after iteration while its
 * callback makes no progress on the fd and nothing else of the test's runs (an EV_WRITE watcher left
 * active on an empty output queue, EV_READ on a hung-up fd whose callback neither reads nor stops it).
 * dispatch.c calls ac__spin_before/after around each callback; this file decides and reports (fatally:
 * the loop would spin on until a timeout). It must not dispatch or intercept anything.
 *
 * Progress. Before and after the callback of a test's io watcher the fd's state is read: for EV_READ the
 * bytes waiting to be read (FIONREAD), for EV_WRITE the bytes queued for sending (SIOCOUTQ, or FIONREAD
 * for a pipe). The callback made no progress when that number is unchanged and the watcher is still the
 * same active watcher on the same fd. AC_SPIN_ITERATIONS such callbacks of the same watcher in
 * consecutive loop iterations (ev_iteration), with no other callback of the test's in between (prepare
 * and check watchers, which run every iteration, and asyncheck's and libev's own are not counted),
 * are a spin.
 *
 * What it cannot find: a spin through a timer, an idle watcher or ev_feed_event; a callback that moves
 * bytes without getting anywhere (reads and puts back); an fd whose state the ioctls cannot read (a
 * regular file, a character device other than a tty); a spin shared by two watchers taking turns. */
#include "loop_internal.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#define AC_SPIN_ITERATIONS 1000

static ev_watcher *last_w;
static unsigned long last_serial;
static unsigned last_iter;
static unsigned streak;
static bool reported;

void ac__spin_reset(void) {
    if (last_w || streak || reported) {
        last_w = NULL;
        streak = 0;
        reported = false;
    }
}

/* The fd's readable bytes (EV_READ) or queued output (EV_WRITE); -1 when it cannot be read. */
static long fd_state(int fd, int revents) {
    int n = 0;
    if (revents & EV_READ)
        return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
    if (ioctl(fd, SIOCOUTQ, &n) == 0 || ioctl(fd, FIONREAD, &n) == 0)
        return n;
    return -1;
}

static bool judged(const ac__wrec *r) {
    return r && r->type == AC_W_IO && !r->internal && !r->harness;
}

void ac__spin_before(const ac__wrec *r, int revents, ac__spin_probe *p) {
    p->state = -1;
    p->revents = revents;
    if (!judged(r)) {
        if (r && !r->internal && !r->harness && r->type != AC_W_PREPARE && r->type != AC_W_CHECK)
            streak = 0; /* something else of the test's ran */
        return;
    }
    if (!(ac__loop_test.allow & AC_ALLOW_SPINNING) && !reported)
        p->state = fd_state(r->p.io.fd, revents);
}

__attribute__((cold)) static void report_spin(const ac__wrec *r, int revents) {
    reported = true;
    void *cb = r->user_cb ? r->user_cb : r->cb;
    if (ac__sym_in_harness(cb))
        return; /* asyncheck's own io (a peer's) */
    ac__buf msg = {0};
    ac__buf_puts(&msg, "spinning loop: ");
    ac__wrec_describe_full(&msg, r);
    ac__buf_printf(
        &msg,
        " was ready (%s) in %u loop iterations in a row and its callback made no progress (the fd's "
        "%s unchanged, no other callback of the test's ran); stop the watcher when there is "
        "nothing to do, or waive the check with AC_ALLOW_SPINNING",
        revents & EV_READ ? "EV_READ" : "EV_WRITE", streak,
        revents & EV_READ ? "bytes to read" : "queued output");
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure(AC_FK_ASSERTION, true, def ? def->file : NULL, def ? def->line : 0, ac__buf_str(&msg),
                       NULL, NULL);
    ac__buf_free(&msg); /* not reached: the report is fatal */
}

void ac__spin_after(struct ev_loop *loop, const ac__wrec *r, const ac__spin_probe *p) {
    if (p->state < 0)
        return;
    const ac__wrec *live = ac__rec_find(r->w);
    bool same = live && live->serial == r->serial && live->p.io.fd == r->p.io.fd && ev_is_active(r->w) &&
                (void *)r->w->cb == r->cb;
    if (!same || fd_state(r->p.io.fd, p->revents) != p->state) {
        streak = 0;
        return;
    }
    unsigned iter = ev_iteration(loop);
    if (streak && last_w == r->w && last_serial == r->serial && iter == last_iter + 1)
        streak++;
    else
        streak = 1;
    last_w = r->w;
    last_serial = r->serial;
    last_iter = iter;
    if (streak >= AC_SPIN_ITERATIONS)
        report_spin(live, p->revents);
}
