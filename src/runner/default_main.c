/* default_main.c — the main() a test file gets when it defines none (like gtest_main). Kept alone in
 * its own object so that the static library only supplies it when main is otherwise undefined. */
#include "asyncheck/test.h"

int main(int argc, char **argv) {
    return ac_main(argc, argv);
}
