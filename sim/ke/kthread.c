/*
 * kthread.c - the kernel library's thread helpers: making a thread created
 * while the machine runs (a system thread, a worker) runnable at once, and
 * thread priorities, which iosim records but does not schedule by
 * (kernel-facts 13.4: a ready thread runs when a CPU is free, in order).
 */
#include "ke/ke.h"

/* sim_thread_create put it on the ready queue; as KiReadyThread does, an
   idle CPU is woken to take it (the chooser's pick among several). */
void KiReadyNewThread(sim_t *S, PKTHREAD t) {
  SIM_ASSERT(t->state == THR_READY);
  (void)t;
  KiWakeIdleProcessor(S);
}

KPRIORITY KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "KeSetPriorityThread");
  KPRIORITY old = Thread->Priority;
  Thread->Priority = Priority;
  return old;
}

KPRIORITY KeQueryPriorityThread(PKTHREAD Thread) { return Thread->Priority; }
