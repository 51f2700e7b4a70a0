/* asyncheck.h — the umbrella header: everything a test file needs.
 *
 *   #include <asyncheck.h>
 *   AC_TEST(math, adds) { AC_ASSERT_EQ(1 + 1, 2); }
 *
 * Link with `pkg-config --cflags --libs asyncheck` (or the CMake target asyncheck::asyncheck); without a
 * main() of your own you get the runner's. */
#ifndef ASYNCHECK_H
#define ASYNCHECK_H

/* asyncheck's version, written only here: CMakeLists.txt reads these three numbers for the build's
 * project version, the pkg-config file and the CMake package; `--version` prints ASYNCHECK_VERSION. */
#define ASYNCHECK_VERSION_MAJOR 0
#define ASYNCHECK_VERSION_MINOR 1
#define ASYNCHECK_VERSION_PATCH 0
/* The version as a string, "MAJOR.MINOR.PATCH". */
#define ASYNCHECK_VERSION                                                                                    \
    AC__VERSION_STR(ASYNCHECK_VERSION_MAJOR)                                                                 \
    "." AC__VERSION_STR(ASYNCHECK_VERSION_MINOR) "." AC__VERSION_STR(ASYNCHECK_VERSION_PATCH)
#define AC__VERSION_STR(n) AC__VERSION_STR_(n)
#define AC__VERSION_STR_(n) #n

#include <ev.h>

#include "asyncheck/test.h"
#include "asyncheck/assert.h"
#include "asyncheck/io.h"
#include "asyncheck/replace.h"
#include "asyncheck/mock.h"
#include "asyncheck/clock.h"
#include "asyncheck/race.h"
#include "asyncheck/fault.h"

#endif
