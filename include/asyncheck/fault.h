/* asyncheck/fault.h — fault injection: where a test's counted calls begin (see README, "Fault
 * injection"). The functions it can fail and their default failures, in the order a sweep tries them:
 * read, recv: EINTR, EAGAIN, SHORT; write, send, writev: EINTR, EAGAIN, SHORT; malloc, calloc, realloc:
 * ENOMEM (NULL); connect: ECONNREFUSED (at once on a blocking socket; on a non-blocking one -1 with
 * EINPROGRESS, then writable with SO_ERROR ECONNREFUSED); accept, accept4: EMFILE; getaddrinfo:
 * EAI_AGAIN (returned). A test overrides them with `.fault_sweep = "read=ECONNRESET+EIO,write"`, the
 * command line with --fault-sweep the same way or --fault-at read:2:ECONNRESET: any errno name, SHORT for
 * the reads and writes, EAI_AGAIN, EAI_FAIL, EAI_NONAME or EAI_MEMORY for getaddrinfo. */
#ifndef ASYNCHECK_FAULT_H
#define ASYNCHECK_FAULT_H

#include "asyncheck/test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts counting, for --fault-at and fault sweeps, the calls the code under test makes on the test's
 * thread to the function being failed; calls made before (the test's own set-up of descriptors and
 * data) are never counted or failed, nor are asyncheck's own calls after it (a scripted peer's send and
 * recv, a scripted server's accept). Call it from the body right before starting the operation under
 * test; without a fault point it does nothing. */
void ac_fault_start(ac_test *t);

#ifdef __cplusplus
}
#endif

#endif
