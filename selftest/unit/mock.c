/* mock.c — mocks doing what they promise: return values, sequences, errno, side effects, every kind of
 * completion, references to the call's arguments, the call log, argument accessors, typedefs, the
 * supported types, expectations that are met, and calls from other threads (the test reading them as
 * they come). (The failing side —
 * unexpected calls, unmet expectations, bad prototypes, held completions — is in meta/meta_mocks.c.) */
#include <asyncheck.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef void (*reply_cb)(int status, const char *body, void *ud);
typedef int (*get_fn)(const char *url, reply_cb cb, void *ud);
#define GET_PROTO                                                                                            \
    "int http_get(const char *url, void (*cb)(int status, const char *body, void *ud), void *ud)"

typedef struct reply {
    int status;
    char body[64];
    int count;
    pthread_t thread;
} reply;

static void on_reply(int status, const char *body, void *ud) {
    reply *r = ud;
    r->status = status;
    strncpy(r->body, body ? body : "(null)", sizeof r->body - 1);
    r->count++;
    r->thread = pthread_self();
}

AC_TEST(mock, returns_a_fixed_value_of_the_prototypes_type) {
    ac_mock *i = ac_mock_new(t, "int f(void)");
    ac_mock *d = ac_mock_new(t, "double g(int x)");
    ac_mock *u = ac_mock_new(t, "unsigned long long h(void)");
    ac_mock *p = ac_mock_new(t, "const char *name(void)");
    ac_mock *c = ac_mock_new(t, "char initial(void)");
    ac_mock *f = ac_mock_new(t, "float ratio(void)");
    ac_mock *b = ac_mock_new(t, "bool ok(void)");
    ac_mock_returns(i, -7);
    ac_mock_returns(d, 2.5);
    ac_mock_returns(u, UINT64_MAX);
    ac_mock_returns(p, "bob");
    ac_mock_returns(c, 'z');
    ac_mock_returns(f, 0.25);
    ac_mock_returns(b, true);
    AC_EXPECT_EQ(((int (*)(void))ac_mock_fn(i))(), -7);
    AC_EXPECT_EQ(((double (*)(int))ac_mock_fn(d))(3), 2.5);
    AC_EXPECT_EQ(((unsigned long long (*)(void))ac_mock_fn(u))(), UINT64_MAX);
    AC_EXPECT_STR_EQ(((const char *(*)(void))ac_mock_fn(p))(), "bob");
    AC_EXPECT_EQ(((char (*)(void))ac_mock_fn(c))(), 'z');
    AC_EXPECT_EQ(((float (*)(void))ac_mock_fn(f))(), 0.25f);
    AC_EXPECT_TRUE(((bool (*)(void))ac_mock_fn(b))());
    ac_mock *zero = ac_mock_new(t, "long z(void)");
    AC_EXPECT_EQ(((long (*)(void))ac_mock_fn(zero))(), 0); /* no behaviour: zero */
}

AC_TEST(mock, sequences_repeat_their_last_value_and_set_errno) {
    ac_mock *m = ac_mock_new(t, "ssize_t read(int fd, void *buf, size_t n)");
    ac_mock_returns_seq(m, (ssize_t[]){-1, -1, 4}, 3);
    ac_mock_sets_errno(m, EAGAIN);
    ssize_t (*rd)(int, void *, size_t) = (ssize_t(*)(int, void *, size_t))ac_mock_fn(m);
    errno = 0;
    AC_EXPECT_EQ(rd(3, NULL, 8), -1);
    AC_EXPECT_EQ(errno, EAGAIN);
    AC_EXPECT_EQ(rd(3, NULL, 8), -1);
    AC_EXPECT_EQ(rd(3, NULL, 8), 4);
    AC_EXPECT_EQ(rd(3, NULL, 8), 4);
    AC_EXPECT_EQ(ac_mock_call_count(m), 4u);
}

static void fill_buffer(const ac_mock_call *call, void *ret, void *ud) {
    char *buf = ac_mock_arg_ptr(call, 1);
    size_t n = ac_mock_arg_uint(call, 2);
    const char *src = ud;
    size_t len = strlen(src) < n ? strlen(src) : n;
    memcpy(buf, src, len);
    *(ssize_t *)ret = (ssize_t)len;
}

AC_TEST(mock, a_side_effect_sees_the_arguments_and_sets_the_return) {
    ac_mock *m = ac_mock_new(t, "ssize_t read(int fd, char *buf, size_t n)");
    ac_mock_does(m, fill_buffer, "hello");
    char buf[8] = {0};
    ssize_t (*rd)(int, char *, size_t) = (ssize_t(*)(int, char *, size_t))ac_mock_fn(m);
    AC_ASSERT_EQ(rd(5, buf, 3), 3);
    AC_ASSERT_STR_EQ(buf, "hel");
}

AC_TEST(mock, completes_after_a_delay_on_the_loop) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_after(0.05), "cb(200, \"hello\", $ud)");
    reply r = {0};
    double start = ev_time();
    AC_ASSERT_EQ(((get_fn)ac_mock_fn(m))("http://x/", on_reply, &r), 0);
    AC_ASSERT_EQ(r.count, 0); /* not inside the call */
    AC_AWAIT(t, r.count == 1, 2.0);
    AC_EXPECT_GE(ev_time() - start, 0.045);
    AC_EXPECT_EQ(r.status, 200);
    AC_EXPECT_STR_EQ(r.body, "hello");
    AC_EXPECT_EQ(ac_mock_completion_count(m), 1u);
}

AC_TEST(mock, completes_on_the_next_iteration) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "cb(204, \"\", $2)");
    reply r = {0};
    ((get_fn)ac_mock_fn(m))("u", on_reply, &r);
    AC_ASSERT_EQ(r.count, 0);
    ev_run(ac_loop(t), EVRUN_ONCE);
    AC_ASSERT_EQ(r.count, 1);
    AC_ASSERT_EQ(r.status, 204);
}

/* Calling a mock leaves the loop's cached time (ev_now) alone, whatever the completion: code under test
 * that reads a stale ev_now after starting a request must see it as stale as it is without the mock. The
 * completion still comes `seconds` after the call, not after the stale ev_now. */
static void call_keeps_ev_now(ac_test *t) {
    struct ev_loop *loop = ac_loop(t);
    ac_mock *after = ac_mock_new(t, GET_PROTO);
    ac_mock *next = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(after, ac_deliver_after(0.05), "cb(200, \"a\", $ud)");
    ac_mock_on_call_complete(next, ac_deliver_next_iteration(), "cb(201, \"n\", $ud)");
    reply a = {0}, n = {0};
    usleep(20000); /* ev_now is now 20 ms stale (virtual ms under the virtual clock) */
    double stale = ev_now(loop);
    AC_ASSERT_GE(ev_time() - stale, 0.015);
    double called = ac_clock_elapsed(t);
    ((get_fn)ac_mock_fn(after))("u", on_reply, &a);
    AC_EXPECT_EQ(ev_now(loop), stale);
    ((get_fn)ac_mock_fn(next))("u", on_reply, &n);
    AC_EXPECT_EQ(ev_now(loop), stale);
    AC_AWAIT(t, n.count == 1, 2.0);
    AC_AWAIT(t, a.count == 1, 2.0);
    AC_EXPECT_GE(ac_clock_elapsed(t) - called, 0.0499); /* from the call, not from the stale ev_now */
}

AC_TEST(mock, a_call_leaves_ev_now_alone, .clock = AC_CLOCK_REAL) {
    call_keeps_ev_now(t);
}

AC_TEST(mock, a_call_leaves_ev_now_alone_virtual, .clock = AC_CLOCK_VIRTUAL) {
    call_keeps_ev_now(t);
}

AC_TEST(mock, manual_completions_wait_for_the_test) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_held(), "cb(1, $url, $ud)");
    reply a = {0}, b = {0};
    get_fn get = (get_fn)ac_mock_fn(m);
    get("first", on_reply, &a);
    get("second", on_reply, &b);
    ev_run(ac_loop(t), EVRUN_NOWAIT);
    AC_ASSERT_EQ(a.count + b.count, 0);
    AC_ASSERT_EQ(ac_mock_held_count(m), 2u);
    AC_ASSERT_TRUE(ac_mock_deliver(m, 1)); /* out of order, on purpose */
    AC_EXPECT_EQ(b.count, 1);
    AC_EXPECT_STR_EQ(b.body, "second");
    AC_ASSERT_TRUE(ac_mock_deliver_next(m));
    AC_EXPECT_STR_EQ(a.body, "first");
    AC_EXPECT_FALSE(ac_mock_deliver_next(m));
    AC_EXPECT_FALSE(ac_mock_deliver(m, 0));
    AC_EXPECT_EQ(ac_mock_held_count(m), 0u);
}

AC_TEST(mock, never_completes_but_counts_the_call) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_never(), "cb(1, NULL, $ud)");
    reply r = {0};
    ((get_fn)ac_mock_fn(m))("u", on_reply, &r);
    ev_run(ac_loop(t), EVRUN_NOWAIT);
    AC_EXPECT_EQ(ac_mock_call_count(m), 1u);
    AC_EXPECT_EQ(ac_mock_completion_count(m), 0u);
    AC_EXPECT_EQ(ac_mock_held_count(m), 0u); /* never is not "held": not reported at the end */
}

AC_TEST(mock, twice_and_inside_the_call_misbehave_on_purpose) {
    ac_mock *twice = ac_mock_new(t, GET_PROTO), *inside = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(twice, ac_deliver_twice(0.01), "cb(1, \"x\", $ud)");
    ac_mock_on_call_complete(inside, ac_deliver_inside_call(), "cb(2, \"y\", $ud)");
    reply a = {0}, b = {0};
    ((get_fn)ac_mock_fn(inside))("u", on_reply, &b);
    AC_EXPECT_EQ(b.count, 1); /* before the call returned */
    ((get_fn)ac_mock_fn(twice))("u", on_reply, &a);
    AC_AWAIT(t, a.count == 2, 2.0);
    AC_EXPECT_EQ(ac_mock_completion_count(twice), 2u);
    AC_EXPECT_EQ(ac_mock_call_count(twice), 1u); /* calls and completions counted apart */
}

AC_TEST(mock, strings_are_copied_at_call_time) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_after(0.001), "cb(0, $0, $2)");
    char url[16] = "original";
    reply r = {0};
    ((get_fn)ac_mock_fn(m))(url, on_reply, &r);
    strcpy(url, "changed");
    AC_AWAIT(t, r.count == 1, 1.0);
    AC_EXPECT_STR_EQ(r.body, "original");
    AC_EXPECT_STR_EQ(ac_mock_arg_str(ac_mock_call_at(m, 0), 0), "original");
}

typedef struct many {
    double d;
    long long big;
    unsigned char byte;
    bool flag;
    void *ptr;
    int count;
} many;

static void on_many(double d, long long big, unsigned char byte, bool flag, void *ptr, void *ud) {
    many *m = ud;
    *m = (many){d, big, byte, flag, ptr, m->count + 1};
}

AC_TEST(mock, completion_literals_convert_to_the_callbacks_types) {
    ac_mock *m = ac_mock_new(
        t, "void start(void (*done)(double d, long long big, unsigned char byte, bool flag, void *p, "
           "void *ud), void *ud)");
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "done(1.5, -0x10, 255, true, NULL, $ud)");
    many got = {0};
    ((void (*)(void (*)(double, long long, unsigned char, bool, void *, void *), void *))ac_mock_fn(m))(
        on_many, &got);
    AC_AWAIT(t, got.count == 1, 1.0);
    AC_EXPECT_EQ(got.d, 1.5);
    AC_EXPECT_EQ(got.big, -16);
    AC_EXPECT_EQ(got.byte, 255);
    AC_EXPECT_TRUE(got.flag);
    AC_EXPECT_NULL(got.ptr);
}

AC_TEST(mock, records_arguments_of_every_supported_type) {
    ac_mock *m =
        ac_mock_new(t, "unsigned long long f(int8_t a, uint64_t b, size_t c, struct conn *p, const char *s, "
                       "char *buf, _Bool flag, float x, short sh, unsigned u, long l)");
    struct conn *conn = (struct conn *)(uintptr_t)0x1234;
    char buf[4] = "abc";
    ((unsigned long long (*)(int8_t, uint64_t, size_t, struct conn *, const char *, char *, _Bool, float,
                             short, unsigned, long))ac_mock_fn(m))(-5, UINT64_MAX, 42, conn, "str", buf, true,
                                                                   1.25f, -300, 4000000000u, -9);
    const ac_mock_call *c = ac_mock_call_at(m, 0);
    AC_EXPECT_EQ(ac_mock_arg_int(c, 0), -5);
    AC_EXPECT_EQ(ac_mock_arg_uint(c, 1), UINT64_MAX);
    AC_EXPECT_EQ(ac_mock_arg_uint(c, 2), 42);
    AC_EXPECT_EQ(ac_mock_arg_ptr(c, 3), conn);
    AC_EXPECT_STR_EQ(ac_mock_arg_str(c, 4), "str");
    AC_EXPECT_EQ(ac_mock_arg_ptr(c, 5), buf); /* char * is a buffer, not a string */
    AC_EXPECT_EQ(ac_mock_arg_int(c, 6), 1);
    AC_EXPECT_EQ(ac_mock_arg_double(c, 7), 1.25);
    AC_EXPECT_EQ(ac_mock_arg_int(c, 8), -300);
    AC_EXPECT_EQ(ac_mock_arg_uint(c, 9), 4000000000u);
    AC_EXPECT_EQ(ac_mock_arg_int(c, 10), -9);
    AC_EXPECT_EQ(ac_mock_arg_index(m, "flag"), 6u);
    AC_EXPECT_STR_CONTAINS(ac_mock_call_text(c), "f(-5, 18446744073709551615, 42, 0x1234, \"str\", 0x");
}

static void on_status(int status, void *ud) {
    reply *r = ud;
    r->status = status;
    r->count++;
}

AC_TEST(mock, typedefs_name_types_and_callback_types) {
    ac_mock_typedef("ev_tstamp", "double");
    ac_mock_typedef("done_cb", "void (*)(int status, void *ud)");
    ac_mock *m = ac_mock_new(t, "int schedule(ev_tstamp after, done_cb done, void *ud)");
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "done(7, $ud)");
    reply r = {0};
    ((int (*)(double, void (*)(int, void *), void *))ac_mock_fn(m))(0.5, on_status, &r);
    AC_EXPECT_EQ(ac_mock_arg_double(ac_mock_call_at(m, 0), 0), 0.5);
    AC_AWAIT(t, r.count == 1, 1.0);
    AC_EXPECT_EQ(r.status, 7);
}

AC_TEST(mock, one_log_across_mocks_in_call_order) {
    ac_mock *open_ = ac_mock_new(t, "int open_conn(const char *host)");
    ac_mock *send_ = ac_mock_new(t, "int send_msg(int conn, const char *msg)");
    ((int (*)(const char *))ac_mock_fn(open_))("db");
    ((int (*)(int, const char *))ac_mock_fn(send_))(3, "hi");
    ((int (*)(const char *))ac_mock_fn(open_))("cache");
    AC_ASSERT_EQ(ac_mock_log_count(t), 3u);
    AC_EXPECT_EQ(ac_mock_call_mock(ac_mock_log_at(t, 0)), open_);
    AC_EXPECT_EQ(ac_mock_call_mock(ac_mock_log_at(t, 1)), send_);
    AC_EXPECT_EQ(ac_mock_call_index(ac_mock_log_at(t, 2)), 1u);
    AC_EXPECT_STR_EQ(ac_mock_call_text(ac_mock_log_at(t, 1)), "send_msg(3, \"hi\")");
    AC_EXPECT_STR_EQ(ac_mock_name(open_), "open_conn");
}

static bool is_even(const ac_mock_call *call, size_t arg, void *ud) {
    (void)ud;
    return ac_mock_arg_int(call, arg) % 2 == 0;
}

AC_TEST(mock, expectations_that_are_met) {
    ac_mock *m = ac_mock_new(t, "int put(const char *key, int value)");
    ac_expectation *first = AC_MOCK_EXPECT(m, ac_str("a"), ac_eq(1));
    ac_expectation *evens = AC_MOCK_EXPECT(m, ac_any(), ac_that(is_even, NULL, "an even number"));
    ac_expectation *big = AC_MOCK_EXPECT(m, ac_str("b"), ac_range(100, 200));
    ac_expectation *none = AC_MOCK_EXPECT(m, ac_str("never"), ac_any());
    ac_expect_at_least(evens, 2);
    ac_expect_at_most(big, 3);
    ac_expect_never(none);
    ac_expect_after(evens, first);
    int (*put)(const char *, int) = (int (*)(const char *, int))ac_mock_fn(m);
    put("a", 1);
    put("x", 2);
    put("y", 4);
    put("b", 150);
    AC_ASSERT_CALLED(m, 4);
    AC_ASSERT_CALLED_WITH(m, ac_str("b"), ac_eq(150));
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    static int n;
    ((void (*)(int))w->data)(++n);
    if (n == 3)
        ev_timer_stop(loop, w);
}

AC_TEST(mock, await_calls_made_from_a_libev_callback) {
    ac_mock *m = ac_mock_new(t, "void tick(int n)");
    static ev_timer timer;
    ev_timer_init(&timer, tick_cb, 0.005, 0.005);
    timer.data = ac_mock_fn(m);
    ev_timer_start(ac_loop(t), &timer);
    AC_AWAIT_CALLS(t, m, 3, 1.0);
    AC_ASSERT_CALLED_WITH(m, ac_eq(3));
}

static void *worker(void *arg) {
    void **args = arg;
    get_fn get = (get_fn)args[0];
    for (int i = 0; i < 50; i++)
        get("from a thread", on_reply, args[1]);
    return NULL;
}

AC_TEST(mock, calls_from_other_threads_complete_on_the_test_thread) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "cb(9, $url, $ud)");
    reply r = {0};
    void *args[2] = {ac_mock_fn(m), &r};
    pthread_t a, b;
    pthread_create(&a, NULL, worker, args);
    pthread_create(&b, NULL, worker, args);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    AC_EXPECT_EQ(ac_mock_call_count(m), 100u); /* recording is thread-safe */
    AC_AWAIT(t, r.count == 100, 2.0);
    AC_EXPECT_TRUE(pthread_equal(r.thread, pthread_self()));
    AC_EXPECT_STR_EQ(r.body, "from a thread");
}

static void *slow_worker(void *arg) {
    void **args = arg;
    get_fn get = (get_fn)args[0];
    for (int i = 0; i < 50; i++) {
        get("from a thread", on_reply, args[1]);
        usleep(100); /* real: interleave with the test's thread */
    }
    return NULL;
}

/* While other threads call, the test's thread awaits calls, reads them and the log, and delivers held
 * completions: all of it under the mock's lock (a ThreadSanitizer build, docs/TSAN.md, checks that). */
AC_TEST(mock, the_test_reads_calls_while_other_threads_make_them) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_held(), "cb(7, $url, $ud)");
    reply r = {0};
    void *args[2] = {ac_mock_fn(m), &r};
    pthread_t a, b;
    pthread_create(&a, NULL, slow_worker, args);
    pthread_create(&b, NULL, slow_worker, args);
    AC_AWAIT_CALLS(t, m, 10, 2.0); /* each call from another thread wakes the loop */
    size_t delivered = 0;
    while (delivered < 100) {
        AC_AWAIT(t, ac_mock_held_count(m) > 0, 2.0);
        while (ac_mock_deliver_next(m))
            delivered++;
        AC_EXPECT_STR_EQ(ac_mock_arg_str(ac_mock_call_at(m, 0), 0), "from a thread");
        AC_EXPECT_TRUE(ac_mock_log_at(t, ac_mock_log_count(t) - 1) != NULL);
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    AC_EXPECT_EQ(r.count, 100);
    AC_EXPECT_EQ(ac_mock_completion_count(m), 100u);
    AC_EXPECT_EQ(ac_mock_log_count(t), 100u);
}

AC_TEST(mock, replaces_the_function_its_prototype_names) {
    ac_mock *m = ac_mock_new(t, "pid_t getppid(void)");
    ac_mock_returns(m, 4242);
    pid_t (*real)(void) = (pid_t(*)(void))ac_mock_replace(m);
    AC_ASSERT_EQ(getppid(), 4242); /* the executable's own call, through its GOT slot */
    AC_ASSERT_NE(real(), 4242);
    AC_ASSERT_CALLED(m, 1);
}

static void on_done(int fd, int err, void *ud) {
    int *got = ud;
    got[0] = fd, got[1] = err, got[2]++;
}

AC_TEST(mock, formatted_completions_and_errno_names) {
    ac_mock *m = ac_mock_new(t, "int start(void (*done)(int fd, int err, void *ud), void *ud)");
    int fd = 42;
    ac_mock_on_call_completef(m, ac_deliver_next_iteration(), "done(%d, ECONNREFUSED, $ud)", fd);
    int got[3] = {0};
    ((int (*)(void (*)(int, int, void *), void *))ac_mock_fn(m))(on_done, got);
    AC_AWAIT(t, got[2] == 1, 1.0);
    AC_EXPECT_EQ(got[0], 42);
    AC_EXPECT_EQ(got[1], ECONNREFUSED);
}

/* Contracts that report -errno: "-EAGAIN" is the negated value; "EAGAIN" and "-1" as before. */
AC_TEST(mock, negative_errno_names_and_numbers) {
    ac_mock *m = ac_mock_new(t, "int start(void (*done)(int fd, int err, void *ud), void *ud)");
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "done(-1, -EAGAIN, $ud)");
    ac_mock_on_call_complete(m, ac_deliver_inside_call(), "done(EAGAIN, - ECONNREFUSED, $ud)");
    int got[3] = {0};
    ((int (*)(void (*)(int, int, void *), void *))ac_mock_fn(m))(on_done, got);
    AC_EXPECT_EQ(got[0], EAGAIN);
    AC_EXPECT_EQ(got[1], -ECONNREFUSED);
    AC_AWAIT(t, got[2] == 2, 1.0);
    AC_EXPECT_EQ(got[0], -1);
    AC_EXPECT_EQ(got[1], -EAGAIN);
}
