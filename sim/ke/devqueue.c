/*
 * devqueue.c - device queues (KDEVICE_QUEUE), the queue of packets behind a
 * device's StartIo routine (kernel-facts 13.11).  The queue's Busy flag is
 * the device's "working on a packet": inserting into an idle queue queues
 * nothing and only marks it busy (the caller starts the packet at once);
 * removing from an empty queue marks it idle.  Every operation holds the
 * queue's own spin lock at DISPATCH_LEVEL, as WRK's ke/devquote.c does, so
 * a CPU that finds it held spins in the trace like any other.
 */
#include "ke/ke.h"

#include <stdio.h>

/* Windows' object type number for a device queue (KOBJECTS). */
#define DeviceQueueObject 20

void KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue) {
  DeviceQueue->Type = DeviceQueueObject;
  DeviceQueue->Size = (CSHORT)sizeof *DeviceQueue;
  list_init(&DeviceQueue->DeviceListHead);
  KeInitializeSpinLock(&DeviceQueue->Lock);
  DeviceQueue->Busy = FALSE;
}

static int dq_depth(const KDEVICE_QUEUE *q) {
  int n = 0;
  for (const LIST_ENTRY *e = q->DeviceListHead.Flink; e != &q->DeviceListHead; e = e->Flink) n++;
  return n;
}

static void dq_trace(sim_t *S, const char *routine, const IRP *irp, const DEVICE_OBJECT *dev, const KDEVICE_QUEUE *q,
                     int moved, const char *what) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(TRC_DEVICE_QUEUE, irp, dev);
  e.service = routine;
  e.cancel_routine = -1;
  e.count = moved;
  e.object = ke_lock_id(S, &q->Lock, NULL);
  trc_send(S, &e, "%s: %s (%d waiting, device %s)", routine, what, dq_depth(q), q->Busy ? "busy" : "idle");
}

/* The queue's lock takes the device's name in the trace the first time
   the I/O manager uses it for that device. */
static void dq_name(sim_t *S, const KDEVICE_QUEUE *q, const DEVICE_OBJECT *dev) {
  if (!dev || !trc_on(S)) return;
  char name[96];
  snprintf(name, sizeof name, "%s.DeviceQueue", dev->SimName);
  ke_lock_id(S, &q->Lock, name);
}

static void dq_check(sim_t *S, const KDEVICE_QUEUE *q, const char *routine) {
  if (q->Type != DeviceQueueObject)
    ke_assert_failed(S, "DeviceQueue->Type == DeviceQueueObject", "devquote.c", 0, routine);
  /* WRK asserts it (checked build): the queue's lock is taken at DPC level. */
  if (S->cur_cpu->irql != DISPATCH_LEVEL)
    ke_assert_failed(S, "KeGetCurrentIrql() == DISPATCH_LEVEL", "devquote.c", 0, routine);
}

BOOLEAN KiInsertDeviceQueue(sim_t *S, PKDEVICE_QUEUE q, PKDEVICE_QUEUE_ENTRY e, bool by_key, ULONG key,
                            const IRP *irp, const DEVICE_OBJECT *dev) {
  const char *routine = by_key ? "KeInsertByKeyDeviceQueue" : "KeInsertDeviceQueue";
  dq_check(S, q, routine);
  dq_name(S, q, dev);
  KiAcquireSpinLockTraced(S, &q->Lock, routine, TRC_SPINLOCK_ACQUIRE);
  if (by_key) e->SortKey = key;
  BOOLEAN inserted = q->Busy;
  if (!q->Busy) {
    q->Busy = TRUE;
  } else if (!by_key) {
    InsertTailList(&q->DeviceListHead, &e->DeviceListEntry);
  } else {
    /* After the last entry whose key is not above this one: ascending
       order, first come first served among equal keys. */
    LIST_ENTRY *at = q->DeviceListHead.Blink;
    while (at != &q->DeviceListHead && CONTAINING_RECORD(at, KDEVICE_QUEUE_ENTRY, DeviceListEntry)->SortKey > key)
      at = at->Blink;
    InsertHeadList(at, &e->DeviceListEntry);
  }
  e->Inserted = inserted;
  dq_trace(S, routine, irp, dev, q, inserted,
           inserted ? "the device is busy: queued" : "the device was idle: now busy, nothing queued");
  KiReleaseSpinLockTraced(S, &q->Lock, routine, TRC_SPINLOCK_RELEASE);
  sched_step(S, COST_STEP);
  return inserted;
}

PKDEVICE_QUEUE_ENTRY KiRemoveDeviceQueue(sim_t *S, PKDEVICE_QUEUE q, bool by_key, ULONG key, const DEVICE_OBJECT *dev) {
  const char *routine = by_key ? "KeRemoveByKeyDeviceQueue" : "KeRemoveDeviceQueue";
  dq_check(S, q, routine);
  if (!q->Busy) ke_assert_failed(S, "DeviceQueue->Busy == TRUE", "devquote.c", 0, routine);
  dq_name(S, q, dev);
  KiAcquireSpinLockTraced(S, &q->Lock, routine, TRC_SPINLOCK_ACQUIRE);
  PKDEVICE_QUEUE_ENTRY got = NULL;
  if (IsListEmpty(&q->DeviceListHead)) {
    q->Busy = FALSE;
  } else {
    LIST_ENTRY *at = q->DeviceListHead.Flink;
    if (by_key) { /* the first with a key >= key; none: the first of all */
      LIST_ENTRY *x = at;
      while (x != &q->DeviceListHead && CONTAINING_RECORD(x, KDEVICE_QUEUE_ENTRY, DeviceListEntry)->SortKey < key)
        x = x->Flink;
      if (x != &q->DeviceListHead) at = x;
    }
    RemoveEntryList(at);
    got = CONTAINING_RECORD(at, KDEVICE_QUEUE_ENTRY, DeviceListEntry);
    got->Inserted = FALSE;
  }
  /* The entry is an IRP's when the I/O manager's routines call this; the
     caller traces which one (it knows). */
  dq_trace(S, routine, NULL, dev, q, got != NULL, got ? "an entry taken out" : "empty: the device is idle");
  KiReleaseSpinLockTraced(S, &q->Lock, routine, TRC_SPINLOCK_RELEASE);
  sched_step(S, COST_STEP);
  return got;
}

BOOLEAN KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry) {
  return KiInsertDeviceQueue(ctx_sim(), DeviceQueue, DeviceQueueEntry, false, 0, NULL, NULL);
}

BOOLEAN KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry, ULONG SortKey) {
  return KiInsertDeviceQueue(ctx_sim(), DeviceQueue, DeviceQueueEntry, true, SortKey, NULL, NULL);
}

PKDEVICE_QUEUE_ENTRY KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue) {
  return KiRemoveDeviceQueue(ctx_sim(), DeviceQueue, false, 0, NULL);
}

PKDEVICE_QUEUE_ENTRY KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, ULONG SortKey) {
  return KiRemoveDeviceQueue(ctx_sim(), DeviceQueue, true, SortKey, NULL);
}

/* Any IRQL up to DISPATCH_LEVEL: it raises to take the lock (a cancel
   routine calls it with the cancel spin lock held). */
BOOLEAN KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry) {
  sim_t *S = ctx_sim();
  const char *routine = "KeRemoveEntryDeviceQueue";
  ke_check_irql(S, DISPATCH_LEVEL, routine);
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KiAcquireSpinLockTraced(S, &DeviceQueue->Lock, routine, TRC_SPINLOCK_ACQUIRE);
  BOOLEAN was = DeviceQueueEntry->Inserted;
  if (was) {
    DeviceQueueEntry->Inserted = FALSE;
    RemoveEntryList(&DeviceQueueEntry->DeviceListEntry);
  }
  dq_trace(S, routine, NULL, NULL, DeviceQueue, was, was ? "the entry taken out" : "the entry was not queued");
  KiReleaseSpinLockTraced(S, &DeviceQueue->Lock, routine, TRC_SPINLOCK_RELEASE);
  KeLowerIrql(old);
  sched_step(S, COST_STEP);
  return was;
}
