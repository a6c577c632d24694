/*
 * remlock.c - remove locks (kernel-facts 13.7): a count of the I/O a
 * device has in progress, so that its remove handler can wait for it to
 * drain.  The count starts at 1 (the device's own); each acquisition adds
 * one and each release takes one; IoReleaseRemoveLockAndWait marks the
 * lock removed - from then on acquisitions fail with STATUS_DELETE_PENDING
 * - drops the caller's acquisition and the device's own, and waits for the
 * count to reach 0.  As Driver Verifier's I/O verification does, the
 * machine keeps a shadow of each lock with the tags of the acquisitions
 * outstanding: a release whose tag was never acquired is 0xC4/0xD5 (or
 * 0xD6 for the final release-and-wait).  (The verifier also stops on a lock
 * initialised twice, 0xD7; iosim does not.)
 */
#include "io/io.h"

typedef struct rl_tag {
  PVOID tag;
  ULONG n;
} rl_tag_t;

typedef struct rl_shadow {
  rl_tag_t *tags;
  size_t ntags, cap;
} rl_shadow_t;

struct io_lib {
  ptrmap_t shadows;     /* IO_REMOVE_LOCK -> index + 1 */
  rl_shadow_t *v;
  size_t n, cap;
};

static rl_shadow_t *rl_shadow(sim_t *S, PIO_REMOVE_LOCK lock) {
  if (!S->iolib) S->iolib = mem_calloc(S, sizeof *S->iolib);
  struct io_lib *L = S->iolib;
  uintptr_t k;
  if (ptrmap_get(&L->shadows, lock, &k)) return &L->v[k - 1];
  VEC_RESERVE(S, L->v, L->cap, L->n + 1);
  L->v[L->n++] = (rl_shadow_t){0};
  ptrmap_put(S, &L->shadows, lock, L->n);
  return &L->v[L->n - 1];
}

static void rl_add(sim_t *S, rl_shadow_t *s, PVOID tag) {
  for (size_t i = 0; i < s->ntags; i++)
    if (s->tags[i].tag == tag) {
      s->tags[i].n++;
      return;
    }
  VEC_RESERVE(S, s->tags, s->cap, s->ntags + 1);
  s->tags[s->ntags++] = (rl_tag_t){tag, 1};
}

/* False when no acquisition with this tag is outstanding. */
static bool rl_take(rl_shadow_t *s, PVOID tag) {
  for (size_t i = 0; i < s->ntags; i++)
    if (s->tags[i].tag == tag && s->tags[i].n) {
      s->tags[i].n--;
      return true;
    }
  return false;
}

static void rl_trace(sim_t *S, PIO_REMOVE_LOCK lock, const char *routine, NTSTATUS st, bool has_status,
                     const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(TRC_REMOVE_LOCK, NULL, NULL);
  e.service = routine;
  e.count = lock->Common.IoCount;
  if (has_status) trc_set_status(&e, st);
  trc_send(S, &e, "%s (count %ld%s)", what, (long)lock->Common.IoCount, lock->Common.Removed ? ", removed" : "");
}

/* Needs no machine: AddDevice and DriverEntry call it at setup time too.
   The shadow of a lock initialised again is dropped at its next
   acquisition (the count is back at 1). */
void IoInitializeRemoveLockEx(PIO_REMOVE_LOCK Lock, ULONG AllocateTag, ULONG MaxLockedMinutes, ULONG HighWatermark,
                              ULONG RemlockSize) {
  (void)AllocateTag, (void)MaxLockedMinutes, (void)HighWatermark, (void)RemlockSize;
  Lock->Common.Removed = FALSE;
  Lock->Common.IoCount = 1;
  KeInitializeEvent(&Lock->Common.RemoveEvent, SynchronizationEvent, FALSE);
}

NTSTATUS IoAcquireRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, PCSTR File, ULONG Line, ULONG RemlockSize) {
  (void)File, (void)Line, (void)RemlockSize;
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "IoAcquireRemoveLock");
  InterlockedIncrement(&RemoveLock->Common.IoCount);
  if (RemoveLock->Common.Removed) {
    /* Too late: the device is going; the count goes back, and the last
       one out lets the remover go on. */
    if (InterlockedDecrement(&RemoveLock->Common.IoCount) == 0) KeSetEvent(&RemoveLock->Common.RemoveEvent, 0, FALSE);
    rl_trace(S, RemoveLock, "IoAcquireRemoveLock", STATUS_DELETE_PENDING, true, "refused: the device is being removed");
    sched_step(S, COST_STEP);
    return STATUS_DELETE_PENDING;
  }
  rl_shadow_t *sh = rl_shadow(S, RemoveLock);
  if (RemoveLock->Common.IoCount == 2) sh->ntags = 0; /* nothing was outstanding: a fresh (or re-initialised) lock */
  rl_add(S, sh, Tag);
  rl_trace(S, RemoveLock, "IoAcquireRemoveLock", STATUS_SUCCESS, true, "acquired");
  sched_step(S, COST_STEP);
  return STATUS_SUCCESS;
}

void IoReleaseRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize) {
  (void)RemlockSize;
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "IoReleaseRemoveLock");
  if (!rl_take(rl_shadow(S, RemoveLock), Tag))
    ke_verifier_stop(S, 0xD5, (ULONG_PTR)RemoveLock, (ULONG_PTR)Tag, 0,
                     "IoReleaseRemoveLock with a tag no outstanding IoAcquireRemoveLock used");
  LONG left = InterlockedDecrement(&RemoveLock->Common.IoCount);
  rl_trace(S, RemoveLock, "IoReleaseRemoveLock", 0, false, left ? "released" : "released: the last one, the remover goes on");
  if (left == 0) KeSetEvent(&RemoveLock->Common.RemoveEvent, 0, FALSE);
  else sched_step(S, COST_STEP);
}

void IoReleaseRemoveLockAndWaitEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize) {
  (void)RemlockSize;
  sim_t *S = ctx_sim();
  ke_check_irql(S, PASSIVE_LEVEL, "IoReleaseRemoveLockAndWait");
  if (!rl_take(rl_shadow(S, RemoveLock), Tag))
    ke_verifier_stop(S, 0xD6, (ULONG_PTR)RemoveLock, (ULONG_PTR)Tag, 0,
                     "IoReleaseRemoveLockAndWait with a tag no outstanding IoAcquireRemoveLock used");
  RemoveLock->Common.Removed = TRUE;
  InterlockedDecrement(&RemoveLock->Common.IoCount);                /* the caller's acquisition */
  LONG left = InterlockedDecrement(&RemoveLock->Common.IoCount);    /* the device's own */
  rl_trace(S, RemoveLock, "IoReleaseRemoveLockAndWait", 0, false,
           left ? "removed: waiting for the I/O still in progress" : "removed: nothing in progress");
  sched_step(S, COST_STEP);
  if (left > 0) KeWaitForSingleObject(&RemoveLock->Common.RemoveEvent, Executive, KernelMode, FALSE, NULL);
}

void io_lib_destroy(sim_t *S) {
  struct io_lib *L = S->iolib;
  if (!L) return;
  for (size_t i = 0; i < L->n; i++) mem_free(S, L->v[i].tags, L->v[i].cap * sizeof *L->v[i].tags);
  mem_free(S, L->v, L->cap * sizeof *L->v);
  ptrmap_free(S, &L->shadows);
  mem_free(S, L, sizeof *L);
  S->iolib = NULL;
}
