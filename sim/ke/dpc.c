/*
 * dpc.c - deferred procedure calls: per-CPU queues, importance, target CPU,
 * and the drain that runs when a CPU's IRQL falls below DISPATCH_LEVEL.
 * DPCs that request no drain wait for the next drain or clock tick
 * (clock.c).
 */
#include "ke/ke.h"

void KeInitializeDpc(PKDPC Dpc, KDEFERRED_ROUTINE *Routine, PVOID Context) {
  memset(Dpc, 0, sizeof *Dpc);
  Dpc->DeferredRoutine = Routine;
  Dpc->DeferredContext = Context;
  Dpc->Importance = MediumImportance;
  Dpc->Number = -1;
  Dpc->QueuedOn = -1;
  list_init(&Dpc->DpcListEntry);
}

void KeSetImportanceDpc(PKDPC Dpc, KDPC_IMPORTANCE Importance) { Dpc->Importance = (uint8_t)Importance; }
void KeSetTargetProcessorDpc(PKDPC Dpc, int Number) { Dpc->Number = (int16_t)Number; }

static const char *dpc_importance_name(int i) {
  static const char *n[] = {"low", "medium", "high", "medium-high"};
  return i >= 0 && i < 4 ? n[i] : "?";
}

/* Whether queuing on `target` from `cur` requests a DISPATCH interrupt
   (KiInsertQueueDpc with the Vista+ MediumHigh, docs/kernel-facts.md §6.3):
   on the current CPU, anything but Low, or a deep queue, or a DPC rate
   below the minimum; on another CPU, High or MediumHigh, or a deep queue. */
static bool dpc_requests_drain(const sim_t *S, const cpu_t *cur, const cpu_t *target, const KDPC *d) {
  if ((uint32_t)target->dpc_depth >= target->max_dpc_depth) return true;
  if (target == cur)
    return d->Importance != LowImportance || target->dpc_request_rate < S->cfg.minimum_dpc_rate;
  return d->Importance == HighImportance || d->Importance == MediumHighImportance;
}

BOOLEAN KeInsertQueueDpc(PKDPC Dpc, PVOID Arg1, PVOID Arg2) {
  sim_t *S = ctx_sim();
  cpu_t *cur = S->cur_cpu;
  if (Dpc->QueuedOn >= 0) {
    /* Already queued: the new arguments are dropped. */
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_DPC_NOT_QUEUED, NULL, NULL);
      e.target_cpu = Dpc->QueuedOn, e.service = Dpc->Name;
      trc_send(S, &e, "%s already queued on CPU %d", Dpc->Name ? Dpc->Name : "DPC", Dpc->QueuedOn);
    }
    sched_step(S, COST_STEP);
    return FALSE;
  }
  /* Not queued, so its entry must be unlinked (KeInitializeDpc and the
     drain leave it pointing at itself; zeroed memory is tolerated).  Else
     the driver never initialised it or re-initialised it while queued:
     its neighbours would be overwritten, which Windows reports as a
     corrupted list. */
  if (Dpc->DpcListEntry.Flink && !list_empty(&Dpc->DpcListEntry))
    bugcheck(S, KERNEL_SECURITY_CHECK_FAILURE, 3, (ULONG_PTR)Dpc, 0, 0,
             "KeInsertQueueDpc: %s is linked into a list but not queued (not initialised with "
             "KeInitializeDpc, or re-initialised while queued)", Dpc->Name ? Dpc->Name : "the DPC");
  cpu_t *target = Dpc->Number >= 0 && Dpc->Number < S->ncpu ? &S->cpu[Dpc->Number] : cur;
  Dpc->SystemArgument1 = Arg1;
  Dpc->SystemArgument2 = Arg2;
  Dpc->QueuedOn = (int16_t)target->id;
  if (Dpc->Importance == HighImportance)
    list_insert_head(&target->dpc_queue, &Dpc->DpcListEntry);
  else
    list_insert_tail(&target->dpc_queue, &Dpc->DpcListEntry);
  /* The moderation state as of now (the ticks that passed), then the
     count the next tick averages into the request rate. */
  ke_clock_account(S, target);
  target->dpc_count++;
  target->dpc_depth++;
  bool request = !target->dpc_draining && !target->dpc_requested &&
                 dpc_requests_drain(S, cur, target, Dpc);
  if (request) target->dpc_requested = true;
  if (ke_dpcs_waiting(target)) ke_clock_arm(S, target);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_DPC_QUEUED, Dpc->SimDevice ? Arg1 : NULL, Dpc->SimDevice);
    e.target_cpu = target->id, e.service = Dpc->Name;
    e.count = target->dpc_depth;
    trc_send(S, &e, "%s on CPU %d (%s importance, depth %d)%s", Dpc->Name ? Dpc->Name : "DPC", target->id,
             dpc_importance_name(Dpc->Importance), target->dpc_depth,
             request ? ", DISPATCH interrupt requested" : "");
  }
  /* An idle processor polls its DPC queue, so it is woken either way. */
  if (target != cur && (request || target->thread == NULL)) cpu_poke(S, target);
  sched_step(S, COST_STEP);
  return TRUE;
}

BOOLEAN KeRemoveQueueDpc(PKDPC Dpc) {
  sim_t *S = ctx_sim();
  if (Dpc->QueuedOn < 0) return FALSE;
  S->cpu[Dpc->QueuedOn].dpc_depth--;
  list_remove(&Dpc->DpcListEntry);
  Dpc->QueuedOn = -1;
  return TRUE;
}

/* KiRetireDpcList: at DISPATCH_LEVEL, pop from the head until empty; each DPC
   is marked un-queued before it runs, so it can be queued again meanwhile. */
void KiRetireDpcList(sim_t *S, cpu_t *c) {
  c->dpc_requested = false;
  c->dpc_draining = true;
  cpu_push_frame(S, c, TRC_FRAME_DPC, DISPATCH_LEVEL);
  LIST_ENTRY *e;
  while ((e = list_pop_head(&c->dpc_queue))) {
    PKDPC d = CONTAINING_RECORD(e, KDPC, DpcListEntry);
    SIM_ASSERT(c->dpc_depth > 0); /* the count of what this queue holds */
    c->dpc_depth--;
    /* Take the arguments before anything else can happen: once un-queued,
       the DPC may be queued again (on another CPU too) with new ones. */
    KDEFERRED_ROUTINE *fn = d->DeferredRoutine;
    PVOID ctx = d->DeferredContext, a1 = d->SystemArgument1, a2 = d->SystemArgument2;
    PDEVICE_OBJECT dev = d->SimDevice;
    const char *name = d->Name ? d->Name : "DPC";
    d->QueuedOn = -1;
    if (trc_on(S)) {
      trc_event_t ev = trc_ev(TRC_DPC_RUN, dev ? (PIRP)a1 : NULL, dev);
      ev.target_cpu = c->id, ev.service = name;
      trc_send(S, &ev, "%s", name);
    }
    sched_step(S, COST_DPC);
    fn(d, ctx, a1, a2);
    if (trc_on(S)) {
      trc_event_t ev = trc_ev(TRC_DPC_END, NULL, dev);
      ev.target_cpu = c->id, ev.service = name;
      trc_send(S, &ev, "%s", name);
    }
    if (S->stopping) return;
  }
  cpu_pop_frame(S, c);
  c->dpc_draining = false;
}
