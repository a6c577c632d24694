/*
 * mutex.c - kernel mutexes (KMUTEX, kernel-facts 13.3): owned by one thread,
 * which may acquire it again (each acquisition is one wait, each release
 * one KeReleaseMutex); while it owns one its normal kernel APCs are held
 * back (ke/dispobj.c counts it in KernelApcDisable, as Windows does), so a
 * system service returning to user mode with a mutex still owned stops
 * with APC_INDEX_MISMATCH, and a thread that ends owning one with
 * THREAD_TERMINATE_HELD_MUTEX.  Releasing a mutex the thread does not own
 * raises STATUS_MUTANT_NOT_OWNED: in kernel mode a stop.
 */
#include "ke/ke.h"

void KeInitializeMutex(PRKMUTEX Mutex, ULONG Level) {
  (void)Level; /* unused by Windows since NT 4 */
  obj_init(&Mutex->Header, OBJ_MUTANT, 1);
  Mutex->Header.Id = 0;
  Mutex->Header.Name = NULL;
  Mutex->OwnerThread = NULL;
  Mutex->Abandoned = FALSE;
  Mutex->ApcDisable = 1;
  list_init(&Mutex->MutantListEntry);
}

LONG KeReadStateMutex(PRKMUTEX Mutex) { return Mutex->Header.SignalState; }

static const char *mutex_name(const KMUTEX *m) { return m->Header.Name ? m->Header.Name : "mutex"; }

LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait) {
  (void)Wait;
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "KeReleaseMutex");
  PKTHREAD t = thr_current(S);
  if (!t || Mutex->OwnerThread != t)
    ke_raise_stop(S, STATUS_MUTANT_NOT_OWNED,
                  "KeReleaseMutex on %s, which thread %s does not own (owner: %s): STATUS_MUTANT_NOT_OWNED raised",
                  mutex_name(Mutex), t ? t->name : "none", Mutex->OwnerThread ? Mutex->OwnerThread->name : "none");
  LONG old = Mutex->Header.SignalState;
  Mutex->Header.SignalState = old + 1;
  bool freed = Mutex->Header.SignalState == 1;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_MUTEX_RELEASE, NULL, NULL);
    e.object = obj_id(S, &Mutex->Header);
    e.target_thread = t->id;
    e.count = 1 - Mutex->Header.SignalState; /* acquisitions still held */
    e.service = "KeReleaseMutex";
    trc_send(S, &e, "%s %s by %s", mutex_name(Mutex), freed ? "released" : "released once (still owned)",
             t->name);
  }
  if (freed) {
    Mutex->OwnerThread = NULL;
    list_remove(&Mutex->MutantListEntry);
    t->KernelApcDisable = (int16_t)(t->KernelApcDisable + Mutex->ApcDisable);
    obj_signal(S, &Mutex->Header);
  }
  sched_step(S, COST_SET_EVENT);
  /* As KeLeaveCriticalRegion: what was held back may run now. */
  if (freed && !t->KernelApcDisable && t->cpu->irql < APC_LEVEL) cpu_service(S, t->cpu);
  return old;
}

void KiCheckMutantsAtExit(sim_t *S, PKTHREAD t) {
  if (!t->MutantListHead.Flink || list_empty(&t->MutantListHead)) return;
  PKMUTANT m = CONTAINING_RECORD(t->MutantListHead.Flink, KMUTANT, MutantListEntry);
  bugcheck(S, THREAD_TERMINATE_HELD_MUTEX, (ULONG_PTR)t, (ULONG_PTR)m, 0, 0,
           "thread %s ends owning %s (a KeReleaseMutex missing)", t->name, mutex_name(m));
}
