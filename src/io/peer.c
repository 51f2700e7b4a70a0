/* peer.c — the scripted peer (asyncheck/io.h): the far end of a socketpair (or loopback TCP connection)
 * that runs a script of expect / send / wait / shutdown / close / reset steps, driven by watchers on the
 * test's loop, and checks at the test's end that the script was carried out.
 *
 * How it runs. Steps only advance inside the peer's own callbacks on the test's loop:
 *  - a read watcher reads whatever the code writes into an inbox for the whole life of the peer's end
 *    (so the code may write ahead of the script); an expect step consumes the inbox byte by byte;
 *  - a send step writes with MSG_NOSIGNAL|MSG_DONTWAIT, and waits for writability when the code's
 *    receive queue is full; in one-byte mode a prepare watcher sends one byte per loop iteration, on a
 *    socketpair only once the code has read the previous one (SIOCOUTQ back at 0);
 *  - a wait step is a timer; shutdown, close and reset act at once;
 *  - adding a step starts the prepare watcher, which advances the script at the next iteration; when
 *    that finishes the script, an unreferenced idle watcher keeps the iteration from blocking in its
 *    poll, so that an AC_AWAIT on ac_peer_done returns at once instead of at its deadline;
 *  - once no expect step is left and the script ends with an unread close or reset, the read watcher
 *    stops: what the code writes stays in the socket, and the hang-up closes over it.
 * While steps are left, the peer's watchers are ordinary (referenced) ones, so the runner's drain after
 * the body waits for the script to finish — or fails at the test's timeout if the code never does its
 * part. Once the script is done, only the read watcher is left, unreferenced: it still catches
 * unexpected bytes and end-of-file but keeps nothing waiting.
 *
 * Failures while the test runs are fatal and may come from inside a callback (the runner unwinds out of
 * libev); the peer stops its watchers before reporting, and keeps the texts of the report in its own
 * memory, since the report does not return. At the test's end (ac__at_test_end) the peer reads what is
 * pending, reports an unfinished script or unexpected bytes (non-fatally), stops its watchers, closes
 * its end and frees itself.
 *
 * After a cancel (ac_cancelled), the code closing its end (seen as end-of-file, or EPIPE/ECONNRESET on a
 * send) or the test ending with the script unfinished abandons the script: a note instead of a failure,
 * and the peer does nothing more. So does a peer that allows it (ac_peer_allow_hangup_after_fault) once
 * an injected fault has fired in the run (ac__disruption). */
#include "peer.h"
#include "util/util.h"

#include "asyncheck/race.h"
#include "loop/loop.h"
#include "timeline/timeline.h"
#include "context/context.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <linux/sockios.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum step_kind {
    ST_EXPECT,
    ST_SEND,
    ST_WAIT,
    ST_SHUTDOWN_WRITE,
    ST_CLOSE,
    ST_RESET,
    ST_EXPECT_EOF,
    ST_SATURATE
} step_kind;

typedef struct step {
    step_kind kind;
    unsigned char *data; /* expect / send: a copy of the bytes */
    size_t n;
    double seconds; /* wait */
    bool unread;    /* close / reset: over whatever the code wrote, unread and unchecked */
    bool on;        /* saturate: on or off */
    const char *file;
    int line;
} step;

struct ac_peer {
    ac_test *t;
    struct ev_loop *loop;
    int fd;         /* the peer's end; -1 once a close or reset step ran, or while pending */
    char label[64]; /* how messages name it: "scripted peer", "scripted peer (connection 2)" */
    bool pending;   /* a listener's peer whose connection has not come: nothing runs */
    bool hold;      /* a listener's peer: while its script is empty it reads nothing */
    bool tcp;
    const char *file; /* where the peer was made */
    int line;
    /* The code's end, only to shrink its send buffer in one-byte mode while it is still the same socket. */
    int code_fd;
    dev_t code_dev;
    ino_t code_ino;

    step *steps;
    size_t nsteps, cap;
    size_t cur;           /* the step in progress; nsteps when the script is done */
    size_t done;          /* bytes of the current expect/send step matched or sent */
    bool wait_started;    /* the current wait step's timer was started */
    bool wr_blocked;      /* the current send step met a full queue (EAGAIN) */
    bool has_end;         /* the script ends with close or reset: no step can follow */
    bool has_shutdown;    /* a shutdown-write step was added: no send can follow */
    const char *eof_file; /* an expect-eof step was added here: no expect can follow */
    int eof_line;
    const char *sat_file; /* the script saturates from here on (the last saturate step added was on) */
    int sat_line;
    bool eof_seen;   /* an expect-eof step took the code's end-of-file (later steps may still send) */
    bool eof_at_end; /* the end-of-file was first read when the test ended (e.g. teardown closed the code) */
    ac__saturator sat;
    ac__buf inbox; /* bytes read from the code, not yet matched */
    bool rd_eof;   /* the code closed its end (or reading failed: rd_errno) */
    int rd_errno;
    bool failed;       /* the peer reported a failure, or abandoned its script; it does nothing more */
    bool abandoned;    /* ... abandoned it after a cancel (not a failure) */
    bool ending;       /* the test-end hook is running: reports are non-fatal */
    bool fault_hangup; /* ac_peer_allow_hangup_after_fault */
    bool one_byte;
    bool in_prepare; /* inside the prepare callback: one-byte sends happen only there */
    bool sent_byte;  /* ... at most one per callback */
    int code_sndbuf; /* the code's send buffer size from before one-byte mode (0: not changed) */

    ev_io rd, wr;
    bool rd_unref; /* rd is active but unreferenced (the script is done) */
    ev_timer timer;
    ev_prepare prep;
    ev_idle wake; /* ends the loop iteration in which the script became done inside the prepare callback */
    ac__buf msg, got, exp; /* the texts of the last report */
};

/* ---- describing steps and bytes ---- */

static const char *plural(size_t n) {
    return n == 1 ? "" : "s";
}

static const char *kind_name(step_kind k) {
    switch (k) {
    case ST_EXPECT:
        return "expect";
    case ST_SEND:
        return "send";
    case ST_WAIT:
        return "wait";
    case ST_SHUTDOWN_WRITE:
        return "shutdown write";
    case ST_CLOSE:
        return "close";
    case ST_RESET:
        return "reset";
    case ST_EXPECT_EOF:
        return "expect eof";
    case ST_SATURATE:
        return "saturate";
    }
    return "?";
}

/* `expect "QUIT\r\n" (6 bytes)`, `wait 0.500 s`, `close`, `close unread`; long data is cut after 32
 * bytes. */
static void describe(ac__buf *b, const step *s) {
    ac__buf_puts(b, kind_name(s->kind));
    if (s->unread)
        ac__buf_puts(b, " unread");
    if (s->kind == ST_EXPECT || s->kind == ST_SEND) {
        ac__buf_puts(b, " ");
        ac__escape_c(b, (const char *)s->data, s->n < 32 ? s->n : 32);
        ac__buf_printf(b, "%s (%zu byte%s)", s->n > 32 ? "..." : "", s->n, plural(s->n));
    } else if (s->kind == ST_WAIT) {
        ac__buf_printf(b, " %.3f s", s->seconds);
    } else if (s->kind == ST_SATURATE) {
        ac__buf_puts(b, s->on ? " on" : " off");
    }
}

/* Anything escape_c would not show as itself, apart from \t \r \n: worth a hex window too. */
static bool is_binary(const unsigned char *d, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((d[i] < 0x20 && d[i] != '\t' && d[i] != '\n' && d[i] != '\r') || d[i] >= 0x7f)
            return true;
    return false;
}

/* d[0..n) around offset `at` as a C string literal: 20 bytes before it, the byte itself and 19 after,
 * "..." outside where cut; followed by a hex window when the data is binary. */
static void window(ac__buf *b, const unsigned char *d, size_t n, size_t at, bool binary) {
    size_t from = at > 20 ? at - 20 : 0, to = at + 20 < n ? at + 20 : n;
    if (from > 0)
        ac__buf_puts(b, "...");
    ac__escape_c(b, (const char *)d + from, to - from);
    if (to < n)
        ac__buf_puts(b, "...");
    if (binary) {
        ac__buf_puts(b, "  hex ");
        ac__hex_window(b, d, n, at);
    }
}

static void clear_texts(ac_peer *p) {
    ac__buf_free(&p->msg);
    ac__buf_free(&p->got);
    ac__buf_free(&p->exp);
}

/* ---- the script's state ---- */

static bool expect_ahead(const ac_peer *p) {
    for (size_t i = p->cur; i < p->nsteps; i++)
        if (p->steps[i].kind == ST_EXPECT)
            return true;
    return false;
}

/* No expect step is left and the script ends with a close or reset over unread bytes: the peer reads
 * nothing more, and what the code writes is neither checked nor unexpected. */
static bool ignores_input(const ac_peer *p) {
    if (p->hold && p->nsteps == 0)
        return true; /* a listener's connection with an empty script: accepted and never answered */
    return p->has_end && p->steps[p->nsteps - 1].unread && !expect_ahead(p);
}

static bool excused(const ac_peer *p);

/* ---- watchers ---- */

static void set_reader(ac_peer *p, bool active, bool referenced) {
    if (ev_is_active(&p->rd)) {
        if (p->rd_unref && (!active || referenced)) {
            ev_ref(p->loop);
            p->rd_unref = false;
        }
        if (!active)
            ev_io_stop(p->loop, &p->rd);
        else if (!referenced && !p->rd_unref) {
            ev_unref(p->loop);
            p->rd_unref = true;
        }
    } else if (active) {
        ev_io_start(p->loop, &p->rd);
        if (!referenced) {
            ev_unref(p->loop);
            p->rd_unref = true;
        }
    }
}

/* The wake watcher is unreferenced: it ends one loop iteration early and keeps nothing waiting. */
static void stop_wake(ac_peer *p) {
    if (ev_is_active(&p->wake)) {
        ev_ref(p->loop);
        ev_idle_stop(p->loop, &p->wake);
    }
}

static void stop_watchers(ac_peer *p) {
    ac__saturator_stop(&p->sat);
    set_reader(p, false, true);
    ev_io_stop(p->loop, &p->wr);
    ev_timer_stop(p->loop, &p->timer);
    ev_prepare_stop(p->loop, &p->prep);
    stop_wake(p);
}

/* Starts exactly the watchers the script's state needs. */
static void sync_watchers(ac_peer *p) {
    if (p->failed || p->ending || p->pending) {
        stop_watchers(p);
        return;
    }
    const step *s = p->cur < p->nsteps ? &p->steps[p->cur] : NULL;
    /* a script the code may abandon keeps nothing waiting: the drain ends, and the end check notes it */
    set_reader(p, p->fd >= 0 && !p->rd_eof && !ignores_input(p), s != NULL && !excused(p));
    bool sending = s && s->kind == ST_SEND;
    if (sending && !p->one_byte && p->wr_blocked)
        ev_io_start(p->loop, &p->wr);
    else
        ev_io_stop(p->loop, &p->wr);
    if (sending && p->one_byte)
        ev_prepare_start(p->loop, &p->prep);
    else
        ev_prepare_stop(p->loop, &p->prep);
}

/* Asks for the script to be advanced at the next loop iteration. */
static void kick(ac_peer *p) {
    if (!p->failed && !p->ending && !p->pending)
        ev_prepare_start(p->loop, &p->prep);
}

/* ---- failures ---- */

/* Reports the failure composed in p->msg/got/exp at file:line: fatal while the test runs (the peer is
 * stopped first: the report does not return), non-fatal from the test-end hook. */
static void fail(ac_peer *p, const char *file, int line) {
    p->failed = true;
    stop_watchers(p);
    ac__report_failure(AC_FK_ASSERTION, !p->ending, file, line, ac__buf_str(&p->msg),
                       p->got.len ? ac__buf_str(&p->got) : NULL, p->exp.len ? ac__buf_str(&p->exp) : NULL);
}

static const step *site_step(const ac_peer *p) {
    if (p->cur < p->nsteps)
        return &p->steps[p->cur];
    return p->nsteps ? &p->steps[p->nsteps - 1] : NULL;
}

/* Where a failure not tied to one step points: the step at hand, else the last one, else the peer. */
static void fail_here(ac_peer *p) {
    const step *s = site_step(p);
    fail(p, s ? s->file : p->file, s ? s->line : p->line);
}

/* Names an errno: "EPIPE: Broken pipe". */
static void put_errno(ac__buf *b, int err) {
    const char *name = strerrorname_np(err);
    ac__buf_printf(b, "%s: %s", name ? name : "?", strerror(err));
}

/* The code wrote bytes when no expect step is left to take them. */
static void fail_unexpected(ac_peer *p) {
    clear_texts(p);
    const unsigned char *in = (const unsigned char *)p->inbox.data;
    size_t n = p->inbox.len;
    if (p->cur < p->nsteps && p->steps[p->cur].kind == ST_EXPECT_EOF)
        ac__buf_printf(&p->msg,
                       "%s: unexpected bytes during step %zu (expect eof): the code wrote more before "
                       "closing its end (%zu byte%s)",
                       p->label, p->cur + 1, n, plural(n));
    else if (p->cur < p->nsteps)
        ac__buf_printf(&p->msg,
                       "%s: unexpected bytes during step %zu (%s): the script expects no more bytes (%zu "
                       "byte%s)",
                       p->label, p->cur + 1, kind_name(p->steps[p->cur].kind), n, plural(n));
    else
        ac__buf_printf(&p->msg, "%s: unexpected bytes after the end of the script (%zu byte%s)", p->label, n,
                       plural(n));
    ac__escape_c(&p->got, (const char *)in, n < 40 ? n : 40);
    if (n > 40)
        ac__buf_puts(&p->got, "...");
    if (is_binary(in, n < 40 ? n : 40)) {
        ac__buf_puts(&p->got, "  hex ");
        ac__hex_window(&p->got, in, n, 0);
    }
    ac__buf_puts(&p->exp, p->cur < p->nsteps && p->steps[p->cur].kind == ST_EXPECT_EOF ? "end-of-file"
                                                                                       : "no more bytes");
    fail_here(p);
}

/* The bytes of step s the code wrote so far (the matched part) followed by the unmatched inbox. */
static void received(const ac_peer *p, const step *s, ac__buf *out) {
    ac__buf_append(out, s->data, p->done);
    ac__buf_append(out, p->inbox.data, p->inbox.len);
}

static void fail_mismatch(ac_peer *p, const step *s, size_t at) {
    clear_texts(p);
    ac__buf g = {0};
    received(p, s, &g);
    const unsigned char *gd = (const unsigned char *)g.data;
    bool binary = is_binary(s->data, s->n) || is_binary(gd, g.len);
    ac__buf_printf(&p->msg, "%s: unexpected bytes at offset %zu of step %zu (expect %zu byte%s)", p->label,
                   at, p->cur + 1, s->n, plural(s->n));
    window(&p->got, gd, g.len, at, binary);
    window(&p->exp, s->data, s->n, at, binary);
    ac__buf_free(&g);
    fail(p, s->file, s->line);
}

/* The code closed its end (or reading failed) before an expect step was complete. */
static void fail_eof(ac_peer *p, const step *s) {
    clear_texts(p);
    ac__buf_printf(&p->msg, "%s: ", p->label);
    if (p->rd_errno) {
        ac__buf_puts(&p->msg, "reading from the code failed (");
        put_errno(&p->msg, p->rd_errno);
        ac__buf_puts(&p->msg, ")");
    } else {
        ac__buf_puts(&p->msg, "the code closed its end");
    }
    ac__buf_printf(&p->msg, " after %zu of %zu byte%s of step %zu (expect %zu byte%s)", p->done, s->n,
                   plural(s->n), p->cur + 1, s->n, plural(s->n));
    bool binary = is_binary(s->data, s->n);
    window(&p->got, s->data, p->done, p->done, binary);
    window(&p->exp, s->data, s->n, p->done, binary);
    fail(p, s->file, s->line);
}

/* True when the code may give up the conversation now: after a cancel, or after an injected fault fired
 * in a run whose peer allows that (ac_peer_allow_hangup_after_fault). */
static bool excused(const ac_peer *p) {
    return ac_cancelled(p->t) || (p->fault_hangup && ac__disruption(p->t));
}

/* After a cancel the code may close its end at any step: that is what a correct cancel does, so the
 * rest of the script is abandoned instead of failing the test, and a note (shown under -v) says where
 * and after what. */
static void abandon(ac_peer *p, const char *why) {
    ac__buf note = {0};
    ac__buf_puts(&note, p->label);
    if (p->code_fd >= 0)
        ac__buf_printf(&note, " on fd %d", p->code_fd);
    ac__buf_printf(&note, ": script abandoned after %s at step %zu of %zu (",
                   ac_cancelled(p->t) ? "the cancel" : ac__disruption(p->t), p->cur + 1, p->nsteps);
    const step *s = &p->steps[p->cur];
    describe(&note, s);
    ac__buf_printf(&note, "): %s", why);
    if (s->kind == ST_EXPECT && p->done > 0) /* what came of it says what the code did */
        ac__buf_printf(&note, " after %zu of its %zu bytes", p->done, s->n);
    ac__report_note(p->t, p->file, p->line, ac__buf_str(&note));
    ac__buf_free(&note);
    p->failed = p->abandoned = true;
    stop_watchers(p);
}

/* ---- running the script ---- */

static void inbox_drop(ac_peer *p, size_t k) {
    memmove(p->inbox.data, p->inbox.data + k, p->inbox.len - k);
    p->inbox.len -= k;
    p->inbox.data[p->inbox.len] = '\0';
}

/* Reads what the code has written into the inbox: one byte in one-byte mode unless `all`. */
static void pump(ac_peer *p, bool all) {
    unsigned char buf[16384];
    while (p->fd >= 0 && !p->rd_eof) {
        bool one = p->one_byte && !all;
        ac__harness_call_begin(); /* the peer's calls are never the code under test's (src/fault/) */
        ssize_t r = recv(p->fd, buf, one ? 1 : sizeof buf, MSG_DONTWAIT);
        ac__harness_call_end();
        if (r > 0) {
            ac__buf_append(&p->inbox, buf, (size_t)r);
            if (one)
                return;
        } else if (r == 0) {
            p->rd_eof = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            p->rd_eof = true;
            p->rd_errno = errno;
        }
    }
}

/* Matches the inbox against expect step s. True when the step is complete; fails the test at the first
 * differing byte, or when the code has closed its end before the step is complete. */
static bool run_expect(ac_peer *p, const step *s) {
    size_t need = s->n - p->done, k = p->inbox.len < need ? p->inbox.len : need;
    const unsigned char *in = (const unsigned char *)p->inbox.data;
    for (size_t i = 0; i < k; i++)
        if (in[i] != s->data[p->done + i]) {
            fail_mismatch(p, s, p->done + i);
            return false;
        }
    if (k)
        inbox_drop(p, k);
    p->done += k;
    if (p->done == s->n)
        return true;
    if (p->rd_eof && p->eof_at_end)
        return false; /* the code was closed at the end (teardown): reported as an unfinished script */
    if (p->rd_eof && excused(p))
        abandon(p, "the code closed its end");
    else if (p->rd_eof)
        fail_eof(p, s);
    return false;
}

/* True while the code has not read everything the peer sent (a socketpair counts the bytes still in the
 * code's receive queue; over TCP loopback the count drops when the kernel acknowledges, not when the code
 * reads, so it is not asked). */
static bool unread_by_code(const ac_peer *p) {
    int queued = 0;
    return !p->tcp && ioctl(p->fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

/* Sends what it can of send step s. True when the step is complete. */
static bool run_send(ac_peer *p, const step *s) {
    while (p->done < s->n) {
        size_t want = s->n - p->done;
        if (p->one_byte) {
            if (!p->in_prepare || p->sent_byte || unread_by_code(p))
                return false;
            want = 1;
        }
        ac__harness_call_begin();
        ssize_t w = send(p->fd, s->data + p->done, want, MSG_NOSIGNAL | MSG_DONTWAIT);
        ac__harness_call_end();
        if (w > 0) {
            p->done += (size_t)w;
            p->wr_blocked = false;
            if (p->one_byte)
                p->sent_byte = true;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            p->wr_blocked = true;
            return false;
        }
        int err = w < 0 ? errno : EIO;
        if ((err == EPIPE || err == ECONNRESET) && excused(p)) {
            abandon(p, "the code closed its end");
            return false;
        }
        clear_texts(p);
        ac__buf_printf(&p->msg, "%s: step %zu (send %zu byte%s) failed after %zu of %zu byte%s: ", p->label,
                       p->cur + 1, s->n, plural(s->n), p->done, s->n, plural(s->n));
        if (err == EPIPE || err == ECONNRESET)
            ac__buf_puts(&p->msg, "the code closed its end (");
        else
            ac__buf_puts(&p->msg, "send failed (");
        put_errno(&p->msg, err);
        ac__buf_puts(&p->msg, ")");
        fail(p, s->file, s->line);
        return false;
    }
    return true;
}

/* An expect-eof step: complete once the code has closed its end or shut down its sending side, read
 * as end-of-file (a reset, ECONNRESET, counts as a close: the code closed over bytes it had not read).
 * Bytes that come first are unexpected (advance fails on them). */
static bool run_expect_eof(ac_peer *p, const step *s) {
    if (p->inbox.len || !p->rd_eof)
        return false;
    if (p->rd_errno && p->rd_errno != ECONNRESET) {
        clear_texts(p);
        ac__buf_printf(&p->msg, "%s: reading from the code failed (", p->label);
        put_errno(&p->msg, p->rd_errno);
        ac__buf_printf(&p->msg, ") at step %zu (expect eof)", p->cur + 1);
        fail(p, s->file, s->line);
        return false;
    }
    p->eof_seen = true;
    return true;
}

/* A saturate step: starts the helper thread that keeps the code's receive queue full, or stops it. */
static bool run_saturate(ac_peer *p, const step *s) {
    if (!s->on) {
        ac__saturator_stop(&p->sat);
        return true;
    }
    int err = ac__saturator_start(&p->sat, p->fd);
    if (!err)
        return true;
    clear_texts(p);
    ac__buf_printf(&p->msg, "%s: step %zu (saturate on) could not start its thread (", p->label, p->cur + 1);
    put_errno(&p->msg, err);
    ac__buf_puts(&p->msg, ")");
    ac__report_failure(AC_FK_HARNESS, !p->ending, s->file, s->line, ac__buf_str(&p->msg), NULL, NULL);
    return false;
}

/* A close or reset step: first make sure the code has not written anything the script does not expect
 * (closing over unread bytes would also turn a close into a reset), then close the peer's end. An unread
 * one closes over whatever the code wrote, unchecked: the kernel then resets the connection. */
static bool run_hang_up(ac_peer *p, const step *s) {
    ac__saturator_stop(&p->sat); /* the thread writes to the end about to be closed */
    if (s->unread) {
        if (p->inbox.len)
            inbox_drop(p, p->inbox.len);
    } else {
        pump(p, true);
        if (p->inbox.len) {
            fail_unexpected(p);
            return false;
        }
    }
    if (s->kind == ST_RESET) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    set_reader(p, false, true);
    ev_io_stop(p->loop, &p->wr);
    ac__loop_close_own(p->fd);
    p->fd = -1;
    return true;
}

/* The timeline's record of a finished step: "peer: step 2 of 3 done: expect "GET /" (5 bytes)". */
static void step_done(const ac_peer *p, const step *s) {
    if (!ac__tl_on())
        return;
    ac__harness_call_begin(); /* a fault point does not count what this allocates */
    ac__buf b = {0};
    describe(&b, s);
    ac__tl_printf(AC_TL_PEER, 0, "%s: step %zu of %zu done: %s", p->label, p->cur + 1, p->nsteps,
                  ac__buf_str(&b));
    ac__buf_free(&b);
    ac__harness_call_end();
}

/* Carries out steps until one has to wait for the code, the clock or the next loop iteration. */
static void advance(ac_peer *p) {
    while (!p->failed && p->cur < p->nsteps) {
        const step *s = &p->steps[p->cur];
        if ((s->kind == ST_SEND || s->kind == ST_WAIT || s->kind == ST_SATURATE) && p->rd_eof &&
            !p->eof_seen && excused(p)) {
            abandon(p, "the code closed its end");
            break;
        }
        bool complete = false;
        switch (s->kind) {
        case ST_EXPECT:
            complete = run_expect(p, s);
            break;
        case ST_SEND:
            complete = run_send(p, s);
            break;
        case ST_WAIT:
            if (!p->wait_started) {
                p->wait_started = true;
                ev_now_update(
                    p->loop); /* at least `seconds` of real time from now, not from the cached now */
                ev_timer_set(&p->timer, s->seconds, 0.);
                ev_timer_start(p->loop, &p->timer);
            }
            complete = !ev_is_active(&p->timer);
            break;
        case ST_SHUTDOWN_WRITE:
            ac__saturator_stop(&p->sat);    /* nothing more can be written */
            (void)shutdown(p->fd, SHUT_WR); /* fails only if the code is gone, which later steps notice */
            complete = true;
            break;
        case ST_CLOSE:
        case ST_RESET:
            complete = run_hang_up(p, s);
            break;
        case ST_EXPECT_EOF:
            complete = run_expect_eof(p, s);
            break;
        case ST_SATURATE:
            complete = run_saturate(p, s);
            break;
        }
        if (!complete)
            break;
        step_done(p, s);
        p->cur++;
        p->done = 0;
        p->wait_started = false;
        p->wr_blocked = false;
    }
    if (!p->failed && p->inbox.len && !expect_ahead(p) && !ignores_input(p))
        fail_unexpected(p);
    if (!p->failed)
        sync_watchers(p);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    ac_peer *p = w->data;
    pump(p, false);
    advance(p);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    ac_peer *p = w->data;
    p->wr_blocked = false;
    advance(p);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    advance(w->data);
}

static void on_wake(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)loop, (void)revents;
    stop_wake(w->data);
}

/* Steps done here run before the loop polls: when they finish the script, nothing else may be due, and
 * the iteration would block (or virtual time jump) to the next timer, e.g. an AC_AWAIT's deadline, before
 * its caller sees ac_peer_done. An idle watcher makes that poll return at once. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)loop, (void)revents;
    ac_peer *p = w->data;
    bool was_done = p->cur == p->nsteps;
    p->in_prepare = true;
    p->sent_byte = false;
    advance(p);
    p->in_prepare = false;
    if (!was_done && ac_peer_done(p) && !ev_is_active(&p->wake)) {
        ac__loop_harness_enter(); /* the harness's bookkeeping, not a step the schedule counts */
        ev_idle_start(p->loop, &p->wake);
        ac__loop_harness_leave();
        ev_unref(p->loop);
    }
}

/* ---- the end of the test ---- */

/* The script is not finished: list the steps left and what the one at hand was waiting for. */
static void fail_unfinished(ac_peer *p) {
    clear_texts(p);
    const step *s = &p->steps[p->cur];
    size_t left = p->nsteps - p->cur;
    ac__buf_printf(&p->msg, "%s: script not finished, %zu of %zu step%s left: ", p->label, left, p->nsteps,
                   plural(p->nsteps));
    for (size_t i = p->cur; i < p->nsteps && i < p->cur + 8; i++) {
        if (i > p->cur)
            ac__buf_puts(&p->msg, ", ");
        describe(&p->msg, &p->steps[i]);
    }
    if (left > 8)
        ac__buf_printf(&p->msg, ", ... (%zu more)", left - 8);
    size_t k = p->cur + 1;
    switch (s->kind) {
    case ST_EXPECT:
        ac__buf_printf(&p->msg, "; step %zu was waiting for the code to write (%zu of %zu byte%s received)",
                       k, p->done, s->n, plural(s->n));
        window(&p->got, s->data, p->done, p->done, is_binary(s->data, s->n));
        window(&p->exp, s->data, s->n, p->done, is_binary(s->data, s->n));
        break;
    case ST_SEND:
        if (p->done || p->wr_blocked || p->one_byte)
            ac__buf_printf(&p->msg, "; step %zu was waiting for the code to read (%zu of %zu byte%s sent)", k,
                           p->done, s->n, plural(s->n));
        else
            ac__buf_printf(&p->msg, "; the loop did not run step %zu", k);
        break;
    case ST_WAIT:
        if (p->wait_started && ev_is_active(&p->timer))
            ac__buf_printf(&p->msg, "; step %zu had %.3f s left to wait", k,
                           ev_timer_remaining(p->loop, &p->timer));
        else
            ac__buf_printf(&p->msg, "; the loop did not run step %zu", k);
        break;
    case ST_EXPECT_EOF:
        ac__buf_printf(
            &p->msg, "; step %zu was waiting for the code to close its end or shut down its sending side", k);
        break;
    default:
        ac__buf_printf(&p->msg, "; the loop did not run step %zu", k);
        break;
    }
    fail(p, s->file, s->line);
}

static void free_peer(ac_peer *p) {
    for (size_t i = 0; i < p->nsteps; i++)
        free(p->steps[i].data);
    free(p->steps);
    ac__buf_free(&p->inbox);
    clear_texts(p);
    free(p);
}

/* The test has ended (after teardown): what the code wrote since the loop last ran still counts for the
 * expect steps at hand; then an unfinished script or bytes nobody expects fail the test. */
static void end_check(ac_peer *p) {
    ac_test *t = p->t;
    p->ending = true;
    ac__saturator_stop(&p->sat);
    if (ac__test_skipped(t) || p->pending)
        p->failed = true; /* a skipped test leaves its script unfinished by design: report nothing */
    if (!p->failed) {
        bool had_eof = p->rd_eof;
        pump(p, true);
        p->eof_at_end = !had_eof && p->rd_eof;
        while (!p->failed && p->cur < p->nsteps) {
            const step *s = &p->steps[p->cur];
            if (s->kind == ST_EXPECT_EOF && p->inbox.len && !p->failed)
                fail_unexpected(p);
            if (p->failed || !(s->kind == ST_EXPECT       ? run_expect(p, s)
                               : s->kind == ST_EXPECT_EOF ? run_expect_eof(p, s)
                                                          : false))
                break;
            step_done(p, s);
            p->cur++;
            p->done = 0;
        }
    }
    if (!p->failed && p->inbox.len && !expect_ahead(p) && !ignores_input(p))
        fail_unexpected(p);
    if (!p->failed && p->cur < p->nsteps && excused(p))
        abandon(p, "the test ended");
    else if (!p->failed && p->cur < p->nsteps)
        fail_unfinished(p);
    stop_watchers(p);
    if (p->fd >= 0)
        ac__loop_close_own(p->fd);
    free_peer(p);
}

static void on_test_end(ac_test *t, void *ctx) {
    (void)t;
    end_check(ctx);
}

void ac__peer_end(ac_peer *p) {
    end_check(p);
}

/* ---- making a peer ---- */

/* A connected pair over 127.0.0.1: *code non-blocking, *peer non-blocking, both TCP_NODELAY and
 * close-on-exec. Returns 0, or -1 with errno and the failing call in *what. */
static int tcp_pair_calls(int *code, int *peer, const char **what);

/* tcp_pair_calls as asyncheck's own calls (its connect and accept4 are never the code under test's). */
static int tcp_pair(int *code, int *peer, const char **what) {
    ac__harness_call_begin();
    int rc = tcp_pair_calls(code, peer, what);
    ac__harness_call_end();
    return rc;
}

static int tcp_pair_calls(int *code, int *peer, const char **what) {
    int l = -1, c = -1, s = -1, one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in x, y;
    socklen_t alen = sizeof a, xlen = sizeof x, ylen = sizeof y;
    int err;
    *what = "socket";
    if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        goto fail;
    *what = "bind 127.0.0.1";
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(l, (struct sockaddr *)&a, &alen) < 0)
        goto fail;
    *what = "listen";
    if (listen(l, 1) < 0)
        goto fail;
    *what = "connect";
    if ((c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        goto fail;
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
        goto fail;
    *what = "accept";
    struct pollfd pl = {.fd = l, .events = POLLIN};
    if (poll(&pl, 1, 2000) != 1) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
        goto fail;
    *what = "connect";
    struct pollfd pc = {.fd = c, .events = POLLOUT};
    socklen_t elen = sizeof err;
    if (poll(&pc, 1, 2000) != 1) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if (getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        goto fail;
    if (err) {
        errno = err;
        goto fail;
    }
    /* Make sure the accepted connection is ours, not a stranger's that found the port first. */
    *what = "accept (a different connection)";
    if (getsockname(c, (struct sockaddr *)&x, &xlen) < 0 || getpeername(s, (struct sockaddr *)&y, &ylen) < 0)
        goto fail;
    if (x.sin_port != y.sin_port || x.sin_addr.s_addr != y.sin_addr.s_addr) {
        errno = ECONNREFUSED;
        goto fail;
    }
    ac__loop_close_own(l);
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *code = c;
    *peer = s;
    return 0;
fail:
    err = errno;
    if (l >= 0)
        ac__loop_close_own(l);
    if (c >= 0)
        ac__loop_close_own(c);
    if (s >= 0)
        ac__loop_close_own(s);
    errno = err;
    return -1;
}

/* A peer with an empty script on `fd` (-1: none yet), its watchers set up but stopped. */
static ac_peer *make_peer(ac_test *t, const char *label, int fd, const char *file, int line) {
    ac_peer *p = ac__xcalloc(1, sizeof *p);
    p->t = t;
    p->loop = ac_loop(t);
    p->fd = fd;
    ac__loop_fd_harness(fd, true); /* the test's code closing it fails the test */
    snprintf(p->label, sizeof p->label, "%s", label);
    p->file = file;
    p->line = line;
    p->code_fd = -1;
    ev_io_init(&p->rd, on_readable, fd, EV_READ);
    ev_io_init(&p->wr, on_writable, fd, EV_WRITE);
    ev_timer_init(&p->timer, on_timer, 0., 0.);
    ev_prepare_init(&p->prep, on_prepare);
    ev_idle_init(&p->wake, on_wake);
    p->rd.data = p->wr.data = p->timer.data = p->prep.data = p->wake.data = p;
    return p;
}

ac_peer *ac__peer_detached(ac_test *t, const char *label, bool tcp, const char *file, int line) {
    ac_peer *p = make_peer(t, label, -1, file, line);
    p->tcp = tcp;
    p->pending = p->hold = true;
    return p;
}

void ac__peer_attach(ac_peer *p, int fd) {
    p->fd = fd;
    ac__loop_fd_harness(fd, true);
    p->pending = false;
    ev_io_set(&p->rd, fd, EV_READ);
    ev_io_set(&p->wr, fd, EV_WRITE);
    sync_watchers(p);
    if (p->nsteps)
        kick(p);
}

void ac__peer_describe_script(const ac_peer *p, ac__buf *b) {
    if (!p->nsteps)
        ac__buf_puts(b, "empty");
    for (size_t i = 0; i < p->nsteps && i < 8; i++) {
        if (i)
            ac__buf_puts(b, ", ");
        describe(b, &p->steps[i]);
    }
    if (p->nsteps > 8)
        ac__buf_printf(b, ", ... (%zu more)", p->nsteps - 8);
}

ac_peer *ac__peer_new(ac_test *t, int *fd, bool tcp, const char *file, int line) {
    char text[256];
    const char *what = "socketpair";
    if (!t || !fd) {
        ac__report_failure(AC_FK_ASSERTION, true, file, line,
                           tcp ? "ac_peer_new_tcp: t and fd must not be NULL"
                               : "ac_peer_new: t and fd must not be NULL",
                           NULL, NULL);
        return NULL; /* not reached: the report is fatal */
    }
    int sv[2];
    int r = tcp ? tcp_pair(&sv[0], &sv[1], &what)
                : socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
    if (r < 0) {
        int err = errno;
        snprintf(text, sizeof text, "scripted peer: could not make a %s (%s: %s: %s)",
                 tcp ? "loopback TCP connection" : "socketpair", what,
                 strerrorname_np(err) ? strerrorname_np(err) : "?", strerror(err));
        ac__report_failure(AC_FK_HARNESS, true, file, line, text, NULL, NULL);
        return NULL; /* not reached: the report is fatal */
    }
    ac_peer *p = make_peer(t, "scripted peer", sv[1], file, line);
    p->tcp = tcp;
    p->code_fd = sv[0];
    struct stat st;
    if (fstat(sv[0], &st) == 0) {
        p->code_dev = st.st_dev;
        p->code_ino = st.st_ino;
    }
    ac__at_test_end(t, on_test_end, p);
    sync_watchers(p); /* an empty script: any byte the code writes is unexpected */
    *fd = sv[0];
    return p;
}

/* ---- building the script ---- */

/* Checks that a step of `kind` may be added (called from the test, so a misuse fails it there). */
static void check_addable(ac_peer *p, step_kind kind, const char *fn, const char *file, int line) {
    char text[320];
    text[0] = '\0';
    if (!p)
        snprintf(text, sizeof text, "%s: the peer is NULL", fn);
    else if (p->has_end) {
        const step *last = &p->steps[p->nsteps - 1];
        snprintf(text, sizeof text, "%s: the script already ended with %s (%s:%d); no step can follow", fn,
                 kind_name(last->kind), last->file, last->line);
    } else if ((kind == ST_EXPECT || kind == ST_EXPECT_EOF) && p->eof_file)
        snprintf(text, sizeof text,
                 "%s: the script already expects end-of-file from the code (%s:%d); nothing more can be "
                 "expected",
                 fn, p->eof_file, p->eof_line);
    else if (kind == ST_SEND && p->sat_file)
        snprintf(text, sizeof text,
                 "%s: the peer saturates the code's fd from %s:%d on; turn that off first "
                 "(ac_peer_saturate(p, false))",
                 fn, p->sat_file, p->sat_line);
    else if (kind == ST_SEND && p->has_shutdown)
        snprintf(text, sizeof text, "%s: the script shut down the peer's sending side; nothing can be sent",
                 fn);
    else if (kind == ST_RESET && !p->tcp)
        snprintf(text, sizeof text,
                 "%s: a socketpair peer cannot reset the connection (make the peer with ac_peer_new_tcp)",
                 fn);
    if (text[0])
        ac__report_failure(AC_FK_ASSERTION, true, file, line, text, NULL, NULL);
}

static void add_step(ac_peer *p, step s) {
    if (p->nsteps == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->steps = ac__xrealloc(p->steps, p->cap * sizeof *p->steps);
    }
    p->steps[p->nsteps++] = s;
    if (s.kind == ST_CLOSE || s.kind == ST_RESET)
        p->has_end = true;
    if (s.kind == ST_SHUTDOWN_WRITE)
        p->has_shutdown = true;
    if (s.kind == ST_EXPECT_EOF) {
        p->eof_file = s.file;
        p->eof_line = s.line;
    }
    if (s.kind == ST_SATURATE) {
        p->sat_file = s.on ? s.file : NULL;
        p->sat_line = s.line;
    }
    /* shutdown, close and reset end a saturation */
    if (s.kind == ST_SHUTDOWN_WRITE || s.kind == ST_CLOSE || s.kind == ST_RESET)
        p->sat_file = NULL;
    kick(p);
}

static void add_bytes(ac_peer *p, step_kind kind, const void *bytes, size_t n, const char *fn,
                      const char *file, int line) {
    check_addable(p, kind, fn, file, line);
    if (!bytes && n) {
        char text[128];
        snprintf(text, sizeof text, "%s: bytes is NULL", fn);
        ac__report_failure(AC_FK_ASSERTION, true, file, line, text, NULL, NULL);
    }
    unsigned char *copy = ac__xmalloc(n);
    if (n)
        memcpy(copy, bytes, n);
    add_step(p, (step){.kind = kind, .data = copy, .n = n, .file = file, .line = line});
}

/* A string step: its bytes without the terminating NUL; a NULL string is misuse (fatal). */
static void add_str(ac_peer *p, step_kind kind, const char *s, const char *fn, const char *file, int line) {
    if (!s) {
        char text[96];
        snprintf(text, sizeof text, "%s: s is NULL", fn);
        ac__report_failure(AC_FK_ASSERTION, true, file, line, text, NULL, NULL);
    }
    add_bytes(p, kind, s, s ? strlen(s) : 0, fn, file, line);
}

void ac__peer_expect(ac_peer *p, const void *bytes, size_t n, const char *file, int line) {
    add_bytes(p, ST_EXPECT, bytes, n, "ac_peer_expect", file, line);
}

void ac__peer_expect_str(ac_peer *p, const char *s, const char *file, int line) {
    add_str(p, ST_EXPECT, s, "ac_peer_expect_str", file, line);
}

void ac__peer_send(ac_peer *p, const void *bytes, size_t n, const char *file, int line) {
    add_bytes(p, ST_SEND, bytes, n, "ac_peer_send", file, line);
}

void ac__peer_send_str(ac_peer *p, const char *s, const char *file, int line) {
    add_str(p, ST_SEND, s, "ac_peer_send_str", file, line);
}

void ac__peer_wait(ac_peer *p, double seconds, const char *file, int line) {
    check_addable(p, ST_WAIT, "ac_peer_wait", file, line);
    if (!isfinite(seconds) || seconds < 0) {
        char text[128];
        snprintf(text, sizeof text, "ac_peer_wait: %g is not a duration in seconds", seconds);
        ac__report_failure(AC_FK_ASSERTION, true, file, line, text, NULL, NULL);
    }
    add_step(p, (step){.kind = ST_WAIT, .seconds = seconds, .file = file, .line = line});
}

void ac__peer_shutdown_write(ac_peer *p, const char *file, int line) {
    check_addable(p, ST_SHUTDOWN_WRITE, "ac_peer_shutdown_write", file, line);
    add_step(p, (step){.kind = ST_SHUTDOWN_WRITE, .file = file, .line = line});
}

void ac__peer_close(ac_peer *p, const char *file, int line) {
    check_addable(p, ST_CLOSE, "ac_peer_close", file, line);
    add_step(p, (step){.kind = ST_CLOSE, .file = file, .line = line});
}

void ac__peer_reset(ac_peer *p, const char *file, int line) {
    check_addable(p, ST_RESET, "ac_peer_reset", file, line);
    add_step(p, (step){.kind = ST_RESET, .file = file, .line = line});
}

void ac__peer_close_unread(ac_peer *p, const char *file, int line) {
    check_addable(p, ST_CLOSE, "ac_peer_close_unread", file, line);
    add_step(p, (step){.kind = ST_CLOSE, .unread = true, .file = file, .line = line});
}

void ac__peer_reset_unread(ac_peer *p, const char *file, int line) {
    check_addable(p, ST_RESET, "ac_peer_reset_unread", file, line);
    add_step(p, (step){.kind = ST_RESET, .unread = true, .file = file, .line = line});
}

void ac__peer_expect_eof(ac_peer *p, const char *file, int line) {
    check_addable(p, ST_EXPECT_EOF, "ac_peer_expect_eof", file, line);
    add_step(p, (step){.kind = ST_EXPECT_EOF, .file = file, .line = line});
}

void ac__peer_saturate(ac_peer *p, bool on, const char *file, int line) {
    check_addable(p, ST_SATURATE, "ac_peer_saturate", file, line);
    add_step(p, (step){.kind = ST_SATURATE, .on = on, .file = file, .line = line});
}

/* ---- one-byte mode ---- */

/* The code's fd number may have been closed and reused by now: touch it only while it is our socket. */
static bool code_fd_is_ours(const ac_peer *p) {
    struct stat st;
    return fstat(p->code_fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == p->code_dev &&
           st.st_ino == p->code_ino;
}

/* Shrinks the code's send buffer to the kernel's minimum (on), or gives back the size it had (off). Only
 * that buffer: the peer's receive buffer is left alone, because an AF_UNIX stream socket ignores it (the
 * sender's buffer alone bounds what is queued) and a tiny TCP window stalls a transfer for seconds (the
 * sender falls back to its persist timer while the peer reads slowly). */
static void resize_code_sndbuf(ac_peer *p, bool on) {
    if (!code_fd_is_ours(p))
        return;
    if (on) {
        int tiny = 1; /* the kernel raises it to its minimum */
        socklen_t len = sizeof p->code_sndbuf;
        if (getsockopt(p->code_fd, SOL_SOCKET, SO_SNDBUF, &p->code_sndbuf, &len) < 0)
            p->code_sndbuf = 0;
        else
            (void)setsockopt(p->code_fd, SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny);
    } else if (p->code_sndbuf > 0) {
        /* getsockopt reports the doubled size the kernel uses; setsockopt doubles what it is given. */
        int half = p->code_sndbuf / 2;
        (void)setsockopt(p->code_fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
        p->code_sndbuf = 0;
    }
}

void ac_peer_one_byte_at_a_time(ac_peer *p, bool on) {
    if (!p || p->one_byte == on)
        return;
    p->one_byte = on;
    resize_code_sndbuf(p, on);
    kick(p);
}

/* An injected fault fired (from inside the failed call, maybe an allocator): the reader stops keeping the
 * loop waiting for bytes the code may never send; nothing else is touched here. */
static void on_disruption(ac_test *t, void *ctx) {
    (void)t;
    ac_peer *p = ctx;
    if (ev_is_active(&p->rd) && !p->rd_unref) {
        ev_unref(p->loop);
        p->rd_unref = true;
    }
}

void ac_peer_allow_hangup_after_fault(ac_peer *p) {
    if (!p || p->fault_hangup)
        return;
    p->fault_hangup = true;
    ac__at_disruption(p->t, on_disruption, p);
}

bool ac_peer_done(const ac_peer *p) {
    return p && !p->failed && !p->pending && p->cur == p->nsteps;
}
