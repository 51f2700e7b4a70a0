/* mock_bench.c — what a recorded mock call costs, beside a direct call and a bare libffi closure that
 * records the same arguments (int, const char * copied, void *) into a preallocated array. One
 * asyncheck test does the timing (the mock needs a test), writing its table to the real stdout. A
 * benchmark, never a ctest test: run by bench/run.sh. */
#include <asyncheck.h>
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CALLS 200000

static FILE *report;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*fn3)(int, const char *, void *);

__attribute__((noinline)) static int direct(int a, const char *s, void *p) {
    return a + (s != NULL) + (p != NULL);
}

typedef struct bare_record {
    int a;
    char *s;
    void *p;
} bare_record;

static bare_record *bare_log;
static size_t bare_n;

static void bare_handler(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif, (void)ud;
    bare_record *r = &bare_log[bare_n++];
    r->a = *(int *)args[0];
    const char *s = *(const char **)args[1];
    r->s = s ? strdup(s) : NULL;
    r->p = *(void **)args[2];
    *(ffi_sarg *)ret = 0;
}

static double time_calls(fn3 f) {
    char buf[16] = "GET /";
    double start = now();
    for (int i = 0; i < CALLS; i++)
        f(i, buf, buf);
    return (now() - start) / CALLS * 1e9;
}

AC_TEST(bench, mock_call_cost, .timeout = 120) {
    /* direct */
    fn3 volatile d = direct;
    double direct_ns = time_calls(d);

    /* bare closure */
    ffi_cif cif;
    ffi_type *types[3] = {&ffi_type_sint, &ffi_type_pointer, &ffi_type_pointer};
    ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_sint, types);
    void *code;
    ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
    ffi_prep_closure_loc(cl, &cif, bare_handler, NULL, code);
    bare_log = calloc(CALLS, sizeof *bare_log);
    double bare_ns = time_calls((fn3)code);

    /* asyncheck mock */
    ac_mock *m = ac_mock_new(t, "int handle(int n, const char *request, void *ud)");
    ac_mock_returns(m, 0);
    double mock_ns = time_calls((fn3)ac_mock_fn(m));
    AC_ASSERT_EQ(ac_mock_call_count(m), (size_t)CALLS);
    AC_ASSERT_STR_EQ(ac_mock_arg_str(ac_mock_call_at(m, CALLS - 1), 1), "GET /");

    fprintf(report, "%-44s %10.1f ns\n", "direct call", direct_ns);
    fprintf(report, "%-44s %10.1f ns\n", "bare libffi closure, recording (str copied)", bare_ns);
    fprintf(report, "%-44s %10.1f ns\n", "asyncheck mock call, recorded", mock_ns);
    fprintf(report, "%-44s %10.2f x   (aim <= 2 x)\n", "ratio: mock / bare closure", mock_ns / bare_ns);
    fprintf(report, "%-44s %10.1f x\n", "ratio: mock / direct", mock_ns / direct_ns);
    fflush(report);
    for (size_t i = 0; i < bare_n; i++)
        free(bare_log[i].s);
    free(bare_log);
    ffi_closure_free(cl);
}

int main(int argc, char **argv) {
    report = fdopen(dup(1), "w"); /* the test's own stdout is captured by the runner */
    return ac_main(argc, argv);
}
