/*
 * irp.c - IRPs: allocation from per-size pools, and the stack-location
 * helpers, which are the plain pointer arithmetic of wdm.h (no checks: a
 * driver that misuses them corrupts the IRP exactly as on Windows).
 */
#include "io/io.h"

/* Where the name of the next IRP waits (sim_tag_next_irp): the running
   thread's, or in a DPC or ISR the CPU's - never one slot for the machine,
   since on two CPUs another IRP may be allocated between a tag and the IRP
   it names. */
const char **irp_tag_slot(sim_t *S) {
  cpu_t *c = S->cur_cpu;
  if (!c) return &S->setup_irp_tag;
  if (c->thread && cpu_frame(c) == TRC_FRAME_THREAD) return &c->thread->next_irp_tag;
  return &c->next_irp_tag;
}

static size_t irp_size(int n) { return sizeof(IRP) + (size_t)n * sizeof(IO_STACK_LOCATION); }

sim_irp_info_t *irp_info(sim_t *S, uint32_t id) {
  if (!S->keep_irp_info || id == 0) return NULL;
  if (id >= S->irp_info_cap) {
    size_t old = S->irp_info_cap; /* indexed by id: the new slots start empty */
    VEC_RESERVE(S, S->irp_info, S->irp_info_cap, (size_t)id + 1);
    memset(S->irp_info + old, 0, (S->irp_info_cap - old) * sizeof *S->irp_info);
  }
  return &S->irp_info[id];
}

const sim_irp_info_t *sim_irp_info(const sim_t *S, uint32_t id) {
  if (id == 0 || id >= S->irp_info_cap || S->irp_info[id].id != id) return NULL;
  return &S->irp_info[id];
}

uint32_t sim_irp_count(const sim_t *S) { return S->next_irp_id; }

bool sim_irp_alive(sim_t *S, const IRP *irp, uint32_t id) {
  uintptr_t v;
  return id && ptrmap_get(&S->live_irp_ids, (const void *)(uintptr_t)id, &v) && v == (uintptr_t)irp;
}

/* The pool of IRPs with room for n locations: 1-8, 9-16, 17-32, 33-64, 65-128. */
static int irp_class(int n) {
  int k = 0;
  for (int room = 8; room < n; room *= 2) k++;
  return k;
}
static int irp_class_room(int k) { return 8 << k; }

PIRP irp_alloc(sim_t *S, int n, int major) {
  SIM_ASSERT(n >= 1 && n <= IRP_MAX_STACK);
  int k = irp_class(n);
  SIM_ASSERT(k < IRP_POOL_CLASSES);
  pool_t *p = &S->irp_pool[k];
  size_t size = irp_size(irp_class_room(k));
  PIRP irp;
  if (p->free) {
    irp = p->free;
    p->free = *(void **)irp;
    S->stats.bytes_live += size;
  } else {
    irp = mem_alloc(S, size);
  }
  memset(irp, 0, irp_size(n));
  irp->Size = (uint16_t)irp_size(n);
  irp->StackCount = (int8_t)n;
  irp->CurrentLocation = (int16_t)(n + 1);
  irp->Tail.Overlay.CurrentStackLocation = &irp->Stack[n];
  list_init(&irp->ThreadListEntry);
  irp->SimId = ++S->next_irp_id;
  irp->Sim = S;
  list_insert_tail(&S->live_irps, &irp->SimLink);
  ptrmap_put(S, &S->live_irp_ids, (const void *)(uintptr_t)irp->SimId, (uintptr_t)irp);
  S->stats.irps_allocated++;
  S->stats.irps_live++;
  sim_irp_info_t *in = irp_info(S, irp->SimId);
  if (in) {
    memset(in, 0, sizeof *in);
    in->id = irp->SimId;
    in->stack_count = n;
    in->issued_ns = S->now;
    in->thread = S->cur_cpu && S->cur_cpu->thread ? S->cur_cpu->thread->id : 0;
    in->tag = *irp_tag_slot(S);
  }
  *irp_tag_slot(S) = NULL;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRP_ALLOC, irp, NULL);
    e.stack_size = n;
    e.major = major;
    trc_send(S, &e, "%d stack location%s", n, n == 1 ? "" : "s");
  }
  return irp;
}

static void irp_release(sim_t *S, PIRP irp) {
  SIM_ASSERT(irp->Sim == S);
  if (irp->SimInWalk) S->freed_in_walk = irp->SimId; /* the walk must not go on with it */
  sim_irp_info_t *in = irp_info(S, irp->SimId);
  if (in) in->freed = true;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRP_FREE, irp, NULL);
    trc_send(S, &e, "IRP %u freed", irp->SimId);
  }
  int k = irp_class(irp->StackCount);
  size_t size = irp_size(irp_class_room(k));
  list_remove(&irp->SimLink);
  ptrmap_del(&S->live_irp_ids, (const void *)(uintptr_t)irp->SimId);
  S->stats.irps_freed++;
  S->stats.irps_live--;
#ifdef SIM_POOL_DEBUG
  mem_free(S, irp, size);
#else
  irp->Sim = NULL;
  pool_t *p = &S->irp_pool[k];
  *(void **)irp = p->free;
  p->free = irp;
  S->stats.bytes_live -= size;
#endif
}

/* The I/O manager's own frees: it takes an IRP off its thread's list
   before it lets go of it, so a queued IRP here is a bug in iosim. */
void irp_free(sim_t *S, PIRP irp) {
  SIM_ASSERT(list_empty(&irp->ThreadListEntry));
  /* Stage 2 released them already; an IRP run down without it (its
     thread gone) still holds its SystemBuffer and MDLs. */
  IopReleaseBuffers(S, irp);
  irp_release(S, irp);
}

void sim_tag_next_irp(const char *tag) { *irp_tag_slot(ctx_sim()) = tag; }

PIRP IoAllocateIrp(int8_t StackSize, BOOLEAN ChargeQuota) {
  (void)ChargeQuota;
  sim_t *S = ctx_sim();
  if (StackSize < 1) { /* no IRP has no stack location: the allocation fails */
    if (trc_on(S)) {
      trc_event_t e = trc_ev(TRC_IRP_ALLOC, NULL, NULL);
      e.stack_size = StackSize;
      e.service = "IoAllocateIrp";
      trc_send(S, &e, "IoAllocateIrp(%d): no such IRP, returns NULL", StackSize);
    }
    sched_step(S, COST_IRP_ALLOC);
    return NULL;
  }
  PIRP irp = irp_alloc(S, StackSize, -1);
  sched_step(S, COST_IRP_ALLOC);
  return irp;
}

void IoFreeIrp(PIRP Irp) {
  sim_t *S = Irp->Sim;
  /* Not irp_free: a driver freeing an IRP the I/O manager still has on its
     thread's list is a driver bug (the verifier's business), not iosim's.
     The SystemBuffer of an IoBuild...Request IRP that its completion
     routine frees goes with it (the driver has no way to free that block);
     its MDLs are the driver's to unlock and free first, as on Windows. */
  if ((Irp->Flags & IRP_DEALLOCATE_BUFFER) && Irp->AssociatedIrp.SystemBuffer) {
    mem_free(S, Irp->AssociatedIrp.SystemBuffer, Irp->SimSystemBufferLength);
    Irp->AssociatedIrp.SystemBuffer = NULL;
  }
  irp_release(S, Irp);
  sched_step(S, COST_IRP_FREE);
}

PIRP IoMakeAssociatedIrp(PIRP Master, int8_t StackSize) {
  sim_t *S = Master->Sim;
  if (StackSize < 1) return NULL;
  PIRP irp = irp_alloc(S, StackSize, -1);
  irp->Flags |= IRP_ASSOCIATED_IRP;
  irp->AssociatedIrp.MasterIrp = Master;
  irp->Tail.Overlay.Thread = Master->Tail.Overlay.Thread;
  sim_irp_info_t *in = irp_info(S, irp->SimId);
  if (in) in->master = Master->SimId;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_IRP_ASSOCIATED, irp, NULL);
    e.target_irp = Master->SimId;
    e.stack_size = StackSize;
    trc_send(S, &e, "IRP %u is an associated IRP of master IRP %u", irp->SimId, Master->SimId);
  }
  sched_step(S, COST_IRP_ALLOC);
  return irp;
}

/* The device that owns the IRP's current location, for the trace. */
static const DEVICE_OBJECT *irp_cur_dev(const IRP *irp) {
  return irp->CurrentLocation >= 1 && irp->CurrentLocation <= irp->StackCount
             ? irp->Tail.Overlay.CurrentStackLocation->DeviceObject
             : NULL;
}

/* The helpers are unchecked pointer arithmetic on Windows: misused, they
   write outside the IRP's locations.  Here that stops the machine rather
   than corrupting the simulator's memory. */
static void need_next(sim_t *S, const IRP *irp, const char *what) {
  if (irp->CurrentLocation - 1 < 1 || irp->CurrentLocation - 1 > irp->StackCount)
    bugcheck(S, NO_MORE_IRP_STACK_LOCATIONS, irp->SimId, (ULONG_PTR)irp->CurrentLocation, 0, 0,
             "%s on IRP %u with no next stack location (current %d of %d): the lowest driver has none",
             what, irp->SimId, irp->CurrentLocation, irp->StackCount);
}

static void need_current(sim_t *S, const IRP *irp, const char *what) {
  if (irp->CurrentLocation < 1 || irp->CurrentLocation > irp->StackCount)
    bugcheck(S, NO_MORE_IRP_STACK_LOCATIONS, irp->SimId, (ULONG_PTR)irp->CurrentLocation, 0, 0,
             "%s on IRP %u with no current stack location (location %d of %d): it would write outside the IRP",
             what, irp->SimId, irp->CurrentLocation, irp->StackCount);
}

PIO_STACK_LOCATION IoGetCurrentIrpStackLocation(PIRP Irp) { return Irp->Tail.Overlay.CurrentStackLocation; }
PIO_STACK_LOCATION IoGetNextIrpStackLocation(PIRP Irp) { return Irp->Tail.Overlay.CurrentStackLocation - 1; }

void IoSetNextIrpStackLocation(PIRP Irp) {
  Irp->CurrentLocation--;
  Irp->Tail.Overlay.CurrentStackLocation--;
}

void IoSkipCurrentIrpStackLocation(PIRP Irp) {
  sim_t *S = Irp->Sim;
  const DEVICE_OBJECT *dev = irp_cur_dev(Irp);
  Irp->CurrentLocation++;
  Irp->Tail.Overlay.CurrentStackLocation++;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SKIP_STACK, Irp, dev);
    e.loc_from = Irp->CurrentLocation - 1, e.loc_to = Irp->CurrentLocation - 1;
    e.writes = TRC_W_CURRENT_LOCATION;
    trc_send(S, &e, "location %d will be reused by the lower driver", Irp->CurrentLocation - 1);
  }
  sched_step(S, COST_STACK_OP);
}

void IoCopyCurrentIrpStackLocationToNext(PIRP Irp) {
  sim_t *S = Irp->Sim;
  need_current(S, Irp, "IoCopyCurrentIrpStackLocationToNext");
  need_next(S, Irp, "IoCopyCurrentIrpStackLocationToNext");
  PIO_STACK_LOCATION cur = Irp->Tail.Overlay.CurrentStackLocation, next = cur - 1;
  memcpy(next, cur, offsetof(IO_STACK_LOCATION, CompletionRoutine));
  next->Control = 0; /* pending and invoke-on bits are not inherited */
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_COPY_STACK, Irp, irp_cur_dev(Irp));
    e.loc_from = Irp->CurrentLocation, e.loc_to = Irp->CurrentLocation - 1;
    e.major = next->MajorFunction, e.minor = next->MinorFunction;
    e.control = next->Control;
    e.writes = TRC_W_LOCATION | TRC_W_CONTROL | TRC_W_COMPLETION;
    trc_send(S, &e, "location %d copied to %d", Irp->CurrentLocation, Irp->CurrentLocation - 1);
  }
  sched_step(S, COST_STACK_OP);
}

void IoSetCompletionRoutine(PIRP Irp, PIO_COMPLETION_ROUTINE Routine, PVOID Context,
                            BOOLEAN OnSuccess, BOOLEAN OnError, BOOLEAN OnCancel) {
  sim_t *S = Irp->Sim;
  need_next(S, Irp, "IoSetCompletionRoutine");
  PIO_STACK_LOCATION next = Irp->Tail.Overlay.CurrentStackLocation - 1;
  next->CompletionRoutine = Routine;
  next->Context = Context;
  next->Control = (UCHAR)((OnSuccess ? SL_INVOKE_ON_SUCCESS : 0) | (OnError ? SL_INVOKE_ON_ERROR : 0) |
                          (OnCancel ? SL_INVOKE_ON_CANCEL : 0));
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SET_COMPLETION, Irp, irp_cur_dev(Irp));
    e.loc_to = Irp->CurrentLocation - 1;
    e.control = next->Control;
    e.routine_device = irp_cur_dev(Irp) ? irp_cur_dev(Irp)->SimId : 0;
    e.writes = TRC_W_COMPLETION | TRC_W_CONTROL;
    trc_send(S, &e, "in location %d, invoke on%s%s%s", Irp->CurrentLocation - 1, OnSuccess ? " success" : "",
             OnError ? " error" : "", OnCancel ? " cancel" : "");
  }
  sched_step(S, COST_STACK_OP);
}

void IoMarkIrpPending(PIRP Irp) {
  sim_t *S = Irp->Sim;
  need_current(S, Irp, "IoMarkIrpPending");
  Irp->Tail.Overlay.CurrentStackLocation->Control |= SL_PENDING_RETURNED;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_MARK_PENDING, Irp, irp_cur_dev(Irp));
    e.loc_to = Irp->CurrentLocation;
    e.control = Irp->Tail.Overlay.CurrentStackLocation->Control;
    e.writes = TRC_W_CONTROL;
    trc_send(S, &e, "SL_PENDING_RETURNED set in location %d", Irp->CurrentLocation);
  }
  sched_step(S, COST_STACK_OP);
}

PDRIVER_CANCEL IoSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL Routine) {
  sim_t *S = Irp->Sim;
  PDRIVER_CANCEL old = Irp->CancelRoutine;
  Irp->CancelRoutine = Routine;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SET_CANCEL, Irp, irp_cur_dev(Irp));
    e.cancel_routine = Routine != NULL;
    e.writes = TRC_W_CANCEL_ROUTINE;
    trc_send(S, &e, "%s", Routine ? "cancel routine set" : "cancel routine cleared");
  }
  sched_step(S, COST_STACK_OP);
  return old;
}
