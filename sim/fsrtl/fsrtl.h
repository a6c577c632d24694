/*
 * fsrtl.h - the file system run-time library's private interface (fsrtl/):
 * the fast I/O path and byte-range locks.
 */
#ifndef IOSIM_FSRTL_H
#define IOSIM_FSRTL_H

#include "cc/cc.h"
#include "io/io.h"

/* The fast I/O attempt of NtReadFile / NtWriteFile: only for a cached
   synchronous file object whose top driver has the routine.  Returns false
   to go the IRP way. */
bool fsrtl_try_fast_io(sim_t *S, const io_req_t *r, NTSTATUS *out);

#endif
