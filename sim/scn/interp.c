/*
 * interp.c - scripted drivers: the C dispatch, completion, ISR and DPC
 * routines that run a driver's operations from its scenario file, one
 * traced kernel call at a time; one function per operation, reached
 * through a table indexed by the operation's kind.  The operations are
 * read-only: what a run changes lives in the run state (run_int.h).
 */
#include "iosim/vec.h"
#include "run_int.h"

typedef struct exec {
  run_state_t *rs;
  scr_dev_t *dx;
  PDEVICE_OBJECT dev;
  PIRP irp;
  PIRP orig;
  uint32_t irp_id, orig_id; /* what they were when taken in hand */
  int64_t context;       /* a completion routine's context value */
  PDEVICE_OBJECT arg_dev; /* the routine's DeviceObject argument */
  bool cancel_owned;     /* the last set/clear-cancel swapped a routine out */
  /* a fast I/O routine's request (no IRP): */
  PFILE_OBJECT fast_fo;
  LONGLONG fast_off;
  ULONG fast_len;
  PIO_STATUS_BLOCK fast_iosb;
  bool fast_handled;
  const routine_t *r;
  NTSTATUS lower;
  bool completed;        /* this routine completed its IRP: do not touch it */
  NTSTATUS completed_with;
  bool returned;
  NTSTATUS ret;
  bool ret_more;
} exec_t;

static const routine_t *find_routine(const driver_decl_t *d, routine_kind_t k, const char *name) {
  for (const routine_t *r = d->routines; r; r = r->next)
    if (r->kind == k && (!name || !strcmp(r->name, name))) return r;
  return NULL;
}

static scr_queue_t *dev_queue(scr_dev_t *dx, const char *name) {
  for (int i = 0; i < dx->nq; i++)
    if (!strcmp(dx->q[i].name, name)) return &dx->q[i];
  if (dx->nq == SCR_MAX_QUEUES) return NULL;
  scr_queue_t *q = &dx->q[dx->nq++];
  q->name = name;
  q->n = 0;
  return q;
}

static scr_counter_t *dev_counter(scr_dev_t *dx, const char *name) {
  for (int i = 0; i < dx->nc; i++)
    if (!strcmp(dx->c[i].name, name)) return &dx->c[i];
  if (dx->nc == SCR_MAX_COUNTERS) return &dx->c[SCR_MAX_COUNTERS - 1];
  dx->c[dx->nc].name = name;
  dx->c[dx->nc].value = 0;
  return &dx->c[dx->nc++];
}

static bool status_matches(const cond_t *c, NTSTATUS st) {
  bool eq = c->status_class == STC_SUCCESS ? NT_SUCCESS(st)
          : c->status_class == STC_ERROR   ? !NT_SUCCESS(st)
                                           : st == (NTSTATUS)c->value;
  return c->cmp == CMP_EQ ? eq : !eq;
}

static PIRP queue_head(exec_t *x, scr_queue_t *q, uint32_t *id);

/* The file and byte range in question: the fast I/O request, or the IRP's. */
static bool request_range(const exec_t *x, PFILE_OBJECT *fo, LONGLONG *off, ULONG *len) {
  if (x->fast_fo) {
    *fo = x->fast_fo, *off = x->fast_off, *len = x->fast_len;
    return true;
  }
  PIRP irp = x->irp;
  if (!irp || !sim_irp_alive(x->rs->S, irp, x->irp_id) || irp->CurrentLocation < 1 ||
      irp->CurrentLocation > irp->StackCount)
    return false; /* gone, or no current location to read */
  PIO_STACK_LOCATION s = IoGetCurrentIrpStackLocation(irp);
  *fo = s->FileObject, *off = s->Parameters.Read.ByteOffset.QuadPart, *len = s->Parameters.Read.Length;
  return *fo != NULL;
}

/* Whether an operation reads or writes the IRP (set-status, queue, a test
   of its status, PendingReturned or Cancel): what the verifier watches once
   the IRP's completion is over. */
static bool op_touches(const op_t *o) {
  if (o->kind == OP_SET_STATUS || o->kind == OP_QUEUE) return true;
  if (o->kind == OP_IF) {
    int k = o->branch.cond.kind;
    return k == COND_PENDING_RETURNED || k == COND_STATUS || k == COND_CANCEL;
  }
  return false;
}

/* A traced scripted step, carrying the operation's own words. */
static uint32_t irp_num(const IRP *irp) { return irp ? irp->SimId : 0; }
#define scr_trace(o, irp, dev, ...) sim_trace_script(irp_num(irp), (dev), (o)->text, op_touches(o), __VA_ARGS__)

static bool cond_eval(exec_t *x, const cond_t *c) {
  bool v = false;
  switch (c->kind) {
  case COND_PENDING_RETURNED: v = x->irp && x->irp->PendingReturned; break;
  case COND_CANCEL: v = x->irp && x->irp->Cancel; break;
  case COND_HAS_IRP: v = x->irp != NULL; break;
  case COND_STATUS: v = x->irp && status_matches(c, x->irp->IoStatus.Status); break;
  case COND_LOWER_STATUS: v = status_matches(c, x->lower); break;
  case COND_CONTEXT: v = cmp_eval(c->cmp, x->context, c->value); break;
  case COND_CANCEL_OWNED: v = x->cancel_owned; break;
  case COND_DEVICE_OBJECT: {
    bool same = c->name ? x->arg_dev && !strcmp(x->arg_dev->SimName, c->name) : !x->arg_dev;
    v = c->cmp == CMP_EQ ? same : !same;
    break;
  }
  case COND_CACHED:
  case COND_LOCKED: {
    PFILE_OBJECT fo;
    LONGLONG off;
    ULONG len;
    if (!request_range(x, &fo, &off, &len)) break;
    v = c->kind == COND_CACHED ? sim_cache_covers(fo, off, len) : sim_range_locked(fo, off, len);
    break;
  }
  case COND_COUNTER: v = cmp_eval(c->cmp, dev_counter(x->dx, c->name)->value, c->value); break;
  case COND_QUEUE_EMPTY: {
    scr_queue_t *q = dev_queue(x->dx, c->name);
    uint32_t id;
    v = !q || !queue_head(x, q, &id);
    break;
  }
  }
  return c->negate ? !v : v;
}

static scr_cctx_t *cctx_new(run_state_t *rs) {
  scr_cctx_t *c = rs->free_cctx;
  if (c) rs->free_cctx = c->next_free;
  else c = ar_alloc(&rs->ar, sizeof *c);
  return c;
}

static IO_COMPLETION_ROUTINE scr_completion;

static ULONG_PTR info_value(const op_status_t *st, PIRP irp) {
  if (st->info == INFO_LENGTH) return IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
  return (ULONG_PTR)st->info_bytes;
}

static void set_status(const exec_t *x, const op_status_t *st, PIRP irp) {
  if (st->has_status) irp->IoStatus.Status = st->from_lower ? x->lower : st->status;
  if (st->info != INFO_KEEP) irp->IoStatus.Information = info_value(st, irp);
}

static void exec_ops(exec_t *x, const op_t *o);
static DRIVER_CANCEL scr_cancel;

/* An operation that needs an IRP but has none (an empty dequeue) is
   reported and skipped rather than crashing the simulator. */
static void take_irp(exec_t *x, PIRP irp) {
  x->irp = irp;
  x->irp_id = irp ? irp->SimId : 0;
}

/* An operation needs an IRP in hand that still exists.  A script that
   touches an IRP after it was freed (a bug the verifier reports) is shown
   the step, but the simulator never reads freed memory. */
static bool need_irp(exec_t *x, const op_t *o, PIRP irp) {
  if (!irp) {
    scr_trace(o, NULL, x->dev, "%s: skipped, no IRP in hand", o->text);
    return false;
  }
  uint32_t id = irp == x->irp ? x->irp_id : irp == x->orig ? x->orig_id : 0;
  if (id && !sim_irp_alive(x->rs->S, irp, id)) {
    sim_trace_script(id, x->dev, o->text, true, "%s: IRP %u no longer exists (freed): skipped", o->text, id);
    return false;
  }
  return true;
}

/* Operations on the current stack location need one: after the walk has
   finished (or before the IRP was ever sent) there is none, and writing
   there would land past the IRP's locations. */
static bool need_location(exec_t *x, const op_t *o, PIRP irp) {
  if (!need_irp(x, o, irp)) return false;
  if (irp->CurrentLocation >= 1 && irp->CurrentLocation <= irp->StackCount) return true;
  sim_trace_script(irp->SimId, x->dev, o->text, true,
                   "%s: IRP %u has no current stack location here (its completion finished): skipped", o->text,
                   irp->SimId);
  return false;
}

/* Removes `irp` from queue q if it is there. */
static bool queue_take(scr_queue_t *q, PIRP irp) {
  for (int i = 0; i < q->n; i++)
    if (q->v[i].irp == irp) {
      memmove(&q->v[i], &q->v[i + 1], sizeof q->v[0] * (size_t)(q->n - i - 1));
      q->n--;
      return true;
    }
  return false;
}

static bool queue_put(scr_queue_t *q, PIRP irp) {
  if (q->n == SCR_QUEUE_CAP) return false;
  q->v[q->n].irp = irp;
  q->v[q->n++].id = irp->SimId;
  return true;
}

/* The head of the queue that still exists; entries whose IRP was freed
   while queued are dropped (and traced: the driver completed an IRP it had
   left in its queue). */
static PIRP queue_head(exec_t *x, scr_queue_t *q, uint32_t *id) {
  while (q->n) {
    if (sim_irp_alive(x->rs->S, q->v[0].irp, q->v[0].id)) {
      *id = q->v[0].id;
      return q->v[0].irp;
    }
    trc_event_t e = trc_event_make(TRC_QUEUE_DROPPED);
    e.irp = q->v[0].id;
    e.device = x->dev->SimId;
    e.text = q->name;
    sim_trace(&e, "queue %s: IRP %u was freed while still queued (dropped)", q->name, q->v[0].id);
    sim_charge(COST_OP);
    memmove(&q->v[0], &q->v[1], sizeof q->v[0] * (size_t)(q->n - 1));
    q->n--;
  }
  return NULL;
}

/* The cancel-safe queue's own cancel routine (IoCsq's): drop the cancel
   lock first, then take the IRP out of its queue and complete it as
   cancelled.  The queue rides in DriverContext[2]. */
static void csq_cancel(PDEVICE_OBJECT dev, PIRP irp) {
  scr_queue_t *q = irp->Tail.Overlay.DriverContext[2];
  IoReleaseCancelSpinLock(irp->CancelIrql);
  bool found = queue_take(q, irp);
  sim_trace_op(irp, dev, "cancel-safe queue %s: the cancelled IRP %s", q->name, found ? "is removed and completed" : "was already gone");
  if (!found) return;
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* A completion routine's context, from the run's free list. */
static scr_cctx_t *cctx_for(exec_t *x, const char *routine, PIRP orig, uint32_t orig_id, int64_t value) {
  scr_cctx_t *c = cctx_new(x->rs);
  c->r = find_routine(x->dx->drv->decl, RT_COMPLETION, routine);
  c->dev = x->dev;
  c->orig = orig;
  c->orig_id = orig_id;
  c->value = value;
  return c;
}

/* ---- one function per operation ---- */

typedef void op_exec_fn(exec_t *x, const op_t *o);

static void ex_copy_stack(exec_t *x, const op_t *o) {
  if (need_location(x, o, x->irp)) IoCopyCurrentIrpStackLocationToNext(x->irp);
}

static void ex_skip_stack(exec_t *x, const op_t *o) {
  if (need_location(x, o, x->irp)) IoSkipCurrentIrpStackLocation(x->irp);
}

static void ex_mark_pending(exec_t *x, const op_t *o) {
  if (need_location(x, o, x->irp)) IoMarkIrpPending(x->irp);
}

static void ex_set_completion(exec_t *x, const op_t *o) {
  const op_set_completion_t *s = &o->set_completion;
  if (!need_irp(x, o, x->irp)) return;
  scr_cctx_t *c = cctx_for(x, s->routine, NULL, 0, s->context);
  IoSetCompletionRoutine(x->irp, scr_completion, c, s->on_success, s->on_error, s->on_cancel);
}

/* The regions change the APC state of the thread the routine runs in;
   their trace rows are the kernel's own. */
static void ex_region(exec_t *x, const op_t *o) {
  (void)x;
  switch (o->kind) {
  case OP_ENTER_CRITICAL: KeEnterCriticalRegion(); break;
  case OP_LEAVE_CRITICAL: KeLeaveCriticalRegion(); break;
  case OP_ENTER_GUARDED: KeEnterGuardedRegion(); break;
  default: KeLeaveGuardedRegion(); break;
  }
}

static void ex_call_lower(exec_t *x, const op_t *o) {
  if (!need_irp(x, o, x->irp)) return;
  if (!x->dev->SimLowerDevice) scr_trace(o, x->irp, x->dev, "%s: skipped, %s is not attached to anything", o->text, x->dev->SimName);
  else x->lower = IoCallDriver(x->dev->SimLowerDevice, x->irp);
}

/* info length reads the current location; a bare status needs only the IRP. */
static bool need_for_status(exec_t *x, const op_t *o, PIRP irp) {
  return o->status.info == INFO_LENGTH ? need_location(x, o, irp) : need_irp(x, o, irp);
}

static void ex_set_status(exec_t *x, const op_t *o) {
  if (!need_for_status(x, o, x->irp)) return;
  set_status(x, &o->status, x->irp);
  scr_trace(o, x->irp, x->dev, "%s", o->text);
}

static int8_t boost_of(const op_status_t *st) { return (int8_t)(st->has_boost ? st->boost : IO_NO_INCREMENT); }

static void ex_complete(exec_t *x, const op_t *o) {
  PIRP irp = x->irp;
  if (!need_for_status(x, o, irp)) return;
  set_status(x, &o->status, irp);
  x->completed = true;
  x->completed_with = irp->IoStatus.Status;
  IoCompleteRequest(irp, boost_of(&o->status));
}

static void ex_complete_original(exec_t *x, const op_t *o) {
  if (!need_for_status(x, o, x->orig)) return;
  set_status(x, &o->status, x->orig);
  IoCompleteRequest(x->orig, boost_of(&o->status));
}

static void ex_free_irp(exec_t *x, const op_t *o) {
  if (!need_irp(x, o, x->irp)) return;
  IoFreeIrp(x->irp);
  x->irp = NULL;
}

static void ex_return(exec_t *x, const op_t *o) {
  x->returned = true;
  switch (o->ret.how) {
  case RET_STATUS: x->ret = o->ret.status; break;
  case RET_LOWER: x->ret = x->lower; break;
  case RET_IRP: x->ret = x->completed ? x->completed_with : x->irp ? x->irp->IoStatus.Status : STATUS_SUCCESS; break;
  case RET_MORE: x->ret = STATUS_MORE_PROCESSING_REQUIRED; break;
  case RET_CONTINUE: x->ret = STATUS_CONTINUE_COMPLETION; break;
  }
}

static void ex_start_io(exec_t *x, const op_t *o) {
  const op_start_io_t *s = &o->start_io;
  sim_hw_t *hw = x->dev->SimHardware;
  if (!hw) scr_trace(o, x->irp, x->dev, "%s: skipped, %s has no hardware", o->text, x->dev->SimName);
  else sim_hw_start(hw, s->detached ? NULL : x->irp, s->has_latency ? (uint64_t)s->latency : sim_hw_latency(hw));
}

static void ex_request_dpc(exec_t *x, const op_t *o) {
  const op_request_dpc_t *r = &o->request_dpc;
  /* Properties of the device's one DPC object: they stay for later requests. */
  if (r->importance >= 0) KeSetImportanceDpc(&x->dev->Dpc, (KDPC_IMPORTANCE)r->importance);
  if (r->cpu >= 0) KeSetTargetProcessorDpc(&x->dev->Dpc, r->cpu);
  IoRequestDpc(x->dev, x->irp, NULL);
}

static void ex_queue(exec_t *x, const op_t *o) {
  PIRP irp = x->irp;
  scr_queue_t *q = dev_queue(x->dx, o->named.name);
  if (!need_irp(x, o, irp) || !q) return;
  if (queue_put(q, irp)) scr_trace(o, irp, x->dev, "%s", o->text);
  else scr_trace(o, irp, x->dev, "%s: queue %s is full (%d IRPs): not queued", o->text, q->name, SCR_QUEUE_CAP);
}

static void ex_dequeue(exec_t *x, const op_t *o) {
  scr_queue_t *q = dev_queue(x->dx, o->named.name);
  uint32_t id = 0;
  PIRP head = q ? queue_head(x, q, &id) : NULL;
  if (!head) {
    take_irp(x, NULL);
    scr_trace(o, NULL, x->dev, "%s: queue empty", o->text);
    return;
  }
  queue_take(q, head);
  take_irp(x, head);
  scr_trace(o, x->irp, x->dev, "%s", o->text);
}

static void ex_kwait(exec_t *x, const op_t *o) {
  LARGE_INTEGER to = {.QuadPart = -(o->kwait.timeout / 100)};
  KeWaitForSingleObject(rs_event(x->rs, o->kwait.event), Executive, KernelMode, FALSE, o->kwait.has_timeout ? &to : NULL);
}

static void ex_signal(exec_t *x, const op_t *o) { KeSetEvent(rs_event(x->rs, o->named.name), 0, FALSE); }

static void ex_clear(exec_t *x, const op_t *o) {
  KeClearEvent(rs_event(x->rs, o->named.name));
  scr_trace(o, x->irp, x->dev, "%s", o->text);
}

static void ex_if(exec_t *x, const op_t *o) {
  bool v = cond_eval(x, &o->branch.cond);
  scr_trace(o, x->irp, x->dev, "%s -> %s", o->text, v ? "true" : "false");
  exec_ops(x, v ? o->branch.body : o->branch.else_body);
}

static void ex_while(exec_t *x, const op_t *o) {
  /* Bounded, so a scenario bug cannot hang the simulator. */
  int n = 0;
  bool v;
  while ((v = cond_eval(x, &o->branch.cond)) && n++ < 100000 && !x->returned) {
    scr_trace(o, x->irp, x->dev, "%s -> true", o->text);
    exec_ops(x, o->branch.body);
  }
  if (!v) scr_trace(o, x->irp, x->dev, "%s -> false", o->text);
}

static void ex_counter(exec_t *x, const op_t *o) {
  scr_counter_t *c = dev_counter(x->dx, o->counter.name);
  c->value = o->counter.add ? c->value + o->counter.value : o->counter.value;
  scr_trace(o, x->irp, x->dev, "%s -> %lld", o->text, (long long)c->value);
}

static void ex_delay(exec_t *x, const op_t *o) {
  (void)x;
  sim_delay((uint64_t)o->delay_ns);
}

static void ex_send(exec_t *x, const op_t *o) {
  const op_send_t *s = &o->send;
  PDEVICE_OBJECT to = s->to ? sim_find_device(x->rs->S, s->to) : x->dev->SimLowerDevice;
  if (!to) {
    scr_trace(o, x->irp, x->dev, "%s: skipped, no device below %s", o->text, x->dev->SimName);
    return;
  }
  if (s->as) sim_tag_next_irp(s->as);
  PIRP n = IoAllocateIrp(to->StackSize, FALSE);
  PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(n);
  next->MajorFunction = s->major;
  next->Parameters.Read.Length = (ULONG)s->length;
  if (s->completion)
    IoSetCompletionRoutine(n, scr_completion, cctx_for(x, s->completion, x->irp, x->irp_id, 0), TRUE, TRUE, TRUE);
  x->lower = IoCallDriver(to, n);
}

static void remember_cancel(run_state_t *rs, uint32_t irp, const routine_t *r) {
  for (size_t i = 0; i < rs->ncancel_of; i++)
    if (rs->cancel_of[i].irp == irp) {
      rs->cancel_of[i].r = r;
      return;
    }
  if (!IOSIM_VEC_RESERVE(rs->cancel_of, rs->cancel_of_cap, rs->ncancel_of + 1)) abort();
  rs->cancel_of[rs->ncancel_of++] = (scr_cancel_of_t){irp, r};
}

static const routine_t *cancel_routine_of(const run_state_t *rs, uint32_t irp) {
  for (size_t i = rs->ncancel_of; i-- > 0;)
    if (rs->cancel_of[i].irp == irp) return rs->cancel_of[i].r;
  return NULL;
}

static void ex_set_cancel(exec_t *x, const op_t *o) {
  PIRP irp = x->irp;
  const char *name = o->set_cancel.routine;
  if (!need_irp(x, o, irp)) return;
  /* The routine rides in a driver-owned field of the IRP, as real drivers
     keep their per-request context there: its slot in the loaded driver. */
  const routine_t *r = name ? find_routine(x->dx->drv->decl, RT_CANCEL, name) : NULL;
  /* Only when setting: a clear-cancel that loses the race to IoCancelIrp
     must leave the routine to the cancel already on its way (found by
     `iosim explore`). */
  if (r) remember_cancel(x->rs, irp->SimId, r);
  /* Whoever swaps a routine out owns the IRP (the cancel race). */
  x->cancel_owned = IoSetCancelRoutine(irp, name ? scr_cancel : NULL) != NULL;
}

static void ex_release_cancel_lock(exec_t *x, const op_t *o) {
  if (need_irp(x, o, x->irp)) IoReleaseCancelSpinLock(x->irp->CancelIrql);
}

static void ex_unqueue(exec_t *x, const op_t *o) {
  PIRP irp = x->irp;
  scr_queue_t *q = dev_queue(x->dx, o->named.name);
  if (!need_irp(x, o, irp) || !q) return;
  bool found = queue_take(q, irp);
  scr_trace(o, irp, x->dev, "%s -> %s", o->text, found ? "removed" : "not in the queue");
}

/* IoCsqInsertIrp: mark pending, queue, install the cancel routine; if the
   IRP was cancelled already and we take the routine back, undo it all and
   complete it as cancelled ourselves. */
static void ex_csq_insert(exec_t *x, const op_t *o) {
  PIRP irp = x->irp;
  scr_queue_t *q = dev_queue(x->dx, o->named.name);
  if (!need_irp(x, o, irp) || !q) return;
  IoMarkIrpPending(irp);
  if (!queue_put(q, irp)) {
    scr_trace(o, irp, x->dev, "%s: queue %s is full (%d IRPs): not queued", o->text, q->name, SCR_QUEUE_CAP);
    return;
  }
  irp->Tail.Overlay.DriverContext[2] = q;
  scr_trace(o, irp, x->dev, "%s", o->text);
  IoSetCancelRoutine(irp, csq_cancel);
  if (irp->Cancel && IoSetCancelRoutine(irp, NULL)) {
    queue_take(q, irp);
    scr_trace(o, irp, x->dev, "%s: the IRP was already cancelled, completed as cancelled", o->text);
    irp->IoStatus.Status = STATUS_CANCELLED;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
  }
}

/* IoCsqRemoveNextIrp: the first IRP whose cancel routine we can take back;
   one whose routine is already gone is being cancelled: leave it. */
static void ex_csq_remove(exec_t *x, const op_t *o) {
  scr_queue_t *q = dev_queue(x->dx, o->named.name);
  take_irp(x, NULL);
  if (!q) return;
  for (int i = 0; i < q->n; i++) {
    PIRP irp = q->v[i].irp;
    if (!sim_irp_alive(x->rs->S, irp, q->v[i].id) || !IoSetCancelRoutine(irp, NULL)) continue;
    queue_take(q, irp);
    take_irp(x, irp);
    scr_trace(o, irp, x->dev, "%s -> IRP %u", o->text, irp->SimId);
    return;
  }
  scr_trace(o, NULL, x->dev, "%s: nothing to take", o->text);
}

/* A master IRP split into associated IRPs, dealt to the devices in turn;
   the master completes when the last one does (IrpCount). */
static void ex_split(exec_t *x, const op_t *o) {
  const op_split_t *s = &o->split;
  PIRP m = x->irp;
  if (!need_location(x, o, m)) return;
  PIO_STACK_LOCATION cur = IoGetCurrentIrpStackLocation(m);
  ULONG part = cur->Parameters.Read.Length / (ULONG)s->count;
  m->AssociatedIrp.IrpCount = s->count;
  scr_trace(o, m, x->dev, "%s: IrpCount = %lld", o->text, (long long)s->count);
  PIRP kids[16];
  PDEVICE_OBJECT to[16];
  for (int i = 0; i < s->count; i++) { /* build them all before sending any */
    const char *name = s->to[i % s->nto];
    to[i] = !strcmp(name, "lower") ? x->dev->SimLowerDevice
          : !strcmp(name, "with") && x->dx->decl->with ? names_get(&x->rs->names, NK_DEVICE, x->dx->decl->with)
          : sim_find_device(x->rs->S, name);
    if (!to[i]) { /* the children built so far stay unsent: the master hangs, visibly */
      scr_trace(o, m, x->dev, "%s: no device for '%s'", o->text, name);
      return;
    }
    kids[i] = IoMakeAssociatedIrp(m, to[i]->StackSize);
    PIO_STACK_LOCATION n = IoGetNextIrpStackLocation(kids[i]);
    n->MajorFunction = cur->MajorFunction;
    n->FileObject = cur->FileObject;
    n->Parameters.Read.Length = part;
    n->Parameters.Read.ByteOffset.QuadPart = cur->Parameters.Read.ByteOffset.QuadPart + (LONGLONG)part * i;
  }
  for (int i = 0; i < s->count; i++) x->lower = IoCallDriver(to[i], kids[i]);
}

/* fast-serve and fast-decline end a fast I/O routine (no IRP). */
static bool need_fast(exec_t *x, const op_t *o) {
  if (x->fast_fo) return true;
  scr_trace(o, x->irp, x->dev, "%s: skipped, only a fast I/O routine can do this", o->text);
  return false;
}

static void ex_fast_serve(exec_t *x, const op_t *o) {
  if (!need_fast(x, o)) return;
  x->returned = true;
  x->fast_handled = true;
  x->fast_iosb->Status = o->status.status;
  x->fast_iosb->Information = o->status.info == INFO_NUM ? (ULONG_PTR)o->status.info_bytes : x->fast_len;
  scr_trace(o, NULL, x->dev, "%s", o->text);
}

static void ex_fast_decline(exec_t *x, const op_t *o) {
  if (!need_fast(x, o)) return;
  x->returned = true;
  x->fast_handled = false;
  scr_trace(o, NULL, x->dev, "%s", o->text);
}

static void ex_cache(exec_t *x, const op_t *o) {
  PFILE_OBJECT fo;
  LONGLONG off;
  ULONG len;
  if (!request_range(x, &fo, &off, &len)) {
    scr_trace(o, x->irp, x->dev, "%s: skipped, no file object", o->text);
    return;
  }
  if (o->kind == OP_CACHE_SETUP) CcInitializeCacheMap(fo);
  else sim_cache_fill(fo, off, len);
}

static void ex_note(exec_t *x, const op_t *o) { sim_driver_note(x->dev, "%s", o->note); }

/* DbgPrint: the driver's own line (kind dbgprint). */
static void ex_dbgprint(exec_t *x, const op_t *o) {
  (void)x;
  DbgPrint("%s\n", o->note);
}

/* fill BYTES: a driver producing data.  It writes where a driver of this
   kind finds the caller's output (kernel-facts 14): an IOCTL by its
   method (SystemBuffer, the MDL's system address, UserBuffer), a read by
   what the I/O manager built (MDL, SystemBuffer, else UserBuffer); never
   more than the request's output length.  Information is the driver's
   to set (complete ... info N). */
static void ex_fill(exec_t *x, const op_t *o) {
  PIRP irp = x->irp;
  if (!need_irp(x, o, irp)) return;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG room = 0;
  char *to = NULL;
  const char *where = "no buffer";
  if (sp->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
    room = sp->Parameters.DeviceIoControl.OutputBufferLength;
    switch (METHOD_FROM_CTL_CODE(sp->Parameters.DeviceIoControl.IoControlCode)) {
    case METHOD_BUFFERED: to = irp->AssociatedIrp.SystemBuffer, where = "the SystemBuffer"; break;
    case METHOD_NEITHER: to = irp->UserBuffer, where = "UserBuffer"; break;
    default:
      if (irp->MdlAddress) to = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority), where = "the MDL";
      break;
    }
  } else if (sp->MajorFunction == IRP_MJ_READ) {
    room = sp->Parameters.Read.Length;
    if (irp->MdlAddress) to = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority), where = "the MDL";
    else if (irp->Flags & IRP_BUFFERED_IO) to = irp->AssociatedIrp.SystemBuffer, where = "the SystemBuffer";
    else to = irp->UserBuffer, where = "UserBuffer";
  }
  if (!to) {
    scr_trace(o, irp, x->dev, "%s: skipped, the request has no output buffer", o->text);
    return;
  }
  ULONG n = (ULONG)o->fill.data_len < room ? (ULONG)o->fill.data_len : room;
  memcpy(to, o->fill.data, n);
  scr_trace(o, irp, x->dev, "%s: %lu byte%s into %s", o->text, (unsigned long)n, n == 1 ? "" : "s", where);
}

/* Program statements never reach a driver: their slots stay NULL. */
static op_exec_fn *const exec_table[OP_COUNT] = {
    [OP_COPY_STACK] = ex_copy_stack,
    [OP_ENTER_CRITICAL] = ex_region,
    [OP_LEAVE_CRITICAL] = ex_region,
    [OP_ENTER_GUARDED] = ex_region,
    [OP_LEAVE_GUARDED] = ex_region,
    [OP_SKIP_STACK] = ex_skip_stack,
    [OP_SET_COMPLETION] = ex_set_completion,
    [OP_CALL_LOWER] = ex_call_lower,
    [OP_MARK_PENDING] = ex_mark_pending,
    [OP_SET_STATUS] = ex_set_status,
    [OP_COMPLETE] = ex_complete,
    [OP_RETURN] = ex_return,
    [OP_START_IO] = ex_start_io,
    [OP_REQUEST_DPC] = ex_request_dpc,
    [OP_QUEUE] = ex_queue,
    [OP_DEQUEUE] = ex_dequeue,
    [OP_KWAIT] = ex_kwait,
    [OP_SIGNAL] = ex_signal,
    [OP_CLEAR] = ex_clear,
    [OP_RESET] = ex_clear,
    [OP_IF] = ex_if,
    [OP_COUNTER] = ex_counter,
    [OP_DELAY] = ex_delay,
    [OP_SEND] = ex_send,
    [OP_FREE_IRP] = ex_free_irp,
    [OP_COMPLETE_ORIGINAL] = ex_complete_original,
    [OP_NOTE] = ex_note,
    [OP_DBGPRINT] = ex_dbgprint,
    [OP_FILL] = ex_fill,
    [OP_WHILE] = ex_while,
    [OP_SET_CANCEL] = ex_set_cancel,
    [OP_RELEASE_CANCEL_LOCK] = ex_release_cancel_lock,
    [OP_UNQUEUE] = ex_unqueue,
    [OP_CSQ_INSERT] = ex_csq_insert,
    [OP_CSQ_REMOVE] = ex_csq_remove,
    [OP_SPLIT] = ex_split,
    [OP_FAST_SERVE] = ex_fast_serve,
    [OP_FAST_DECLINE] = ex_fast_decline,
    [OP_CACHE_SETUP] = ex_cache,
    [OP_CACHE_FILL] = ex_cache,
};

/* Each operation written in the scenario's own file stamps its line on the
   steps it causes (an included library's keep their caller's line); the
   caller's line is back once the routine is done. */
static void exec_ops(exec_t *x, const op_t *o) {
  int prev = -1;
  for (; o && !x->returned; o = o->next) {
    if (o->at.file == scn_path(x->rs->sc) || (o->at.file && !strcmp(o->at.file, scn_path(x->rs->sc)))) {
      int was = sim_set_source_line(o->at.line);
      if (prev < 0) prev = was;
    }
    exec_table[o->kind](x, o); /* every routine operation has its function */
  }
  if (prev >= 0) sim_set_source_line(prev);
}

static exec_t exec_for(PDEVICE_OBJECT dev, PIRP irp, const routine_t *r) {
  scr_dev_t *dx = dev->DeviceExtension;
  return (exec_t){.rs = dx->rs, .dx = dx, .dev = dev, .arg_dev = dev, .irp = irp, .irp_id = irp ? irp->SimId : 0,
                  .r = r, .lower = STATUS_SUCCESS};
}

static NTSTATUS scr_dispatch(PDEVICE_OBJECT dev, PIRP irp) {
  scr_dev_t *dx = dev->DeviceExtension;
  UCHAR m = IoGetCurrentIrpStackLocation(irp)->MajorFunction;
  const routine_t *r = NULL, *def = NULL;
  for (const routine_t *k = dx->drv->decl->routines; k && !r; k = k->next)
    if (k->kind == RT_DISPATCH) {
      if (k->majors[m / 32] & (1u << (m % 32))) r = k;
      else if (k->is_default && !def) def = k;
    }
  if (!r) r = def;
  exec_t x = exec_for(dev, irp, r);
  exec_ops(&x, r->body);
  return x.returned ? x.ret : STATUS_SUCCESS;
}

static NTSTATUS scr_completion(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  scr_cctx_t *c = ctx;
  /* The routine's driver state is that of the device that set it; its
     DeviceObject argument is whatever the walk passes (kernel-facts 1.5). */
  exec_t x = exec_for(c->dev, irp, c->r);
  x.arg_dev = dev;
  x.orig = c->orig;
  x.orig_id = c->orig_id;
  x.context = c->value;
  c->next_free = x.rs->free_cctx; /* recycled: the routine runs once */
  x.rs->free_cctx = c;
  exec_ops(&x, x.r->body);
  return x.returned ? x.ret : STATUS_CONTINUE_COMPLETION;
}

/* A cancel routine set with set-cancel: runs the routine's operations. */
static void scr_cancel(PDEVICE_OBJECT dev, PIRP irp) {
  scr_dev_t *dx = dev->DeviceExtension;
  const routine_t *r = cancel_routine_of(dx->rs, irp->SimId);
  exec_t x = exec_for(dev, irp, r);
  if (r) exec_ops(&x, r->body);
}

static BOOLEAN scr_isr(sim_hw_t *hw, PVOID ctx, PIRP irp) {
  PDEVICE_OBJECT dev = ctx;
  scr_dev_t *dx = dev->DeviceExtension;
  (void)hw;
  const routine_t *r = find_routine(dx->drv->decl, RT_ISR, NULL);
  if (!r) {
    IoRequestDpc(dev, irp, NULL); /* the usual ISR, when the script has none */
    return TRUE;
  }
  exec_t x = exec_for(dev, irp, r);
  exec_ops(&x, r->body);
  return TRUE;
}

static void scr_dpc(PKDPC dpc, PDEVICE_OBJECT dev, PIRP irp, PVOID ctx) {
  (void)dpc, (void)ctx;
  scr_dev_t *dx = dev->DeviceExtension;
  const routine_t *r = find_routine(dx->drv->decl, RT_DPC, NULL);
  exec_t x = exec_for(dev, irp, r);
  if (r) exec_ops(&x, r->body);
}

/* FastIoRead / FastIoWrite of a scripted driver: its `fastio` routine,
   run with no IRP; TRUE when it ended in fast-serve. */
static BOOLEAN scr_fast_io(PFILE_OBJECT fo, const LONGLONG *off, ULONG len, BOOLEAN wait, ULONG key, PVOID buf,
                           PIO_STATUS_BLOCK iosb, PDEVICE_OBJECT dev, UCHAR major) {
  (void)wait, (void)key, (void)buf;
  scr_dev_t *dx = dev->DeviceExtension;
  const routine_t *r = NULL;
  for (const routine_t *k = dx->drv->decl->routines; k; k = k->next)
    if (k->kind == RT_FASTIO && (k->majors[0] & (1u << major))) r = k;
  if (!r) return FALSE;
  exec_t x = exec_for(dev, NULL, r);
  x.fast_fo = fo, x.fast_off = *off, x.fast_len = len, x.fast_iosb = iosb;
  exec_ops(&x, r->body);
  return x.fast_handled;
}

static BOOLEAN scr_fast_read(PFILE_OBJECT fo, const LONGLONG *off, ULONG len, BOOLEAN wait, ULONG key, PVOID buf,
                             PIO_STATUS_BLOCK iosb, PDEVICE_OBJECT dev) {
  return scr_fast_io(fo, off, len, wait, key, buf, iosb, dev, IRP_MJ_READ);
}

static BOOLEAN scr_fast_write(PFILE_OBJECT fo, const LONGLONG *off, ULONG len, BOOLEAN wait, ULONG key, PVOID buf,
                              PIO_STATUS_BLOCK iosb, PDEVICE_OBJECT dev) {
  return scr_fast_io(fo, off, len, wait, key, buf, iosb, dev, IRP_MJ_WRITE);
}

NTSTATUS scr_driver_entry(PDRIVER_OBJECT drv, PUNICODE_STRING RegistryPath) {
  PVOID arg = sim_driver_context(drv);
  (void)RegistryPath;
  scr_driver_t *sd = arg;
  const driver_decl_t *d = sd->decl;
  sd->slots = ar_alloc(&sd->rs->ar, sizeof *sd->slots * (size_t)(d->nroutines ? d->nroutines : 1));
  for (const routine_t *r = d->routines; r; r = r->next) sd->slots[r->index] = r;
  for (const routine_t *r = d->routines; r; r = r->next)
    if (r->kind == RT_FASTIO) {
      sd->fastio.SizeOfFastIoDispatch = sizeof sd->fastio;
      if (r->majors[0] & (1u << IRP_MJ_READ)) sd->fastio.FastIoRead = scr_fast_read;
      if (r->majors[0] & (1u << IRP_MJ_WRITE)) sd->fastio.FastIoWrite = scr_fast_write;
      drv->FastIoDispatch = &sd->fastio;
    }
  for (const routine_t *r = d->routines; r; r = r->next) {
    if (r->kind != RT_DISPATCH) continue;
    for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++)
      if (r->is_default || (r->majors[m / 32] & (1u << (m % 32)))) drv->MajorFunction[m] = scr_dispatch;
  }
  return STATUS_SUCCESS;
}

void scr_setup_device(run_state_t *rs, PDEVICE_OBJECT dev, const device_decl_t *d) {
  scr_dev_t *dx = dev->DeviceExtension;
  dx->rs = rs;
  dx->decl = d;
  dx->drv = names_get(&rs->names, NK_DRIVER, d->driver);
  dev->Flags |= d->do_flags; /* buffered-io / direct-io (kernel-facts 14.1) */
  IoInitializeDpcRequest(dev, scr_dpc);
  if (d->dpc_importance >= 0) KeSetImportanceDpc(&dev->Dpc, (KDPC_IMPORTANCE)d->dpc_importance);
  if (d->dpc_cpu >= 0) KeSetTargetProcessorDpc(&dev->Dpc, d->dpc_cpu);
  if (d->has_hw) sim_hw_create(rs->S, dev, (uint64_t)d->latency, d->cpu, (KIRQL)d->irql, scr_isr, dev);
}
