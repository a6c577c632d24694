/*
 * test_wait.c - dispatcher waits (docs/kernel-facts.md §6.8 (2)-(5), 7.5): wait any /
 * wait all, already-signalled objects, timeouts, zero timeouts, and how
 * synchronization and notification events release waiters.
 */
#include "drivers.h"
#include "testlib.h"

#define NEV 65

typedef struct wait_test {
  KEVENT ev[NEV];
  EVENT_TYPE type;
  ULONG count;              /* objects each waiter waits for */
  WAIT_TYPE wtype;
  LONGLONG timeout;         /* relative, 100 ns units; 0 = infinite; -1 = zero timeout */
  bool user;                /* NtWaitForMultipleObjects (user mode) instead of KeWait... */
  bool dup;                 /* the second object is the first again */
  bool no_wait_blocks;      /* a kernel wait on more than three objects lends no KWAIT_BLOCKs */
  int set[4];               /* events the setter signals, -1 terminated */
  uint64_t set_gap_ns;      /* setter's delay before each set */
  /* observations */
  NTSTATUS ret[2];
  int32_t state_after[2];
  uint64_t t_ret[2];
} wait_test_t;

typedef struct waiter_arg {
  wait_test_t *t;
  int idx;
  sim_t *S;
} waiter_arg_t;

static void w_thread(PVOID arg) {
  waiter_arg_t *a = arg;
  wait_test_t *t = a->t;
  PVOID objs[NEV];
  KWAIT_BLOCK wb[NEV]; /* storage the caller lends a wait on more than three objects */
  for (ULONG i = 0; i < t->count; i++) objs[i] = &t->ev[i];
  if (t->dup) objs[1] = objs[0];
  LARGE_INTEGER to = {.QuadPart = t->timeout == -1 ? 0 : -t->timeout};
  if (t->user)
    t->ret[a->idx] = NtWaitForMultipleObjects(t->count, objs, t->wtype, FALSE, t->timeout ? &to.QuadPart : NULL);
  else
    t->ret[a->idx] = KeWaitForMultipleObjects(t->count, objs, t->wtype, Executive, KernelMode, FALSE,
                                              t->timeout ? &to : NULL, t->count > THREAD_WAIT_OBJECTS && !t->no_wait_blocks ? wb : NULL);
  t->t_ret[a->idx] = sim_now(a->S);
  t->state_after[a->idx] = KeReadStateEvent(&t->ev[0]);
}

static void s_thread(PVOID arg) {
  wait_test_t *t = arg;
  for (int i = 0; i < 4 && t->set[i] >= 0; i++) {
    sim_delay(t->set_gap_ns ? t->set_gap_ns : 20000);
    KeSetEvent(&t->ev[t->set[i]], IO_NO_INCREMENT, FALSE);
  }
}

/* Builds the machine: `waiters` waiter threads, then the setter; events
   initialised with `pre` signalled (bitmask over the first 32). */
static sim_t *wait_machine(wait_test_t *t, int waiters, uint32_t pre, tlog_t *log,
                           waiter_arg_t wa[2]) {
  sim_t *S = tsim_new(2, log);
  for (int i = 0; i < NEV; i++) KeInitializeEvent(&t->ev[i], t->type, i < 32 && (pre >> i) & 1);
  for (int i = 0; i < waiters; i++) {
    wa[i] = (waiter_arg_t){.t = t, .idx = i, .S = S};
    sim_thread_create(S, i ? "w1" : "w0", w_thread, &wa[i]);
  }
  sim_thread_create(S, "setter", s_thread, t);
  return S;
}

/* kernel-facts 6.8 (2): a wait-any returns STATUS_WAIT_0 + the index of the
   object that satisfied it. */
START_TEST(wait_any_returns_index) {
  wait_test_t t = {.count = 3, .wtype = WaitAny, .set = {1, -1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 1, 0, NULL, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_WAIT_1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.8 (2): an object already signalled satisfies the wait at once,
   without blocking. */
START_TEST(already_signalled_satisfies_without_blocking) {
  tlog_t log = {0};
  wait_test_t t = {.count = 3, .wtype = WaitAny, .set = {-1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 1, 1u << 2, &log, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_WAIT_2);
  ck_assert_int_eq(tlog_find_x(&log, TRC_WAKE, 0, "w0", 0), -1); /* never blocked */
  ck_assert_int_lt(tlog_find_x(&log, TRC_WAIT_DONE, 0, "w0", 0),
                   tlog_find_x(&log, TRC_THREAD_EXIT, 0, "w0", 0));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.8 (2): a wait-all returns only when every object is signalled. */
START_TEST(wait_all_needs_every_object) {
  tlog_t log = {0};
  wait_test_t t = {.count = 2, .wtype = WaitAll, .set = {0, 1, -1}, .set_gap_ns = 100000};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 1, 0, &log, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_WAIT_0);
  int set2 = tlog_find(&log, TRC_EVENT_SET, tlog_find(&log, TRC_EVENT_SET, 0) + 1);
  ck_assert_int_ge(set2, 0);
  ck_assert_int_gt(tlog_find_x(&log, TRC_WAIT_DONE, 0, "w0", 0), set2);
  ck_assert_uint_ge(t.t_ret[0], log.v[set2].t_ns);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.8 (2): satisfying a wait-all consumes every synchronization
   event in it. */
START_TEST(wait_all_consumes_sync_events) {
  wait_test_t t = {.type = SynchronizationEvent, .count = 2, .wtype = WaitAll, .set = {-1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 1, 3, NULL, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_WAIT_0);
  ck_assert_int_eq(KeReadStateEvent(&t.ev[0]), 0);
  ck_assert_int_eq(KeReadStateEvent(&t.ev[1]), 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.8 (4)-(5): an unsignalled wait with a relative timeout blocks
   and returns STATUS_TIMEOUT no earlier than the deadline. */
START_TEST(timeout_expires_at_deadline) {
  tlog_t log = {0};
  wait_test_t t = {.count = 1, .wtype = WaitAny, .timeout = 5000, .set = {-1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 1, 0, &log, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_TIMEOUT);
  int w = tlog_find_x(&log, TRC_WAIT, 0, "w0", 0);
  ck_assert_int_ge(w, 0);
  ck_assert_uint_ge(t.t_ret[0], log.v[w].t_ns + 500000);
  ck_assert_int_ge(tlog_find_x(&log, TRC_WAKE, 0, "STATUS_TIMEOUT", 0), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.8 (4): a zero timeout on an unsignalled object returns
   STATUS_TIMEOUT immediately, never blocking. */
START_TEST(zero_timeout_polls) {
  tlog_t log = {0};
  wait_test_t t = {.count = 1, .wtype = WaitAny, .timeout = -1, .set = {-1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 1, 0, &log, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_TIMEOUT);
  ck_assert_int_eq(tlog_find_x(&log, TRC_WAKE, 0, NULL, 0), -1);
  ck_assert_uint_lt(t.t_ret[0], 10000); /* simulated time: no wait happened */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.8 (2) for a synchronization (auto-reset) event: one set
   satisfies exactly one waiter and leaves the event reset; the other waiter
   times out. */
START_TEST(sync_event_releases_one_waiter) {
  wait_test_t t = {.type = SynchronizationEvent, .count = 1, .wtype = WaitAny, .timeout = 10000,
                   .set = {0, -1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 2, 0, NULL, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  int ok = (t.ret[0] == STATUS_WAIT_0) + (t.ret[1] == STATUS_WAIT_0);
  int to = (t.ret[0] == STATUS_TIMEOUT) + (t.ret[1] == STATUS_TIMEOUT);
  ck_assert_int_eq(ok, 1);
  ck_assert_int_eq(to, 1);
  ck_assert_int_eq(KeReadStateEvent(&t.ev[0]), 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.8 (2) for a notification event: one set releases every waiter
   and the event stays signalled. */
START_TEST(notification_event_releases_all) {
  wait_test_t t = {.type = NotificationEvent, .count = 1, .wtype = WaitAny, .timeout = 10000,
                   .set = {0, -1}};
  waiter_arg_t wa[2];
  sim_t *S = wait_machine(&t, 2, 0, NULL, wa);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.ret[0], STATUS_WAIT_0);
  ck_assert_int_eq(t.ret[1], STATUS_WAIT_0);
  ck_assert_int_eq(t.state_after[0], 1);
  ck_assert_int_eq(t.state_after[1], 1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 7.5: MAXIMUM_WAIT_OBJECTS is 64: 64 objects can be waited for;
   65 are refused in user mode (STATUS_INVALID_PARAMETER) and stop the
   machine in kernel mode (MAXIMUM_WAIT_OBJECTS_EXCEEDED, 0xC). */
START_TEST(maximum_wait_objects) {
  for (int user = 0; user <= 1; user++)
    for (ULONG n = 64; n <= 65; n++) {
      wait_test_t t = {.count = n, .wtype = WaitAll, .timeout = -1, .set = {-1}, .user = user};
      waiter_arg_t wa[2];
      sim_t *S = wait_machine(&t, 1, 0, NULL, wa);
      for (int i = 0; i < NEV; i++) KeInitializeEvent(&t.ev[i], NotificationEvent, TRUE);
      sim_outcome_t out = sim_run(S);
      if (n == 65 && !user) {
        ck_assert_int_eq(out, SIM_RUN_BUGCHECK);
        ck_assert_uint_eq(sim_bugcheck(S)->code, MAXIMUM_WAIT_OBJECTS_EXCEEDED);
      } else {
        ck_assert_int_eq(out, SIM_RUN_OK);
        ck_assert_int_eq(t.ret[0], n == 64 ? STATUS_WAIT_0 : STATUS_INVALID_PARAMETER);
      }
      sim_destroy(S);
    }
}
END_TEST

/* kernel-facts 7.5: a thread has wait blocks for THREAD_WAIT_OBJECTS (3)
   objects; a kernel wait on more must lend an array of KWAIT_BLOCKs, or
   the machine stops with MAXIMUM_WAIT_OBJECTS_EXCEEDED. */
START_TEST(more_than_three_objects_need_wait_blocks) {
  for (int lend = 0; lend <= 1; lend++)
    for (ULONG n = 3; n <= 4; n++) {
      wait_test_t t = {.count = n, .wtype = WaitAll, .timeout = -1, .set = {-1}, .no_wait_blocks = !lend};
      waiter_arg_t wa[2];
      sim_t *S = wait_machine(&t, 1, 0, NULL, wa);
      for (int i = 0; i < NEV; i++) KeInitializeEvent(&t.ev[i], NotificationEvent, TRUE);
      sim_outcome_t out = sim_run(S);
      if (n == 4 && !lend) {
        ck_assert_int_eq(out, SIM_RUN_BUGCHECK);
        ck_assert_uint_eq(sim_bugcheck(S)->code, MAXIMUM_WAIT_OBJECTS_EXCEEDED);
        ck_assert_uint_eq(sim_bugcheck(S)->p[0], 4);
      } else {
        ck_assert_int_eq(out, SIM_RUN_OK);
        ck_assert_int_eq(t.ret[0], STATUS_WAIT_0);
      }
      sim_destroy(S);
    }
}
END_TEST

/* WaitForMultipleObjects(WaitAll) with one object twice is refused with
   STATUS_INVALID_PARAMETER_MIX before any wait; WaitAny accepts it. */
START_TEST(wait_all_same_object_twice) {
  for (int all = 0; all <= 1; all++) {
    wait_test_t t = {.count = 2, .wtype = all ? WaitAll : WaitAny, .timeout = -1, .set = {-1}, .user = true,
                     .dup = true};
    waiter_arg_t wa[2];
    sim_t *S = wait_machine(&t, 1, 1, NULL, wa);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(t.ret[0], all ? STATUS_INVALID_PARAMETER_MIX : STATUS_WAIT_0);
    sim_destroy(S);
  }
}
END_TEST

typedef struct delay_obs {
  sim_t *S;
  NTSTATUS ret;
  uint64_t before, after;
} delay_obs_t;

static void delay_thread(PVOID arg) {
  delay_obs_t *o = arg;
  LARGE_INTEGER d = {.QuadPart = -2000}; /* 200 us */
  o->before = sim_now(o->S);
  o->ret = KeDelayExecutionThread(KernelMode, FALSE, &d);
  o->after = sim_now(o->S);
}

/* kernel-facts 6.8 (4): KeDelayExecutionThread waits for the interval and
   reports STATUS_SUCCESS (not STATUS_TIMEOUT), also on a machine whose only
   CPU is idle when the timer fires. */
START_TEST(delay_execution_returns_success) {
  for (int cpus = 1; cpus <= 2; cpus++) {
    sim_t *S = tsim_new(cpus, NULL);
    delay_obs_t o = {.S = S};
    sim_thread_create(S, "sleeper", delay_thread, &o);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(o.ret, STATUS_SUCCESS);
    ck_assert_uint_ge(o.after, o.before + 200000);
    sim_destroy(S);
  }
}
END_TEST

TEST_SUITE(wait_suite)
static Suite *wait_suite(void) {
  Suite *s = suite_create("wait");
  TCase *tc = tcase_create("dispatcher");
  tcase_add_test(tc, wait_any_returns_index);
  tcase_add_test(tc, already_signalled_satisfies_without_blocking);
  tcase_add_test(tc, wait_all_needs_every_object);
  tcase_add_test(tc, wait_all_consumes_sync_events);
  tcase_add_test(tc, timeout_expires_at_deadline);
  tcase_add_test(tc, zero_timeout_polls);
  tcase_add_test(tc, sync_event_releases_one_waiter);
  tcase_add_test(tc, notification_event_releases_all);
  tcase_add_test(tc, maximum_wait_objects);
  tcase_add_test(tc, more_than_three_objects_need_wait_blocks);
  tcase_add_test(tc, wait_all_same_object_twice);
  tcase_add_test(tc, delay_execution_returns_success);
  suite_add_tcase(s, tc);
  return s;
}
