/*
 * iosync.c - what makes a file object opened for synchronous I/O behave
 * synchronously beyond the wait itself: its lock, which lets one request
 * at a time through NtReadFile / NtWriteFile / NtDeviceIoControlFile
 * (kernel-facts 5.8), and the way out of a request whose alertable wait a
 * user APC or an alert broke: cancel the IRP and wait for it before the
 * service returns (kernel-facts 5.9).  WRK internal.c and iomgr.h, ReactOS
 * io_x.h and iofunc.c.
 */
#include "io/io.h"

static void trace_lock(sim_t *S, trc_kind_t kind, PFILE_OBJECT fo, int count, uint32_t owner, const char *routine,
                       const char *fmt) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(kind, NULL, fo->DeviceObject);
  e.file = fo->SimId;
  e.count = count;
  e.target_thread = owner;
  e.service = routine;
  trc_send(S, &e, fmt, fo->SimName);
}

/* IopAcquireFastLock: take the file object if nobody owns it.  One
   exchange on Busy in Windows; nothing can come between the test and the
   set here either, since no step is taken. */
static bool IopAcquireFastLock(sim_t *S, PFILE_OBJECT fo) {
  if (fo->Busy) return false;
  fo->Busy = TRUE;
  fo->SimLockOwner = thr_current(S)->id;
  trace_lock(S, TRC_FILE_LOCK_ACQUIRED, fo, 0, fo->SimLockOwner, "IopAcquireFastLock", "%s is the thread's (it was free)");
  return true;
}

/* IopAcquireFileObjectLock: the file object is busy, so count ourselves a
   waiter and wait on its Lock event until the owner lets go, trying again
   each time we are woken (another thread may have taken it first).  A
   wait broken by a user APC or an alert gives up: the caller returns that
   status without an IRP; if the object is free by then and others wait,
   the event is set again so that one of them looks. */
static NTSTATUS IopAcquireFileObjectLock(sim_t *S, PFILE_OBJECT fo, KPROCESSOR_MODE mode, bool alertable) {
  fo->Waiters++;
  trace_lock(S, TRC_FILE_LOCK_WAIT, fo, (int)fo->Waiters, fo->SimLockOwner, "IopAcquireFileObjectLock",
             "%s is busy with another request: the thread waits for the file object lock");
  for (;;) {
    if (!fo->Busy) {
      fo->Busy = TRUE;
      fo->Waiters--;
      fo->SimLockOwner = thr_current(S)->id;
      trace_lock(S, TRC_FILE_LOCK_ACQUIRED, fo, 1, fo->SimLockOwner, "IopAcquireFileObjectLock",
                 "%s is the thread's (after waiting)");
      return STATUS_SUCCESS;
    }
    NTSTATUS st = KeWaitForSingleObject(&fo->Lock, Executive, mode, alertable, NULL);
    if (st == STATUS_USER_APC || st == STATUS_ALERTED) {
      fo->Waiters--;
      if (!fo->Busy && fo->Waiters) KeSetEvent(&fo->Lock, 0, FALSE);
      return st;
    }
  }
}

NTSTATUS IopLockFileObject(sim_t *S, PFILE_OBJECT fo, KPROCESSOR_MODE mode) {
  SIM_ASSERT(fo->Flags & FO_SYNCHRONOUS_IO);
  if (IopAcquireFastLock(S, fo)) return STATUS_SUCCESS;
  return IopAcquireFileObjectLock(S, fo, mode, (fo->Flags & FO_ALERTABLE_IO) != 0);
}

void IopUnlockFileObject(sim_t *S, PFILE_OBJECT fo) {
  SIM_ASSERT(fo->Busy && fo->SimLockOwner == thr_current(S)->id);
  fo->Busy = FALSE;
  fo->SimLockOwner = 0;
  trace_lock(S, TRC_FILE_LOCK_RELEASED, fo, (int)fo->Waiters, 0, "IopReleaseFileObjectLock",
             fo->Waiters ? "%s is free again: its Lock event wakes a waiter" : "%s is free again");
  if (fo->Waiters) KeSetEvent(&fo->Lock, 0, FALSE);
}

/* IopCancelAlertedRequest: the service's wait for `event` (the file
   object's) ended early, but the request must be over before the service
   returns, or it would return a status that is not the request's and
   leave the file object to the next request while this one still runs.
   At APC_LEVEL, so that the request's stage 2 cannot run meanwhile: if the
   event is still clear, cancel the IRP.  Had it a cancel routine, the
   driver is finishing it: look every 10 ms until the event is set;
   otherwise the Cancel bit is all a driver will see, and the thread waits
   for the event, not alertably.  `id` is the IRP's number: while the event
   is clear its stage 2 has not run, so the IRP is still allocated. */
void IopCancelAlertedRequest(sim_t *S, PKEVENT event, PIRP irp, uint32_t id) {
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  if (KeReadStateEvent(event)) {
    KeLowerIrql(old);
    return;
  }
  SIM_ASSERT(sim_irp_alive(S, irp, id));
  (void)id;
  BOOLEAN cancelled = IoCancelIrp(irp);
  KeLowerIrql(old);
  if (!cancelled) {
    KeWaitForSingleObject(event, Executive, KernelMode, FALSE, NULL);
    return;
  }
  while (!KeReadStateEvent(event)) {
    LARGE_INTEGER ten_ms = {.QuadPart = -100000};
    KeDelayExecutionThread(KernelMode, FALSE, &ten_ms);
  }
}
