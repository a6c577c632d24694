/*
 * apc.c - asynchronous procedure calls: the kernel queue (special APCs ahead
 * of normal ones) and the user queue of each thread, and their delivery
 * rules: special kernel APCs interrupt even a non-alertable wait; user APCs
 * run only after an alertable user-mode wait, as the system service that
 * waited returns to user mode (KiServiceExit); and the rundown of a
 * thread's APC queues when it exits.
 */
#include "ke/ke.h"

void KeInitializeApc(PKAPC Apc, PKTHREAD Thread, KKERNEL_ROUTINE *Kernel,
                     KRUNDOWN_ROUTINE *Rundown, KNORMAL_ROUTINE *Normal,
                     KPROCESSOR_MODE Mode, PVOID NormalContext) {
  memset(Apc, 0, sizeof *Apc);
  Apc->Thread = Thread;
  Apc->KernelRoutine = Kernel;
  Apc->RundownRoutine = Rundown;
  Apc->NormalRoutine = Normal;
  Apc->ApcMode = Normal ? Mode : KernelMode;
  Apc->NormalContext = NormalContext;
  list_init(&Apc->ApcListEntry);
}

static bool apc_special(const KAPC *a) { return a->ApcMode == KernelMode && !a->NormalRoutine; }

/* Whether a kernel APC of that kind may be delivered to `t` now: a guarded
   region holds back every kernel APC, a critical region (or a normal APC
   already running) the normal ones (kernel-facts 6.11). */
static bool apc_kind_enabled(const KTHREAD *t, bool special) {
  if (t->SpecialApcDisable) return false;
  return special || (!t->KernelApcDisable && !t->kernel_apc_in_progress);
}

/* Special kernel APCs go after the last special one, before normal ones. */
static void apc_insert(PKTHREAD t, PKAPC a) {
  LIST_ENTRY *h = &t->apc[a->ApcMode];
  if (!apc_special(a)) {
    list_insert_tail(h, &a->ApcListEntry);
    return;
  }
  LIST_ENTRY *e = h->Flink;
  while (e != h && apc_special(CONTAINING_RECORD(e, KAPC, ApcListEntry))) e = e->Flink;
  list_insert_tail(e, &a->ApcListEntry); /* i.e. just before e */
}

BOOLEAN KeInsertQueueApc(PKAPC Apc, PVOID Arg1, PVOID Arg2, int32_t Boost) {
  (void)Boost;
  PKTHREAD t = Apc->Thread;
  sim_t *S = t->S;
  if (Apc->Inserted || !t->ApcQueueable) return FALSE; /* an exiting thread takes no more */
  Apc->SystemArgument1 = Arg1;
  Apc->SystemArgument2 = Arg2;
  Apc->Inserted = TRUE;
  SIM_ASSERT(Apc->ApcMode == KernelMode || Apc->ApcMode == UserMode);
  apc_insert(t, Apc);
  bool special = apc_special(Apc);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_APC_QUEUED, NULL, NULL);
    e.irp = Apc->IrpId, e.target_thread = t->id, e.service = Apc->Name;
    e.count = special ? 0 : Apc->ApcMode == KernelMode ? 1 : 2; /* special kernel, normal kernel, user */
    trc_send(S, &e, "%s %s to thread %s",
             special ? "special kernel APC" : Apc->ApcMode == KernelMode ? "normal kernel APC" : "user APC",
             Apc->Name ? Apc->Name : "", t->name);
  }
  if (Apc->ApcMode == KernelMode) {
    if (t->state == THR_RUNNING && t->cpu != S->cur_cpu) {
      cpu_poke(S, t->cpu);
    } else if (t->state == THR_WAITING && t->wait_irql == PASSIVE_LEVEL && apc_kind_enabled(t, special)) {
      KiUnwaitThread(S, t, STATUS_KERNEL_APC);
    }
  } else if (t->state == THR_WAITING && t->wait_mode == UserMode && t->wait_alertable) {
    t->user_apc_pending = TRUE;
    KiUnwaitThread(S, t, STATUS_USER_APC);
  }
  sched_step(S, COST_STEP);
  return TRUE;
}

bool apc_deliverable(const PKTHREAD t) {
  const LIST_ENTRY *h = &t->apc[KernelMode];
  if (list_empty(h)) return false;
  const KAPC *a = CONTAINING_RECORD(h->Flink, KAPC, ApcListEntry);
  /* Queued means Inserted and on the queue of its own mode and thread. */
  SIM_ASSERT(a->Inserted && a->ApcMode == KernelMode && a->Thread == t);
  return apc_kind_enabled(t, apc_special(a));
}

/* Runs one APC: its kernel routine, then its normal routine if it still has
   one.  Everything is copied out first: the kernel routine may free the
   memory holding the APC (stage 2 frees the IRP that contains it). */
static void apc_run(sim_t *S, cpu_t *c, PKTHREAD t, PKAPC a, bool user) {
  KKERNEL_ROUTINE *kr = a->KernelRoutine;
  KNORMAL_ROUTINE *nr = a->NormalRoutine;
  PVOID nctx = a->NormalContext, a1 = a->SystemArgument1, a2 = a->SystemArgument2;
  uint32_t irp = a->IrpId;
  const char *name = a->Name ? a->Name : "APC";
  SIM_ASSERT(a->Inserted && a->Thread == t && a->ApcMode == (user ? UserMode : KernelMode));
  SIM_ASSERT(!t->kernel_apc_in_progress || apc_special(a) || user); /* a normal one waits */
  a->Inserted = FALSE;
  cpu_push_frame(S, c, TRC_FRAME_APC, APC_LEVEL);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_APC_RUN, NULL, NULL);
    e.irp = irp, e.target_thread = t->id, e.service = name;
    trc_send(S, &e, "%s in thread %s", name, t->name);
  }
  sched_step(S, COST_APC);
  kr(a, (PVOID *)&nr, &nctx, &a1, &a2);
  if (nr) {
    c->irql = PASSIVE_LEVEL; /* normal routines run at PASSIVE_LEVEL */
    if (user) {
      c->frames[c->depth].kind = TRC_FRAME_THREAD;
      if (trc_on(S)) {
        trc_event_t e = trc_ev(TRC_USER_CALLBACK, NULL, NULL);
        e.irp = irp, e.target_thread = t->id, e.service = name;
        trc_send(S, &e, "user-mode APC routine %s", name);
      }
    } else {
      t->kernel_apc_in_progress = true;
    }
    nr(nctx, a1, a2);
    t->kernel_apc_in_progress = false;
  }
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_APC_END, NULL, NULL);
    e.irp = irp, e.target_thread = t->id, e.service = name;
    trc_send(S, &e, "%s", name);
  }
  cpu_pop_frame(S, c);
}

void KiDeliverApc(sim_t *S, cpu_t *c, PKTHREAD t) {
  LIST_ENTRY *e = list_pop_head(&t->apc[KernelMode]);
  apc_run(S, c, t, CONTAINING_RECORD(e, KAPC, ApcListEntry), false);
}

int KiUserApcDispatcher(sim_t *S, PKTHREAD t) {
  int n = 0;
  LIST_ENTRY *e;
  t->user_apc_pending = FALSE;
  while ((e = list_pop_head(&t->apc[UserMode]))) {
    apc_run(S, t->cpu, t, CONTAINING_RECORD(e, KAPC, ApcListEntry), true);
    n++;
    if (S->stopping) break;
  }
  return n;
}

/* The way back to user mode from a system service (the service exit of
   trap.asm, which calls KiDeliverApc for user mode).  User APCs are
   delivered here only when UserApcPending is set: an alertable user-mode
   wait inside the service was broken by one (or found one queued).  A
   user APC queued while the thread was in a non-alertable wait, or was
   running, does not set it and stays queued for the next alertable wait.
   Delivering them here clears the flag, so no later non-alertable wait
   returns STATUS_USER_APC for an APC that was already due
   (kernel-facts 6.10).  Returns `status` unchanged. */
NTSTATUS KiServiceExit(sim_t *S, NTSTATUS status) {
  PKTHREAD t = thr_current(S);
  /* As KiSystemServiceExit: the APC state is checked first (ke/region.c;
     the I/O services check it themselves, naming the service). */
  KiCheckServiceExit(S, t, "a system service");
  if (t && t->user_apc_pending) KiUserApcDispatcher(S, t);
  return status;
}

/* KeFlushQueueApc: takes every APC of `mode` off the thread's queue (they
   are no longer inserted) and moves them onto `out`, in queue order. */
static void KeFlushQueueApc(PKTHREAD t, KPROCESSOR_MODE mode, LIST_ENTRY *out) {
  LIST_ENTRY *e;
  while ((e = list_pop_head(&t->apc[mode]))) {
    CONTAINING_RECORD(e, KAPC, ApcListEntry)->Inserted = FALSE;
    list_insert_tail(out, e);
  }
}

/* One flushed APC: its rundown routine frees what it carries (the IRP of
   a ReadFileEx completion); without one the APC is only dropped - Windows
   frees it as pool, iosim leaves its memory to whoever owns it. */
static void apc_rundown(sim_t *S, PKTHREAD t, PKAPC a) {
  KRUNDOWN_ROUTINE *rr = a->RundownRoutine;
  if (trc_on(S)) {
    bool special = apc_special(a);
    trc_event_t e = trc_ev(TRC_APC_RUNDOWN, NULL, NULL);
    e.irp = a->IrpId, e.target_thread = t->id, e.service = a->Name;
    e.count = special ? 0 : a->ApcMode == KernelMode ? 1 : 2; /* as apc-queued */
    trc_send(S, &e, "%s %s of exiting thread %s: %s", a->ApcMode == UserMode ? "user APC" : "kernel APC",
             a->Name ? a->Name : "", t->name, rr ? "its rundown routine runs" : "dropped (no rundown routine)");
  }
  if (rr) rr(a); /* may free the memory holding the APC */
  sched_step(S, COST_STEP);
}

void KiRundownThreadApcs(sim_t *S, PKTHREAD t) {
  /* At PASSIVE_LEVEL every kernel APC still queued is delivered before the
     thread may stop accepting new ones (PspExitThread runs at PASSIVE). */
  if (cpu_has_work(S, t->cpu)) cpu_service(S, t->cpu);
  t->ApcQueueable = false;
  LIST_ENTRY user;
  list_init(&user);
  KeFlushQueueApc(t, UserMode, &user);
  LIST_ENTRY *e;
  while ((e = list_pop_head(&user))) apc_rundown(S, t, CONTAINING_RECORD(e, KAPC, ApcListEntry));
  /* Windows stops with KERNEL_APC_PENDING_DURING_EXIT (0x20) if a kernel APC
     is still queued here; none can be: they were delivered above, and
     nothing can queue one now.  (A run being stopped delivers nothing.) */
  SIM_ASSERT(list_empty(&t->apc[KernelMode]) || S->stopping);
}
