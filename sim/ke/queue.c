/*
 * queue.c - the kernel queue (KQUEUE) that completion ports are built on:
 * entries queue FIFO, waiting threads are released LIFO, and a concurrency
 * value limits how many associated threads run at once.  The running count
 * drops when an associated thread blocks anywhere else (so another may be
 * released) and rises whenever one is woken, even above the limit.  A queue
 * that is run down (its port's handle closed) releases its waiters with
 * STATUS_ABANDONED_WAIT_0 and forgets its threads.
 */
#include "ke/ke.h"

void KeInitializeQueue(PKQUEUE Queue, ULONG Count, uint32_t Id, const char *Name) {
  Queue->SimId = Id;
  Queue->SimName = Name;
  list_init(&Queue->EntryListHead);
  list_init(&Queue->WaitListHead);
  list_init(&Queue->ThreadListHead);
  Queue->CurrentCount = 0;
  Queue->MaximumCount = Count;
  Queue->EntryCount = 0;
  Queue->Abandoned = false;
}

/* Hands the entry to the most recent waiter; the wake-up counts it running. */
static void queue_handoff(sim_t *S, PKQUEUE q, LIST_ENTRY *entry) {
  LIST_ENTRY *e = q->WaitListHead.Blink; /* the last thread to start waiting */
  list_remove(e);
  PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, queue_link);
  /* Only a thread really blocked in the queue is on the list: one woken for
     anything else left it in KiQueueWaiterUnlink. */
  SIM_ASSERT(t->state == THR_WAITING && t->in_queue_wait);
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
  queue_release(S, t->Queue);
}

void KiQueueThreadRuns(sim_t *S, PKTHREAD t) {
  (void)S;
  if (!t->Queue || t->queue_counted) return;
  t->queue_counted = true;
  t->Queue->CurrentCount++;
}

void KiQueueWaiterUnlink(PKTHREAD t) {
  if (t->in_queue_wait && !list_empty(&t->queue_link)) list_remove(&t->queue_link);
}

/* The calling thread stops counting as running without releasing anyone:
   it is about to look at the queue itself (KeRemoveQueue's own
   `CurrentCount--`), so it has first claim on what is queued. */
static void queue_uncount(PKTHREAD t) {
  if (!t->Queue || !t->queue_counted) return;
  t->queue_counted = false;
  SIM_ASSERT(t->Queue->CurrentCount > 0);
  t->Queue->CurrentCount--;
}

/* Makes `q` the thread's queue, KeRemoveQueue's first step: leaving another
   queue frees a slot there (which may release a waiter of it). */
static void queue_associate(sim_t *S, PKTHREAD t, PKQUEUE q) {
  if (t->Queue == q) {
    queue_uncount(t);
    return;
  }
  if (t->Queue) {
    list_remove(&t->QueueListEntry);
    KiActivateWaiterQueue(S, t);
  }
  t->Queue = q;
  t->queue_counted = false;
  list_insert_tail(&q->ThreadListHead, &t->QueueListEntry);
}

void KiQueueThreadExit(sim_t *S, PKTHREAD t) {
  if (!t->Queue) return;
  list_remove(&t->QueueListEntry);
  KiActivateWaiterQueue(S, t);
  t->Queue = NULL;
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

/* Moves up to `n` queued entries into out[have..]; returns the new total. */
static ULONG queue_take(PKQUEUE q, LIST_ENTRY **out, ULONG n, ULONG have) {
  while (have < n && q->EntryCount) {
    out[have++] = list_pop_head(&q->EntryListHead);
    q->EntryCount--;
  }
  return have;
}

static void trace_port_wait(sim_t *S, PKTHREAD t, PKQUEUE q) {
  if (!trc_on(S)) return;
  trc_event_t ev = trc_event_make(TRC_PORT_WAIT);
  ev.port = q->SimId;
  ev.running = (int)q->CurrentCount, ev.limit = (int)q->MaximumCount;
  ev.count = (int)q->EntryCount;
  trc_send(S, &ev, "%s waits on port %s (%lu of %lu running, %lu queued)", t->name, q->SimName,
           (unsigned long)q->CurrentCount, (unsigned long)q->MaximumCount, (unsigned long)q->EntryCount);
}

/* Blocks on the queue: on its waiter list, as the newest waiter.  Returns
   the wake status; *entry is the entry handed over, if that is what woke it. */
static NTSTATUS queue_block(sim_t *S, PKTHREAD t, PKQUEUE q, KPROCESSOR_MODE mode, BOOLEAN alertable,
                            KIRQL wait_irql, uint64_t deadline, LIST_ENTRY **entry) {
  list_insert_tail(&q->WaitListHead, &t->queue_link);
  t->in_queue_wait = true;
  t->queue_entry = NULL;
  NTSTATUS st = wait_block(S, t, 0, NULL, WaitAny, mode, alertable, wait_irql, deadline);
  t->in_queue_wait = false;
  SIM_ASSERT(list_empty(&t->queue_link)); /* the hand-off or the wake took it off */
  *entry = t->queue_entry;
  t->queue_entry = NULL;
  return st;
}

/* Windows' KeRemoveQueue loop: every round looks at the queue first (with
   this thread not counted), then delivers kernel APCs (counted while they
   run) and looks again, then the alertable and timeout checks, then blocks.
   A wake for a kernel APC comes back here to look at the queue again, so a
   packet queued meanwhile is taken if the count allows. */
ULONG KeRemoveQueueEx(sim_t *S, PKQUEUE Queue, KPROCESSOR_MODE Mode, BOOLEAN Alertable, const LONGLONG *Timeout,
                      LIST_ENTRY **Entries, ULONG Count, NTSTATUS *Status) {
  PKTHREAD t = thr_current(S);
  wait_check_context(S, t, Timeout);
  SIM_ASSERT(Count >= 1);
  *Status = STATUS_ABANDONED_WAIT_0;
  if (Queue->Abandoned) return 0;
  KIRQL wait_irql = S->cur_cpu->irql;
  uint64_t deadline = wait_deadline(S, Timeout);
  queue_associate(S, t, Queue);
  bool waiting = false, blocked = false;
  for (;;) {
    if (Queue->Abandoned) { /* run down while this thread ran an APC */
      wait_done(S, t, STATUS_ABANDONED_WAIT_0, blocked, "the queue was run down");
      return 0;
    }
    if (Queue->EntryCount && Queue->CurrentCount < Queue->MaximumCount) {
      KiQueueThreadRuns(S, t);
      *Status = STATUS_SUCCESS;
      if (waiting) wait_done(S, t, STATUS_SUCCESS, blocked, "an entry is queued and a slot is free");
      return queue_take(Queue, Entries, Count, 0);
    }
    if (!waiting) {
      trace_port_wait(S, t, Queue);
      wait_begin(S, t, 0, NULL, WaitAny, Alertable, false);
      waiting = true;
      continue; /* the step took time: look again */
    }
    if (wait_irql == PASSIVE_LEVEL && apc_deliverable(t)) {
      KiQueueThreadRuns(S, t); /* it runs while its APCs do */
      cpu_service(S, t->cpu);
      queue_uncount(t);
      continue;
    }
    NTSTATUS st = wait_early(S, t, Mode, Alertable, deadline, blocked);
    if (st) {
      KiQueueThreadRuns(S, t);
      *Status = st;
      return 0;
    }
    LIST_ENTRY *handed;
    st = queue_block(S, t, Queue, Mode, Alertable, wait_irql, deadline, &handed);
    if (handed) { /* counted by the hand-off; the rest adds nothing to it */
      Entries[0] = handed;
      *Status = STATUS_SUCCESS;
      return queue_take(Queue, Entries, Count, 1);
    }
    if (st != STATUS_KERNEL_APC) { /* counted by the wake */
      *Status = st;
      return 0;
    }
    /* The APC ran as the thread came back (counted by that wake); now
       waiting again, it no longer counts, and looks at the queue again. */
    blocked = true;
    queue_uncount(t);
  }
}

void KeRundownQueue(sim_t *S, PKQUEUE Queue, LIST_ENTRY *Entries) {
  SIM_ASSERT(!Queue->Abandoned);
  Queue->Abandoned = true;
  while (!list_empty(&Queue->EntryListHead)) list_insert_tail(Entries, list_pop_head(&Queue->EntryListHead));
  Queue->EntryCount = 0;
  LIST_ENTRY *e;
  while ((e = list_pop_head(&Queue->ThreadListHead))) {
    PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, QueueListEntry);
    t->Queue = NULL;
    t->queue_counted = false;
  }
  Queue->CurrentCount = 0;
  LIST_ENTRY *w;
  while ((w = list_pop_head(&Queue->WaitListHead))) /* oldest first */
    KiUnwaitThread(S, CONTAINING_RECORD(w, KTHREAD, queue_link), STATUS_ABANDONED_WAIT_0);
}
