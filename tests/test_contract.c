/*
 * test_contract.c - what happens when a dispatch routine breaks the
 * contract between its return value and the IRP (kernel-facts 5.6.6, 11):
 * marked pending but returned a real status, or returned a real status
 * without completing.  Windows corrupts memory; the simulated machine must
 * stop with a bugcheck, and the simulator itself must not crash.
 */
#include "iosim/scenario.h"
#include "testlib.h"

static void run_fixture(const char *path, ULONG code) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.outcome, SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(r.bugcheck.code, code);
  ck_assert_int_eq(r.expect_failed, 0);
  ck_assert_int_eq(r.finding_unexpected, 0);
  scn_result_free(&r);
  scn_free(sc);
}

/* kernel-facts 11 (marked pending but returned a real status): stage 2 is
   queued as an APC and would also run inline - double stage 2. */
START_TEST(marked_pending_then_success_stops_the_machine) {
  run_fixture("fixtures/scenarios/marked-then-success.iosim", MULTIPLE_IRP_COMPLETE_REQUESTS);
}
END_TEST

/* kernel-facts 5.6.6: a real status means "completed"; inline stage 2 on an
   IRP nobody completed would free it while a driver still holds it. */
START_TEST(success_without_completion_stops_the_machine) {
  run_fixture("fixtures/scenarios/success-not-completed.iosim", DRIVER_VERIFIER_IOMANAGER_VIOLATION);
}
END_TEST

/* A script that completes an IRP it left queued, then dequeues: the
   simulator reports the freed entry and never reads freed memory (the
   run under ASan is the real assertion). */
START_TEST(freed_while_queued_is_reported) {
  scn_error_t err;
  scn_t *sc = scn_load("fixtures/scenarios/freed-while-queued.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s", err.msg);
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, NULL, &r, &err), 0);
  ck_assert_int_eq(r.outcome, SIM_RUN_OK);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  scn_free(sc);
}
END_TEST

TEST_SUITE(suite_contract)
static Suite *suite_contract(void) {
  Suite *s = suite_create("contract");
  TCase *tc = tcase_create("dispatch return contract");
  tcase_add_test(tc, marked_pending_then_success_stops_the_machine);
  tcase_add_test(tc, success_without_completion_stops_the_machine);
  tcase_add_test(tc, freed_while_queued_is_reported);
  suite_add_tcase(s, tc);
  return s;
}
