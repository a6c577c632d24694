/*
 * fmutex.c - fast mutexes (kernel-facts 13.3): a count (1 free, 0 owned,
 * -n owned with n waiters) and a synchronization event the waiters block
 * on, as in NT 5.2 (WRK); acquiring raises to APC_LEVEL, so the owner gets
 * no APCs at all, and the old IRQL is kept in the mutex for the release.
 * A fast mutex is not recursive: its owner acquiring it again would wait
 * for itself forever, which Driver Verifier's deadlock detection stops on
 * (0xC4/0x1000), as on the IRQL rules (0x33, 0x34, 0x39, 0x3A).
 */
#include "ex/ex.h"

static const char *fm_name(const FAST_MUTEX *m) { return m->Event.Header.Name ? m->Event.Header.Name : "fast mutex"; }

void ExInitializeFastMutex(PFAST_MUTEX FastMutex) {
  FastMutex->Count = 1;
  FastMutex->Owner = NULL;
  FastMutex->Contention = 0;
  FastMutex->OldIrql = PASSIVE_LEVEL;
  KeInitializeEvent(&FastMutex->Event, SynchronizationEvent, FALSE);
}

static void fm_trace(sim_t *S, trc_kind_t kind, PFAST_MUTEX m, const char *routine, int waited, const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(kind, NULL, NULL);
  e.object = obj_id(S, &m->Event.Header);
  e.service = routine;
  e.count = waited;
  trc_send(S, &e, "%s %s", fm_name(m), what);
}

/* Takes the mutex for the current thread, waiting on its gate if another
   thread owns it. */
static void fm_acquire(sim_t *S, PFAST_MUTEX m, const char *routine) {
  PKTHREAD t = thr_current(S);
  if (t && m->Owner == t)
    ke_verifier_stop(S, 0x1000, (ULONG_PTR)m, 0, 0, "%s: thread %s acquires %s, which it already owns", routine,
                     t->name, fm_name(m));
  bool wait = --m->Count != 0;
  if (wait) {
    m->Contention++;
    KeWaitForSingleObject(&m->Event, Executive, KernelMode, FALSE, NULL);
  }
  m->Owner = t;
  fm_trace(S, TRC_FAST_MUTEX_ACQUIRE, m, routine, wait, wait ? "acquired after waiting" : "acquired");
}

static void fm_release(sim_t *S, PFAST_MUTEX m, const char *routine) {
  PKTHREAD t = thr_current(S);
  if (m->Count == 1)
    ke_verifier_stop(S, 0x1007, (ULONG_PTR)m, 0, 0, "%s on %s, which nobody owns", routine, fm_name(m));
  if (m->Owner != t)
    ke_verifier_stop(S, 0x1004, (ULONG_PTR)m, (ULONG_PTR)m->Owner, (ULONG_PTR)t,
                     "%s: thread %s releases %s, which thread %s owns", routine, t ? t->name : "none", fm_name(m),
                     m->Owner ? m->Owner->name : "none");
  m->Owner = NULL;
  fm_trace(S, TRC_FAST_MUTEX_RELEASE, m, routine, -1, "released");
  if (++m->Count != 1) KeSetEvent(&m->Event, 0, FALSE); /* a waiter takes it */
  else sched_step(S, COST_STEP);
}

void ExAcquireFastMutex(PFAST_MUTEX FastMutex) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql > APC_LEVEL)
    ke_verifier_stop(S, 0x33, irql, (ULONG_PTR)FastMutex, 0, "ExAcquireFastMutex at IRQL %d, above APC_LEVEL", irql);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  fm_acquire(S, FastMutex, "ExAcquireFastMutex");
  FastMutex->OldIrql = old;
}

void ExReleaseFastMutex(PFAST_MUTEX FastMutex) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql != APC_LEVEL)
    ke_verifier_stop(S, 0x34, irql, (ULONG_PTR)FastMutex, 0, "ExReleaseFastMutex at IRQL %d, not APC_LEVEL",
                     irql);
  KIRQL old = (KIRQL)FastMutex->OldIrql; /* read first: the next owner overwrites it */
  fm_release(S, FastMutex, "ExReleaseFastMutex");
  KeLowerIrql(old);
}

BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql > APC_LEVEL)
    ke_verifier_stop(S, 0x33, irql, (ULONG_PTR)FastMutex, 0, "ExTryToAcquireFastMutex at IRQL %d, above APC_LEVEL",
                     irql);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  if (FastMutex->Count != 1) {
    KeLowerIrql(old);
    return FALSE;
  }
  FastMutex->Count = 0;
  FastMutex->Owner = thr_current(S);
  FastMutex->OldIrql = old;
  fm_trace(S, TRC_FAST_MUTEX_ACQUIRE, FastMutex, "ExTryToAcquireFastMutex", 0, "acquired");
  return TRUE;
}

/* The unsafe forms leave the IRQL alone: the caller must hold APCs back
   itself (APC_LEVEL, or a critical or guarded region). */
static void fm_unsafe_check(sim_t *S, PFAST_MUTEX m, ULONG_PTR sub, const char *routine) {
  KIRQL irql = S->cur_cpu->irql;
  PKTHREAD t = thr_current(S);
  bool apcs_off = t && (t->KernelApcDisable || t->SpecialApcDisable);
  if (irql != APC_LEVEL && !apcs_off)
    ke_verifier_stop(S, sub, irql, t ? (ULONG_PTR)(uint16_t)t->KernelApcDisable : 0, (ULONG_PTR)m,
                     "%s at IRQL %d with APCs enabled (raise to APC_LEVEL or enter a critical region first)",
                     routine, irql);
}

void ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex) {
  sim_t *S = ctx_sim();
  fm_unsafe_check(S, FastMutex, 0x39, "ExAcquireFastMutexUnsafe");
  fm_acquire(S, FastMutex, "ExAcquireFastMutexUnsafe");
}

void ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex) {
  sim_t *S = ctx_sim();
  fm_unsafe_check(S, FastMutex, 0x3A, "ExReleaseFastMutexUnsafe");
  fm_release(S, FastMutex, "ExReleaseFastMutexUnsafe");
}
