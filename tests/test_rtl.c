/*
 * test_rtl.c - the small helpers of wdm.h (kernel-facts 13.9): the list
 * and interlocked routines, the memory macros, DbgPrint / DbgPrintEx as
 * the driver's own trace lines, and the checked-build assertions: a failed
 * ASSERT prints what Windows prints and stops with KMODE_EXCEPTION_NOT_HANDLED
 * (STATUS_BREAKPOINT), and so does PAGED_CODE above APC_LEVEL.
 */
#include "drivers.h"
#include "iosim/scenario.h"
#include "testlib.h"

START_TEST(lists_interlocked_and_memory) {
  LIST_ENTRY h, e[3];
  InitializeListHead(&h);
  for (int i = 0; i < 3; i++) InsertTailList(&h, &e[i]);
  ck_assert_ptr_eq(RemoveTailList(&h), &e[2]);
  ck_assert_ptr_eq(RemoveHeadList(&h), &e[0]);
  ck_assert(!IsListEmpty(&h));
  ck_assert(RemoveEntryList(&e[1])); /* the list is empty now */
  ck_assert(IsListEmpty(&h));
  SINGLE_LIST_ENTRY s = {0}, a, b;
  PushEntryList(&s, &a);
  PushEntryList(&s, &b);
  ck_assert_ptr_eq(PopEntryList(&s), &b);
  ck_assert_ptr_eq(PopEntryList(&s), &a);
  ck_assert_ptr_null(PopEntryList(&s));

  LONG v = 5;
  ck_assert_int_eq(InterlockedIncrement(&v), 6);
  ck_assert_int_eq(InterlockedDecrement(&v), 5);
  ck_assert_int_eq(InterlockedExchange(&v, 9), 5);
  ck_assert_int_eq(InterlockedCompareExchange(&v, 1, 8), 9); /* no match: unchanged */
  ck_assert_int_eq(v, 9);
  ck_assert_int_eq(InterlockedCompareExchange(&v, 1, 9), 9);
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(InterlockedAdd(&v, 4), 5);
  ck_assert_int_eq(InterlockedExchangeAdd(&v, 4), 5);
  ck_assert_int_eq(v, 9);
  PVOID p = &v, q = NULL;
  ck_assert_ptr_null(InterlockedExchangePointer(&q, p));
  ck_assert_ptr_eq(q, p);
  ck_assert_ptr_eq(InterlockedCompareExchangePointer(&q, NULL, p), p);
  ck_assert_ptr_null(q);

  char x[8], y[8];
  RtlFillMemory(x, sizeof x, 'a');
  RtlCopyMemory(y, x, sizeof y);
  ck_assert(RtlEqualMemory(x, y, sizeof x));
  y[5] = 'b';
  ck_assert_uint_eq(RtlCompareMemory(x, y, sizeof x), 5);
  RtlMoveMemory(x + 1, x, 4);
  RtlZeroMemory(y, sizeof y);
  ck_assert_uint_eq(RtlCompareMemory(y, "\0\0\0\0\0\0\0\0", 8), 8);
}
END_TEST

typedef enum { D_PRINT, D_ASSERT, D_PAGED_OK, D_PAGED_BAD } dbg_case_t;

static void dbg_thread(PVOID arg) {
  dbg_case_t what = *(dbg_case_t *)arg;
  KIRQL old;
  switch (what) {
  case D_PRINT:
    DbgPrint("hello %d\n", 42);
    KdPrint(("two\nlines\n"));
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "error %s\n", "here");
    break;
  case D_ASSERT: {
    int n = 1;
    ASSERT(n == 1);
    ASSERT(n == 2);
    break;
  }
  case D_PAGED_OK: PAGED_CODE(); break;
  case D_PAGED_BAD:
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PAGED_CODE();
    break;
  }
}

static sim_t *dbg_run(dbg_case_t *what, tlog_t *log, sim_outcome_t want) {
  sim_t *S = tsim_new(1, log);
  sim_thread_create(S, "drv", dbg_thread, what);
  ck_assert_int_eq(sim_run(S), want);
  return S;
}

/* Each line is a `dbgprint` row in the thread that printed it. */
START_TEST(dbgprint_is_the_drivers_own_line) {
  dbg_case_t what = D_PRINT;
  tlog_t log = {0};
  sim_t *S = dbg_run(&what, &log, SIM_RUN_OK);
  ck_assert_int_eq(tlog_count(&log, TRC_DBGPRINT), 4);
  int i = tlog_find(&log, TRC_DBGPRINT, 0);
  ck_assert_str_eq(log.v[i].detail, "hello 42");
  ck_assert_int_eq(log.v[i].count, -1);
  ck_assert_uint_eq(log.v[i].thread, 1);
  i = tlog_find(&log, TRC_DBGPRINT, i + 1);
  ck_assert_str_eq(log.v[i].detail, "two");
  i = tlog_find(&log, TRC_DBGPRINT, i + 2);
  ck_assert_str_eq(log.v[i].detail, "error here");
  ck_assert_int_eq(log.v[i].count, DPFLTR_ERROR_LEVEL);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* The first ASSERT holds; the second prints "*** Assertion failed" and
   breaks into a debugger that is not there. */
START_TEST(failed_assert_stops_with_a_report) {
  dbg_case_t what = D_ASSERT;
  tlog_t log = {0};
  sim_t *S = dbg_run(&what, &log, SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, KMODE_EXCEPTION_NOT_HANDLED);
  ck_assert_uint_eq(b->p[0], (uint32_t)STATUS_BREAKPOINT);
  ck_assert_ptr_nonnull(strstr(b->reason, "n == 2"));
  ck_assert_ptr_nonnull(strstr(b->reason, "test_rtl.c"));
  int i = tlog_find_x(&log, TRC_DBGPRINT, 0, "*** Assertion failed: n == 2", 0);
  ck_assert_int_ge(i, 0);
  ck_assert_int_lt(i, tlog_find(&log, TRC_BUGCHECK, 0));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* PAGED_CODE passes at PASSIVE_LEVEL and stops at DISPATCH_LEVEL. */
START_TEST(paged_code_above_apc_level_stops) {
  dbg_case_t ok = D_PAGED_OK, bad = D_PAGED_BAD;
  sim_t *S = dbg_run(&ok, NULL, SIM_RUN_OK);
  sim_destroy(S);
  tlog_t log = {0};
  S = dbg_run(&bad, &log, SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(sim_bugcheck(S)->code, KMODE_EXCEPTION_NOT_HANDLED);
  ck_assert_int_ge(tlog_find_x(&log, TRC_DBGPRINT, 0, "EX: Pageable code called at IRQL 2", 0), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A scripted driver's `dbgprint "..."`: the same rows, its words in the
   `text` fact that expectations match (fixture dbgprint.iosim). */
START_TEST(scripted_dbgprint) {
  scn_error_t err;
  scn_t *sc = scn_load("fixtures/scenarios/dbgprint.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_run_opts_t o = {0};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), SIM_OK);
  ck_assert_int_eq(r.expect_total, 6);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

TEST_SUITE(rtl_suite)
static Suite *rtl_suite(void) {
  Suite *s = suite_create("rtl");
  TCase *tc = tcase_create("rtl");
  tcase_add_test(tc, lists_interlocked_and_memory);
  tcase_add_test(tc, dbgprint_is_the_drivers_own_line);
  tcase_add_test(tc, failed_assert_stops_with_a_report);
  tcase_add_test(tc, paged_code_above_apc_level_stops);
  tcase_add_test(tc, scripted_dbgprint);
  suite_add_tcase(s, tc);
  return s;
}
