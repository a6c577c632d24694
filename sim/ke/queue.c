/*
 * queue.c - the kernel queue (KQUEUE) that completion ports are built on:
 * entries queue FIFO, waiting threads are released LIFO, and a concurrency
 * value limits how many associated threads run at once.  The running count
 * drops when an associated thread blocks anywhere else (so another may be
 * released) and rises whenever one is woken, even above the limit.
 */
#include "ke/ke.h"

void KeInitializeQueue(PKQUEUE Queue, ULONG Count, uint32_t Id, const char *Name) {
  Queue->SimId = Id;
  Queue->SimName = Name;
  list_init(&Queue->EntryListHead);
  list_init(&Queue->WaitListHead);
  Queue->CurrentCount = 0;
  Queue->MaximumCount = Count;
  Queue->EntryCount = 0;
}

/* Hands the entry to the most recent waiter; the wake-up counts it running. */
static void queue_handoff(sim_t *S, PKQUEUE q, LIST_ENTRY *entry) {
  LIST_ENTRY *e = q->WaitListHead.Blink; /* the last thread to start waiting */
  list_remove(e);
  PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, queue_link);
  t->queue_entry = entry;
  KiUnwaitThread(S, t, STATUS_SUCCESS);
}

/* KiActivateWaiterQueue's second half: a slot may have opened. */
static void queue_release(sim_t *S, PKQUEUE q) {
  if (q->CurrentCount < q->MaximumCount && q->EntryCount && !list_empty(&q->WaitListHead)) {
    LIST_ENTRY *e = list_pop_head(&q->EntryListHead);
    q->EntryCount--;
    queue_handoff(S, q, e);
  }
}

void KiActivateWaiterQueue(sim_t *S, PKTHREAD t) {
  if (!t->Queue || !t->queue_counted) return;
  t->queue_counted = false;
  SIM_ASSERT(t->Queue->CurrentCount > 0);
  t->Queue->CurrentCount--;
  if (!t->in_queue_wait) queue_release(S, t->Queue);
}

void KiQueueThreadRuns(sim_t *S, PKTHREAD t) {
  (void)S;
  if (!t->Queue || t->queue_counted) return;
  t->queue_counted = true;
  t->Queue->CurrentCount++;
}

bool KeInsertQueue(sim_t *S, PKQUEUE Queue, LIST_ENTRY *Entry) {
  if (!list_empty(&Queue->WaitListHead) && Queue->CurrentCount < Queue->MaximumCount) {
    queue_handoff(S, Queue, Entry);
    return true;
  }
  list_insert_tail(&Queue->EntryListHead, Entry);
  Queue->EntryCount++;
  return false;
}

LIST_ENTRY *KeRemoveQueue(sim_t *S, PKQUEUE Queue, const LONGLONG *Timeout, NTSTATUS *Status) {
  PKTHREAD t = thr_current(S);
  *Status = STATUS_SUCCESS;
  if (t->Queue != Queue) { /* (re)associate: leave the old queue's count */
    KiActivateWaiterQueue(S, t);
    t->Queue = Queue;
    t->queue_counted = false;
  } else {
    /* Back at its own queue: its slot is free, and it gets first claim on
       a queued entry (no other waiter is released for it). */
    t->in_queue_wait = true;
    KiActivateWaiterQueue(S, t);
    t->in_queue_wait = false;
  }
  if (Queue->EntryCount && Queue->CurrentCount < Queue->MaximumCount) {
    LIST_ENTRY *e = list_pop_head(&Queue->EntryListHead);
    Queue->EntryCount--;
    KiQueueThreadRuns(S, t);
    return e;
  }
  if (trc_on(S)) {
    trc_event_t ev = trc_event_make(TRC_PORT_WAIT);
    ev.port = Queue->SimId;
    ev.running = (int)Queue->CurrentCount, ev.limit = (int)Queue->MaximumCount;
    ev.count = (int)Queue->EntryCount;
    trc_send(S, &ev, "%s waits on port %s (%lu of %lu running, %lu queued)", t->name, Queue->SimName,
             (unsigned long)Queue->CurrentCount, (unsigned long)Queue->MaximumCount,
             (unsigned long)Queue->EntryCount);
  }
  list_insert_tail(&Queue->WaitListHead, &t->queue_link);
  t->in_queue_wait = true;
  t->queue_entry = NULL;
  NTSTATUS st = thr_wait(S, 0, NULL, WaitAny, UserMode, FALSE, Timeout);
  t->in_queue_wait = false;
  LIST_ENTRY *e = t->queue_entry;
  t->queue_entry = NULL;
  if (!e) {
    list_remove(&t->queue_link); /* timed out: still on the waiter list */
    KiQueueThreadRuns(S, t);
    *Status = st == STATUS_SUCCESS ? STATUS_TIMEOUT : st;
  }
  return e;
}
