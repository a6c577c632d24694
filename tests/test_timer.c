/*
 * test_timer.c - kernel timers (kernel-facts 13.2): a periodic timer with a
 * DPC fires at its due time and then once per period, on the processor
 * that set it, until KeCancelTimer; a synchronization timer releases one
 * waiter, a notification timer all of them and stays signalled until set
 * again; setting a set timer replaces its due time; absolute due times
 * are system times; a DPC may be sent to another processor.
 */
#include "drivers.h"
#include "testlib.h"

#define MS 1000000ull

typedef struct timer_test {
  KTIMER timer;
  KDPC dpc;
  int fires;
  uint64_t fire_ns[16];
  int fire_cpu[16];
  KIRQL fire_irql;
  uint64_t set_ns;
  BOOLEAN cancel_ret, set_again_ret;
  LONG period;
  int target_cpu;           /* KeSetTargetProcessorDpc, -1: none */
  bool absolute, reset;
} timer_test_t;

static uint64_t now_ns(void) { return KeQueryInterruptTime() * 100; }

static void timer_dpc(PKDPC dpc, PVOID ctx, PVOID a1, PVOID a2) {
  (void)dpc, (void)a1, (void)a2;
  timer_test_t *t = ctx;
  if (t->fires < 16) {
    t->fire_ns[t->fires] = now_ns();
    t->fire_cpu[t->fires] = (int)KeGetCurrentProcessorNumber();
  }
  t->fire_irql = KeGetCurrentIrql();
  t->fires++;
}

/* Sets the timer (1 ms, the test's period), lets it run 7.5 ms, cancels,
   then waits 10 ms more: nothing fires after the cancel. */
static void timer_owner(PVOID arg) {
  timer_test_t *t = arg;
  LARGE_INTEGER due;
  t->set_ns = now_ns();
  if (t->absolute) {
    KeQuerySystemTime(&due);
    due.QuadPart += 10000; /* 1 ms from now, as a system time */
  } else {
    due.QuadPart = -10000; /* 1 ms, relative */
  }
  KeSetTimerEx(&t->timer, due, t->period, &t->dpc);
  if (t->reset) { /* set again before it fired: only the new due time counts */
    sim_delay(500000);
    due.QuadPart = -20000;
    t->set_again_ret = KeSetTimerEx(&t->timer, due, 0, &t->dpc);
  }
  LARGE_INTEGER wait = {.QuadPart = -75000}; /* 7.5 ms */
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
  t->cancel_ret = KeCancelTimer(&t->timer);
  wait.QuadPart = -100000;
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
}

static sim_t *timer_machine(timer_test_t *t, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  KeInitializeTimer(&t->timer);
  sim_name_object(&t->timer, "tick");
  KeInitializeDpc(&t->dpc, timer_dpc, t);
  t->dpc.Name = "tick-dpc";
  if (t->target_cpu >= 0) KeSetTargetProcessorDpc(&t->dpc, t->target_cpu);
  sim_thread_create(S, "owner", timer_owner, t);
  return S;
}

/* Period 2 ms, due in 1 ms: fires at 1, 3, 5 and 7 ms (each period counted
   from the previous expiration pass, so a few hundred ns later each time),
   at DISPATCH_LEVEL on the CPU that set it; the cancel at 7.5 ms ends it
   (and returns TRUE). */
START_TEST(periodic_timer_fires_until_cancelled) {
  timer_test_t t = {.period = 2, .target_cpu = -1};
  tlog_t log = {0};
  sim_t *S = timer_machine(&t, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.fires, 4);
  ck_assert(t.cancel_ret);
  ck_assert_int_eq(t.fire_irql, DISPATCH_LEVEL);
  int set = tlog_find(&log, TRC_TIMER_SET, 0);
  ck_assert_int_ge(set, 0);
  for (int k = 0; k < 4; k++) {
    uint64_t due = t.set_ns + MS + (uint64_t)k * 2 * MS;
    ck_assert_uint_ge(t.fire_ns[k], due);
    ck_assert_uint_lt(t.fire_ns[k], due + 5000); /* the expiration passes and the DPC: a few steps */
    if (k) ck_assert_uint_ge(t.fire_ns[k] - t.fire_ns[k - 1], 2 * MS);
    ck_assert_int_eq(t.fire_cpu[k], log.v[set].cpu);
  }
  ck_assert_int_eq(tlog_count(&log, TRC_TIMER_FIRED), 4);
  int cancel = tlog_find(&log, TRC_TIMER_CANCELLED, 0);
  ck_assert_int_ge(cancel, 0);
  ck_assert_int_eq(log.v[cancel].count, 1);
  ck_assert(KeReadStateTimer(&t.timer)); /* a notification timer stays signalled once it fired */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A one-shot timer set again before it fired: KeSetTimerEx says it was
   set (TRUE) and only the new due time (2 ms after the reset) counts. */
START_TEST(setting_a_set_timer_replaces_its_due_time) {
  timer_test_t t = {.reset = true, .target_cpu = -1};
  sim_t *S = timer_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(t.set_again_ret);
  ck_assert_int_eq(t.fires, 1);
  ck_assert_uint_ge(t.fire_ns[0], t.set_ns + 500000 + 2 * MS);
  ck_assert(!t.cancel_ret); /* it had fired: nothing to cancel */
  sim_destroy(S);
}
END_TEST

/* An absolute due time (system time + 1 ms) fires at that time. */
START_TEST(absolute_due_time_is_a_system_time) {
  timer_test_t t = {.absolute = true, .target_cpu = -1};
  sim_t *S = timer_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.fires, 1);
  ck_assert_uint_ge(t.fire_ns[0], t.set_ns + MS);
  ck_assert_uint_lt(t.fire_ns[0], t.set_ns + MS + 5000);
  sim_destroy(S);
}
END_TEST

/* KeSetTargetProcessorDpc sends the timer's DPC to CPU 1, whichever CPU
   set the timer. */
START_TEST(timer_dpc_goes_to_its_target_processor) {
  timer_test_t t = {.target_cpu = 1};
  sim_t *S = timer_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.fires, 1);
  ck_assert_int_eq(t.fire_cpu[0], 1);
  sim_destroy(S);
}
END_TEST

/* ---- timers as dispatcher objects ---- */

typedef struct wait_timer_test {
  KTIMER timer;
  int woken;
  int woken_at_1_5ms, woken_at_3_5ms;
  BOOLEAN state_after, state_after_reset;
} wait_timer_test_t;

static void timer_waiter(PVOID arg) {
  wait_timer_test_t *t = arg;
  KeWaitForSingleObject(&t->timer, Executive, KernelMode, FALSE, NULL);
  t->woken++;
}

/* Sets the timer for 1 ms, looks at 1.5 ms, sets it again (2 ms), looks
   at 3.5 ms; for a synchronization timer a third time. */
static void timer_setter(PVOID arg) {
  wait_timer_test_t *t = arg;
  LARGE_INTEGER due = {.QuadPart = -10000};
  KeSetTimer(&t->timer, due, NULL);
  LARGE_INTEGER wait = {.QuadPart = -15000};
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
  t->woken_at_1_5ms = t->woken;
  t->state_after = KeReadStateTimer(&t->timer);
  KeSetTimer(&t->timer, due, NULL);
  t->state_after_reset = KeReadStateTimer(&t->timer);
  wait.QuadPart = -20000;
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
  t->woken_at_3_5ms = t->woken;
  KeSetTimer(&t->timer, due, NULL);
}

static sim_t *wait_timer_machine(wait_timer_test_t *t, TIMER_TYPE type) {
  sim_t *S = tsim_new(2, NULL);
  KeInitializeTimerEx(&t->timer, type);
  for (int i = 0; i < 3; i++) {
    char name[16];
    snprintf(name, sizeof name, "w%d", i);
    sim_thread_create(S, name, timer_waiter, t);
  }
  sim_thread_create(S, "setter", timer_setter, t);
  return S;
}

/* A synchronization timer: one waiter per expiry, and the waiter it
   releases resets it. */
START_TEST(synchronization_timer_releases_one_waiter) {
  wait_timer_test_t t = {0};
  sim_t *S = wait_timer_machine(&t, SynchronizationTimer);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.woken_at_1_5ms, 1);
  ck_assert(!t.state_after); /* the waiter took the signal */
  ck_assert_int_eq(t.woken_at_3_5ms, 2);
  ck_assert_int_eq(t.woken, 3);
  sim_destroy(S);
}
END_TEST

/* A notification timer: every waiter at the first expiry; it stays
   signalled until KeSetTimer resets it. */
START_TEST(notification_timer_releases_every_waiter) {
  wait_timer_test_t t = {0};
  sim_t *S = wait_timer_machine(&t, NotificationTimer);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.woken_at_1_5ms, 3);
  ck_assert(t.state_after);
  ck_assert(!t.state_after_reset);
  sim_destroy(S);
}
END_TEST

/* ---- the clock ---- */

typedef struct clock_test {
  LONGLONG sys0, sys1, ticks;
  ULONG increment;
} clock_test_t;

static void clock_reader(PVOID arg) {
  clock_test_t *c = arg;
  LARGE_INTEGER t;
  KeQuerySystemTime(&t);
  c->sys0 = t.QuadPart;
  LARGE_INTEGER wait = {.QuadPart = -400000}; /* 40 ms */
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
  KeQuerySystemTime(&t);
  c->sys1 = t.QuadPart;
  KeQueryTickCount(&t);
  c->ticks = t.QuadPart;
  c->increment = KeQueryTimeIncrement();
}

/* System time counts 100 ns units from the machine's start; the tick
   count advances every KeQueryTimeIncrement() units (15.625 ms). */
START_TEST(system_time_and_ticks) {
  clock_test_t c = {0};
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "clock", clock_reader, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_ge(c.sys1 - c.sys0, 400000);
  ck_assert_int_lt(c.sys1 - c.sys0, 400000 + 100);
  ck_assert_uint_eq(c.increment, 156250);
  ck_assert_int_eq(c.ticks, c.sys1 / 156250);
  ck_assert_int_eq(c.ticks, 2);
  sim_destroy(S);
}
END_TEST

/* A set timer initialised again: its list entry no longer says where it
   is linked, which Windows finds as a corrupt list (0x139, 3). */
static void reinit_set_timer(PVOID arg) {
  KTIMER *t = arg;
  LARGE_INTEGER due = {.QuadPart = -1000};
  KeSetTimer(t, due, NULL);
  KeInitializeTimer(t);
  LARGE_INTEGER wait = {.QuadPart = -5000};
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
}

START_TEST(timer_initialised_again_while_set_stops) {
  KTIMER t;
  KeInitializeTimer(&t);
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "driver", reinit_set_timer, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(sim_bugcheck(S)->code, KERNEL_SECURITY_CHECK_FAILURE);
  ck_assert_uint_eq(sim_bugcheck(S)->p[0], 3);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(timer_suite)
static Suite *timer_suite(void) {
  Suite *s = suite_create("timer");
  TCase *tc = tcase_create("timer");
  tcase_add_test(tc, periodic_timer_fires_until_cancelled);
  tcase_add_test(tc, setting_a_set_timer_replaces_its_due_time);
  tcase_add_test(tc, absolute_due_time_is_a_system_time);
  tcase_add_test(tc, timer_dpc_goes_to_its_target_processor);
  tcase_add_test(tc, synchronization_timer_releases_one_waiter);
  tcase_add_test(tc, notification_timer_releases_every_waiter);
  tcase_add_test(tc, system_time_and_ticks);
  tcase_add_test(tc, timer_initialised_again_while_set_stops);
  suite_add_tcase(s, tc);
  return s;
}
