/*
 * timerobj.c - kernel timers (KTIMER, kernel-facts 13.2) and the clock.
 * KeSetTimer(Ex) puts the timer on the event queue for its due time, in
 * the timer table of the CPU that set it (Windows 7+ keeps one table per
 * processor).  When the time comes that CPU's clock requests its
 * expiration pass, KiTimerExpiration, run at DISPATCH_LEVEL from its DPC
 * queue: for each timer due it signals the timer (a notification timer
 * releases every waiter, a synchronization timer one), sets a periodic
 * timer again one period from now (WRK's KiTimerListExpire: the period
 * counts from the pass, not from the due time) and calls the timer's DPC
 * routine right there, in the pass's DPC frame, as KiTimerListExpire does
 * - so the DPC runs on the processor that processed the expiration.  A
 * DPC the driver sent to another processor (KeSetTargetProcessorDpc) is
 * queued there instead.
 *
 * Time: system time 0 is the machine's start (it boots on 1 January 1601),
 * in 100 ns units, so a positive DueTime is an absolute time in the same
 * units the waits' absolute timeouts use.
 */
#include "ke/ke.h"

#include <stdio.h>

#define NS_PER_UNIT 100                   /* a time unit is 100 ns */

static bool timer_type(const KTIMER *t) {
  return t->Header.Type == OBJ_TIMER_NOTIFICATION || t->Header.Type == OBJ_TIMER_SYNCHRONIZATION;
}

static const char *timer_name(sim_t *S, PKTIMER t, char buf[32]) {
  if (t->Header.Name) return t->Header.Name;
  snprintf(buf, 32, "timer#%u", obj_id(S, &t->Header));
  return buf;
}

void KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type) {
  obj_init(&Timer->Header, Type == NotificationTimer ? OBJ_TIMER_NOTIFICATION : OBJ_TIMER_SYNCHRONIZATION, 0);
  Timer->Header.Id = 0;
  Timer->Header.Name = NULL;
  Timer->DueTime.QuadPart = 0;
  Timer->Dpc = NULL;
  Timer->Processor = 0;
  Timer->Period = 0;
  Timer->SimInserted = FALSE;
  Timer->SimDue = FALSE;
  list_init(&Timer->TimerListEntry);
}

void KeInitializeTimer(PKTIMER Timer) { KeInitializeTimerEx(Timer, NotificationTimer); }

BOOLEAN KeReadStateTimer(PKTIMER Timer) { return Timer->Header.SignalState != 0; }

/* The CPU's expiration pass: a high-importance DPC of its own, queued by
   its clock (no trace row of its own: KiRetireDpcList shows it run). */
static void KiTimerExpiration(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2);

static void timer_cpu_init(cpu_t *c) {
  if (c->timers_due.Flink) return;
  list_init(&c->timers_due);
  KeInitializeDpc(&c->timer_dpc, KiTimerExpiration, c);
  c->timer_dpc.Name = "KiTimerExpiration";
  c->timer_dpc.Importance = HighImportance;
}

/* A timer initialised again (or overwritten) while set leaves a corrupt
   list entry, which Windows finds when it unlinks it: 0x139, parameter 1 = 3. */
static void timer_check_entry(sim_t *S, PKTIMER t, const char *where) {
  if (!t->SimInserted || !timer_type(t) || !list_linked(&t->TimerListEntry))
    bugcheck(S, KERNEL_SECURITY_CHECK_FAILURE, 3, (ULONG_PTR)t, 0, 0,
             "%s: a set timer's list entry is corrupt (initialised again or overwritten while set?)", where);
}

/* Takes the timer out of its table (or off its CPU's due list); TRUE if it
   was set. */
static BOOLEAN timer_remove(sim_t *S, PKTIMER t, const char *routine) {
  if (!t->SimInserted) return FALSE;
  timer_check_entry(S, t, routine);
  list_remove(&t->TimerListEntry);
  if (!t->SimDue) evq_remove_obj(&S->evq, EV_KTIMER, t);
  t->SimInserted = FALSE;
  t->SimDue = FALSE;
  return TRUE;
}

/* Due time in simulated ns: negative = relative, positive = absolute
   (already past: now). */
static uint64_t timer_due_ns(const sim_t *S, LONGLONG due) {
  if (due < 0) {
    uint64_t rel = due == INT64_MIN ? (uint64_t)INT64_MAX : (uint64_t)-due;
    return rel > (UINT64_MAX - S->now) / NS_PER_UNIT ? UINT64_MAX : S->now + rel * NS_PER_UNIT;
  }
  uint64_t abs = (uint64_t)due > UINT64_MAX / NS_PER_UNIT ? UINT64_MAX : (uint64_t)due * NS_PER_UNIT;
  return abs > S->now ? abs : S->now;
}

static void timer_insert(sim_t *S, PKTIMER t, uint64_t due_ns) {
  t->DueTime.QuadPart = due_ns / NS_PER_UNIT;
  t->SimInserted = TRUE;
  t->SimDue = FALSE;
  list_insert_tail(&S->timers, &t->TimerListEntry);
  evq_push(S, (evq_item_t){.t = due_ns, .kind = EV_KTIMER, .obj = t});
}

BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "KeSetTimerEx");
  if (Period < 0) ke_assert_failed(S, "Period >= 0", "KeSetTimerEx", 0, "a negative timer period");
  BOOLEAN was = timer_remove(S, Timer, "KeSetTimerEx");
  cpu_t *c = S->cur_cpu;
  timer_cpu_init(c);
  uint64_t due = timer_due_ns(S, DueTime.QuadPart);
  Timer->Header.SignalState = 0; /* setting a timer resets it */
  Timer->Dpc = Dpc;
  Timer->Period = Period;
  Timer->Processor = (ULONG)c->id;
  timer_insert(S, Timer, due);
  if (trc_on(S)) {
    char b[32];
    trc_event_t e = trc_ev(TRC_TIMER_SET, NULL, NULL);
    e.object = obj_id(S, &Timer->Header);
    e.count = Period;
    e.target_cpu = c->id;
    e.service = "KeSetTimerEx";
    trc_send(S, &e, "%s due in %llu ns%s%s%s%s", timer_name(S, Timer, b), (unsigned long long)(due - S->now),
             Period ? ", periodic" : "", Dpc ? ", DPC " : ", no DPC", Dpc ? (Dpc->Name ? Dpc->Name : "set") : "",
             was ? " (it was set: set again)" : "");
  }
  sched_step(S, COST_STEP);
  return was;
}

BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc) { return KeSetTimerEx(Timer, DueTime, 0, Dpc); }

BOOLEAN KeCancelTimer(PKTIMER Timer) {
  sim_t *S = ctx_sim();
  ke_check_irql(S, DISPATCH_LEVEL, "KeCancelTimer");
  BOOLEAN was = timer_remove(S, Timer, "KeCancelTimer");
  if (trc_on(S)) {
    char b[32];
    trc_event_t e = trc_ev(TRC_TIMER_CANCELLED, NULL, NULL);
    e.object = obj_id(S, &Timer->Header);
    e.count = was; /* 1: it was set; 0: nothing to cancel */
    e.service = "KeCancelTimer";
    trc_send(S, &e, "%s %s", timer_name(S, Timer, b), was ? "cancelled" : "was not set");
  }
  sched_step(S, COST_STEP);
  return was;
}

/* The event queue says the timer is due: it moves to its CPU's due list,
   and that CPU's clock requests the expiration pass (as an interrupt is
   made pending: the CPU takes it when its IRQL allows). */
void KiTimerDue(sim_t *S, PKTIMER timer, uint32_t gen) {
  (void)gen;
  timer_check_entry(S, timer, "the timer's expiry");
  SIM_ASSERT(!timer->SimDue); /* a due timer has left the event queue */
  cpu_t *c = &S->cpu[timer->Processor];
  list_remove(&timer->TimerListEntry);
  list_insert_tail(&c->timers_due, &timer->TimerListEntry);
  timer->SimDue = TRUE;
  PKDPC d = &c->timer_dpc;
  if (d->QueuedOn >= 0) return;
  d->QueuedOn = (int16_t)c->id;
  list_insert_head(&c->dpc_queue, &d->DpcListEntry);
  c->dpc_depth++;
  if (!c->dpc_draining) c->dpc_requested = true;
  cpu_poke(S, c);
}

/* The timer's DPC: called directly on this CPU (its own dpc / dpc-end
   rows, as if drained), or queued to the processor it targets; its
   arguments are the system time's two halves, as in Windows. */
static void timer_dpc_run(sim_t *S, cpu_t *c, PKDPC dpc) {
  LARGE_INTEGER now;
  KeQuerySystemTime(&now);
  PVOID a1 = (PVOID)(ULONG_PTR)now.LowPart, a2 = (PVOID)(ULONG_PTR)(ULONG)now.HighPart;
  if (dpc->Number >= 0 && dpc->Number < S->ncpu && dpc->Number != c->id) {
    KeInsertQueueDpc(dpc, a1, a2);
    return;
  }
  const char *name = dpc->Name ? dpc->Name : "timer DPC";
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_DPC_RUN, NULL, NULL);
    e.target_cpu = c->id, e.service = name;
    trc_send(S, &e, "%s (called by the timer's expiration)", name);
  }
  sched_step(S, COST_DPC);
  dpc->DeferredRoutine(dpc, dpc->DeferredContext, a1, a2);
  if (trc_on(S)) {
    trc_event_t e = trc_ev(TRC_DPC_END, NULL, NULL);
    e.target_cpu = c->id, e.service = name;
    trc_send(S, &e, "%s", name);
  }
}

static void KiTimerExpiration(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2) {
  (void)Dpc, (void)Arg1, (void)Arg2;
  cpu_t *c = Context;
  sim_t *S = ctx_sim();
  while (!list_empty(&c->timers_due)) {
    PKTIMER t = CONTAINING_RECORD(c->timers_due.Flink, KTIMER, TimerListEntry);
    timer_check_entry(S, t, "KiTimerExpiration");
    list_remove(&t->TimerListEntry);
    PKDPC dpc = t->Dpc;
    LONG period = t->Period;
    t->SimDue = FALSE;
    t->SimInserted = FALSE;
    if (period) timer_insert(S, t, S->now + (uint64_t)period * 1000000u);
    if (trc_on(S)) {
      char b[32];
      trc_event_t ev = trc_ev(TRC_TIMER_FIRED, NULL, NULL);
      ev.object = obj_id(S, &t->Header);
      ev.count = period;
      ev.target_cpu = c->id;
      trc_send(S, &ev, "%s expires on CPU %d%s", timer_name(S, t, b), c->id, dpc ? ": its DPC runs" : "");
    }
    t->Header.SignalState = 1;
    obj_signal(S, &t->Header);
    /* Nothing of the timer is touched after this: the DPC's steps let
       other CPUs run, and one may set, cancel or free it. */
    if (dpc) timer_dpc_run(S, c, dpc);
    else sched_step(S, COST_STEP);
  }
}

PKTIMER KiTimerInRange(sim_t *S, const void *p, size_t n) {
  const char *lo = p, *hi = lo + n;
  for (int i = 0; i <= S->ncpu; i++) {
    LIST_ENTRY *h = i < S->ncpu ? &S->cpu[i].timers_due : &S->timers;
    if (!h->Flink) continue;
    for (LIST_ENTRY *e = h->Flink; e != h; e = e->Flink) {
      const char *t = (const char *)CONTAINING_RECORD(e, KTIMER, TimerListEntry);
      if (t >= lo && t < hi) return (PKTIMER)t;
    }
  }
  return NULL;
}

/* ---- the clock ---- */

void KeQuerySystemTime(PLARGE_INTEGER CurrentTime) {
  CurrentTime->QuadPart = (LONGLONG)(ctx_sim()->now / NS_PER_UNIT);
}

ULONGLONG KeQueryInterruptTime(void) { return ctx_sim()->now / NS_PER_UNIT; }

/* The machine's clock tick (`machine clock-tick`, 15.625 ms by default). */
ULONG KeQueryTimeIncrement(void) { return (ULONG)(ctx_sim()->cfg.clock_tick_ns / NS_PER_UNIT); }

void KeQueryTickCount(PLARGE_INTEGER TickCount) {
  sim_t *S = ctx_sim();
  TickCount->QuadPart = (LONGLONG)(S->now / S->cfg.clock_tick_ns);
}

void KeStallExecutionProcessor(ULONG MicroSeconds) {
  sched_step_ns(ctx_sim(), (uint64_t)MicroSeconds * 1000u);
}
