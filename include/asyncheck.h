/* asyncheck.h — the umbrella header: everything a test file needs.
 *
 *   #include <asyncheck.h>
 *   AC_TEST(math, adds) { AC_ASSERT_EQ(1 + 1, 2); }
 *
 * Link with `pkg-config --cflags --libs asyncheck` (or the CMake target asyncheck::asyncheck); without a
 * main() of your own you get the runner's. */
#ifndef ASYNCHECK_H
#define ASYNCHECK_H

#define ASYNCHECK_VERSION "0.1.0"

#include <ev.h>

#include "asyncheck/test.h"
#include "asyncheck/assert.h"
#include "asyncheck/io.h"
#include "asyncheck/replace.h"
#include "asyncheck/mock.h"
#include "asyncheck/clock.h"
#include "asyncheck/race.h"

#endif
