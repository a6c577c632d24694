/*
 * work.c - the system worker threads (kernel-facts 13.5): two queues,
 * critical and delayed, each served by two system threads created the
 * first time something is queued to it.  A worker waits for an item,
 * runs its routine at PASSIVE_LEVEL, checks the routine came back at
 * PASSIVE_LEVEL (WORKER_THREAD_RETURNED_AT_BAD_IRQL otherwise) and waits
 * again.  Windows' workers wait on a KQUEUE per queue type; iosim's wait
 * on a semaphore counting the items of a FIFO list, which gives the same
 * order without the KQUEUE's concurrency limit.  An idle worker is the
 * machine at rest: a run whose only waiting threads are idle workers ends
 * `ok`, not `stalled`, and the end-of-run account does not list them as
 * stuck.
 */
#include "ex/ex.h"
#include "ps/ps.h"

#include <stdio.h>

#define WORKERS_PER_QUEUE 2

typedef struct ex_wq {
  KSEMAPHORE items;       /* one count per queued item */
  LIST_ENTRY list;        /* the items, oldest first */
  bool started;
} ex_wq_t;

struct ex_work {
  ex_wq_t q[EX_QUEUE_COUNT];
};

static const char *const queue_names[EX_QUEUE_COUNT] = {"critical", "delayed"};

static void ex_worker_main(PVOID arg) {
  ex_wq_t *q = arg;
  sim_t *S = ctx_sim();
  PKTHREAD self = thr_current(S);
  for (;;) {
    S->nthreads_idle++;
    self->idle_worker = true;
    KeWaitForSingleObject(&q->items, Executive, KernelMode, FALSE, NULL);
    self->idle_worker = false;
    S->nthreads_idle--;
    LIST_ENTRY *e = list_pop_head(&q->list);
    SIM_ASSERT(e); /* the semaphore counts the items */
    ex_work_item_t *item = CONTAINING_RECORD(e, ex_work_item_t, link);
    ex_work_routine_t *routine = item->routine;
    item->queued = false; /* the routine may queue it again, or free it */
    routine(S, item);
    KIRQL irql = S->cur_cpu->irql;
    if (irql != PASSIVE_LEVEL)
      bugcheck(S, WORKER_THREAD_RETURNED_AT_BAD_IRQL, (ULONG_PTR)routine, irql, 0, (ULONG_PTR)item,
               "a work item's routine returned to its worker thread at IRQL %d", irql);
  }
}

static ex_wq_t *ex_queue(sim_t *S, ex_queue_t which) {
  if (!S->work) {
    S->work = mem_calloc(S, sizeof *S->work);
    for (int i = 0; i < EX_QUEUE_COUNT; i++) {
      ex_wq_t *q = &S->work->q[i];
      KeInitializeSemaphore(&q->items, 0, MAXLONG);
      q->items.Header.Name = i == EX_QUEUE_CRITICAL ? "critical work queue" : "delayed work queue";
      list_init(&q->list);
    }
  }
  ex_wq_t *q = &S->work->q[which];
  if (!q->started) { /* created lazily, in a fixed order: the same in every run */
    q->started = true;
    for (int i = 1; i <= WORKERS_PER_QUEUE; i++) {
      char name[32];
      snprintf(name, sizeof name, "worker-%s-%d", queue_names[which], i);
      PKTHREAD t = ps_create_system_thread(S, name, ex_worker_main, q);
      t->Priority = which == EX_QUEUE_CRITICAL ? 13 : 12; /* Windows' worker priorities */
    }
  }
  return q;
}

void ex_queue_work(sim_t *S, ex_work_item_t *item, ex_queue_t which) {
  SIM_ASSERT(!item->queued);
  ex_wq_t *q = ex_queue(S, which);
  item->queued = true;
  list_insert_tail(&q->list, &item->link);
  q->items.Header.SignalState++; /* one more for a worker: wakes one if any waits */
  obj_signal(S, &q->items.Header);
}

ex_work_item_t *ex_work_in_range(sim_t *S, const void *p, size_t n) {
  const char *lo = p, *hi = lo + n;
  for (int i = 0; S->work && i < EX_QUEUE_COUNT; i++) {
    LIST_ENTRY *h = &S->work->q[i].list;
    for (LIST_ENTRY *e = h->Flink; e != h; e = e->Flink) {
      const char *it = (const char *)CONTAINING_RECORD(e, ex_work_item_t, link);
      if (it >= lo && it < hi) return (ex_work_item_t *)it;
    }
  }
  return NULL;
}

void ex_work_destroy(sim_t *S) {
  mem_free(S, S->work, sizeof *S->work);
  S->work = NULL;
}
