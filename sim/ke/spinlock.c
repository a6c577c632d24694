/*
 * spinlock.c - spin locks (kernel-facts 13.1): the lock word says who holds
 * the lock, and a CPU that wants a held lock spins at DISPATCH_LEVEL, one
 * simulated step at a time, so the holder's CPU goes on meanwhile and the
 * trace shows the wait (`spinlock-spin`, then `spinlock-acquire` with the
 * steps spun as its count).  In-stack queued spin locks keep their waiters
 * in arrival order, each spinning on its own queue entry, as Windows'
 * queued locks do.  The cancel spin lock is one of these locks.
 *
 * The lock word: 0 free; an ordinary lock holds its CPU's number + 1; a
 * queued lock the address of the last entry of its queue (and the machine
 * remembers it is queued).  Misuse is what Driver Verifier's deadlock
 * detection and IRQL checks stop on (0xC4): subcodes 0x1000 (acquiring a
 * lock this CPU holds), 0x1002 (a lock never initialised), 0x1004
 * (releasing another CPU's lock), 0x1007 (releasing a free lock),
 * 0x1008/0x1009 (mixing the queued and ordinary routines), 0x32, 0x40-0x42
 * (the IRQL of the call).
 */
#include "ke/ke.h"

#include <stdio.h>

#define LOCK_FREE ((KSPIN_LOCK)0)
#define QUEUE_BITS ((ULONG_PTR)(LOCK_QUEUE_WAIT | LOCK_QUEUE_OWNER))

static KSPIN_LOCK lock_self(const cpu_t *c) { return (KSPIN_LOCK)c->id + 1; }
static bool lock_ordinary(const sim_t *S, KSPIN_LOCK v) { return v >= 1 && v <= (KSPIN_LOCK)S->ncpu; }
static bool lock_queued(const sim_t *S, const KSPIN_LOCK *lock) { return ptrmap_get(&S->queued_locks, lock, NULL); }

/* ---- which locks a CPU holds (for the self-deadlock check) ---- */

static bool held_by(const cpu_t *c, const KSPIN_LOCK *lock) {
  for (int i = 0; i < c->nheld; i++)
    if (c->held[i] == lock) return true;
  return false;
}

/* Beyond CPU_MAX_LOCKS nested locks the deepest go untracked: only the
   queued locks' self-deadlock check relies on the list. */
static void held_push(cpu_t *c, PKSPIN_LOCK lock) {
  if (c->nheld < CPU_MAX_LOCKS) c->held[c->nheld++] = lock;
}

static void held_pop(cpu_t *c, const KSPIN_LOCK *lock) {
  for (int i = c->nheld - 1; i >= 0; i--)
    if (c->held[i] == lock) {
      memmove(&c->held[i], &c->held[i + 1], (size_t)(c->nheld - i - 1) * sizeof c->held[0]);
      c->nheld--;
      return;
    }
}

/* ---- names for the trace ---- */

uint32_t ke_lock_id(sim_t *S, const KSPIN_LOCK *lock, const char *name) {
  uintptr_t id;
  if (ptrmap_get(&S->lock_ids, lock, &id)) return (uint32_t)id;
  id = name_add(S, &S->object_names, name ? name : "");
  ptrmap_put(S, &S->lock_ids, lock, id);
  return (uint32_t)id;
}

void sim_name_spin_lock(sim_t *S, PKSPIN_LOCK SpinLock, const char *Name) {
  uint32_t id = ke_lock_id(S, SpinLock, Name);
  char **slot = &S->object_names.v[id - 1];
  if (strcmp(*slot, Name) == 0) return;
  mem_free(S, *slot, strlen(*slot) + 1);
  *slot = mem_strdup(S, Name);
}

/* One row about `lock`: the cancel spin lock keeps its own kind and the
   count it always had (1 acquired, 0 released) and no object. */
static void lock_trace(sim_t *S, trc_kind_t kind, const KSPIN_LOCK *lock, const char *routine, int count,
                       int holder, const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(kind, NULL, NULL);
  e.service = routine;
  e.target_cpu = holder;
  bool cancel = lock == &S->cancel_lock;
  if (!cancel) e.object = ke_lock_id(S, lock, NULL);
  e.count = count;
  const char *name = cancel ? "cancel spin lock" : sim_object_name(S, e.object);
  char label[40];
  if (!*name) snprintf(label, sizeof label, "spin lock #%u", e.object), name = label;
  if (count > 0 && kind == TRC_SPINLOCK_ACQUIRE) trc_send(S, &e, "%s %s after spinning %d steps", name, what, count);
  else trc_send(S, &e, "%s %s", name, what);
}

/* ---- ordinary spin locks ---- */

/* A stop's parameter naming the lock: its address, as Windows gives it -
   but 0 for the cancel spin lock, which lives in the machine, so that a
   scenario's trace stays the same from run to run. */
static ULONG_PTR lock_param(const sim_t *S, const KSPIN_LOCK *lock) {
  return lock == &S->cancel_lock ? 0 : (ULONG_PTR)lock;
}

static void lock_uninitialised(sim_t *S, PKSPIN_LOCK lock, const char *routine) {
  ke_verifier_stop(S, 0x1002, lock_param(S, lock), 0, 0,
                   "%s on a spin lock that was never initialised (its word holds %#lx: KeInitializeSpinLock?)",
                   routine, (unsigned long)*lock);
}

void KiAcquireSpinLockTraced(sim_t *S, PKSPIN_LOCK lock, const char *routine, trc_kind_t kind) {
  cpu_t *c = S->cur_cpu;
  KSPIN_LOCK me = lock_self(c);
  int spins = 0;
  for (;;) {
    KSPIN_LOCK v = *lock;
    if (v == LOCK_FREE) break;
    if (v == me)
      ke_verifier_stop(S, 0x1000, lock_param(S, lock), 0, 0,
                       "%s: CPU %d acquires a spin lock it already holds (it would spin forever)", routine, c->id);
    if (lock_queued(S, lock))
      ke_verifier_stop(S, 0x1008, lock_param(S, lock), 0, 0,
                       "%s on a spin lock held as an in-stack queued spin lock (mismatched routines)", routine);
    if (!lock_ordinary(S, v)) lock_uninitialised(S, lock, routine);
    if (spins == 0) lock_trace(S, TRC_SPINLOCK_SPIN, lock, routine, 0, (int)v - 1, "is held: spinning");
    spins++;
    sched_step(S, COST_STEP);
  }
  *lock = me;
  held_push(c, lock);
  lock_trace(S, kind, lock, routine, kind == TRC_SPINLOCK_ACQUIRE ? spins : 1, -1, "acquired");
}

void KiReleaseSpinLockTraced(sim_t *S, PKSPIN_LOCK lock, const char *routine, trc_kind_t kind) {
  cpu_t *c = S->cur_cpu;
  KSPIN_LOCK v = *lock, me = lock_self(c);
  if (v != me) {
    if (v == LOCK_FREE)
      ke_verifier_stop(S, 0x1007, lock_param(S, lock), 0, 0, "%s: CPU %d releases a spin lock nobody holds", routine,
                       c->id);
    if (lock_queued(S, lock))
      ke_verifier_stop(S, 0x1009, lock_param(S, lock), 0, 0,
                       "%s on a spin lock held as an in-stack queued spin lock (mismatched routines)", routine);
    if (!lock_ordinary(S, v)) lock_uninitialised(S, lock, routine);
    ke_verifier_stop(S, 0x1004, lock_param(S, lock), (ULONG_PTR)v - 1, (ULONG_PTR)c->id,
                     "%s: CPU %d releases a spin lock CPU %d holds", routine, c->id, (int)v - 1);
  }
  *lock = LOCK_FREE;
  held_pop(c, lock);
  lock_trace(S, kind, lock, routine, 0, -1, "released");
}

void KeInitializeSpinLock(PKSPIN_LOCK SpinLock) { *SpinLock = LOCK_FREE; }

BOOLEAN KeTestSpinLock(PKSPIN_LOCK SpinLock) { return *SpinLock == LOCK_FREE; }

void KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql > DISPATCH_LEVEL)
    ke_verifier_stop(S, 0x42, irql, (ULONG_PTR)SpinLock, 0, "KeAcquireSpinLock at IRQL %d, above DISPATCH_LEVEL",
                     irql);
  KeRaiseIrql(DISPATCH_LEVEL, OldIrql);
  KiAcquireSpinLockTraced(S, SpinLock, "KeAcquireSpinLock", TRC_SPINLOCK_ACQUIRE);
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock) {
  KIRQL old;
  KeAcquireSpinLock(SpinLock, &old);
  return old;
}

void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql != DISPATCH_LEVEL)
    ke_verifier_stop(S, 0x32, irql, (ULONG_PTR)SpinLock, 0,
                     "KeReleaseSpinLock at IRQL %d, not DISPATCH_LEVEL (released twice?)", irql);
  KiReleaseSpinLockTraced(S, SpinLock, "KeReleaseSpinLock", TRC_SPINLOCK_RELEASE);
  KeLowerIrql(NewIrql);
}

static void at_dpc_level(sim_t *S, ULONG_PTR sub, PKSPIN_LOCK lock, const char *routine) {
  KIRQL irql = S->cur_cpu->irql;
  if (irql < DISPATCH_LEVEL)
    ke_verifier_stop(S, sub, irql, (ULONG_PTR)lock, 0, "%s at IRQL %d, below DISPATCH_LEVEL", routine, irql);
}

void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  sim_t *S = ctx_sim();
  at_dpc_level(S, 0x40, SpinLock, "KeAcquireSpinLockAtDpcLevel");
  KiAcquireSpinLockTraced(S, SpinLock, "KeAcquireSpinLockAtDpcLevel", TRC_SPINLOCK_ACQUIRE);
  sched_step(S, COST_STEP);
}

void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock) {
  sim_t *S = ctx_sim();
  at_dpc_level(S, 0x41, SpinLock, "KeReleaseSpinLockFromDpcLevel");
  KiReleaseSpinLockTraced(S, SpinLock, "KeReleaseSpinLockFromDpcLevel", TRC_SPINLOCK_RELEASE);
  sched_step(S, COST_STEP);
}

/* One look at the lock: take it if free, else FALSE without spinning. */
BOOLEAN KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  sim_t *S = ctx_sim();
  const char *routine = "KeTryToAcquireSpinLockAtDpcLevel";
  at_dpc_level(S, 0x40, SpinLock, routine);
  BOOLEAN got = *SpinLock == LOCK_FREE || *SpinLock == lock_self(S->cur_cpu);
  if (got) KiAcquireSpinLockTraced(S, SpinLock, routine, TRC_SPINLOCK_ACQUIRE); /* self: the 0x1000 stop */
  sched_step(S, COST_STEP);
  return got;
}

/* ---- in-stack queued spin locks ---- */

static PKSPIN_LOCK queue_lock(const KSPIN_LOCK_QUEUE *q) { return (PKSPIN_LOCK)((ULONG_PTR)q->Lock & ~QUEUE_BITS); }

static void queued_acquire(sim_t *S, PKSPIN_LOCK lock, PKLOCK_QUEUE_HANDLE h, const char *routine) {
  cpu_t *c = S->cur_cpu;
  KSPIN_LOCK v = *lock;
  if (held_by(c, lock))
    ke_verifier_stop(S, 0x1000, (ULONG_PTR)lock, 0, 0,
                     "%s: CPU %d acquires a spin lock it already holds (it would spin forever)", routine, c->id);
  if (lock_ordinary(S, v))
    ke_verifier_stop(S, 0x1008, (ULONG_PTR)lock, 0, 0,
                     "%s on a spin lock held through KeAcquireSpinLock (mismatched routines)", routine);
  if (v != LOCK_FREE && !lock_queued(S, lock)) lock_uninitialised(S, lock, routine);
  PKSPIN_LOCK_QUEUE q = &h->LockQueue, prev = (PKSPIN_LOCK_QUEUE)v;
  q->Next = NULL;
  *lock = (KSPIN_LOCK)q; /* the new tail: one exchange on the real machine */
  int spins = 0;
  if (prev) {
    uintptr_t holder = 0;
    ptrmap_get(&S->queued_locks, lock, &holder);
    q->Lock = (PKSPIN_LOCK)((ULONG_PTR)lock | LOCK_QUEUE_WAIT);
    prev->Next = q;
    lock_trace(S, TRC_SPINLOCK_SPIN, lock, routine, 0, (int)holder - 1, "is held: queued behind its holder");
    /* Each waiter spins on its own entry until its predecessor hands over. */
    while ((ULONG_PTR)q->Lock & LOCK_QUEUE_WAIT) {
      spins++;
      sched_step(S, COST_STEP);
    }
  }
  q->Lock = (PKSPIN_LOCK)((ULONG_PTR)lock | LOCK_QUEUE_OWNER);
  ptrmap_put(S, &S->queued_locks, lock, (uintptr_t)c->id + 1);
  held_push(c, lock);
  lock_trace(S, TRC_SPINLOCK_ACQUIRE, lock, routine, spins, -1, "acquired");
}

static void queued_release(sim_t *S, PKLOCK_QUEUE_HANDLE h, const char *routine) {
  cpu_t *c = S->cur_cpu;
  PKSPIN_LOCK_QUEUE q = &h->LockQueue;
  PKSPIN_LOCK lock = queue_lock(q);
  if (!((ULONG_PTR)q->Lock & LOCK_QUEUE_OWNER) || !lock)
    ke_verifier_stop(S, 0x1007, (ULONG_PTR)lock, 0, 0,
                     "%s with a lock handle that does not hold its lock (released twice?)", routine);
  if (!held_by(c, lock))
    ke_verifier_stop(S, 0x1004, (ULONG_PTR)lock, 0, (ULONG_PTR)c->id,
                     "%s: CPU %d releases a queued spin lock another CPU acquired", routine, c->id);
  q->Lock = lock;
  held_pop(c, lock);
  if (*lock == (KSPIN_LOCK)q) { /* no one queued behind: the lock is free */
    *lock = LOCK_FREE;
    ptrmap_del(&S->queued_locks, lock);
  } else { /* hand it to the next in line, which stops spinning */
    PKSPIN_LOCK_QUEUE next = q->Next;
    SIM_ASSERT(next); /* a waiter links itself in the step it queues */
    next->Lock = (PKSPIN_LOCK)((ULONG_PTR)next->Lock & ~(ULONG_PTR)LOCK_QUEUE_WAIT);
    ptrmap_put(S, &S->queued_locks, lock, 0);
  }
  q->Next = NULL;
  lock_trace(S, TRC_SPINLOCK_RELEASE, lock, routine, 0, -1, "released");
}

void KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql > DISPATCH_LEVEL)
    ke_verifier_stop(S, 0x42, irql, (ULONG_PTR)SpinLock, 0,
                     "KeAcquireInStackQueuedSpinLock at IRQL %d, above DISPATCH_LEVEL", irql);
  KeRaiseIrql(DISPATCH_LEVEL, &LockHandle->OldIrql);
  queued_acquire(S, SpinLock, LockHandle, "KeAcquireInStackQueuedSpinLock");
}

void KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle) {
  sim_t *S = ctx_sim();
  KIRQL irql = S->cur_cpu->irql;
  if (irql != DISPATCH_LEVEL)
    ke_verifier_stop(S, 0x36, irql, (ULONG_PTR)queue_lock(&LockHandle->LockQueue), LockHandle->OldIrql,
                     "KeReleaseInStackQueuedSpinLock at IRQL %d, not DISPATCH_LEVEL", irql);
  queued_release(S, LockHandle, "KeReleaseInStackQueuedSpinLock");
  KeLowerIrql(LockHandle->OldIrql);
}

void KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle) {
  sim_t *S = ctx_sim();
  at_dpc_level(S, 0x40, SpinLock, "KeAcquireInStackQueuedSpinLockAtDpcLevel");
  queued_acquire(S, SpinLock, LockHandle, "KeAcquireInStackQueuedSpinLockAtDpcLevel");
  sched_step(S, COST_STEP);
}

void KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle) {
  sim_t *S = ctx_sim();
  at_dpc_level(S, 0x41, queue_lock(&LockHandle->LockQueue), "KeReleaseInStackQueuedSpinLockFromDpcLevel");
  queued_release(S, LockHandle, "KeReleaseInStackQueuedSpinLockFromDpcLevel");
  sched_step(S, COST_STEP);
}

/* ---- lists under a spin lock ---- */

PLIST_ENTRY ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock) {
  KIRQL old;
  KeAcquireSpinLock(Lock, &old);
  PLIST_ENTRY first = IsListEmpty(ListHead) ? NULL : ListHead->Flink;
  InsertHeadList(ListHead, ListEntry);
  KeReleaseSpinLock(Lock, old);
  return first;
}

PLIST_ENTRY ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock) {
  KIRQL old;
  KeAcquireSpinLock(Lock, &old);
  PLIST_ENTRY last = IsListEmpty(ListHead) ? NULL : ListHead->Blink;
  InsertTailList(ListHead, ListEntry);
  KeReleaseSpinLock(Lock, old);
  return last;
}

PLIST_ENTRY ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock) {
  KIRQL old;
  KeAcquireSpinLock(Lock, &old);
  PLIST_ENTRY e = IsListEmpty(ListHead) ? NULL : RemoveHeadList(ListHead);
  KeReleaseSpinLock(Lock, old);
  return e;
}
