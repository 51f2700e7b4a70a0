/* soak.c — the output soak for bench/soak/run.sh: one test that writes SOAK_MB (default 1) mebibytes to
 * stderr and passes, run many times with --repeat and --junit to show that the runner's memory does not
 * grow with the total output. Never a ctest test. */
#include <asyncheck.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

AC_TEST(soak, prints_a_megabyte) {
    static char block[1 << 20];
    memset(block, 'e', sizeof block);
    const char *mb = getenv("SOAK_MB");
    for (int i = 0, n = mb ? atoi(mb) : 1; i < n; i++)
        fwrite(block, 1, sizeof block, stderr);
}
