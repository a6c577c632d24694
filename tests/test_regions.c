/*
 * test_regions.c - critical and guarded regions, and what another thread
 * can do to a wait (kernel-facts 6.11, 6.13): a guarded region holds a
 * special kernel APC back until the leave, a critical region only normal
 * ones; an unbalanced leave stops the machine; NtAlertThread ends an
 * alertable user-mode wait with STATUS_ALERTED or leaves the flag for the
 * next one; NtQueueApcThread's APC waits for an alertable wait.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct region_test {
  PKTHREAD holder;
  bool guarded, leave_twice;
  KAPC special, normal;
  int special_runs, normal_runs;
  int special_runs_in_region, normal_runs_in_region; /* seen before the leave */
} region_test_t;

static void count_special(PKAPC apc, PVOID *nr, PVOID *nctx, PVOID *a1, PVOID *a2) {
  (void)nr, (void)nctx, (void)a1, (void)a2;
  region_test_t *t = CONTAINING_RECORD(apc, region_test_t, special);
  t->special_runs++;
}

static void normal_kernel(PKAPC apc, PVOID *nr, PVOID *nctx, PVOID *a1, PVOID *a2) {
  (void)apc, (void)nr, (void)nctx, (void)a1, (void)a2;
}

static void count_normal(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  ((region_test_t *)ctx)->normal_runs++;
}

/* Enters a region, blocks 100 us (the APCs arrive meanwhile), leaves. */
static void holder(PVOID arg) {
  region_test_t *t = arg;
  if (t->guarded) KeEnterGuardedRegion();
  else KeEnterCriticalRegion();
  LARGE_INTEGER d = {.QuadPart = -1000};
  KeDelayExecutionThread(KernelMode, FALSE, &d);
  t->special_runs_in_region = t->special_runs;
  t->normal_runs_in_region = t->normal_runs;
  if (t->guarded) KeLeaveGuardedRegion();
  else KeLeaveCriticalRegion();
  if (t->leave_twice) KeLeaveCriticalRegion();
}

static void sender(PVOID arg) {
  region_test_t *t = arg;
  sim_delay(20000);
  KeInitializeApc(&t->special, t->holder, count_special, NULL, NULL, KernelMode, NULL);
  KeInitializeApc(&t->normal, t->holder, normal_kernel, NULL, count_normal, KernelMode, t);
  KeInsertQueueApc(&t->special, NULL, NULL, 0);
  KeInsertQueueApc(&t->normal, NULL, NULL, 0);
}

static sim_t *region_machine(region_test_t *t) {
  sim_t *S = tsim_new(1, NULL);
  t->holder = sim_thread_create(S, "holder", holder, t);
  sim_thread_create(S, "sender", sender, t);
  return S;
}

/* Critical region: the special APC breaks the wait and runs inside it;
   the normal one waits for KeLeaveCriticalRegion and runs there. */
START_TEST(critical_region_holds_back_normal_apcs_only) {
  region_test_t t = {.guarded = false};
  sim_t *S = region_machine(&t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.special_runs_in_region, 1);
  ck_assert_int_eq(t.normal_runs_in_region, 0);
  ck_assert_int_eq(t.normal_runs, 1);
  sim_destroy(S);
}
END_TEST

/* Guarded region: neither runs until KeLeaveGuardedRegion; both run then. */
START_TEST(guarded_region_holds_back_all_kernel_apcs) {
  region_test_t t = {.guarded = true};
  sim_t *S = region_machine(&t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.special_runs_in_region, 0);
  ck_assert_int_eq(t.normal_runs_in_region, 0);
  ck_assert_int_eq(t.special_runs, 1);
  ck_assert_int_eq(t.normal_runs, 1);
  sim_destroy(S);
}
END_TEST

/* One leave too many: the count is +1, which holds APCs back too; the
   thread's exit finds it (KERNEL_APC_PENDING_DURING_EXIT, parameter 2 the
   combined count). */
START_TEST(unbalanced_leave_stops_at_exit) {
  region_test_t t = {.guarded = false, .leave_twice = true};
  sim_t *S = region_machine(&t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, KERNEL_APC_PENDING_DURING_EXIT);
  ck_assert_uint_eq(b->p[1], 1);
  sim_destroy(S);
}
END_TEST

typedef struct alert_test {
  PKTHREAD sleeper;
  NTSTATUS first, second, third;
  int apcs_seen_at_third;
  int apc_runs;
} alert_test_t;

static void alert_sleeper(PVOID arg) {
  alert_test_t *t = arg;
  LONGLONG d = -10000; /* 1 ms */
  t->first = NtDelayExecution(TRUE, &d);  /* alerted at 100 us */
  LONGLONG shorter = -3000;
  t->second = NtDelayExecution(FALSE, &shorter); /* not alertable: the alert and the APC wait */
  t->apcs_seen_at_third = t->apc_runs;
  t->third = NtDelayExecution(TRUE, &d);  /* the alert comes first (kernel-facts 6.9) */
}

static void count_user_apc(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  ((alert_test_t *)ctx)->apc_runs++;
}

static void alerter(PVOID arg) {
  alert_test_t *t = arg;
  sim_delay(100000);
  ck_assert_int_eq(NtAlertThread(t->sleeper), STATUS_SUCCESS);
  sim_delay(50000);
  ck_assert_int_eq(NtQueueApcThread(t->sleeper, count_user_apc, t, NULL, NULL, "counter"), STATUS_SUCCESS);
  ck_assert_int_eq(NtAlertThread(t->sleeper), STATUS_SUCCESS);
}

START_TEST(alert_and_user_apc_from_another_thread) {
  alert_test_t t = {0};
  sim_t *S = tsim_new(1, NULL);
  t.sleeper = sim_thread_create(S, "sleeper", alert_sleeper, &t);
  sim_thread_create(S, "alerter", alerter, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.first, STATUS_ALERTED);
  ck_assert_int_eq(t.second, STATUS_SUCCESS);
  ck_assert_int_eq(t.apcs_seen_at_third, 0);
  ck_assert_int_eq(t.third, STATUS_ALERTED); /* the alert, before the queued APC */
  ck_assert_int_eq(t.apc_runs, 0);           /* still queued: no alertable wait since */
  sim_destroy(S);                            /* its rundown frees it: no leak */
}
END_TEST

TEST_SUITE(regions_suite)
static Suite *regions_suite(void) {
  Suite *s = suite_create("regions");
  TCase *tc = tcase_create("regions");
  tcase_add_test(tc, critical_region_holds_back_normal_apcs_only);
  tcase_add_test(tc, guarded_region_holds_back_all_kernel_apcs);
  tcase_add_test(tc, unbalanced_leave_stops_at_exit);
  tcase_add_test(tc, alert_and_user_apc_from_another_thread);
  suite_add_tcase(s, tc);
  return s;
}
