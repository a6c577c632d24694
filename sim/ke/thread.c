/*
 * thread.c - simulated threads: creation, the ready queue, blocking and
 * waking, and exit.  A thread is a coroutine bound to a CPU while it runs;
 * blocking switches that CPU straight to the next ready thread or to its
 * idle loop.
 */
#include "ke/ke.h"

static void thr_main(void *arg);

PKTHREAD sim_thread_create(sim_t *S, const char *name, SIM_THREAD_START *fn, PVOID arg) {
  PKTHREAD t = mem_calloc(S, sizeof *t);
  t->S = S;
  t->id = name_add(S, &S->thread_names, name);
  t->name = mem_strdup(S, name);
  obj_init(&t->Header, OBJ_THREAD, 0);
  t->Header.Name = t->name;
  t->start = fn;
  t->arg = arg;
  list_init(&t->apc[0]);
  list_init(&t->apc[1]);
  list_init(&t->irp_list);
  list_init(&t->ready_link);
  list_init(&t->queue_link);
  list_init(&t->QueueListEntry);
  t->ApcQueueable = true;
  list_init(&t->MutantListHead);
  t->Priority = 8; /* a normal thread's base priority */
  if (ctx_init(S, &t->ctx, thr_main, t) != SIM_OK) mem_exhausted(CTX_STACK_SIZE); /* no stack can be mapped */
  list_insert_tail(&S->threads, &t->all_link);
  S->nthreads_live++;
  t->state = THR_READY;
  list_insert_tail(&S->ready, &t->ready_link);
  return t;
}

PKTHREAD thr_current(sim_t *S) { return S->cur_cpu ? S->cur_cpu->thread : NULL; }

PKTHREAD KeGetCurrentThread(void) { return thr_current(ctx_sim()); }

/* Puts a thread on the ready queue and wakes an idle CPU to take it; which
   one, when several are idle, is the chooser's call. */
void KiReadyThread(sim_t *S, PKTHREAD t) {
  /* Only a waiting thread is readied (KiUnwaitThread checks): readying a
     ready, running or finished one would queue it twice or revive it. */
  SIM_ASSERT(t->state == THR_WAITING);
  SIM_ASSERT(list_empty(&t->ready_link));
  t->state = THR_READY;
  list_insert_tail(&S->ready, &t->ready_link);
  KiWakeIdleProcessor(S);
}

/* A thread became ready: an idle CPU is woken to take it; which one, when
   several are idle, is the chooser's call. */
void KiWakeIdleProcessor(sim_t *S) {
  cpu_t *cur = S->cur_cpu, *idle[SIM_MAX_CPUS];
  int ids[SIM_MAX_CPUS];
  uint32_t n = 0;
  /* Code running in an idle loop (a DPC there): the loop takes the thread
     when that code returns.  An idle loop parked in the scheduler (a timer
     or an interrupt is being handled) runs nothing, so it is a candidate
     like any other idle CPU. */
  if (cur && cur->thread == NULL && !cur->idle) return;
  for (int i = 0; i < S->ncpu; i++)
    if (S->cpu[i].thread == NULL && (&S->cpu[i] != cur || cur->idle)) ids[n] = i, idle[n++] = &S->cpu[i];
  if (n) cpu_poke(S, idle[n > 1 ? chs_place(S, SIM_CHOICE_IDLE_CPU, ids, n) : 0]);
}

/* Switches the current CPU away from `t` (already waiting or terminated):
   to the next ready thread, else to the CPU's idle loop. */
static void thr_switch_away(sim_t *S, PKTHREAD t) {
  cpu_t *c = t->cpu;
  LIST_ENTRY *e = list_pop_head(&S->ready);
  ctx_t *to;
  if (e) {
    PKTHREAD n = CONTAINING_RECORD(e, KTHREAD, ready_link);
    c->thread = n;
    n->cpu = c;
    n->state = THR_RUNNING;
    to = &n->ctx;
    if (trc_on(S)) {
      trc_event_t ev = trc_ev(TRC_SWITCH, NULL, NULL);
      ev.target_thread = n->id;
      trc_send(S, &ev, "%s -> %s", t->name, n->name);
    }
  } else {
    c->thread = NULL;
    c->frames[0].kind = TRC_FRAME_IDLE;
    to = &c->idle_ctx;
    if (trc_on(S)) {
      trc_event_t ev = trc_ev(TRC_SWITCH, NULL, NULL);
      ev.target_thread = 0; /* the idle loop */
      trc_send(S, &ev, "%s -> idle", t->name);
    }
  }
  c->ctx = to;
  S->cur_ctx = to;
  S->stats.ctx_switches++;
  ctx_switch(&t->ctx, to);
}

void KiSwapThread(sim_t *S, PKTHREAD t) {
  thr_switch_away(S, t);
  /* Running again, on whichever CPU picked us up. */
  cpu_t *c = t->cpu;
  c->frames[0].kind = TRC_FRAME_THREAD;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_SWITCH, NULL, NULL);
    e.target_thread = t->id;
    trc_send(S, &e, "-> %s", t->name);
  }
  sched_step(S, COST_CONTEXT_SWITCH);
}

/* Whether a thread that is not a system thread (a program's) is still alive. */
static bool thr_user_threads_live(sim_t *S) { return S->nthreads_live > S->nsystem_threads_live; }

static void thr_main(void *arg) {
  PKTHREAD t = arg;
  sim_t *S = t->S;
  t->cpu->frames[0].kind = TRC_FRAME_THREAD;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_THREAD_START, NULL, NULL);
    e.target_thread = t->id;
    trc_send(S, &e, "%s", t->name);
  }
  sched_step(S, COST_CONTEXT_SWITCH);
  t->start(t->arg);
  S->hooks.thread_exit_io(S, t); /* a thread does not go away before its IRPs */
  KiCheckThreadExit(S, t);
  KiRundownThreadApcs(S, t);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_THREAD_EXIT, NULL, NULL);
    e.target_thread = t->id;
    trc_send(S, &e, "%s", t->name);
  }
  t->state = THR_TERMINATED;
  S->nthreads_live--;
  if (t->SystemThread) S->nsystem_threads_live--;
  if (!t->SystemThread && S->hooks.run_idle && !thr_user_threads_live(S)) S->hooks.run_idle(S);
  KiQueueThreadExit(S, t);
  t->Header.SignalState = 1; /* a terminated thread stays signalled */
  obj_signal(S, &t->Header);
  thr_switch_away(S, t);
  abort(); /* a terminated thread is never resumed */
}

void KiUnwaitThread(sim_t *S, PKTHREAD t, NTSTATUS status) {
  if (t->state != THR_WAITING) return;
  for (int i = 0; i < t->wait_count; i++) list_remove(&t->wb[i].link);
  t->wait_count = 0;
  t->wait_gen++; /* disarms the timeout */
  t->wait_status = status;
  KiQueueWaiterUnlink(t);
  KiQueueThreadRuns(S, t);
  char sb[16];
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_WAKE, NULL, NULL);
    e.target_thread = t->id;
    trc_set_status(&e, status);
    trc_send(S, &e, "thread %s woken (%s)", t->name, iosim_status_name(status, sb));
  }
  KiReadyThread(S, t);
}

void thr_timeout(sim_t *S, PKTHREAD t, uint32_t gen) {
  if (gen == t->wait_gen && t->state == THR_WAITING) KiUnwaitThread(S, t, STATUS_TIMEOUT);
}

bool sim_thread_finished(const PKTHREAD t) { return t->state == THR_TERMINATED; }
bool sim_thread_waiting(const PKTHREAD t) { return t->state == THR_WAITING; }
uint32_t sim_thread_id(const PKTHREAD t) { return t->id; }

PKTHREAD sim_thread_by_name(sim_t *S, const char *name) {
  for (LIST_ENTRY *e = S->threads.Flink; e != &S->threads; e = e->Flink) {
    PKTHREAD t = CONTAINING_RECORD(e, KTHREAD, all_link);
    if (strcmp(t->name, name) == 0) return t;
  }
  return NULL;
}

void ke_destroy(sim_t *S) {
  for (int i = 0; i < S->ncpu; i++) ctx_free(S, &S->cpu[i].idle_ctx);
  while (!list_empty(&S->threads)) {
    PKTHREAD t = CONTAINING_RECORD(list_pop_head(&S->threads), KTHREAD, all_link);
    /* User APCs never delivered go through their rundown routines, as
       KeRundownApcQueues does for a terminating thread (QueueUserAPC's
       frees its APC object). */
    LIST_ENTRY *e;
    while ((e = list_pop_head(&t->apc[UserMode]))) {
      PKAPC a = CONTAINING_RECORD(e, KAPC, ApcListEntry);
      if (a->RundownRoutine) a->RundownRoutine(a);
    }
    ctx_free(S, &t->ctx);
    mem_free(S, t->scratch, t->scratch_bytes);
    free(t->name);
    free(t);
  }
}
