/* fetcher.h — HTTP GETs on a libev loop through libcurl's multi-socket API.
 *
 * It demonstrates the usual way to drive libcurl from an event loop: libcurl opens, connects and closes
 * its sockets itself and tells the loop which of them to watch (CURLMOPT_SOCKETFUNCTION: one ev_io per
 * socket) and when to call it back at the latest (CURLMOPT_TIMERFUNCTION: one ev_timer); the loop hands
 * every event back with curl_multi_socket_action, and finished transfers are collected with
 * curl_multi_info_read. Each transfer has its own overall and connect timeouts, which libcurl keeps
 * itself (CURLOPT_TIMEOUT_MS, CURLOPT_CONNECTTIMEOUT_MS) through that one timer. curl_test.c tests it with
 * asyncheck against a scripted HTTP server that libcurl connects to by itself.
 *
 *   static void on_done(int result, long status, const char *body, size_t len, void *ud) { ... }
 *
 *   fetcher *f = fetcher_new(loop);
 *   fetch *h = fetcher_get(f, "http://127.0.0.1:8080/", NULL, on_done, ud);
 *   ev_run(loop, 0);                               // on_done(CURLE_OK, 200, "hello", 5, ud)
 *   fetcher_free(f);
 *
 * Hosts should be numeric addresses ("127.0.0.1"): libcurl then resolves nothing, whereas a host name goes
 * through its resolver, a thread of its own in Debian's build. Signals are never used (CURLOPT_NOSIGNAL).
 *
 * Time: libcurl reads the monotonic clock itself (clock_gettime, through its PLT), and decides from that
 * reading whether a timeout has passed; the fetcher's ev_timer only says when to ask. Measured on Debian
 * 12's libcurl 7.88.1 under asyncheck's virtual clock: the clock's GOT patch reaches libcurl's own reads,
 * so a 30 s CURLOPT_TIMEOUT_MS ends at exactly 30 s of virtual time within milliseconds of real time
 * (curl_test.c: timeouts.never_answering_server_times_out_in_virtual_time checks both).
 *
 * Planted bugs (curl_test.c's header says which test catches which): built with -DPLANTED_BUG=N as the
 * separate targets curl_test_bug<N>. 1: the socket callback leaves the ev_io running on CURL_POLL_REMOVE.
 * 2: the timer's callback does not call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) (fetcher_get kicks
 * libcurl once itself, so transfers still start). 3: fetcher_cancel does not remove the easy handle from
 * the multi handle (it only silences the callback). 4: a failure of curl_multi_socket_action (out of memory)
 * is ignored instead of ending the transfers in flight, which then hang. */
#ifndef FETCHER_H
#define FETCHER_H

#include <stddef.h>

struct ev_loop;

/* A set of transfers on one loop: one libcurl multi handle, its connection cache and its watchers. */
typedef struct fetcher fetcher;

/* One transfer in progress, from fetcher_get until its callback returns or fetcher_cancel. */
typedef struct fetch fetch;

/* The outcome of a transfer, reported exactly once unless it is cancelled, from the loop (never from
 * inside fetcher_get or fetcher_cancel). result is a CURLcode: CURLE_OK when a response came (whatever
 * its status), else why not (CURLE_COULDNT_CONNECT for a refused connection, CURLE_OPERATION_TIMEDOUT
 * when a timeout ran out, CURLE_OUT_OF_MEMORY when libcurl's multi handle itself failed, ...). status is the
 * HTTP status (0 if none came); body is the len bytes of the body received so far followed by a '\0', valid
 * only during the call. The callback may start and cancel other transfers, but must not free the fetcher. */
typedef void (*fetch_cb)(int result, long status, const char *body, size_t len, void *ud);

/* Per-transfer options; a zero field means its default. */
typedef struct fetch_options {
    long timeout_ms;         /* the whole transfer (CURLOPT_TIMEOUT_MS); default 30,000 */
    long connect_timeout_ms; /* connecting (CURLOPT_CONNECTTIMEOUT_MS); default 10,000 */
} fetch_options;

/* Makes a fetcher on `loop` (which must outlive it), initialising libcurl for the process if nothing has
 * yet. Returns NULL when libcurl cannot be initialised or memory runs out. */
fetcher *fetcher_new(struct ev_loop *loop);

/* Cancels every transfer in progress (no callbacks), closes every connection libcurl keeps (also the
 * idle ones it caches for reuse), stops every watcher and frees the fetcher. NULL is allowed. Not from
 * inside a fetch_cb. */
void fetcher_free(fetcher *f);

/* Starts GET `url` (opt NULL: the defaults). Returns the transfer, which is valid until its callback
 * returns or it is cancelled; NULL if libcurl refuses the request at once (then cb is never called).
 * Nothing happens before the loop runs. */
fetch *fetcher_get(fetcher *f, const char *url, const fetch_options *opt, fetch_cb cb, void *ud);

/* Cancels a transfer in progress: its callback is not called, its connection is closed and its
 * watchers stopped before this returns (a connection shared with nothing else; libcurl does not reuse
 * a connection whose transfer was cut short). NULL is allowed. */
void fetcher_cancel(fetch *h);

/* The transfers in progress. */
size_t fetcher_transfers(const fetcher *f);

/* The sockets libcurl has asked the fetcher to watch now (one ev_io each). */
size_t fetcher_sockets(const fetcher *f);

#endif
