/*
 * iocancel.c - cancellation: the cancel spin lock, IoCancelIrp, the user-mode
 * cancel calls (CancelIo, CancelIoEx, CancelSynchronousIo) and the
 * cancelling of a thread's I/O when it exits.  The race rule: whoever swaps
 * CancelRoutine from non-NULL to NULL owns the IRP.
 */
#include "io/io.h"

/* The cancel spin lock: an ordinary spin lock of the machine's
   (ke/spinlock.c), traced with its own kind; raises to DISPATCH_LEVEL,
   and another CPU that wants it spins (one step at a time) until it is
   free. */
void IoAcquireCancelSpinLock(KIRQL *Irql) {
  sim_t *S = ctx_sim();
  KeRaiseIrql(DISPATCH_LEVEL, Irql);
  KiAcquireSpinLockTraced(S, &S->cancel_lock, "IoAcquireCancelSpinLock", TRC_CANCEL_LOCK);
}

void IoReleaseCancelSpinLock(KIRQL Irql) {
  sim_t *S = ctx_sim();
  KiReleaseSpinLockTraced(S, &S->cancel_lock, "IoReleaseCancelSpinLock", TRC_CANCEL_LOCK);
  KeLowerIrql(Irql);
}

/* IoCancelIrp: set Cancel, take the cancel routine away atomically, and
   call it at DISPATCH_LEVEL with the cancel lock held; FALSE when there was
   none (the Cancel bit stays set for a later cancelable point to see). */
BOOLEAN IoCancelIrp(PIRP Irp) {
  sim_t *S = Irp->Sim;
  KIRQL irql;
  uint32_t id = Irp->SimId;
  IoAcquireCancelSpinLock(&irql);
  Irp->Cancel = TRUE;
  PDRIVER_CANCEL r = Irp->CancelRoutine;
  Irp->CancelRoutine = NULL;
  if (!r) {
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_CANCEL, Irp, NULL);
      e.cancel_routine = 0;
      e.writes = TRC_W_CANCEL;
      trc_send(S, &e, "IoCancelIrp(IRP %u): Cancel set, no cancel routine: returns FALSE", id);
    }
    IoReleaseCancelSpinLock(irql);
    return FALSE;
  }
  if (Irp->CurrentLocation > Irp->StackCount + 1)
    bugcheck(S, CANCEL_STATE_IN_COMPLETED_IRP, (ULONG_PTR)id, 0, 0, 0,
             "IRP %u was cancelled after its completion finished: its cancel routine was still set", id);
  Irp->CancelIrql = irql;
  PDEVICE_OBJECT dev = Irp->CurrentLocation <= Irp->StackCount ? Irp->Tail.Overlay.CurrentStackLocation->DeviceObject : NULL;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_CANCEL, Irp, dev);
    e.cancel_routine = 1;
    e.writes = TRC_W_CANCEL | TRC_W_CANCEL_ROUTINE;
    trc_send(S, &e, "IoCancelIrp(IRP %u): Cancel set, calling the cancel routine", id);
    e = trc_ev(TRC_CANCEL_ROUTINE, Irp, dev);
    e.routine_device = dev ? dev->SimId : 0;
    trc_send(S, &e, "cancel routine of %s at DISPATCH_LEVEL, cancel lock held", dev ? dev->SimName : "?");
  }
  sched_step(S, COST_COMPLETION_ROUTINE);
  r(dev, Irp); /* it releases the cancel lock */
  return TRUE;
}

/* ---- user mode ---- */

static bool irp_finished(const IRP *irp) { return irp->CurrentLocation > irp->StackCount + 1 || irp->SimCompletes; }

/* A thread-agnostic (port-bound) request thread `t` issued and whose
   completion is not over: these never join the thread's IRP list (Vista+),
   and their Tail.Overlay stays intact until the port's packet is taken. */
static bool agnostic_of(const IRP *irp, PKTHREAD t) {
  return irp->SimPortBound && irp->Tail.Overlay.Thread == t && !irp_finished(irp);
}

/* Cancels the requests of thread `t` that `match` accepts (the port-bound
   ones too with `agnostic`); returns how many. */
/* The IRPs to cancel are collected first (IoCancelIrp can run cancel
   routines that complete and free IRPs), in an array on the coroutine's
   stack while they are few: a cancel routine that stops the machine never
   comes back here, and heap memory held only by this frame would never be
   freed.  Past that, the heap. */
#define CANCEL_ON_STACK 64
typedef struct found {
  PIRP irp;
  uint32_t id;
} found_t;

static found_t *found_add(sim_t *S, found_t *found, found_t *on_stack, size_t *cap, size_t k) {
  if (k < *cap) return found;
  if (found == on_stack) {
    found_t *h = NULL;
    size_t hcap = 0;
    VEC_RESERVE(S, h, hcap, k + 1);
    memcpy(h, on_stack, k * sizeof *h);
    *cap = hcap;
    return h;
  }
  VEC_RESERVE(S, found, *cap, k + 1);
  return found;
}

static void found_free(sim_t *S, found_t *found, found_t *on_stack, size_t cap) {
  if (found != on_stack) mem_free(S, found, cap * sizeof *found);
}

static int cancel_thread_irps(PKTHREAD t, bool (*match)(const IRP *, const void *), const void *arg,
                              bool agnostic) {
  sim_t *S = t->S;
  found_t on_stack[CANCEL_ON_STACK], *found = on_stack;
  size_t k = 0, cap = CANCEL_ON_STACK;
  for (LIST_ENTRY *e = t->irp_list.Flink; e != &t->irp_list; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, ThreadListEntry);
    if (match(irp, arg) && !irp_finished(irp)) {
      found = found_add(S, found, on_stack, &cap, k);
      found[k++] = (found_t){irp, irp->SimId};
    }
  }
  for (LIST_ENTRY *e = S->live_irps.Flink; agnostic && e != &S->live_irps; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, SimLink);
    if (agnostic_of(irp, t) && match(irp, arg)) {
      found = found_add(S, found, on_stack, &cap, k);
      found[k++] = (found_t){irp, irp->SimId};
    }
  }
  int n = 0;
  for (size_t i = 0; i < k; i++) {
    if (!sim_irp_alive(S, found[i].irp, found[i].id) || irp_finished(found[i].irp)) continue;
    IoCancelIrp(found[i].irp);
    n++;
  }
  found_free(S, found, on_stack, cap);
  return n;
}

static bool on_file(const IRP *irp, const void *fo) { return irp->Tail.Overlay.OriginalFileObject == fo; }

/* Whether thread `t` still has a request `match` accepts in progress (a
   port-bound one counts until its completion walk is over). */
static bool thread_has(PKTHREAD t, bool (*match)(const IRP *, const void *), const void *arg) {
  for (LIST_ENTRY *e = t->irp_list.Flink; e != &t->irp_list; e = e->Flink)
    if (match(CONTAINING_RECORD(e, IRP, ThreadListEntry), arg)) return true;
  sim_t *S = t->S;
  for (LIST_ENTRY *e = S->live_irps.Flink; e != &S->live_irps; e = e->Flink) {
    const IRP *irp = CONTAINING_RECORD(e, IRP, SimLink);
    if (agnostic_of(irp, t) && match(irp, arg)) return true;
  }
  return false;
}

/* CancelIo: the calling thread's requests on the file, thread-agnostic
   (port-bound) ones included, as CancelIo is documented; then, as
   NtCancelIoFile does, poll every 10 ms until they are done. */
NTSTATUS NtCancelIoFile(PFILE_OBJECT File, PIO_STATUS_BLOCK Iosb) {
  sim_t *S = ctx_sim();
  PKTHREAD t = thr_current(S);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, File->DeviceObject);
    e.service = "NtCancelIoFile", e.file = File->SimId;
    trc_send(S, &e, "CancelIo on %s", File->SimName);
  }
  sched_step(S, COST_SYSCALL);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  cancel_thread_irps(t, on_file, File, true);
  KeLowerIrql(old);
  while (thread_has(t, on_file, File)) {
    LARGE_INTEGER ten_ms = {.QuadPart = -100000};
    KeDelayExecutionThread(KernelMode, FALSE, &ten_ms);
  }
  if (Iosb) Iosb->Status = STATUS_SUCCESS, Iosb->Information = 0;
  return KiServiceExit(S, STATUS_SUCCESS);
}

typedef struct ex_match {
  PFILE_OBJECT fo;
  PIO_STATUS_BLOCK iosb;
} ex_match_t;

static bool ex_matches(const IRP *irp, const void *arg) {
  const ex_match_t *m = arg;
  return irp->Tail.Overlay.OriginalFileObject == m->fo && (!m->iosb || irp->UserIosb == m->iosb) &&
         !(irp->Flags & IRP_ASSOCIATED_IRP);
}

/* CancelIoEx (Vista+): any thread's requests on the file (or only the one
   using `Iosb`), the thread-agnostic ones too; it does not wait. */
NTSTATUS NtCancelIoFileEx(PFILE_OBJECT File, PIO_STATUS_BLOCK Iosb) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, File->DeviceObject);
    e.service = "NtCancelIoFileEx", e.file = File->SimId;
    e.count = Iosb ? 1 : -1; /* one request, or all of them */
    trc_send(S, &e, "CancelIoEx on %s%s", File->SimName, Iosb ? " (one request)" : "");
  }
  sched_step(S, COST_SYSCALL);
  ex_match_t m = {File, Iosb};
  /* Collected first: cancel routines may complete and free IRPs. */
  found_t on_stack[CANCEL_ON_STACK], *found = on_stack;
  size_t n = 0, cap = CANCEL_ON_STACK;
  for (LIST_ENTRY *e = S->live_irps.Flink; e != &S->live_irps; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, SimLink);
    if (ex_matches(irp, &m) && !irp_finished(irp)) {
      found = found_add(S, found, on_stack, &cap, n);
      found[n++] = (found_t){irp, irp->SimId};
    }
  }
  int cancelled = 0;
  for (size_t i = 0; i < n; i++) {
    bool live = false;
    for (LIST_ENTRY *e = S->live_irps.Flink; e != &S->live_irps; e = e->Flink)
      if (CONTAINING_RECORD(e, IRP, SimLink) == found[i].irp && found[i].irp->SimId == found[i].id) live = true;
    if (!live || irp_finished(found[i].irp)) continue;
    IoCancelIrp(found[i].irp);
    cancelled++;
  }
  found_free(S, found, on_stack, cap);
  NTSTATUS st = cancelled ? STATUS_SUCCESS : STATUS_NOT_FOUND;
  char sb[16];
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, File->DeviceObject);
    e.service = "NtCancelIoFileEx", e.file = File->SimId;
    e.count = cancelled;
    trc_set_status(&e, st);
    trc_send(S, &e, "CancelIoEx returns %s", iosim_status_name(st, sb));
  }
  return KiServiceExit(S, st);
}

static bool synchronous(const IRP *irp, const void *arg) {
  (void)arg;
  const FILE_OBJECT *fo = irp->Tail.Overlay.OriginalFileObject;
  return (irp->Flags & IRP_SYNCHRONOUS_API) || (fo && (fo->Flags & FO_SYNCHRONOUS_IO));
}

/* CancelSynchronousIo (Vista+): the target thread's synchronous request;
   does not wait; STATUS_NOT_FOUND when there is none. */
NTSTATUS NtCancelSynchronousIoFile(PKTHREAD Thread) {
  sim_t *S = ctx_sim();
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL, NULL, NULL);
    e.service = "NtCancelSynchronousIoFile", e.target_thread = Thread->id;
    trc_send(S, &e, "CancelSynchronousIo on thread %s", Thread->name);
  }
  sched_step(S, COST_SYSCALL);
  NTSTATUS st = cancel_thread_irps(Thread, synchronous, NULL, false) ? STATUS_SUCCESS : STATUS_NOT_FOUND;
  char sb[16];
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SYSCALL_RETURN, NULL, NULL);
    e.service = "NtCancelSynchronousIoFile", e.target_thread = Thread->id;
    trc_set_status(&e, st);
    trc_send(S, &e, "CancelSynchronousIo returns %s", iosim_status_name(st, sb));
  }
  return KiServiceExit(S, st);
}

static bool any_irp(const IRP *irp, const void *arg) {
  (void)irp, (void)arg;
  return true;
}

/* IoCancelThreadIo: a thread that ends cancels its I/O and cannot finish
   ending until every IRP on its list has completed (it checks every
   100 ms).  Thread-agnostic IRPs are not on the list. */
void IoCancelThreadIo(sim_t *S, PKTHREAD t) {
  if (list_empty(&t->irp_list)) return;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_THREAD_IO_RUNDOWN, NULL, NULL);
    e.target_thread = t->id;
    e.count = 0; /* the cancelling pass */
    trc_send(S, &e, "thread %s is exiting with I/O outstanding: its IRPs are cancelled", t->name);
  }
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  cancel_thread_irps(t, any_irp, NULL, false); /* thread-agnostic I/O outlives its thread */
  KeLowerIrql(old);
  int tries = 0;
  while (!list_empty(&t->irp_list) && tries++ < 3000) {
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_THREAD_IO_RUNDOWN, NULL, NULL);
      e.target_thread = t->id;
      e.count = tries; /* the waits so far */
      trc_send(S, &e, "thread %s waits for its IRPs before it can exit", t->name);
    }
    LARGE_INTEGER hundred_ms = {.QuadPart = -1000000};
    KeDelayExecutionThread(KernelMode, FALSE, &hundred_ms);
  }
}
