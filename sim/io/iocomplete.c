/*
 * iocomplete.c - IofCompleteRequest.  Stage 1 walks the stack locations
 * upward in any context at IRQL <= DISPATCH_LEVEL, calling completion
 * routines and propagating the pending mark; STATUS_MORE_PROCESSING_REQUIRED
 * stops it.  Stage 2 (IopCompleteRequest) runs in the issuing thread, inline
 * when the dispatch did not pend, otherwise as a special kernel APC.  Cleanup
 * and close IRPs (IRP_CLOSE_OPERATION) have no stage 2: stage 1 copies their
 * status and sets their event, and NtClose frees them.
 */
#include "io/io.h"

static void io_stage2_apc(PKAPC Apc, PVOID *Normal, PVOID *NormalCtx, PVOID *A1, PVOID *A2);
static void io_stage2_rundown(PKAPC Apc);

void IopQueueIrpToThread(sim_t *S, PIRP irp, PKTHREAD t) {
  list_insert_head(&t->irp_list, &irp->ThreadListEntry);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRP_QUEUE_THREAD, irp, NULL);
    e.target_thread = t->id;
    e.writes = TRC_W_THREAD_LIST;
    trc_send(S, &e, "on %s's IRP list", t->name);
  }
}

void IopUnQueueIrpFromThread(sim_t *S, PIRP irp) {
  if (list_empty(&irp->ThreadListEntry)) return;
  list_remove(&irp->ThreadListEntry);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRP_UNQUEUE_THREAD, irp, NULL);
    /* Done in the owning thread's context (stage 2 or its rundown): by now
       Tail.Apc may have overwritten Tail.Overlay.Thread. */
    e.target_thread = S->cur_cpu && S->cur_cpu->thread ? S->cur_cpu->thread->id : 0;
    e.writes = TRC_W_THREAD_LIST;
    trc_send(S, &e, "off the thread's IRP list");
  }
}

/* What the walk wipes in a location it leaves. */
static void IopClearStackLocation(PIO_STACK_LOCATION sp) {
  sp->MinorFunction = 0;
  sp->Flags = 0;
  sp->Control &= SL_ERROR_RETURNED;
  sp->Parameters.Others.Argument1 = sp->Parameters.Others.Argument2 = NULL;
  sp->Parameters.Others.Argument3 = NULL;
  sp->FileObject = NULL;
}

static void complete_checks(sim_t *S, PIRP irp) {
  cpu_t *c = S->cur_cpu;
  if (irp->CurrentLocation > irp->StackCount + 1)
    bugcheck(S, MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)irp->SimId, 0, 0, 0,
             "IRP %u completed again after its completion had finished", irp->SimId);
  if (irp->IoStatus.Status == STATUS_PENDING)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x06, (ULONG_PTR)irp->SimId, 0, 0,
             "IRP %u completed with STATUS_PENDING", irp->SimId);
  if (c->irql > DISPATCH_LEVEL)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x0E, (ULONG_PTR)irp->SimId, c->irql, 0,
             "IRP %u completed at IRQL %d, above DISPATCH_LEVEL", irp->SimId, c->irql);
  if (irp->CancelRoutine)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x07, (ULONG_PTR)irp->SimId, 0, 0,
             "IRP %u completed with its cancel routine still set", irp->SimId);
}

/* The walk's trace rows, out of line: complete_level's frame is on the
   stack once per routine that completes another IRP, so it stays small. */
static __attribute__((noinline)) void trace_propagated(sim_t *S, PIRP irp) {
  trc_event_t e = trc_ev(TRC_PENDING_PROPAGATED, irp, NULL);
  e.loc_from = irp->CurrentLocation - 1, e.loc_to = irp->CurrentLocation;
  e.control = irp->Tail.Overlay.CurrentStackLocation->Control;
  e.pending_returned = 1;
  e.writes = TRC_W_CONTROL | TRC_W_PENDING_RETURNED;
  trc_send(S, &e, "no routine in location %d: pending mark copied up to location %d", irp->CurrentLocation - 1,
           irp->CurrentLocation);
}

static __attribute__((noinline)) void trace_routine_call(sim_t *S, PIRP irp, PDEVICE_OBJECT dev,
                                                         const IO_STACK_LOCATION *sp) {
  int where = irp->CurrentLocation;
  trc_event_t e = trc_ev(TRC_COMPLETION_CALL, irp, dev);
  trc_set_status(&e, irp->IoStatus.Status);
  e.loc_from = where - 1, e.loc_to = where;
  e.control = sp->Control;
  e.pending_returned = irp->PendingReturned;
  e.routine_device = dev ? dev->SimId : 0;
  e.has_info = 1, e.info = irp->IoStatus.Information;
  e.writes = TRC_W_PENDING_RETURNED | TRC_W_CURRENT_LOCATION;
  trc_send(S, &e, "routine in location %d for %s, PendingReturned=%d", where - 1,
           dev ? dev->SimName : "the IRP's creator", irp->PendingReturned);
}

/* After the routine: by number (an MPR routine may have freed the IRP). */
static __attribute__((noinline)) void trace_routine_return(sim_t *S, PIRP irp, uint32_t id, int where,
                                                           PDEVICE_OBJECT dev, NTSTATUS r) {
  char sb[16];
  trc_event_t e = trc_ev(TRC_COMPLETION_RETURN, NULL, dev);
  e.irp = id, e.stack_location = where, e.routine_device = dev ? dev->SimId : 0;
  trc_set_status(&e, r);
  if (r != STATUS_MORE_PROCESSING_REQUIRED) {
    e.stack_location = irp->CurrentLocation;
    e.pending_returned = irp->PendingReturned;
    trc_send(S, &e, "%s", iosim_status_name(r, sb));
    return;
  }
  trc_send(S, &e, "%s", iosim_status_name(r, sb));
  e = trc_ev(TRC_WALK_STOPPED, NULL, dev);
  e.irp = id, e.stack_location = where, e.loc_to = where, e.routine_device = dev ? dev->SimId : 0;
  trc_set_status(&e, r);
  trc_send(S, &e, "the routine owns IRP %u again; the walk stops at location %d", id, where);
}

/* One level of the walk: `sp` is the location below the new current one.
   Returns false when a completion routine took the IRP back (MPR). */
static bool complete_level(sim_t *S, PIRP irp, PIO_STACK_LOCATION sp) {
  irp->PendingReturned = (sp->Control & SL_PENDING_RETURNED) != 0;
  NTSTATUS st = irp->IoStatus.Status;
  bool call = sp->CompletionRoutine &&
              ((NT_SUCCESS(st) && (sp->Control & SL_INVOKE_ON_SUCCESS)) ||
               (!NT_SUCCESS(st) && (sp->Control & SL_INVOKE_ON_ERROR)) ||
               (irp->Cancel && (sp->Control & SL_INVOKE_ON_CANCEL)));
  if (!call) {
    if (irp->PendingReturned && irp->CurrentLocation <= irp->StackCount) {
      irp->Tail.Overlay.CurrentStackLocation->Control |= SL_PENDING_RETURNED;
      if (trc_on(S)) trace_propagated(S, irp);
    }
    IopClearStackLocation(sp);
    return true;
  }
  IopClearStackLocation(sp);
  ke_check_stack(S, "IoCompleteRequest, calling a completion routine");
  PDEVICE_OBJECT dev = irp->CurrentLocation == irp->StackCount + 1
                           ? NULL
                           : irp->Tail.Overlay.CurrentStackLocation->DeviceObject;
  uint32_t id = irp->SimId;
  int where = irp->CurrentLocation;
  char sb[16];
  if (trc_on(S)) trace_routine_call(S, irp, dev, sp);
  sched_step(S, COST_COMPLETION_ROUTINE);
  irp->SimInWalk = true;
  NTSTATUS r = sp->CompletionRoutine(dev, irp, sp->Context);
  bool freed = S->freed_in_walk == id;
  if (freed) S->freed_in_walk = 0;
  else irp->SimInWalk = false;
  if (!freed && r == STATUS_MORE_PROCESSING_REQUIRED) irp->SimCompleting = false; /* the routine owns it again */
  if (freed && r != STATUS_MORE_PROCESSING_REQUIRED)
    bugcheck(S, DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x20A, id, (ULONG_PTR)r, 0,
             "IRP %u was freed by its completion routine, which then returned %s: the I/O manager would go on "
             "completing a freed IRP (free it only together with STATUS_MORE_PROCESSING_REQUIRED)",
             id, iosim_status_name(r, sb));
  if (trc_on(S)) trace_routine_return(S, irp, id, where, dev, r);
  return r != STATUS_MORE_PROCESSING_REQUIRED;
}

/* Copies the IRP's status into the requester's I/O status block (WRK
   stores Information before Status, kernel-facts 5.2.4). */
static void io_write_iosb(sim_t *S, PIRP irp) {
  if (!irp->UserIosb) return;
  irp->UserIosb->Information = irp->IoStatus.Information;
  irp->UserIosb->Status = irp->IoStatus.Status;
  if (trc_on(S)) {
    char sb[16];
    trc_event_t e = trc_ev(TRC_IOSB_WRITTEN, irp, NULL);
    trc_set_status(&e, irp->IoStatus.Status);
    e.has_info = 1, e.info = irp->IoStatus.Information;
    e.writes = TRC_W_USER_IOSB;
    trc_send(S, &e, "I/O status block = {%s, %llu}", iosim_status_name(irp->IoStatus.Status, sb),
             (unsigned long long)irp->IoStatus.Information);
  }
}

/* After the walk: an associated IRP counts down its master; others go to
   stage 2, inline (deferred) or as a special kernel APC to their thread. */
static void complete_after_walk(sim_t *S, PIRP irp, int8_t boost) {
  if (irp->Flags & IRP_ASSOCIATED_IRP) {
    PIRP master = irp->AssociatedIrp.MasterIrp;
    int32_t left = --master->AssociatedIrp.IrpCount;
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_ASSOCIATED_DONE, irp, NULL);
      e.count = left;
      e.target_irp = master->SimId;
      trc_send(S, &e, "associated IRP done; master IRP %u has %d left", master->SimId, left);
    }
    irp_free(S, irp);
    if (left == 0) IofCompleteRequest(master, boost);
    return;
  }
  if (irp->Flags & IRP_CLOSE_OPERATION) {
    /* WRK IopfCompleteRequest: a cleanup or close IRP may be completed
       while its thread runs a stage-2 APC (the one that dropped the file
       object's last reference), so no APC can finish it: the status block
       and the event are written here, in whatever context completes it,
       and the IRP is not touched again - the thread waiting in NtClose
       takes it off its list and frees it. */
    io_write_iosb(S, irp);
    KeSetEvent(irp->UserEvent, boost, FALSE);
    return;
  }
  /* WRK IopfCompleteRequest: the MDLs' pages are unlocked before stage 2
     (which frees the MDLs). */
  IopUnlockMdls(irp);
  if ((irp->Flags & IRP_DEFER_IO_COMPLETION) && !irp->PendingReturned) return;
  irp->SimStage2Queued = true;
  /* Thread-agnostic I/O: a request that pended goes to the port from here,
     with no APC.  One that did not pend (an IOCTL, which is not deferred)
     is still inside its system service in the issuing thread: stage 2 runs
     there as for any IRP, so the full-or-reduced rule decides (kernel-facts
     5.2.3) and the status block is written before the service returns. */
  if (irp->SimPortBound && irp->PendingReturned) {
    /* No APC will run in the issuer: the buffered copy-back is done here
       (the simulated program has one address space). */
    IopCompleteBuffers(S, irp);
    port_queue_irp(S, irp, false);
    return;
  }
  PKTHREAD t = irp->Tail.Overlay.Thread;
  PFILE_OBJECT fo = irp->Tail.Overlay.OriginalFileObject;
  if (!t) {
    /* A driver's own IRP (IoAllocateIrp: no thread) that no completion
       routine took back with STATUS_MORE_PROCESSING_REQUIRED.  Windows goes
       on to initialise the stage-2 APC for Tail.Overlay.Thread, which is
       NULL: a kernel-mode access violation (iosim has no disowned threads,
       the one case where Windows drops such an IRP). */
    uint32_t id = irp->SimId;
    if (S->cur_cpu->irql >= DISPATCH_LEVEL)
      bugcheck(S, IRQL_NOT_LESS_OR_EQUAL, 0x70, S->cur_cpu->irql, 0, (ULONG_PTR)id,
               "IRP %u was allocated by a driver (no thread) and came back to the top of its stack without "
               "STATUS_MORE_PROCESSING_REQUIRED: stage 2 queues its APC to Tail.Overlay.Thread, which is NULL "
               "(a page fault at DISPATCH_LEVEL). Its completion routine must free it and return "
               "STATUS_MORE_PROCESSING_REQUIRED", id);
    bugcheck(S, KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(uint32_t)STATUS_ACCESS_VIOLATION, 0, 0x70, (ULONG_PTR)id,
             "IRP %u was allocated by a driver (no thread) and came back to the top of its stack without "
             "STATUS_MORE_PROCESSING_REQUIRED: stage 2 queues its APC to Tail.Overlay.Thread, which is NULL "
             "(an access violation in kernel mode). Its completion routine must free it and return "
             "STATUS_MORE_PROCESSING_REQUIRED", id);
  }
  uint32_t id = irp->SimId;
  PKAPC apc = &irp->Tail.Apc; /* shares storage with Tail.Overlay: read first */
  KeInitializeApc(apc, t, io_stage2_apc, io_stage2_rundown, NULL, KernelMode, NULL);
  apc->Name = "IopCompleteRequest";
  apc->IrpId = id;
  KeInsertQueueApc(apc, fo, NULL, boost);
}

static __attribute__((noinline)) void trace_complete(sim_t *S, PIRP Irp) {
  char sb[16];
  PDEVICE_OBJECT by =
      Irp->CurrentLocation <= Irp->StackCount ? Irp->Tail.Overlay.CurrentStackLocation->DeviceObject : NULL;
  trc_event_t e = trc_ev(TRC_COMPLETE, Irp, by);
  trc_set_status(&e, Irp->IoStatus.Status);
  e.has_info = 1, e.info = Irp->IoStatus.Information;
  e.loc_from = Irp->CurrentLocation;
  e.control = Irp->CurrentLocation <= Irp->StackCount ? Irp->Tail.Overlay.CurrentStackLocation->Control : -1;
  trc_send(S, &e, "IoCompleteRequest(%s, %llu bytes)", iosim_status_name(Irp->IoStatus.Status, sb),
           (unsigned long long)Irp->IoStatus.Information);
}

static __attribute__((noinline)) void trace_walk_done(sim_t *S, PIRP Irp) {
  bool close_op = (Irp->Flags & IRP_CLOSE_OPERATION) && !(Irp->Flags & IRP_ASSOCIATED_IRP);
  bool inline_next = !close_op && (Irp->Flags & IRP_DEFER_IO_COMPLETION) && !Irp->PendingReturned;
  trc_event_t e = trc_ev(TRC_WALK_DONE, Irp, NULL);
  trc_set_status(&e, Irp->IoStatus.Status);
  e.target_thread = Irp->Tail.Overlay.Thread ? Irp->Tail.Overlay.Thread->id : 0; /* whom stage 2 is for */
  e.has_info = 1, e.info = Irp->IoStatus.Information;
  e.pending_returned = Irp->PendingReturned;
  e.stage2 = inline_next ? TRC_STAGE2_INLINE : TRC_STAGE2_NONE;
  trc_send(S, &e, "walk finished, PendingReturned=%d%s", Irp->PendingReturned,
           close_op      ? ": a close operation, no stage 2 (status block and event set here)"
           : inline_next ? ": the system service finishes it inline"
                         : "");
}

void IofCompleteRequest(PIRP Irp, int8_t PriorityBoost) {
  sim_t *S = Irp->Sim;
  /* A second completion while the first still walks up the stack (a DPC
     and a cancel routine on two CPUs that both think they own the IRP):
     the two walks would share one IRP and its stage-2 APC, and the first to
     finish frees it under the other.  Windows' own test (CurrentLocation
     past the top) cannot see it yet; iosim stops here with the same code
     rather than run on a freed IRP (docs/exploration.md). */
  if (Irp->SimCompleting)
    bugcheck(S, MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)Irp->SimId, 0, 0, 0,
             "IRP %u completed again while its first completion was still walking up the stack", Irp->SimId);
  complete_checks(S, Irp);
  Irp->SimCompleting = true;
  if (trc_on(S)) trace_complete(S, Irp);
  sched_step(S, COST_COMPLETE);
  for (;;) {
    Irp->CurrentLocation++;
    Irp->Tail.Overlay.CurrentStackLocation++;
    if (Irp->CurrentLocation > Irp->StackCount + 1) break;
    if (!complete_level(S, Irp, Irp->Tail.Overlay.CurrentStackLocation - 1)) return;
  }
  Irp->SimCompleting = false;
  Irp->SimCompletes++;
  sim_irp_info_t *in = irp_info(S, Irp->SimId);
  if (in) {
    in->completed = true;
    in->final = Irp->IoStatus;
    in->pending_returned = Irp->PendingReturned;
    in->completed_ns = S->now;
  }
  if (trc_on(S)) trace_walk_done(S, Irp);
  complete_after_walk(S, Irp, PriorityBoost);
}

/* ---- stage 2 ---- */

static void io_user_apc_kernel(PKAPC Apc, PVOID *Normal, PVOID *NormalCtx, PVOID *A1, PVOID *A2) {
  (void)Normal, (void)NormalCtx, (void)A1, (void)A2;
  PIRP irp = CONTAINING_RECORD(Apc, IRP, Tail.Apc);
  irp_free(irp->Sim, irp);
}

static void io_user_apc_normal(PVOID Ctx, PVOID Iosb, PVOID Routine) {
  IO_APC_ROUTINE *r = (IO_APC_ROUTINE *)Routine;
  r(Ctx, Iosb, 0);
}

static void io_user_apc_rundown(PKAPC Apc) {
  PIRP irp = CONTAINING_RECORD(Apc, IRP, Tail.Apc);
  irp_free(irp->Sim, irp);
}

static void io_signal_file(sim_t *S, PFILE_OBJECT fo, NTSTATUS st) {
  (void)S;
  fo->FinalStatus = st;
  KeSetEvent(&fo->Event, 0, FALSE);
}

/* Full notification's events: the caller's event if it gave one (and, for
   a synchronous file object, the file object's too), else the file
   object's.  FILE_SKIP_SET_EVENT_ON_HANDLE leaves the file object's event
   alone, except when the I/O manager itself is going to wait on it: a
   synchronous request that pended (kernel-facts 7.8). */
static void io_signal_full(sim_t *S, PIRP irp, PFILE_OBJECT fo, NTSTATUS st, bool sync) {
  bool file = fo && (!irp->UserEvent || (fo->Flags & FO_SYNCHRONOUS_IO));
  if (file && (fo->Flags & FO_SKIP_SET_EVENT) && !(sync && irp->PendingReturned)) file = false;
  if (irp->UserEvent) KeSetEvent(irp->UserEvent, 0, FALSE);
  if (file) io_signal_file(S, fo, st);
}

/* IopCompleteRequest: copy the status to the caller, signal, notify.  A
   thread-agnostic IRP reaches it only when it did not pend (one that
   pended went to the port from stage 1): the status block is written now,
   before the system service returns, and the IRP still becomes the port's
   packet unless the handle skips the port on success (kernel-facts 5.4,
   7.8). */
void IopCompleteRequest(sim_t *S, PIRP irp, trc_stage2_t how) {
  PFILE_OBJECT fo = irp->Tail.Overlay.OriginalFileObject;
  NTSTATUS st = irp->IoStatus.Status;
  bool sync = (irp->Flags & IRP_SYNCHRONOUS_API) || (fo && (fo->Flags & FO_SYNCHRONOUS_IO));
  bool full = !NT_ERROR(st) || (irp->PendingReturned && !sync);
  /* FO_SKIP_COMPLETION_PORT: finished at once with a status that is not
     an error, so the caller learns the result from the service itself. */
  bool skip_port = full && irp->SimPortBound && !irp->PendingReturned && fo && (fo->Flags & FO_SKIP_COMPLETION_PORT);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_STAGE2, irp, NULL);
    trc_set_status(&e, st);
    e.has_info = 1, e.info = irp->IoStatus.Information;
    e.stage2 = how;
    e.pending_returned = irp->PendingReturned;
    e.count = full; /* 1: full notification (status block, event, APC or packet) */
    /* Stage 2 runs in the requester's thread (Tail.Overlay.Thread may be
       overwritten by Tail.Apc by now). */
    e.target_thread = S->cur_cpu && S->cur_cpu->thread ? S->cur_cpu->thread->id : 0;
    e.file = fo ? fo->SimId : 0;
    trc_send(S, &e, "IopCompleteRequest: %s notification%s", full ? "full" : "no",
             skip_port ? ", no port packet (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)" : "");
  }
  sched_step(S, COST_STAGE2);
  /* First the caller's buffer: a buffered input operation's bytes are
     copied back, whatever notification follows (kernel-facts 14). */
  IopCompleteBuffers(S, irp);
  if (full) {
    io_write_iosb(S, irp);
    io_signal_full(S, irp, fo, st, sync);
    IopUnQueueIrpFromThread(S, irp);
    IO_APC_ROUTINE *ur = irp->AsynchronousParameters.UserApcRoutine;
    if (ur) {
      PVOID uctx = irp->AsynchronousParameters.UserApcContext;
      PKTHREAD t = S->cur_cpu->thread;
      uint32_t id = irp->SimId;
      KeInitializeApc(&irp->Tail.Apc, t, io_user_apc_kernel, io_user_apc_rundown,
                      io_user_apc_normal, UserMode, uctx);
      irp->Tail.Apc.Name = "ReadFileEx completion";
      irp->Tail.Apc.IrpId = id;
      KeInsertQueueApc(&irp->Tail.Apc, irp->UserIosb, (PVOID)ur, 2);
      return;
    }
    if (irp->SimPortBound && !skip_port) { /* the packet; freed when dequeued */
      port_queue_irp(S, irp, true);
      return;
    }
    irp_free(S, irp);
    return;
  }
  if (irp->PendingReturned && fo) {
    if (irp->Flags & IRP_SYNCHRONOUS_API) {
      if (irp->UserIosb) *irp->UserIosb = irp->IoStatus;
      if (irp->UserEvent) KeSetEvent(irp->UserEvent, 0, FALSE);
      else io_signal_file(S, fo, st);
    } else {
      io_signal_file(S, fo, st);
    }
  }
  IopUnQueueIrpFromThread(S, irp);
  irp_free(S, irp);
}

static void io_stage2_apc(PKAPC Apc, PVOID *Normal, PVOID *NormalCtx, PVOID *A1, PVOID *A2) {
  (void)Normal, (void)NormalCtx, (void)A2;
  PIRP irp = CONTAINING_RECORD(Apc, IRP, Tail.Apc);
  /* Tail.Apc overwrote Tail.Overlay: restore the file object the APC carried. */
  irp->Tail.Overlay.OriginalFileObject = *A1;
  IopCompleteRequest(irp->Sim, irp, TRC_STAGE2_APC);
}

static void io_stage2_rundown(PKAPC Apc) {
  PIRP irp = CONTAINING_RECORD(Apc, IRP, Tail.Apc);
  IopUnQueueIrpFromThread(irp->Sim, irp);
  irp_free(irp->Sim, irp);
}
