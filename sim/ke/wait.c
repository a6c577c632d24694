/*
 * wait.c - dispatcher objects (events, threads; timers, semaphores and
 * mutexes through ke/dispobj.c) and waits on them: any / all,
 * timeouts, alertable waits, and the order of checks Windows makes when a
 * wait begins (kernel APCs, then signalled objects, then alerts and user
 * APCs, then the timeout, then block).
 */
#include "ke/ke.h"

void obj_init(DISPATCHER_HEADER *h, uint8_t type, int32_t state) {
  h->Type = type;
  h->SignalState = state;
  list_init(&h->WaitListHead);
}

void KeInitializeEvent(PKEVENT Event, EVENT_TYPE Type, BOOLEAN State) {
  obj_init(&Event->Header, Type == NotificationEvent ? OBJ_EVENT_NOTIFICATION : OBJ_EVENT_SYNCHRONIZATION,
           State ? 1 : 0);
  Event->Header.Id = 0;
  Event->Header.Name = NULL;
}

void sim_name_object(PVOID obj, const char *name) { ((DISPATCHER_HEADER *)obj)->Name = name; }

static void obj_consume(DISPATCHER_HEADER *h, PKTHREAD t) {
  if (h->Type == OBJ_EVENT_SYNCHRONIZATION) h->SignalState = 0;
  else if (h->Type >= OBJ_TIMER_NOTIFICATION) KiWaitSatisfyObject(h, t); /* ke/dispobj.c */
}

static bool wait_all_satisfied(PKTHREAD t) {
  for (int i = 0; i < t->wait_count; i++)
    if (!obj_ready(t->wb[i].obj, t)) return false;
  return true;
}

/* The object became signalled: satisfy waiters in wait-list order.  A
   notification event releases them all; a synchronization event one. */
void obj_signal(sim_t *S, DISPATCHER_HEADER *h) {
  LIST_ENTRY *e = h->WaitListHead.Flink;
  while (e != &h->WaitListHead && h->SignalState > 0) {
    wait_block_t *wb = CONTAINING_RECORD(e, wait_block_t, link);
    e = e->Flink;
    PKTHREAD t = wb->thread; /* unwaiting t unlinks only t's own blocks */
    if (t->wait_type == WaitAny) {
      obj_consume(h, t);
      KiUnwaitThread(S, t, STATUS_WAIT_0 + wb->index);
    } else if (wait_all_satisfied(t)) {
      for (int i = 0; i < t->wait_count; i++) obj_consume(t->wb[i].obj, t);
      KiUnwaitThread(S, t, STATUS_WAIT_0);
    }
  }
}

static const char *obj_label(sim_t *S, DISPATCHER_HEADER *h, char buf[32]) {
  if (h->Name) return h->Name;
  snprintf(buf, 32, "object#%u", obj_id(S, h));
  return buf;
}

int32_t KeSetEvent(PKEVENT Event, int32_t Increment, BOOLEAN Wait) {
  (void)Increment;
  (void)Wait;
  sim_t *S = ctx_sim();
  int32_t old = Event->Header.SignalState;
  Event->Header.SignalState = 1;
  char b[32];
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_EVENT_SET, NULL, NULL);
    e.object = obj_id(S, &Event->Header);
    e.count = old; /* the previous state */
    trc_send(S, &e, "%s", obj_label(S, &Event->Header, b));
  }
  obj_signal(S, &Event->Header);
  sched_step(S, COST_SET_EVENT);
  return old;
}

void KeClearEvent(PKEVENT Event) { Event->Header.SignalState = 0; }

int32_t KeResetEvent(PKEVENT Event) {
  int32_t old = Event->Header.SignalState;
  Event->Header.SignalState = 0;
  return old;
}

int32_t KeReadStateEvent(PKEVENT Event) { return Event->Header.SignalState; }

/* Which object satisfies thread t's wait right now: its index, or -1. */
static int wait_check(ULONG n, DISPATCHER_HEADER **o, WAIT_TYPE type, const KTHREAD *t) {
  if (type == WaitAny) {
    for (ULONG i = 0; i < n; i++)
      if (obj_ready(o[i], t)) return (int)i;
    return -1;
  }
  for (ULONG i = 0; i < n; i++)
    if (!obj_ready(o[i], t)) return -1;
  return 0;
}

uint64_t wait_deadline(sim_t *S, const LONGLONG *timeout) {
  if (!timeout) return UINT64_MAX;
  if (*timeout < 0) return S->now + (uint64_t)(-*timeout) * 100;
  return (uint64_t)*timeout * 100 > S->now ? (uint64_t)*timeout * 100 : S->now;
}

void wait_check_context(sim_t *S, PKTHREAD t, const LONGLONG *timeout) {
  cpu_t *c = S->cur_cpu;
  if (c->irql >= DISPATCH_LEVEL && !(timeout && *timeout == 0))
    bugcheck(S, IRQL_NOT_LESS_OR_EQUAL, 0, c->irql, 0, 0,
             "a wait with a nonzero timeout at IRQL %d (only PASSIVE/APC_LEVEL may block)", c->irql);
  if (!t) bugcheck(S, 0x1, 0, 0, 0, 0, "a wait outside any thread (in an idle DPC)");
}

void wait_begin(sim_t *S, PKTHREAD t, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type, BOOLEAN alertable,
                bool sleep) {
  t->wait_is_sleep = sleep;
  if (trc_on(S)) {
    trc_event_t e = trc_ev(sleep ? TRC_SLEEP : TRC_WAIT, NULL, NULL);
    e.target_thread = t->id;
    e.count = (int)count;
    e.object = count ? obj_id(S, objs[0]) : 0;
    if (sleep)
      trc_send(S, &e, "%s sleeps%s", t->name, alertable ? ", alertable" : "");
    else
      trc_send(S, &e, "%s waits for %u object(s)%s%s", t->name, count,
               type == WaitAll && count > 1 ? " (all)" : "", alertable ? ", alertable" : "");
  }
  sched_step(S, COST_WAIT);
}

NTSTATUS wait_early(sim_t *S, PKTHREAD t, KPROCESSOR_MODE mode, BOOLEAN alertable, uint64_t deadline,
                    bool blocked) {
  NTSTATUS early = 0;
  if (alertable && mode == UserMode && t->alerted) { /* (3) alerts (user-mode ones), then user APCs */
    t->alerted = false;
    early = STATUS_ALERTED;
  } else if (mode == UserMode && ((alertable && !list_empty(&t->apc[UserMode])) || t->user_apc_pending)) {
    t->user_apc_pending = TRUE;
    early = STATUS_USER_APC;
  } else if (deadline <= S->now) {
    early = STATUS_TIMEOUT; /* (4) */
  }
  if (early) wait_done(S, t, early, blocked, blocked ? "back from a kernel APC, returns" : "returns without blocking");
  return early;
}

void wait_done(sim_t *S, PKTHREAD t, NTSTATUS st, bool blocked, const char *why) {
  if (!trc_on(S)) return;
  trc_event_t e = trc_ev(t->wait_is_sleep ? TRC_SLEEP_DONE : TRC_WAIT_DONE, NULL, NULL);
  e.target_thread = t->id;
  e.count = blocked; /* 0: did not block */
  trc_set_status(&e, st);
  trc_send(S, &e, "%s: %s", t->name, why);
}

NTSTATUS wait_block(sim_t *S, PKTHREAD t, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type,
                    KPROCESSOR_MODE mode, BOOLEAN alertable, KIRQL wait_irql, uint64_t deadline) {
  t->wait_count = (int)count;
  t->wait_type = type;
  t->wait_mode = mode;
  t->wait_alertable = alertable;
  t->wait_irql = wait_irql;
  for (ULONG k = 0; k < count; k++) {
    t->wb[k] = (wait_block_t){.thread = t, .obj = objs[k], .index = (int)k};
    list_insert_tail(&objs[k]->WaitListHead, &t->wb[k].link);
  }
  t->wait_gen++;
  if (deadline != UINT64_MAX)
    evq_push(S, (evq_item_t){.t = deadline, .kind = EV_TIMER, .gen = t->wait_gen, .obj = t});
  t->state = THR_WAITING;
  KiActivateWaiterQueue(S, t); /* a port worker blocking here frees a slot */
  KiSwapThread(S, t);
  NTSTATUS st = t->wait_status;
  if (st != STATUS_KERNEL_APC && trc_on(S)) {
    trc_event_t e = trc_ev(t->wait_is_sleep ? TRC_SLEEP_DONE : TRC_WAIT_DONE, NULL, NULL);
    e.target_thread = t->id;
    e.count = 1; /* blocked */
    if (st >= STATUS_WAIT_0 && st < STATUS_WAIT_0 + (NTSTATUS)count) {
      e.wait_index = (int)(st - STATUS_WAIT_0);
      e.object = obj_id(S, objs[e.wait_index]);
    }
    trc_set_status(&e, st);
    trc_send(S, &e, "%s", t->name);
  }
  return st;
}

NTSTATUS thr_wait(sim_t *S, ULONG count, DISPATCHER_HEADER **objs, WAIT_TYPE type,
                  KPROCESSOR_MODE mode, BOOLEAN alertable, const LONGLONG *timeout) {
  PKTHREAD t = thr_current(S);
  wait_check_context(S, t, timeout);
  if (count > MAXIMUM_WAIT_OBJECTS) return STATUS_INVALID_PARAMETER;
  KIRQL wait_irql = S->cur_cpu->irql;
  uint64_t deadline = wait_deadline(S, timeout);
  /* A wait on no object is KeDelayExecutionThread (a sleep); KeRemoveQueue,
     whose object is the queue, begins its wait as a wait. */
  wait_begin(S, t, count, objs, type, alertable, count == 0);
  bool blocked = false;
  for (;;) {
    if (wait_irql == PASSIVE_LEVEL) cpu_service(S, t->cpu); /* (1) kernel APCs first */
    int i = wait_check(count, objs, type, t);                 /* (2) signalled objects */
    if (i >= 0) {
      if (type == WaitAny) obj_consume(objs[i], t);
      else for (ULONG k = 0; k < count; k++) obj_consume(objs[k], t);
      if (trc_on(S)) {
        trc_event_t e = trc_ev(TRC_WAIT_DONE, NULL, NULL);
        e.target_thread = t->id;
        e.wait_index = i;
        e.count = blocked;
        e.object = obj_id(S, objs[i]);
        trc_set_status(&e, STATUS_WAIT_0 + i);
        trc_send(S, &e, "%s: object %d is signalled", t->name, i);
      }
      return STATUS_WAIT_0 + i;
    }
    NTSTATUS st = wait_early(S, t, mode, alertable, deadline, blocked); /* (3), (4) */
    if (st) return st;
    st = wait_block(S, t, count, objs, type, mode, alertable, wait_irql, deadline); /* (5) */
    if (st != STATUS_KERNEL_APC) return st;
    /* Woken only to run a kernel APC (it ran on the way back in): wait
       again, silently, for what is left of the timeout. */
    blocked = true;
  }
}

NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                  KWAIT_REASON Reason, KPROCESSOR_MODE Mode,
                                  BOOLEAN Alertable, PLARGE_INTEGER Timeout, PKWAIT_BLOCK WaitBlockArray) {
  (void)Reason;
  sim_t *S = ctx_sim();
  /* A kernel-mode caller gets no error code: the limits are a contract. */
  if (Count > MAXIMUM_WAIT_OBJECTS)
    bugcheck(S, MAXIMUM_WAIT_OBJECTS_EXCEEDED, Count, 0, 0, 0,
             "KeWaitForMultipleObjects on %lu objects, more than MAXIMUM_WAIT_OBJECTS (%d)", (unsigned long)Count,
             MAXIMUM_WAIT_OBJECTS);
  if (Count > THREAD_WAIT_OBJECTS && !WaitBlockArray)
    bugcheck(S, MAXIMUM_WAIT_OBJECTS_EXCEEDED, Count, 0, 0, 0,
             "KeWaitForMultipleObjects on %lu objects with no WaitBlockArray: a thread has wait blocks for "
             "THREAD_WAIT_OBJECTS (%d) only", (unsigned long)Count, THREAD_WAIT_OBJECTS);
  return thr_wait(S, Count, (DISPATCHER_HEADER **)Object, WaitType, Mode, Alertable,
                  Timeout ? &Timeout->QuadPart : NULL);
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON Reason, KPROCESSOR_MODE Mode,
                               BOOLEAN Alertable, PLARGE_INTEGER Timeout) {
  PVOID o[1] = {Object};
  return KeWaitForMultipleObjects(1, o, WaitAny, Reason, Mode, Alertable, Timeout, NULL);
}

NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE Mode, BOOLEAN Alertable, PLARGE_INTEGER Interval) {
  NTSTATUS st = thr_wait(ctx_sim(), 0, NULL, WaitAny, Mode, Alertable, Interval ? &Interval->QuadPart : NULL);
  return st == STATUS_TIMEOUT ? STATUS_SUCCESS : st;
}
