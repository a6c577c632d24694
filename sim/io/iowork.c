/*
 * iowork.c - I/O work items (kernel-facts 13.5): IoAllocateWorkItem gives a
 * driver an item (from nonpaged pool, tag "IOWI" as in ReactOS), and
 * IoQueueWorkItem hands it with a routine to a system worker thread
 * (ex/work.c), which calls the routine at PASSIVE_LEVEL.  The I/O manager
 * references the device (or driver) object while the item is queued, so
 * the driver cannot go away under it, and copies what it needs before the
 * call: the routine may free the item or queue it again.  Queueing an item
 * that is already queued, or freeing one that is, stops the machine with
 * WORKER_INVALID (0xE4).
 */
#include "ex/ex.h"
#include "io/io.h"

#define TAG_IOWI 0x49574F49u /* the bytes "IOWI" */

struct IO_WORKITEM {
  ex_work_item_t item;            /* what the worker thread runs */
  PVOID IoObject;                 /* a device or driver object */
  PIO_WORKITEM_ROUTINE Routine;
  PIO_WORKITEM_ROUTINE_EX RoutineEx;
  PVOID Context;
  WORK_QUEUE_TYPE Type;
};

ULONG IoSizeofWorkItem(void) { return sizeof(IO_WORKITEM); }

void IoInitializeWorkItem(PVOID IoObject, PIO_WORKITEM IoWorkItem) {
  memset(IoWorkItem, 0, sizeof *IoWorkItem);
  IoWorkItem->IoObject = IoObject;
  list_init(&IoWorkItem->item.link);
}

PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "IoAllocateWorkItem");
  PIO_WORKITEM w = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *w, TAG_IOWI);
  if (w) IoInitializeWorkItem(DeviceObject, w);
  return w;
}

static void workitem_check_idle(sim_t *S, PIO_WORKITEM w, const char *routine) {
  if (w->item.queued)
    bugcheck(S, WORKER_INVALID, 0x2, (ULONG_PTR)w, (ULONG_PTR)(w->Routine ? (void *)w->Routine : (void *)w->RoutineEx),
             0, "%s: the work item is still queued", routine);
}

void IoUninitializeWorkItem(PIO_WORKITEM IoWorkItem) {
  workitem_check_idle(ctx_sim(), IoWorkItem, "IoUninitializeWorkItem");
}

void IoFreeWorkItem(PIO_WORKITEM IoWorkItem) {
  workitem_check_idle(ctx_sim(), IoWorkItem, "IoFreeWorkItem");
  ExFreePoolWithTag(IoWorkItem, TAG_IOWI);
}

/* The device behind an IoObject, for the trace: NULL for a driver object. */
static PDEVICE_OBJECT workitem_device(sim_t *S, PVOID obj) {
  for (size_t i = 0; i < S->ndrivers; i++)
    if ((PVOID)S->drivers[i] == obj) return NULL;
  return obj;
}

/* In the worker thread, at PASSIVE_LEVEL. */
static void workitem_run(sim_t *S, ex_work_item_t *item) {
  PIO_WORKITEM w = CONTAINING_RECORD(item, IO_WORKITEM, item);
  PVOID obj = w->IoObject, ctx = w->Context;
  PIO_WORKITEM_ROUTINE r = w->Routine;
  PIO_WORKITEM_ROUTINE_EX rx = w->RoutineEx;
  PDEVICE_OBJECT dev = workitem_device(S, obj);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_WORK_RUN, NULL, dev);
    e.service = "IoQueueWorkItem";
    trc_send(S, &e, "work item of %s runs", dev ? dev->SimName : "a driver");
  }
  sched_step(S, COST_DPC);
  if (rx) rx(obj, ctx, w);
  else r(obj, ctx);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_WORK_END, NULL, dev);
    e.service = "IoQueueWorkItem";
    trc_send(S, &e, "work item of %s returns", dev ? dev->SimName : "a driver");
  }
  ObDereferenceObject(obj); /* the reference IoQueueWorkItem took */
}

static void workitem_queue(PIO_WORKITEM w, PIO_WORKITEM_ROUTINE r, PIO_WORKITEM_ROUTINE_EX rx, WORK_QUEUE_TYPE type,
                           PVOID ctx, const char *routine) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, routine);
  if (w->item.queued)
    bugcheck(S, WORKER_INVALID, 0x1, (ULONG_PTR)w, (ULONG_PTR)type, 0, "%s: the work item is queued already",
             routine);
  if ((unsigned)type >= MaximumWorkQueue)
    bugcheck(S, WORKER_INVALID, 0x6, (ULONG_PTR)w, (ULONG_PTR)type, 0, "%s: no work queue of type %d", routine,
             (int)type);
  if (!r && !rx)
    bugcheck(S, WORKER_INVALID, 0x7, (ULONG_PTR)w, (ULONG_PTR)type, 0, "%s without a routine", routine);
  ObReferenceObject(w->IoObject);
  w->Routine = r;
  w->RoutineEx = rx;
  w->Context = ctx;
  w->Type = type;
  w->item.routine = workitem_run;
  /* Delayed, normal and background work share the delayed queue; the
     time-critical kinds the critical one. */
  bool delayed = type == DelayedWorkQueue || type == NormalWorkQueue || type == BackgroundWorkQueue;
  PDEVICE_OBJECT dev = workitem_device(S, w->IoObject);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_WORK_QUEUED, NULL, dev);
    e.service = routine;
    e.count = (int)type;
    trc_send(S, &e, "work item of %s queued to the %s work queue", dev ? dev->SimName : "a driver",
             delayed ? "delayed" : "critical");
  }
  ex_queue_work(S, &w->item, delayed ? EX_QUEUE_DELAYED : EX_QUEUE_CRITICAL);
  sched_step(S, COST_STEP);
}

void IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                     PVOID Context) {
  workitem_queue(IoWorkItem, WorkerRoutine, NULL, QueueType, Context, "IoQueueWorkItem");
}

void IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                       PVOID Context) {
  workitem_queue(IoWorkItem, NULL, WorkerRoutine, QueueType, Context, "IoQueueWorkItemEx");
}
