/* values.h — exact comparison and printing of captured values, shared by assertions and mock
 * matchers. */
#ifndef AC_VALUES_H
#define AC_VALUES_H

#include "asyncheck/assert.h"
#include "../util/util.h"

/* -1, 0, 1, or 2 when unordered (NaN). Integers compare exactly whatever their signedness. */
int ac__value_compare(ac__value a, ac__value b);
/* Appends the value as assertion failures show it. */
void ac__value_print(ac__buf *b, ac__value v);

#endif
