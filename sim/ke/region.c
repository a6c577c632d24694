/*
 * region.c - critical and guarded regions: KeEnterCriticalRegion holds back
 * the thread's normal kernel APCs, KeEnterGuardedRegion all of its kernel
 * APCs - the I/O manager's stage-2 APC included.  Leaving the last region
 * delivers what was held back at once, if the IRQL allows.  The counts are
 * checked where Windows checks them: a system service returning to user
 * mode (APC_INDEX_MISMATCH) and a thread exiting
 * (KERNEL_APC_PENDING_DURING_EXIT) with either one not zero.
 */
#include "ke/ke.h"

static const char *const region_routine[2][2] = {
    {"KeEnterCriticalRegion", "KeLeaveCriticalRegion"},
    {"KeEnterGuardedRegion", "KeLeaveGuardedRegion"},
};

static void region_trace(sim_t *S, PKTHREAD t, bool guarded, bool enter) {
  if (!trc_on(S)) return;
  int16_t now = guarded ? t->SpecialApcDisable : t->KernelApcDisable;
  trc_event_t e = trc_ev(enter ? TRC_REGION_ENTER : TRC_REGION_LEAVE, NULL, NULL);
  e.service = region_routine[guarded][!enter];
  e.target_thread = t->id;
  e.count = now; /* the count after the call: 0 enabled, negative disabled */
  trc_send(S, &e, "%s: %s APCs of %s %s (count %d)", e.service, guarded ? "all kernel" : "normal kernel", t->name,
           now ? "held back" : "enabled again", now);
}

/* The regions belong to the current thread, for code at PASSIVE or
   APC_LEVEL: the documented contract is IRQL <= APC_LEVEL (from a DPC or
   an ISR they would change whatever thread was interrupted). */
static PKTHREAD region_thread(sim_t *S, const char *routine) {
  cpu_t *c = S->cur_cpu;
  if (c->irql > APC_LEVEL)
    bugcheck(S, IRQL_NOT_LESS_OR_EQUAL, 1, c->irql, 0, 0,
             "%s called at IRQL %d; callers must be at or below APC_LEVEL (a free build would change the APC "
             "state of whatever thread was interrupted: iosim stops instead)", routine, c->irql);
  PKTHREAD t = thr_current(S);
  SIM_ASSERT(t); /* below DISPATCH_LEVEL there is always a thread */
  return t;
}

/* Windows keeps each count as a 16-bit number that Enter decrements and
   Leave increments; any value but 0 holds the APCs back (too many Leaves
   too).  A count that would wrap is a runaway loop: stop rather than let
   it come back to 0. */
static void region_step(bool guarded, int delta) {
  sim_t *S = ctx_sim();
  const char *routine = region_routine[guarded][delta > 0];
  PKTHREAD t = region_thread(S, routine);
  int16_t *count = guarded ? &t->SpecialApcDisable : &t->KernelApcDisable;
  if ((delta < 0 && *count == INT16_MIN) || (delta > 0 && *count == INT16_MAX))
    bugcheck(S, APC_INDEX_MISMATCH, 2, 0, (ULONG_PTR)(uint16_t)*count, 0,
             "%s: thread %s's count would wrap around (%d)", routine, t->name, *count);
  *count = (int16_t)(*count + delta);
  region_trace(S, t, guarded, delta < 0);
  sched_step(S, COST_STEP);
  /* KiCheckForKernelApcDelivery: what was held back runs now. */
  cpu_t *c = t->cpu;
  if (delta > 0 && !*count && c->irql < APC_LEVEL) cpu_service(S, c);
}

void KeEnterCriticalRegion(void) { region_step(false, -1); }
void KeLeaveCriticalRegion(void) { region_step(false, +1); }
void KeEnterGuardedRegion(void) { region_step(true, -1); }
void KeLeaveGuardedRegion(void) { region_step(true, +1); }

static ULONG_PTR combined_apc_disable(const KTHREAD *t) {
  return ((ULONG_PTR)(uint16_t)t->SpecialApcDisable << 16) | (uint16_t)t->KernelApcDisable;
}

static const char *region_problem(const KTHREAD *t) {
  int16_t c = t->SpecialApcDisable ? t->SpecialApcDisable : t->KernelApcDisable;
  if (c > 0) return t->SpecialApcDisable ? "having left a guarded region more often than it entered one"
                                         : "having left a critical region more often than it entered one";
  return t->SpecialApcDisable ? "still inside a guarded region" : "still inside a critical region";
}

void KiCheckServiceExit(sim_t *S, PKTHREAD t, const char *service) {
  if (!t || (!t->KernelApcDisable && !t->SpecialApcDisable)) return;
  bugcheck(S, APC_INDEX_MISMATCH, 0, 0, combined_apc_disable(t), 0,
           "%s returns to user mode in thread %s %s (a driver's Enter and Leave calls do not pair up)", service,
           t->name, region_problem(t));
}

/* PspExitThread's order: the APC disable counts first (a mutex still
   owned shows there, having disabled normal kernel APCs), then the
   mutexes themselves (KeRundownThread). */
void KiCheckThreadExit(sim_t *S, PKTHREAD t) {
  if (!t->KernelApcDisable && !t->SpecialApcDisable) {
    KiCheckMutantsAtExit(S, t);
    return;
  }
  bool mutex = t->MutantListHead.Flink && !list_empty(&t->MutantListHead);
  bugcheck(S, KERNEL_APC_PENDING_DURING_EXIT, 0, combined_apc_disable(t), S->cur_cpu->irql, 0,
           "thread %s exits %s%s", t->name, region_problem(t), mutex ? " (it still owns a mutex)" : "");
}
