/*
 * sem.c - semaphores (kernel-facts 13.3): a count that each satisfied wait
 * takes one from (ke/dispobj.c) and KeReleaseSemaphore adds to, waking as
 * many waiters as it can.  Going beyond the limit raises
 * STATUS_SEMAPHORE_LIMIT_EXCEEDED, which in kernel mode nobody handles: the
 * machine stops with KMODE_EXCEPTION_NOT_HANDLED.
 */
#include "ke/ke.h"

void KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit) {
  obj_init(&Semaphore->Header, OBJ_SEMAPHORE, Count);
  Semaphore->Header.Id = 0;
  Semaphore->Header.Name = NULL;
  Semaphore->Limit = Limit;
}

LONG KeReadStateSemaphore(PRKSEMAPHORE Semaphore) { return Semaphore->Header.SignalState; }

LONG KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment, BOOLEAN Wait) {
  (void)Increment, (void)Wait; /* no priorities; no dispatcher lock to keep */
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "KeReleaseSemaphore");
  LONG old = Semaphore->Header.SignalState;
  int64_t now = (int64_t)old + Adjustment; /* Windows' test: past the limit, or wrapped */
  if (now > Semaphore->Limit || now < old)
    ke_raise_stop(S, STATUS_SEMAPHORE_LIMIT_EXCEEDED,
                  "KeReleaseSemaphore(+%ld) on a semaphore at %ld of its limit %ld raised "
                  "STATUS_SEMAPHORE_LIMIT_EXCEEDED",
                  (long)Adjustment, (long)old, (long)Semaphore->Limit);
  Semaphore->Header.SignalState = old + Adjustment;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SEMAPHORE_RELEASE, NULL, NULL);
    e.object = obj_id(S, &Semaphore->Header);
    e.count = old + Adjustment; /* the count now */
    e.service = "KeReleaseSemaphore";
    trc_send(S, &e, "%s: count %ld -> %ld (limit %ld)", Semaphore->Header.Name ? Semaphore->Header.Name : "semaphore",
             (long)old, (long)(old + Adjustment), (long)Semaphore->Limit);
  }
  obj_signal(S, &Semaphore->Header);
  sched_step(S, COST_SET_EVENT);
  return old;
}
