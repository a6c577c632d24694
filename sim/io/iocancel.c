/*
 * iocancel.c - cancellation: the cancel spin lock, IoCancelIrp, the user-mode
 * cancel calls (CancelIo, CancelIoEx, CancelSynchronousIo) and the
 * cancelling of a thread's I/O when it exits.  The race rule: whoever swaps
 * CancelRoutine from non-NULL to NULL owns the IRP.
 */
#include "io/io.h"

/* The cancel spin lock: raises to DISPATCH_LEVEL; another CPU that wants
   it spins (one step at a time) until it is free. */
void IoAcquireCancelSpinLock(KIRQL *Irql) {
  sim_t *S = ctx_sim();
  cpu_t *c = S->cur_cpu;
  KeRaiseIrql(DISPATCH_LEVEL, Irql);
  while (S->cancel_lock_owner >= 0 && S->cancel_lock_owner != c->id) {
    S->cancel_lock_spins++;
    sched_step(S, COST_STEP);
  }
  if (S->cancel_lock_owner == c->id)
    bugcheck(S, 0x0F, 0, 0, 0, 0, "the cancel spin lock acquired twice on CPU %d (SPIN_LOCK_ALREADY_OWNED)", c->id);
  S->cancel_lock_owner = c->id;
  TRC(S, TRC_NOTE, NULL, NULL, false, 0, "cancel spin lock acquired");
}

void IoReleaseCancelSpinLock(KIRQL Irql) {
  sim_t *S = ctx_sim();
  if (S->cancel_lock_owner != S->cur_cpu->id)
    bugcheck(S, 0x10, 0, 0, 0, 0, "the cancel spin lock released by CPU %d, which does not hold it (SPIN_LOCK_NOT_OWNED)",
             S->cur_cpu->id);
  S->cancel_lock_owner = -1;
  TRC(S, TRC_NOTE, NULL, NULL, false, 0, "cancel spin lock released");
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
    TRC(S, TRC_CANCEL, Irp, NULL, false, 0, "IoCancelIrp(IRP %u): Cancel set, no cancel routine: returns FALSE", id);
    IoReleaseCancelSpinLock(irql);
    return FALSE;
  }
  if (Irp->CurrentLocation > Irp->StackCount + 1)
    bugcheck(S, CANCEL_STATE_IN_COMPLETED_IRP, (ULONG_PTR)id, 0, 0, 0,
             "IRP %u was cancelled after its completion finished: its cancel routine was still set", id);
  Irp->CancelIrql = irql;
  PDEVICE_OBJECT dev = Irp->CurrentLocation <= Irp->StackCount ? Irp->Tail.Overlay.CurrentStackLocation->DeviceObject : NULL;
  TRC(S, TRC_CANCEL, Irp, dev, false, 0, "IoCancelIrp(IRP %u): Cancel set, calling the cancel routine", id);
  TRC(S, TRC_CANCEL_ROUTINE, Irp, dev, false, 0, "cancel routine of %s at DISPATCH_LEVEL, cancel lock held",
      dev ? dev->SimName : "?");
  sched_step(S, COST_COMPLETION_ROUTINE);
  r(dev, Irp); /* it releases the cancel lock */
  return TRUE;
}

/* ---- user mode ---- */

static bool irp_finished(const IRP *irp) { return irp->CurrentLocation > irp->StackCount + 1 || irp->SimCompletes; }

/* Cancels the IRPs of thread `t` that `match` accepts; returns how many. */
static int cancel_thread_irps(PKTHREAD t, bool (*match)(const IRP *, const void *), const void *arg) {
  int n = 0;
  /* IoCancelIrp can run cancel routines that complete the IRP and take it
     off the list, so walk a snapshot of the ids. */
  uint32_t ids[256];
  PIRP irps[256];
  int k = 0;
  for (LIST_ENTRY *e = t->irp_list.Flink; e != &t->irp_list && k < 256; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, ThreadListEntry);
    if (match(irp, arg) && !irp_finished(irp)) {
      irps[k] = irp;
      ids[k++] = irp->SimId;
    }
  }
  for (int i = 0; i < k; i++) {
    /* still the same live IRP? (an earlier cancel may have freed it) */
    bool live = false;
    for (LIST_ENTRY *e = t->irp_list.Flink; e != &t->irp_list; e = e->Flink)
      if (CONTAINING_RECORD(e, IRP, ThreadListEntry) == irps[i] && irps[i]->SimId == ids[i]) live = true;
    if (!live) continue;
    IoCancelIrp(irps[i]);
    n++;
  }
  return n;
}

static bool on_file(const IRP *irp, const void *fo) { return irp->Tail.Overlay.OriginalFileObject == fo; }

static bool thread_has(PKTHREAD t, bool (*match)(const IRP *, const void *), const void *arg) {
  for (LIST_ENTRY *e = t->irp_list.Flink; e != &t->irp_list; e = e->Flink)
    if (match(CONTAINING_RECORD(e, IRP, ThreadListEntry), arg)) return true;
  return false;
}

/* CancelIo: the calling thread's requests on the file; then, as NtCancelIoFile
   does, poll every 10 ms until they have left the thread's list. */
NTSTATUS NtCancelIoFile(PFILE_OBJECT File, PIO_STATUS_BLOCK Iosb) {
  sim_t *S = ctx_sim();
  PKTHREAD t = thr_current(S);
  TRC(S, TRC_SYSCALL, NULL, File->DeviceObject, false, 0, "CancelIo on %s", File->SimName);
  sched_step(S, COST_SYSCALL);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  cancel_thread_irps(t, on_file, File);
  KeLowerIrql(old);
  while (thread_has(t, on_file, File)) {
    LONGLONG ten_ms = -100000;
    KeDelayExecutionThread(KernelMode, FALSE, &ten_ms);
  }
  if (Iosb) Iosb->Status = STATUS_SUCCESS, Iosb->Information = 0;
  return STATUS_SUCCESS;
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
  TRC(S, TRC_SYSCALL, NULL, File->DeviceObject, false, 0, "CancelIoEx on %s%s", File->SimName,
      Iosb ? " (one request)" : "");
  sched_step(S, COST_SYSCALL);
  ex_match_t m = {File, Iosb};
  PIRP found[256];
  uint32_t ids[256];
  int n = 0;
  for (LIST_ENTRY *e = S->live_irps.Flink; e != &S->live_irps && n < 256; e = e->Flink) {
    PIRP irp = CONTAINING_RECORD(e, IRP, SimLink);
    if (ex_matches(irp, &m) && !irp_finished(irp)) {
      found[n] = irp;
      ids[n++] = irp->SimId;
    }
  }
  int cancelled = 0;
  for (int i = 0; i < n; i++) {
    bool live = false;
    for (LIST_ENTRY *e = S->live_irps.Flink; e != &S->live_irps; e = e->Flink)
      if (CONTAINING_RECORD(e, IRP, SimLink) == found[i] && found[i]->SimId == ids[i]) live = true;
    if (!live || irp_finished(found[i])) continue;
    IoCancelIrp(found[i]);
    cancelled++;
  }
  NTSTATUS st = cancelled ? STATUS_SUCCESS : STATUS_NOT_FOUND;
  char sb[16];
  TRC(S, TRC_SYSCALL_RETURN, NULL, File->DeviceObject, true, st, "CancelIoEx returns %s", iosim_status_name(st, sb));
  return st;
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
  TRC(S, TRC_SYSCALL, NULL, NULL, false, 0, "CancelSynchronousIo on thread %s", Thread->name);
  sched_step(S, COST_SYSCALL);
  NTSTATUS st = cancel_thread_irps(Thread, synchronous, NULL) ? STATUS_SUCCESS : STATUS_NOT_FOUND;
  char sb[16];
  TRC(S, TRC_SYSCALL_RETURN, NULL, NULL, true, st, "CancelSynchronousIo returns %s", iosim_status_name(st, sb));
  return st;
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
  TRC(S, TRC_NOTE, NULL, NULL, false, 0, "thread %s is exiting with I/O outstanding: its IRPs are cancelled", t->name);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  cancel_thread_irps(t, any_irp, NULL);
  KeLowerIrql(old);
  int tries = 0;
  while (!list_empty(&t->irp_list) && tries++ < 3000) {
    TRC(S, TRC_NOTE, NULL, NULL, false, 0, "thread %s waits for its IRPs before it can exit", t->name);
    LONGLONG hundred_ms = -1000000;
    KeDelayExecutionThread(KernelMode, FALSE, &hundred_ms);
  }
}
