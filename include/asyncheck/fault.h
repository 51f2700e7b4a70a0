/* asyncheck/fault.h — fault injection: where a test's counted calls begin (see README, "Fault
 * injection"). */
#ifndef ASYNCHECK_FAULT_H
#define ASYNCHECK_FAULT_H

#include "asyncheck/test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts counting, for --fault-at and fault sweeps, the calls the code under test makes on the test's
 * thread to the function being failed; calls made before (the test's own set-up of descriptors and
 * data) are never counted or failed. Call it from the body right before starting the operation under
 * test; without a fault point it does nothing. */
void ac_fault_start(ac_test *t);

#ifdef __cplusplus
}
#endif

#endif
