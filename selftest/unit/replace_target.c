/* replace_target.c — functions of the test executable itself for the AC_WRAP tests in replace.c. The
 * executable is linked with -Wl,--wrap for them, which redirects references from other object files
 * (replace.c) but not the ones in this file. */

int ac_selftest_wrapped(int x);
int ac_selftest_wrapped_same_file(int x);
void ac_selftest_wrapped_void(int *out);

int ac_selftest_wrapped(int x) {
    return 2 * x;
}

/* A call from the defining file: --wrap does not see it. */
int ac_selftest_wrapped_same_file(int x) {
    return ac_selftest_wrapped(x);
}

void ac_selftest_wrapped_void(int *out) {
    *out = 1;
}
