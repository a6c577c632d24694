/*
 * test_apc.c - APCs (docs/kernel-facts.md §6.6-6.9 and 12E): special kernel
 * APCs interrupt any PASSIVE_LEVEL wait without ending it, IRQL >= APC_LEVEL
 * holds them off, queue order, and user APCs only in alertable user-mode
 * waits (ReadFileEx + SleepEx).
 */
#include "drivers.h"
#include "testlib.h"

typedef struct apc_test apc_test_t;

/* One APC with a back pointer to its test. */
typedef struct tapc {
  KAPC apc;
  apc_test_t *t;
  int id;
} tapc_t;

struct apc_test {
  PKTHREAD waiter;
  KEVENT ev;
  tapc_t a[4];
  LONGLONG timeout;         /* waiter's relative timeout (100 ns units), 0 = none */
  uint64_t queue_after_ns;  /* when the queuer sends the APC */
  KPROCESSOR_MODE wait_mode;
  bool alertable, raise_to_apc, set_event, busy;
  /* observations */
  int kr_calls, nr_calls, user_calls;
  uint32_t kr_thread;
  KIRQL kr_irql, nr_irql;
  bool waiter_back_at_kr;   /* the waiter's wait had returned when the APC ran */
  bool waiter_back;
  int order[8], norder;
  NTSTATUS wait_ret, sleep_ret;
  int kr_cpu, waiter_cpu, busy_iter_at_kr, busy_iter;
  int runs_after_insert, runs_before_lower, runs_after_lower;
};

static void kr_record(PKAPC apc, PVOID *nr, PVOID *nctx, PVOID *a1, PVOID *a2) {
  (void)nr, (void)nctx, (void)a1, (void)a2;
  tapc_t *a = CONTAINING_RECORD(apc, tapc_t, apc);
  apc_test_t *t = a->t;
  PKTHREAD cur = KeGetCurrentThread();
  t->kr_calls++;
  t->kr_thread = cur ? sim_thread_id(cur) : 0;
  t->kr_irql = KeGetCurrentIrql();
  t->kr_cpu = (int)KeGetCurrentProcessorNumber();
  t->waiter_back_at_kr = t->waiter_back;
  t->busy_iter_at_kr = t->busy_iter;
  if (t->norder < 8) t->order[t->norder++] = a->id;
}

static void nr_record(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  tapc_t *a = ctx;
  a->t->nr_calls++;
  a->t->nr_irql = KeGetCurrentIrql();
}

static void user_record(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  tapc_t *a = ctx;
  a->t->user_calls++;
}

static void special_init(apc_test_t *t, int i, PKTHREAD to) {
  t->a[i].t = t;
  t->a[i].id = i;
  KeInitializeApc(&t->a[i].apc, to, kr_record, NULL, NULL, KernelMode, NULL);
}

static void normal_init(apc_test_t *t, int i, PKTHREAD to) {
  t->a[i].t = t;
  t->a[i].id = i;
  KeInitializeApc(&t->a[i].apc, to, kr_record, NULL, nr_record, KernelMode, &t->a[i]);
}

static void user_init(apc_test_t *t, int i, PKTHREAD to) {
  t->a[i].t = t;
  t->a[i].id = i;
  KeInitializeApc(&t->a[i].apc, to, kr_record, NULL, user_record, UserMode, &t->a[i]);
}

/* The waiter: one wait on ev as configured. */
static void waiter_thread(PVOID arg) {
  apc_test_t *t = arg;
  KIRQL old = PASSIVE_LEVEL;
  t->waiter_cpu = (int)KeGetCurrentProcessorNumber();
  if (t->busy) {
    for (t->busy_iter = 0; t->busy_iter < 20; t->busy_iter++) sim_delay(10000);
    return;
  }
  if (t->raise_to_apc) KeRaiseIrql(APC_LEVEL, &old);
  LARGE_INTEGER to = {.QuadPart = -t->timeout};
  PVOID objs[1] = {&t->ev};
  if (t->wait_mode == UserMode) /* WaitForSingleObjectEx: user APCs run on the way out */
    t->wait_ret = NtWaitForMultipleObjects(1, objs, WaitAny, t->alertable, t->timeout ? &to.QuadPart : NULL);
  else
    t->wait_ret = KeWaitForSingleObject(&t->ev, Executive, KernelMode, t->alertable,
                                        t->timeout ? &to : NULL);
  t->waiter_back = true;
  t->runs_before_lower = t->kr_calls;
  if (t->raise_to_apc) KeLowerIrql(old);
  t->runs_after_lower = t->kr_calls;
}

/* The queuer: after a while, one APC (a[0], set up by the test) to the
   waiter, then optionally the event. */
static void queuer_thread(PVOID arg) {
  apc_test_t *t = arg;
  sim_delay(t->queue_after_ns);
  KeInsertQueueApc(&t->a[0].apc, NULL, NULL, IO_NO_INCREMENT);
  sim_delay(50000);
  if (t->set_event) KeSetEvent(&t->ev, IO_NO_INCREMENT, FALSE);
}

static sim_t *apc_machine(apc_test_t *t, int cpus, tlog_t *log) {
  sim_t *S = tsim_new(cpus, log);
  KeInitializeEvent(&t->ev, NotificationEvent, FALSE);
  sim_name_object(&t->ev, "ev");
  t->waiter = sim_thread_create(S, "waiter", waiter_thread, t);
  sim_thread_create(S, "queuer", queuer_thread, t);
  if (!t->queue_after_ns) t->queue_after_ns = 10000;
  return S;
}

/* kernel-facts 6.8 and 6.9: a special kernel APC to a thread in a non-alertable
   KernelMode wait at PASSIVE wakes it with STATUS_KERNEL_APC, runs in that
   thread at APC_LEVEL, and the wait resumes silently: it returns only when
   the event is set, with STATUS_WAIT_0. */
START_TEST(special_apc_runs_inside_nonalertable_wait) {
  tlog_t log = {0};
  apc_test_t t = {.wait_mode = KernelMode, .set_event = true};
  sim_t *S = apc_machine(&t, 2, &log); /* the woken waiter gets its own CPU */
  special_init(&t, 0, t.waiter);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.kr_calls, 1);
  ck_assert_uint_eq(t.kr_thread, sim_thread_id(t.waiter));
  ck_assert_int_eq(t.kr_irql, APC_LEVEL);
  ck_assert(!t.waiter_back_at_kr);
  ck_assert_int_eq(t.wait_ret, STATUS_WAIT_0);
  int wake = tlog_find_x(&log, TRC_WAKE, 0, "STATUS_KERNEL_APC", 0);
  int run = tlog_find(&log, TRC_APC_RUN, 0);
  int set = tlog_find(&log, TRC_EVENT_SET, 0);
  int done = tlog_find_x(&log, TRC_WAIT_DONE, 0, "waiter", 0);
  ck_assert_int_ge(wake, 0);
  ck_assert_int_gt(run, wake);
  ck_assert_int_eq(log.v[run].frame, TRC_FRAME_APC);
  ck_assert_int_gt(set, run);
  ck_assert_int_gt(done, set); /* the wait did not return for the APC */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.8: after the APC the wait resumes with the REMAINING timeout:
   a 1 ms wait interrupted at 300 us still ends 1 ms after it began. */
START_TEST(resumed_wait_keeps_remaining_timeout) {
  tlog_t log = {0};
  apc_test_t t = {.wait_mode = UserMode, .timeout = 10000, .queue_after_ns = 300000};
  sim_t *S = apc_machine(&t, 1, &log);
  special_init(&t, 0, t.waiter);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.kr_calls, 1);
  ck_assert_int_eq(t.wait_ret, STATUS_TIMEOUT);
  int w = tlog_find_x(&log, TRC_WAIT, 0, "waiter", 0);
  int done = tlog_find_x(&log, TRC_WAIT_DONE, 0, "waiter", 0);
  ck_assert_int_ge(w, 0);
  ck_assert_int_gt(done, w);
  uint64_t began = log.v[w].t_ns, ended = log.v[done].t_ns;
  ck_assert_uint_ge(ended, began + 1000000);
  ck_assert_uint_lt(ended, began + 1000000 + 200000); /* not restarted at 300 us */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 6.2 and 6.8: a wait entered at APC_LEVEL is never interrupted by
   kernel APCs; the APC runs once the thread lowers IRQL below APC_LEVEL. */
START_TEST(wait_at_apc_level_not_interrupted) {
  tlog_t log = {0};
  apc_test_t t = {.wait_mode = KernelMode, .raise_to_apc = true, .timeout = 2000};
  sim_t *S = apc_machine(&t, 1, &log);
  special_init(&t, 0, t.waiter);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(tlog_find_x(&log, TRC_WAKE, 0, "STATUS_KERNEL_APC", 0), -1); /* not even woken */
  ck_assert_int_eq(t.wait_ret, STATUS_TIMEOUT);
  ck_assert_int_eq(t.runs_before_lower, 0);
  ck_assert_int_eq(t.runs_after_lower, 1);
  ck_assert(t.waiter_back_at_kr);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A thread that queues APCs to itself. */
static void self_thread(PVOID arg) {
  apc_test_t *t = arg;
  PKTHREAD me = KeGetCurrentThread();
  KIRQL old;
  if (t->busy) { /* order test: N1, S1, S2, N2 queued at APC_LEVEL */
    normal_init(t, 0, me);
    special_init(t, 1, me);
    special_init(t, 2, me);
    normal_init(t, 3, me);
    KeRaiseIrql(APC_LEVEL, &old);
    for (int i = 0; i < 4; i++) KeInsertQueueApc(&t->a[i].apc, NULL, NULL, 0);
    t->runs_before_lower = t->kr_calls;
    KeLowerIrql(old);
    t->runs_after_lower = t->kr_calls;
    return;
  }
  special_init(t, 0, me);
  KeInsertQueueApc(&t->a[0].apc, NULL, NULL, 0);
  t->runs_after_insert = t->kr_calls;
  special_init(t, 1, me);
  KeRaiseIrql(APC_LEVEL, &old);
  KeInsertQueueApc(&t->a[1].apc, NULL, NULL, 0);
  sim_delay(10000);
  t->runs_before_lower = t->kr_calls;
  KeLowerIrql(old);
  t->runs_after_lower = t->kr_calls;
}

/* kernel-facts 6.8: a kernel APC to the current thread requests an APC_LEVEL
   interrupt: at PASSIVE it runs at once; at APC_LEVEL only when IRQL drops. */
START_TEST(kernel_apc_to_self_runs_when_irql_allows) {
  apc_test_t t = {0};
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "self", self_thread, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.runs_after_insert, 1);
  ck_assert_int_eq(t.runs_before_lower, 1);
  ck_assert_int_eq(t.runs_after_lower, 2);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.7 and 6.6: special kernel APCs are queued after the last special
   one but before every normal one; normal ones are FIFO.  A normal APC's
   kernel routine runs at APC_LEVEL, its NormalRoutine at PASSIVE_LEVEL. */
START_TEST(special_apcs_before_normal_ones) {
  apc_test_t t = {.busy = true};
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "self", self_thread, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.runs_before_lower, 0);
  ck_assert_int_eq(t.runs_after_lower, 4);
  int want[] = {1, 2, 0, 3};
  for (int i = 0; i < 4; i++) ck_assert_int_eq(t.order[i], want[i]);
  ck_assert_int_eq(t.nr_calls, 2);
  ck_assert_int_eq(t.kr_irql, APC_LEVEL);
  ck_assert_int_eq(t.nr_irql, PASSIVE_LEVEL);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.8: a kernel APC to a thread running on another CPU interrupts
   that CPU: it runs in the thread while the thread is still busy. */
START_TEST(kernel_apc_to_running_thread_on_other_cpu) {
  apc_test_t t = {.busy = true, .queue_after_ns = 30000};
  sim_t *S = apc_machine(&t, 2, NULL);
  special_init(&t, 0, t.waiter);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.kr_calls, 1);
  ck_assert_uint_eq(t.kr_thread, sim_thread_id(t.waiter));
  ck_assert_int_eq(t.kr_cpu, t.waiter_cpu);
  ck_assert_int_gt(t.busy_iter_at_kr, 0);
  ck_assert_int_lt(t.busy_iter_at_kr, 20);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 6.8 and 6.9: a user APC does not break a non-alertable user-mode
   wait (it times out, the APC stays queued); an alertable user-mode wait
   breaks with STATUS_USER_APC and the APC runs before it returns. */
START_TEST(user_apc_needs_alertable_user_wait) {
  for (int alertable = 0; alertable < 2; alertable++) {
    tlog_t log = {0};
    apc_test_t t = {.wait_mode = UserMode, .alertable = alertable, .timeout = 3000};
    sim_t *S = apc_machine(&t, 1, &log);
    user_init(&t, 0, t.waiter);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    if (alertable) {
      ck_assert_int_eq(t.wait_ret, STATUS_USER_APC);
      ck_assert_int_eq(t.user_calls, 1);
      ck_assert_int_eq(t.kr_calls, 1);
      ck_assert_int_ge(tlog_find_x(&log, TRC_WAKE, 0, "STATUS_USER_APC", 0), 0);
    } else {
      ck_assert_int_eq(t.wait_ret, STATUS_TIMEOUT);
      ck_assert_int_eq(t.user_calls, 0);
      ck_assert_int_eq(tlog_find_x(&log, TRC_WAKE, 0, "STATUS_USER_APC", 0), -1);
    }
    sim_destroy(S);
    tlog_free(&log);
  }
}
END_TEST

/* kernel-facts 6.9: an alertable KernelMode wait is not broken by a user APC. */
START_TEST(alertable_kernel_wait_ignores_user_apc) {
  apc_test_t t = {.wait_mode = KernelMode, .alertable = true, .timeout = 3000};
  sim_t *S = apc_machine(&t, 1, NULL);
  user_init(&t, 0, t.waiter);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.wait_ret, STATUS_TIMEOUT);
  ck_assert_int_eq(t.user_calls, 0);
  sim_destroy(S);
}
END_TEST

/* A thread with a user APC queued to itself, then user-mode waits. */
static void user_self_thread(PVOID arg) {
  apc_test_t *t = arg;
  user_init(t, 0, KeGetCurrentThread());
  KeInsertQueueApc(&t->a[0].apc, NULL, NULL, 0);
  t->runs_after_insert = t->user_calls;
  KeSetEvent(&t->ev, IO_NO_INCREMENT, FALSE);
  PVOID objs[1] = {&t->ev};
  t->wait_ret = NtWaitForMultipleObjects(1, objs, WaitAny, TRUE, NULL);
  t->runs_before_lower = t->user_calls;
  LONGLONG one_second = -10 * 1000 * 1000;
  t->sleep_ret = NtDelayExecution(TRUE, &one_second);
  t->runs_after_lower = t->user_calls;
}

/* kernel-facts 6.8 (2) and (3): a user APC to the current thread is only queued;
   an alertable wait on an already signalled object returns WAIT_OBJECT_0 and
   the user APC stays queued; SleepEx(…, TRUE) then returns STATUS_USER_APC at
   once after running it. */
START_TEST(signalled_object_beats_queued_user_apc) {
  tlog_t log = {0};
  apc_test_t t = {0};
  sim_t *S = tsim_new(1, &log);
  KeInitializeEvent(&t.ev, NotificationEvent, FALSE);
  sim_thread_create(S, "self", user_self_thread, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.runs_after_insert, 0);
  ck_assert_int_eq(t.wait_ret, STATUS_WAIT_0);
  ck_assert_int_eq(t.runs_before_lower, 0);
  ck_assert_int_eq(t.sleep_ret, STATUS_USER_APC);
  ck_assert_int_eq(t.runs_after_lower, 1);
  ck_assert_uint_lt(sim_now(S), 1000000000ull / 10); /* did not sleep 1 s */
  ck_assert_int_eq(tlog_count(&log, TRC_SWITCH), 1);  /* never blocked (only the exit) */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 12E, 5.2.4(a) and 7.3: ReadFileEx then SleepEx(TRUE):
   the special APC (stage 2) interrupts the alertable sleep, queues the user
   APC to the thread itself, and the resumed sleep returns STATUS_USER_APC
   after the callback ran in user mode; the IRP is freed by then. */
START_TEST(readfileex_callback_in_alertable_sleep) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .info = 64};
  tread_t r = {.apc = tread_apc, .alertable_sleep = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_PENDING);
  ck_assert_int_eq(r.sleep_ret, STATUS_USER_APC);
  ck_assert_int_eq(r.apc_calls, 1);
  ck_assert_ptr_eq(r.apc_iosb, &r.iosb);
  ck_assert_ptr_eq(r.apc_ctx, &r);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(r.iosb.Information, 64);
  int wake = tlog_find_x(&log, TRC_WAKE, 0, "STATUS_KERNEL_APC", 0);
  int user = tlog_find_x(&log, TRC_APC_QUEUED, r.irp, "user APC", 0);
  int cb = tlog_find(&log, TRC_USER_CALLBACK, 0);
  ck_assert_int_ge(wake, 0);
  ck_assert_int_gt(user, wake);
  ck_assert_int_gt(cb, user);
  ck_assert_int_eq(log.v[cb].irql, PASSIVE_LEVEL);
  ck_assert_int_eq(log.v[cb].frame, TRC_FRAME_THREAD);
  ck_assert(sim_irp_info(S, r.irp)->freed);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 5.4 and 7.3: an overlapped ReadFileEx that succeeds at once still
   queues its completion APC; it runs only in a later alertable wait. */
START_TEST(readfileex_sync_success_still_queues_apc) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.info = 64};
  tread_t r = {.apc = tread_apc, .alertable_sleep = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  ck_assert_int_eq(r.sleep_ret, STATUS_USER_APC);
  ck_assert_int_eq(r.apc_calls, 1);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(apc_suite)
static Suite *apc_suite(void) {
  Suite *s = suite_create("apc");
  TCase *tc = tcase_create("delivery");
  tcase_add_test(tc, special_apc_runs_inside_nonalertable_wait);
  tcase_add_test(tc, resumed_wait_keeps_remaining_timeout);
  tcase_add_test(tc, wait_at_apc_level_not_interrupted);
  tcase_add_test(tc, kernel_apc_to_self_runs_when_irql_allows);
  tcase_add_test(tc, special_apcs_before_normal_ones);
  tcase_add_test(tc, kernel_apc_to_running_thread_on_other_cpu);
  tcase_add_test(tc, user_apc_needs_alertable_user_wait);
  tcase_add_test(tc, alertable_kernel_wait_ignores_user_apc);
  tcase_add_test(tc, signalled_object_beats_queued_user_apc);
  tcase_add_test(tc, readfileex_callback_in_alertable_sleep);
  tcase_add_test(tc, readfileex_sync_success_still_queues_apc);
  suite_add_tcase(s, tc);
  return s;
}
