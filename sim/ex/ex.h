/*
 * ex.h - the executive's private interface (ex/): putting the machine
 * together, the end-of-run account (ex/account.c), pool with its per-tag
 * accounting, fast mutexes, and the system worker threads that run work
 * items.
 */
#ifndef IOSIM_EX_H
#define IOSIM_EX_H

#include "io/io.h"

/* S->hooks.run_end_account: one irp-outstanding step per IRP still
   allocated, one thread-stuck step per thread still waiting. */
void ex_run_end_account(sim_t *S);
/* S->hooks.run_idle: starts the system thread that unloads the drivers
   (ex/unload.c); false when there is nothing to unload. */
bool ex_run_idle(sim_t *S);

/* ---- system worker threads (ex/work.c) ---- */
/* A unit of work for a worker thread: `routine(item)` runs at
   PASSIVE_LEVEL in a system thread.  The item is the caller's memory. */
typedef struct ex_work_item ex_work_item_t;
typedef void ex_work_routine_t(sim_t *S, ex_work_item_t *item);
struct ex_work_item {
  LIST_ENTRY link;
  ex_work_routine_t *routine;
  bool queued;
};
/* The two queues iosim keeps: critical (CriticalWorkQueue and the other
   time-critical types) and delayed (DelayedWorkQueue and the rest). */
typedef enum { EX_QUEUE_CRITICAL, EX_QUEUE_DELAYED, EX_QUEUE_COUNT } ex_queue_t;
/* Queues the item (not queued already: the caller checks); the queue's
   worker threads are created the first time. */
void ex_queue_work(sim_t *S, ex_work_item_t *item, ex_queue_t queue);
/* A queued item inside [p, p + n) (pool being freed), or NULL. */
ex_work_item_t *ex_work_in_range(sim_t *S, const void *p, size_t n);

/* ---- teardown (ex/machine.c calls these) ---- */
void ex_pool_destroy(sim_t *S);
void ex_work_destroy(sim_t *S);

#endif
