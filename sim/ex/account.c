/*
 * account.c - the end-of-run account.  When a run ends ok, stalled or at a
 * limit, sim_run asks for it (S->hooks.run_end_account) before its run-end
 * step: one irp-outstanding step for every IRP still allocated - where it
 * is and whose it is - and one thread-stuck step for every thread still
 * waiting, and on what.  A request that went missing is then a fact of the
 * trace, which the verifier and the expectations read, and not only a
 * thread that hangs (docs/verifier.md, kernel-facts 11.1).  Also
 * sim_irp_keep, the mark of an IRP a driver keeps on purpose.
 */
#include "ex/ex.h"

void sim_irp_keep(PIRP Irp, const char *Why) { Irp->SimKeptWhy = Why; }

/* Whom the IRP is for.  Once stage 2 went to an APC, Tail.Apc overlays
   Tail.Overlay, and the APC knows the thread. */
static PKTHREAD irp_thread(PIRP irp) {
  if (irp->SimStage2Queued && !irp->SimPortBound) return irp->Tail.Apc.Thread;
  return irp->Tail.Overlay.Thread;
}

/* Where the IRP is, read from the IRP itself: CurrentLocation runs from
   StackCount + 1 (its creator's) down to 1 while it goes down the stack,
   and ends at StackCount + 2 once a completion walk passed the top. */
static trc_irp_state_t irp_where(PIRP irp) {
  if (irp->SimKeptWhy) return TRC_IRPST_KEPT;
  if (irp->CurrentLocation <= irp->StackCount) return TRC_IRPST_DRIVER;
  if (irp->CurrentLocation == irp->StackCount + 1) return TRC_IRPST_CREATOR;
  if (!irp->SimStage2Queued) return TRC_IRPST_NO_STAGE2;
  return irp->SimPortBound ? TRC_IRPST_PORT : TRC_IRPST_APC;
}

static void account_irp(sim_t *S, PIRP irp) {
  trc_irp_state_t where = irp_where(irp);
  bool at_loc = irp->CurrentLocation >= 1 && irp->CurrentLocation <= irp->StackCount;
  PIO_STACK_LOCATION sp = at_loc ? irp_loc(irp, irp->CurrentLocation) : NULL;
  trc_event_t e = trc_ev(TRC_IRP_OUTSTANDING, irp, sp ? sp->DeviceObject : NULL);
  e.irp_state = where;
  PKTHREAD t = irp_thread(irp);
  e.target_thread = t ? t->id : 0;
  if (sp) e.major = sp->MajorFunction;
  if (irp->CurrentLocation > irp->StackCount + 1) e.pending_returned = irp->PendingReturned;
  const sim_port_t *port = NULL;
  if (where == TRC_IRPST_PORT) {
    port = irp->Tail.Overlay.OriginalFileObject->CompletionContext.Port;
    e.port = port->id;
  }
  e.text = irp->SimKeptWhy; /* the driver's own words */
  const char *dev = sp && sp->DeviceObject ? sp->DeviceObject->SimName : "?";
  switch (where) {
  case TRC_IRPST_DRIVER:
    trc_send(S, &e, "IRP %u is still at location %d, %s's", irp->SimId, irp->CurrentLocation, dev);
    break;
  case TRC_IRPST_CREATOR:
    trc_send(S, &e, "IRP %u is back above its stack, with its creator", irp->SimId);
    break;
  case TRC_IRPST_APC:
    trc_send(S, &e, "IRP %u: walk finished, its stage-2 APC to %s never ran", irp->SimId, t ? t->name : "?");
    break;
  case TRC_IRPST_PORT:
    trc_send(S, &e, "IRP %u: walk finished, its completion packet waits on port %s", irp->SimId, port->name);
    break;
  case TRC_IRPST_NO_STAGE2:
    trc_send(S, &e, "IRP %u: walk finished with PendingReturned=0 and no stage 2 queued: nobody finishes it",
             irp->SimId);
    break;
  default:
    trc_send(S, &e, "IRP %u is kept on purpose: %s", irp->SimId, irp->SimKeptWhy);
    break;
  }
}

static void account_thread(sim_t *S, PKTHREAD t) {
  trc_event_t e = trc_ev(TRC_THREAD_STUCK, NULL, NULL);
  e.target_thread = t->id;
  e.count = t->wait_count;
  if (t->wait_count) e.object = obj_id(S, t->wb[0].obj);
  if (t->in_queue_wait && t->Queue) {
    e.port = t->Queue->SimId;
    trc_send(S, &e, "%s waits on port %s", t->name, t->Queue->SimName);
    return;
  }
  if (t->wait_count == 0) {
    trc_send(S, &e, "%s sleeps%s", t->name, list_empty(&t->irp_list) ? "" : ", with IRPs still on its list");
    return;
  }
  char names[256];
  sim_thread_wait_names(S, t->id, names, sizeof names);
  trc_send(S, &e, "%s waits for %s", t->name, names);
}

void ex_run_end_account(sim_t *S) {
  ke_dbg_flush(S);
  for (LIST_ENTRY *l = S->live_irps.Flink; l != &S->live_irps; l = l->Flink)
    account_irp(S, CONTAINING_RECORD(l, IRP, SimLink));
  for (LIST_ENTRY *l = S->threads.Flink; l != &S->threads; l = l->Flink) {
    PKTHREAD t = CONTAINING_RECORD(l, KTHREAD, all_link);
    if (t->state == THR_WAITING && !t->idle_worker) account_thread(S, t); /* an idle worker is at rest */
  }
}
