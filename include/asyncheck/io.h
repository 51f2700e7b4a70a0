/* asyncheck/io.h — a scripted peer for an fd: the far end of a connected socket that follows a script.
 *
 *   int fd;
 *   ac_peer *p = ac_peer_new(t, &fd);                  // fd: the code under test's end
 *   ac_peer_expect_str(p, "HELO example.org\r\n");     // the code must write exactly this
 *   ac_peer_send_str(p, "250 ok\r\n");                 // then the peer answers
 *   ac_peer_wait(p, 0.1);                              // pauses
 *   ac_peer_close(p);                                  // and hangs up
 *   my_client_start(ac_loop(t), fd);
 *   AC_AWAIT(t, ac_peer_done(p), 2.0);
 *
 * The peer is driven by watchers on the test's loop (ac_loop(t)): nothing happens while the loop does
 * not run, and nothing the peer does can block. Steps run strictly in the order they were added. Bytes
 * the code writes are compared with each expect step as they arrive; the first byte that differs fails
 * the test at once, with both sides shown around it (C-escaped, plus a hex window for binary data) and
 * the file:line of the expect step. When the test ends, a script that is not finished fails the test,
 * listing the steps left; the peer then stops its watchers, closes its end and frees itself.
 *
 * After a cancel (asyncheck/race.h: a cancel sweep's cancel point, or ac_cancel; ac_cancelled is true)
 * the code is expected to close its fd wherever the script stands. So once the test has cancelled, the
 * code closing its end during an expect, send or wait step, or a script left unfinished when the test
 * ends, abandons the rest of the script instead of failing the test, with a note in the report (shown
 * under -v, and as a TAP comment): "scripted peer on fd 7: script abandoned after the cancel at step 2
 * of 5 (send "hello" (5 bytes)): the code closed its end". Wrong or unexpected bytes still fail it.
 *
 * Failures of the script are reported like assertions ("scripted peer: ..."), fatal ones from inside the
 * peer's libev callbacks. Which errors a socketpair can produce honestly: see ac_peer_close and
 * ac_peer_reset. The step functions are macros so that failures point at the line of the step. */
#ifndef ASYNCHECK_IO_H
#define ASYNCHECK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A scripted peer. Opaque; owned by the test it was made for and freed when that test ends, so the
 * pointer must not be used after the test (not in a later test, not from a saved global). */
typedef struct ac_peer ac_peer;

/* Creates a connected AF_UNIX stream socketpair, stores the code under test's end in *fd and returns
 * the peer that drives the other end with watchers on ac_loop(t). *fd is non-blocking and close-on-exec;
 * it belongs to the test, which must close it (the peer never touches it, except to shrink its send
 * buffer in one-byte mode). The peer's own end is closed by a close or reset step, or when the test
 * ends. Creating the socketpair can fail only for lack of resources; that fails the test fatally. */
#define ac_peer_new(t, fd) ac__peer_new((t), (fd), false, __FILE__, __LINE__)

/* Like ac_peer_new, but the two ends are a TCP connection over 127.0.0.1 (TCP_NODELAY on both) instead
 * of a socketpair: needed for ac_peer_reset, and for code that insists on an AF_INET socket. Fails the
 * test fatally when no loopback TCP connection can be made (e.g. a network namespace without `lo`). */
#define ac_peer_new_tcp(t, fd) ac__peer_new((t), (fd), true, __FILE__, __LINE__)

/* Adds a step: the code must write exactly these n bytes next (copied; they may contain NULs). They may
 * arrive in any number of pieces and the peer keeps reading while it runs earlier steps, so the code may
 * write before the peer has finished sending; they are compared in order when this step is reached. The
 * step fails the test at the first byte that differs, or if the code closes its end first. Bytes the
 * code writes when no expect step is left in the script fail the test too ("unexpected bytes"). */
#define ac_peer_expect(p, bytes, n) ac__peer_expect((p), (bytes), (n), __FILE__, __LINE__)

/* ac_peer_expect with the bytes of the NUL-terminated string s (without the NUL). */
#define ac_peer_expect_str(p, s) ac__peer_expect_str((p), (s), __FILE__, __LINE__)

/* Adds a step: the peer writes these n bytes (copied) to the code, as fast as the code reads them (one
 * byte per loop iteration in one-byte mode). It fails the test if the code has closed its end. */
#define ac_peer_send(p, bytes, n) ac__peer_send((p), (bytes), (n), __FILE__, __LINE__)

/* ac_peer_send with the bytes of the NUL-terminated string s (without the NUL). */
#define ac_peer_send_str(p, s) ac__peer_send_str((p), (s), __FILE__, __LINE__)

/* Adds a step: the peer does nothing for `seconds` of the test's clock (real time, or virtual time under
 * a virtual or manual clock; at least that long, measured from when the step is reached; not scaled by
 * AC_TIMEOUT_MULTIPLIER), while it goes on reading what the code writes. A negative or non-finite duration
 * fails the test fatally. For a latency that schedules explore (asyncheck/race.h), draw it from the schedule:
 * ac_peer_wait(p, ac_schedule_uniform(t, 0.010, 0.200)). */
#define ac_peer_wait(p, seconds) ac__peer_wait((p), (seconds), __FILE__, __LINE__)

/* Adds a step: the peer shuts down its sending side (shutdown(SHUT_WR)): the code reads end-of-file
 * after what was sent, and can still write; later expect steps still apply, later send steps cannot be
 * added (that fails the test fatally). */
#define ac_peer_shutdown_write(p) ac__peer_shutdown_write((p), __FILE__, __LINE__)

/* Adds a step: the peer closes its end. The code reads what was sent, then end-of-file; its writes after
 * that fail with EPIPE — and raise SIGPIPE, which ends the test as a crash, unless the code writes with
 * MSG_NOSIGNAL or ignores SIGPIPE, as it must with a real peer. Before closing, the peer reads what the
 * code has already written: any byte there is unexpected and fails the test (ac_peer_close_unread hangs
 * up over such bytes instead). No step can follow. */
#define ac_peer_close(p) ac__peer_close((p), __FILE__, __LINE__)

/* Adds a step: like ac_peer_close, but the peer hangs up with what the code wrote left unread, as a
 * client that gives up on a large response does. From when no expect step is left before it, the peer
 * stops reading, so what the code writes piles up in the socket (large writes come back short, then
 * with EAGAIN; over TCP only once the kernel's growing buffers are full) and is neither checked nor
 * unexpected; bytes the peer had already read are dropped. If anything is unread when it closes, the
 * kernel resets the connection: the code's reads and writes fail with ECONNRESET or EPIPE (and writes
 * raise SIGPIPE, as for ac_peer_close); if nothing is, it is a plain close. No step can follow. */
#define ac_peer_close_unread(p) ac__peer_close_unread((p), __FILE__, __LINE__)

/* Adds a step: the peer aborts the connection (SO_LINGER 0, then close: a TCP RST). The code reads what
 * was sent before, then its read fails with ECONNRESET; a write fails with ECONNRESET or EPIPE (and
 * SIGPIPE, as for ac_peer_close). Only a peer made by ac_peer_new_tcp can do this: a socketpair has no
 * way to make the other end's read fail on demand (Linux reports ECONNRESET on an AF_UNIX socket only
 * when its peer closes with unread data, which the script cannot arrange), so on an ac_peer_new peer
 * this fails the test fatally. No step can follow. */
#define ac_peer_reset(p) ac__peer_reset((p), __FILE__, __LINE__)

/* Adds a step: ac_peer_reset over what the code wrote, left unread and unchecked as for
 * ac_peer_close_unread (only on a peer made by ac_peer_new_tcp). No step can follow. */
#define ac_peer_reset_unread(p) ac__peer_reset_unread((p), __FILE__, __LINE__)

/* Adds a step: the code closes its end or shuts down its sending side (shutdown(SHUT_WR)), which the peer
 * reads as end-of-file; a reset (the code closed over bytes it had not read: ECONNRESET) counts as a
 * close. Any byte the code writes before that fails the test at once ("unexpected bytes during step N
 * (expect eof)"); if the end-of-file has not come when the test ends, the script is unfinished ("step N
 * was waiting for the code to close its end or shut down its sending side"). Send, wait and hang-up
 * steps may follow (a code that only shut down its sending side still reads); expect steps cannot (that
 * fails the test fatally). */
#define ac_peer_expect_eof(p) ac__peer_expect_eof((p), __FILE__, __LINE__)

/* Adds a step that turns saturation on or off. On: from this step on, a helper thread of the peer,
 * outside the test's loop, writes filler bytes ('x', 0x78) to the code whenever its connection can take
 * more, so the code's fd stays readable however much it reads: a reader that loops until read() says
 * EAGAIN never returns to the loop (its timers starve, the test times out), while a reader that reads a
 * bounded amount per callback lets the loop run. It is about the code's reading only: the peer's own
 * reading is unchanged (what the code writes is still read on the test's loop and checked against the
 * expect steps, so expect and expect_eof steps may run while it saturates). Send steps cannot be added
 * while it is on (the filler would interleave with their bytes; that fails the test fatally): add
 * ac_peer_saturate(p, false) first; the filler already queued arrives before what later steps send. Off:
 * the thread stops and is joined. A shutdown, close or reset step, a failure, and the test's end stop
 * and join it too. The thread stops by itself when the code closes its end (its writes fail); later steps
 * notice that as usual. A code that wants no filler never turns it on: it is off by default. */
#define ac_peer_saturate(p, on) ac__peer_saturate((p), (on), __FILE__, __LINE__)

/* Turns one-byte mode on or off, from now on. On: send steps give the code one byte per loop iteration
 * and, on a socketpair, only after it has read the previous one, so every read the code makes returns a
 * single byte (over TCP the peer cannot tell when the code has read, so a code that skips iterations may
 * find several bytes); the peer reads what the code writes one byte per iteration; and the send buffer
 * of the code's fd, if that is still open, is shrunk as far as the kernel allows (4608 bytes on Linux),
 * so that large writes by the code come back short and then fail with EAGAIN until the peer catches up
 * (a few KiB on a socketpair; over TCP the kernel takes in more first). Off: normal speed again, and the
 * send buffer's size from before. Code that handles short reads and writes passes in both modes. */
void ac_peer_one_byte_at_a_time(ac_peer *p, bool on);

/* True when every step added so far has been carried out (false while a step is in progress, after the
 * peer has failed the test, and after it abandoned its script following a cancel). A step is carried
 * out when the peer has done its part: the last byte of a send is written (read or not), the shutdown,
 * close or reset has happened; so AC_AWAIT(t, ac_peer_done(p), 2.0) returns as soon as that is so, not
 * at its deadline, even when the code has nothing more to do. More steps may be added after it is true,
 * unless the script ended with a close or reset step. */
bool ac_peer_done(const ac_peer *p);

/* Lets the code under test hang up on p in a run where an injected fault has fired (README, "Fault
 * injection"): from then on, the code closing its end, or the test ending with the script unfinished,
 * abandons the script as after a cancel — a note (shown under -v, and as a TAP comment) naming the fault
 * and the step, instead of a failure; the test's own checks judge the run. Bytes that differ from the
 * script still fail the test. Without a fault that fired, nothing changes. */
void ac_peer_allow_hangup_after_fault(ac_peer *p);

/* ---- a scripted server: a listener whose accepted connections each follow a script ----
 *
 *   uint16_t port;
 *   ac_listener *l = ac_peer_listen_tcp(t, &port);
 *   ac_peer *c1 = ac_listener_next(l);                 // the 1st connection's script
 *   ac_peer_expect_str(c1, "PING\r\n");
 *   ac_peer_reset(c1);                                 // drops it: the code reconnects
 *   ac_peer *c2 = ac_listener_next(l);                 // the 2nd connection's script
 *   ac_peer_expect_str(c2, "PING\r\n");
 *   ac_peer_send_str(c2, "+PONG\r\n");
 *   my_client_connect(ac_loop(t), "127.0.0.1", port);
 *   AC_AWAIT(t, ac_listener_done(l), 2.0);
 *
 * Connections are accepted by a watcher on ac_loop(t), so the code's connect() succeeds at once (the
 * kernel completes it) but nothing is accepted while the loop does not run. Each accepted connection is
 * driven by the script that ac_listener_next returned for its number, with everything that is said above
 * of a peer (a diff at the first wrong byte, abandoned after a cancel, ...); messages name it
 * "scripted peer (connection N)". Add a connection's script before the loop can accept it: a connection
 * that comes when no script is left fails the test at once ("listener: unexpected connection 3: only 2
 * scripted"). At the test's end, a scripted connection that never came fails it ("listener: scripted
 * connection 2 never came (1 of 2 accepted)", at the line of its ac_listener_next, with its script), and
 * so does an unfinished script (as for a peer); after a cancel both are notes instead (abandoned). While
 * a scripted connection has not come, the listener's watcher keeps the runner's drain waiting (up to the
 * test's timeout), as a peer's unfinished script does. The listener closes its socket when the test
 * ends; it is freed then, so the pointer must not be kept for a later test. */
typedef struct ac_listener ac_listener;

/* Listens on 127.0.0.1, on a port the kernel picks, stored in *port (uint16_t *, host byte order);
 * accepted connections are TCP (TCP_NODELAY), so their scripts may reset. Fails the test fatally when it
 * cannot listen. */
#define ac_peer_listen_tcp(t, port) ac__peer_listen_tcp((t), (port), __FILE__, __LINE__)

/* Listens on the AF_UNIX stream socket at `path` (which must not exist; removed when the test ends).
 * Accepted connections are AF_UNIX: their scripts cannot reset (as for ac_peer_new). Fails the test
 * fatally when it cannot listen (the path exists, or is longer than sun_path). */
#define ac_peer_listen_unix(t, path) ac__peer_listen_unix((t), (path), __FILE__, __LINE__)

/* Returns the script of the next connection: the 1st call's for the 1st connection accepted, the 2nd
 * call's for the 2nd, ... It is an ordinary ac_peer: steps are added with the ac_peer_* calls above and
 * ac_peer_done tells whether it has come and finished. A connection whose script is empty is accepted
 * and never answered: the peer holds it open and reads nothing, so what the code writes stays unread and
 * is not checked (adding steps later ends that). One-byte mode cannot shrink the code's send buffer here
 * (the peer does not know the code's fd): only the peer's side goes one byte at a time. */
ac_peer *ac_listener_next(ac_listener *l);
#define ac_listener_next(l) ac__listener_next((l), __FILE__, __LINE__)

/* Stops listening and closes the listening socket (connections already waiting to be accepted are
 * accepted first; accepted connections go on with their scripts): later connects are refused
 * (ECONNREFUSED; for a unix listener the path stays until the test's end, so they are refused too). */
void ac_listener_close(ac_listener *l);

/* ac_peer_allow_hangup_after_fault for every script of l, those made later included; and a scripted
 * connection that never came, in a run where an injected fault fired, is a note instead of a failure. */
void ac_listener_allow_hangup_after_fault(ac_listener *l);

/* Returns how many connections the listener has accepted so far (unexpected ones included). */
size_t ac_listener_accepted(const ac_listener *l);

/* True when every connection scripted so far has come and finished its script (for AC_AWAIT); false
 * after a script failed. True with no script at all. */
bool ac_listener_done(const ac_listener *l);

/* Returns a loopback TCP port that is free now (bound on 127.0.0.1, then released), for a server the
 * test starts itself; another process may take it before that server binds it, so prefer ports servers
 * pick themselves when they can. Returns 0 if no socket could be bound. Needs no test (a run fixture's
 * setup may call it). */
uint16_t ac_unused_tcp_port(void);

/* The functions behind the macros above; call the macros. */
ac_peer *ac__peer_new(ac_test *t, int *fd, bool tcp, const char *file, int line);
void ac__peer_expect(ac_peer *p, const void *bytes, size_t n, const char *file, int line);
void ac__peer_expect_str(ac_peer *p, const char *s, const char *file, int line);
void ac__peer_send(ac_peer *p, const void *bytes, size_t n, const char *file, int line);
void ac__peer_send_str(ac_peer *p, const char *s, const char *file, int line);
void ac__peer_wait(ac_peer *p, double seconds, const char *file, int line);
void ac__peer_shutdown_write(ac_peer *p, const char *file, int line);
void ac__peer_close(ac_peer *p, const char *file, int line);
void ac__peer_reset(ac_peer *p, const char *file, int line);
void ac__peer_close_unread(ac_peer *p, const char *file, int line);
void ac__peer_reset_unread(ac_peer *p, const char *file, int line);
void ac__peer_expect_eof(ac_peer *p, const char *file, int line);
void ac__peer_saturate(ac_peer *p, bool on, const char *file, int line);
ac_listener *ac__peer_listen_tcp(ac_test *t, uint16_t *port, const char *file, int line);
ac_listener *ac__peer_listen_unix(ac_test *t, const char *path, const char *file, int line);
ac_peer *ac__listener_next(ac_listener *l, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif
