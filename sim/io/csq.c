/*
 * csq.c - cancel-safe IRP queues (kernel-facts 8.4, 13.6), written from
 * their documented contract: the driver owns the queue and its lock and
 * supplies the callbacks; these routines decide, under the driver's lock,
 * who owns an IRP when a cancel races with a removal.  The rule is the
 * cancel rule of kernel-facts 8.3: whoever swaps the cancel routine from
 * the queue's own to NULL owns the IRP.  A removal that finds the routine
 * already gone leaves the IRP to the cancel routine (which is waiting for
 * the queue lock to take it out); an insertion that finds the IRP
 * cancelled before its routine was installed takes it back out and
 * completes it as cancelled itself.  The IRP's DriverContext[3] belongs to
 * the queue (the queue, or the caller's IO_CSQ_IRP_CONTEXT).
 */
#include "io/io.h"

static ULONG csq_type(const void *p) { return *(const ULONG *)p; } /* IO_CSQ and the context both start with Type */

static PDEVICE_OBJECT csq_dev(const IRP *irp) {
  return irp->CurrentLocation >= 1 && irp->CurrentLocation <= irp->StackCount
             ? irp->Tail.Overlay.CurrentStackLocation->DeviceObject
             : NULL;
}

static void csq_trace(sim_t *S, trc_kind_t kind, PIRP irp, uint32_t irp_id, int count, const char *routine,
                      const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(kind, NULL, irp ? csq_dev(irp) : NULL);
  e.irp = irp_id;
  e.stack_location = irp ? irp->CurrentLocation : 0;
  e.count = count;
  e.service = routine;
  trc_send(S, &e, "%s", what);
}

/* Takes the IRP's queue context out of DriverContext[3]; a caller's
   context forgets its IRP. */
static void csq_forget(PIRP irp) {
  PVOID c = irp->Tail.Overlay.DriverContext[3];
  irp->Tail.Overlay.DriverContext[3] = NULL;
  if (c && csq_type(c) == IO_TYPE_CSQ_IRP_CONTEXT) ((PIO_CSQ_IRP_CONTEXT)c)->Irp = NULL;
}

/* The queue's cancel routine, called by IoCancelIrp with the cancel spin
   lock held: drop that lock first, then take the IRP out under the
   queue's own lock and let the driver complete it. */
static void IopCsqCancelRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  (void)DeviceObject;
  IoReleaseCancelSpinLock(Irp->CancelIrql);
  PVOID c = Irp->Tail.Overlay.DriverContext[3];
  PIO_CSQ csq = c;
  if (csq_type(c) == IO_TYPE_CSQ_IRP_CONTEXT) {
    PIO_CSQ_IRP_CONTEXT ctx = c;
    csq = ctx->Csq;
    ctx->Irp = NULL;
  }
  KIRQL irql;
  csq->CsqAcquireLock(csq, &irql);
  csq->CsqRemoveIrp(csq, Irp);
  Irp->Tail.Overlay.DriverContext[3] = NULL;
  csq->CsqReleaseLock(csq, irql);
  csq_trace(Irp->Sim, TRC_CSQ_REMOVE, Irp, Irp->SimId, 1, "IopCsqCancelRoutine",
            "cancelled: taken out of the queue by its cancel routine");
  csq->CsqCompleteCanceledIrp(csq, Irp);
}

static NTSTATUS csq_init(PIO_CSQ Csq, ULONG type, PIO_CSQ_INSERT_IRP insert, PIO_CSQ_REMOVE_IRP remove,
                         PIO_CSQ_PEEK_NEXT_IRP peek, PIO_CSQ_ACQUIRE_LOCK lock, PIO_CSQ_RELEASE_LOCK unlock,
                         PIO_CSQ_COMPLETE_CANCELED_IRP complete) {
  Csq->Type = type;
  Csq->CsqInsertIrp = insert;
  Csq->CsqRemoveIrp = remove;
  Csq->CsqPeekNextIrp = peek;
  Csq->CsqAcquireLock = lock;
  Csq->CsqReleaseLock = unlock;
  Csq->CsqCompleteCanceledIrp = complete;
  Csq->ReservePointer = NULL;
  return STATUS_SUCCESS;
}

NTSTATUS IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                         PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                         PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                         PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp) {
  return csq_init(Csq, IO_TYPE_CSQ, CsqInsertIrp, CsqRemoveIrp, CsqPeekNextIrp, CsqAcquireLock, CsqReleaseLock,
                  CsqCompleteCanceledIrp);
}

/* The Ex callback rides in CsqInsertIrp, as in Windows' IO_CSQ; the
   function pointer is converted back before it is called. */
NTSTATUS IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                           PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                           PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                           PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp) {
  return csq_init(Csq, IO_TYPE_CSQ_EX, (PIO_CSQ_INSERT_IRP)(void (*)(void))CsqInsertIrp, CsqRemoveIrp,
                  CsqPeekNextIrp, CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
}

static NTSTATUS csq_insert(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext,
                           const char *routine) {
  sim_t *S = Irp->Sim;
  uint32_t id = Irp->SimId;
  NTSTATUS st = STATUS_SUCCESS;
  bool cancelled = false;
  KIRQL irql;
  Csq->CsqAcquireLock(Csq, &irql);
  IoMarkIrpPending(Irp); /* every IRP handed to the queue is pending */
  if (Context) {
    Context->Type = IO_TYPE_CSQ_IRP_CONTEXT;
    Context->Irp = Irp;
    Context->Csq = Csq;
    Irp->Tail.Overlay.DriverContext[3] = Context;
  } else {
    Irp->Tail.Overlay.DriverContext[3] = Csq;
  }
  /* Queue first, then install the routine: a cancel routine must never
     find its IRP outside the queue. */
  if (Csq->Type == IO_TYPE_CSQ_EX) {
    st = ((PIO_CSQ_INSERT_IRP_EX)(void (*)(void))Csq->CsqInsertIrp)(Csq, Irp, InsertContext);
  } else {
    Csq->CsqInsertIrp(Csq, Irp);
  }
  if (st == STATUS_SUCCESS) {
    IoSetCancelRoutine(Irp, IopCsqCancelRoutine);
    /* Cancelled before the routine was there (IoCancelIrp found none and
       only set Cancel): if the routine is still ours to take back, the IRP
       is too - out of the queue, completed as cancelled below.  If it is
       gone, the cancel routine is running and will do it. */
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL)) {
      Csq->CsqRemoveIrp(Csq, Irp);
      csq_forget(Irp);
      cancelled = true;
    }
  } else {
    csq_forget(Irp);
  }
  Csq->CsqReleaseLock(Csq, irql);
  csq_trace(S, TRC_CSQ_INSERT, cancelled || st != STATUS_SUCCESS ? NULL : Irp, id,
            st == STATUS_SUCCESS && !cancelled, routine,
            st != STATUS_SUCCESS ? "refused by the driver's insert routine"
            : cancelled          ? "already cancelled: completed as cancelled instead of queued"
                                 : "queued, cancel routine set");
  /* Outside the queue's lock: the driver completes it. */
  if (cancelled) Csq->CsqCompleteCanceledIrp(Csq, Irp);
  return st;
}

NTSTATUS IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext) {
  return csq_insert(Csq, Irp, Context, InsertContext, "IoCsqInsertIrpEx");
}

void IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context) {
  csq_insert(Csq, Irp, Context, NULL, "IoCsqInsertIrp");
}

PIRP IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context) {
  sim_t *S = ctx_sim();
  KIRQL irql;
  Csq->CsqAcquireLock(Csq, &irql);
  PIRP irp = Context->Irp;
  /* Ours only if we take the cancel routine away; else its cancel
     routine has it (and neither the IRP nor the context is ours). */
  if (irp && !IoSetCancelRoutine(irp, NULL)) irp = NULL;
  if (irp) {
    Csq->CsqRemoveIrp(Csq, irp);
    csq_forget(irp);
  }
  Csq->CsqReleaseLock(Csq, irql);
  csq_trace(S, TRC_CSQ_REMOVE, irp, irp ? irp->SimId : 0, irp != NULL, "IoCsqRemoveIrp",
            irp ? "taken out of the queue" : "not in the queue (cancelled, or taken already)");
  return irp;
}

PIRP IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext) {
  sim_t *S = ctx_sim();
  KIRQL irql;
  PIRP irp = NULL;
  Csq->CsqAcquireLock(Csq, &irql);
  /* Passes over IRPs whose cancel routine is already running: they are
     on their way out through it. */
  while ((irp = Csq->CsqPeekNextIrp(Csq, irp, PeekContext)))
    if (IoSetCancelRoutine(irp, NULL)) {
      Csq->CsqRemoveIrp(Csq, irp);
      csq_forget(irp);
      break;
    }
  Csq->CsqReleaseLock(Csq, irql);
  csq_trace(S, TRC_CSQ_REMOVE, irp, irp ? irp->SimId : 0, irp != NULL, "IoCsqRemoveNextIrp",
            irp ? "the next IRP taken out of the queue" : "nothing to take");
  return irp;
}
