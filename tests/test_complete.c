/*
 * test_complete.c - IofCompleteRequest stage 1 (docs/kernel-facts.md §3): the upward
 * walk, invoke-on flags, STATUS_MORE_PROCESSING_REQUIRED, pending
 * propagation and what forgetting it does.
 */
#include "drivers.h"
#include "testlib.h"

/* kernel-facts 3.2 / 3.4: higher routines run only after all lower ones – the
   walk goes upward from the completing driver. */
START_TEST(lower_routine_runs_first) {
  sim_t *S = tsim_new(1, NULL);
  int clock = 0;
  tdisk_t d = {.info = 512};
  tfilter_t lo = {.routine = true, .clock = &clock}, hi = {.routine = true, .clock = &clock};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(lo.routine_stamp, 1);
  ck_assert_int_eq(hi.routine_stamp, 2);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.2c: on an error status only InvokeOnError routines run; a
   success-only routine is skipped. */
START_TEST(error_status_skips_success_only_routine) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_IO_DEVICE_ERROR};
  tfilter_t lo = {.routine = true, .inv_error = true}, hi = {.routine = true, .inv_success = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(lo.routine_calls, 1);
  ck_assert_int_eq(hi.routine_calls, 0);
  ck_assert_int_eq(r.ret, STATUS_IO_DEVICE_ERROR);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.5: a warning (0x8...) is not NT_SUCCESS, so it triggers
   InvokeOnError and not InvokeOnSuccess. */
START_TEST(warning_status_invokes_on_error) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_BUFFER_OVERFLOW, .info = 16};
  tfilter_t lo = {.routine = true, .inv_success = true}, hi = {.routine = true, .inv_error = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(lo.routine_calls, 0);
  ck_assert_int_eq(hi.routine_calls, 1);
  ck_assert_int_eq(hi.routine_status_seen, STATUS_BUFFER_OVERFLOW);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.2c: Irp->Cancel with SL_INVOKE_ON_CANCEL calls the routine even
   on success without the success bit; an error-only routine is not called. */
START_TEST(cancel_bit_invokes_on_cancel) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_SUCCESS, .set_cancel = true};
  tfilter_t lo = {.routine = true, .inv_cancel = true}, hi = {.routine = true, .inv_error = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(lo.routine_calls, 1);
  ck_assert_int_eq(hi.routine_calls, 0);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.2c: the status is re-read at each level: a lower routine that
   turns success into an error makes the upper error-only routine run. */
START_TEST(status_reread_each_level) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_SUCCESS};
  tfilter_t lo = {.routine = true, .routine_sets_status = true, .new_status = STATUS_ACCESS_DENIED};
  tfilter_t hi = {.routine = true, .inv_error = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(lo.routine_status_seen, STATUS_SUCCESS);
  ck_assert_int_eq(hi.routine_calls, 1);
  ck_assert_int_eq(hi.routine_status_seen, STATUS_ACCESS_DENIED);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.3: only MPR is special; a routine returning an error status
   lets the walk go on to the next routine. */
START_TEST(error_return_continues_walk) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.info = 512};
  tfilter_t lo = {.routine = true, .routine_returns = STATUS_UNSUCCESSFUL}, hi = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(lo.routine_calls, 1);
  ck_assert_int_eq(hi.routine_calls, 1);
  ck_assert(sim_irp_info(S, r.irp)->completed);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.2a: PendingReturned is the pending bit of the location just
   left: set when the disk marked pending, clear when it completed inline. */
START_TEST(pending_returned_reflects_lower_mark) {
  for (int pend = 0; pend < 2; pend++) {
    sim_t *S = tsim_new(1, NULL);
    tdisk_t d = {.mode = pend ? TDISK_PEND : TDISK_COMPLETE};
    tfilter_t f = {.routine = true};
    tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
    ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
    ck_assert_int_eq(f.routine_calls, 1);
    ck_assert_int_eq(f.routine_pending_returned, pend);
    sim_destroy(S);
  }
}
END_TEST

/* kernel-facts 3.2d: before a routine is called its location is cleared
   (Control, FileObject) but its CompletionRoutine survives. */
START_TEST(called_location_is_cleared) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND};
  tfilter_t f = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(f.routine_calls, 1);
  ck_assert_uint_eq(f.lower_control_seen, 0); /* had 0xE0 | SL_PENDING_RETURNED */
  ck_assert_ptr_null(f.lower_fileobject_seen); /* had the file object (copied) */
  ck_assert(f.lower_routine_kept);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 3.2e: a location without a routine copies the pending mark up
   (automatic propagation), so the top location ends marked and stage 2 comes
   as an APC (3.6). */
START_TEST(pending_mark_propagates_without_routine) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .info = 512};
  tfilter_t f = {.mode = TF_COPY};
  tread_t r = {.use_event = true, .wait_event = true};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_ge(tlog_find_x(&log, TRC_PENDING_PROPAGATED, r.irp, NULL, 0), 0);
  ck_assert(sim_irp_info(S, r.irp)->pending_returned);
  ck_assert_int_eq(tlog_count_x(&log, TRC_APC_QUEUED, r.irp, NULL), 1);
  ck_assert_int_eq(r.wait_ret, STATUS_SUCCESS);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 3.4 and 11 (pending mismatch -> hang): a routine that neither
   returns MPR nor re-marks pending leaves the top location unmarked; with
   IRP_DEFER_IO_COMPLETION no APC is queued and a synchronous NtReadFile waits
   on the file object forever. */
START_TEST(forgotten_propagation_hangs_sync_read) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND};
  tfilter_t f = {.routine = true, .no_propagate = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT, .ret = -1};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_STALLED);
  uint32_t irp = tsim_find_irp(S, IRP_MJ_READ);
  ck_assert_uint_ne(irp, 0);
  ck_assert_int_eq(f.routine_calls, 1);
  ck_assert(f.routine_pending_returned);
  ck_assert(!sim_irp_info(S, irp)->pending_returned);
  ck_assert_int_eq(tlog_count_x(&log, TRC_APC_QUEUED, irp, NULL), 0);
  ck_assert_int_eq(r.ret, -1); /* NtReadFile never returned */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 3.4: the same stack with the routine doing
   if (Irp->PendingReturned) IoMarkIrpPending(Irp) completes normally. */
START_TEST(propagating_routine_completes_sync_read) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .info = 512};
  tfilter_t f = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  ck_assert(sim_irp_info(S, r.irp)->pending_returned);
  ck_assert_int_eq(tlog_count_x(&log, TRC_APC_QUEUED, r.irp, NULL), 1);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 3.2d, 3.1 and scenario 12C: a routine returning MPR stops the
   walk (no APC, IRP still the owner's); the owner's later IoCompleteRequest
   passes the double-completion check and finishes the walk; NtReadFile then
   completes inline. */
START_TEST(mpr_stops_walk_owner_recompletes) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .info = 512};
  tfilter_t f = {.sync_forward = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_ptr_null(sim_bugcheck(S));
  int stop = tlog_find_x(&log, TRC_WALK_STOPPED, r.irp, NULL, 0);
  ck_assert_int_ge(stop, 0);
  ck_assert_int_eq(log.v[stop].stack_location, 2); /* CL=2: mid-stack */
  ck_assert_int_eq(log.v[stop].frame, TRC_FRAME_DPC);
  ck_assert_int_eq(tlog_count_x(&log, TRC_COMPLETE, r.irp, NULL), 2);
  int done = tlog_find_x(&log, TRC_WALK_DONE, r.irp, NULL, 0);
  ck_assert_int_gt(done, stop);
  ck_assert_int_eq(log.v[done].frame, TRC_FRAME_THREAD); /* the owner, at PASSIVE */
  ck_assert_int_eq(tlog_count_x(&log, TRC_APC_QUEUED, r.irp, NULL), 0);
  ck_assert_int_eq(f.recompletes, 1);
  ck_assert_int_eq(f.call_returned, STATUS_PENDING);
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(r.iosb.Information, 512);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 3.2d / 3.4: while a lower routine holds the IRP with MPR, the
   upper routine does not run; it runs once the owner re-completes. */
START_TEST(upper_routine_waits_for_recompletion) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .info = 512};
  tfilter_t lo = {.sync_forward = true}, hi = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &lo, &hi, &r), SIM_RUN_OK);
  ck_assert_int_eq(hi.routine_calls, 1);
  int stop = tlog_find_x(&log, TRC_WALK_STOPPED, r.irp, NULL, 0);
  int hi_call = tlog_find_x(&log, TRC_COMPLETION_CALL, r.irp, hi.name, 0);
  ck_assert_int_ge(stop, 0);
  ck_assert_int_gt(hi_call, stop);
  ck_assert_int_eq(log.v[hi_call].frame, TRC_FRAME_THREAD);
  /* the lower routine saw a pended IRP; the upper one, re-completed inline
     by the filter that never marked its own location, sees none */
  ck_assert(lo.routine_pending_returned);
  ck_assert(!hi.routine_pending_returned);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(complete_suite)
static Suite *complete_suite(void) {
  Suite *s = suite_create("complete");
  TCase *tc = tcase_create("stage1");
  tcase_add_test(tc, lower_routine_runs_first);
  tcase_add_test(tc, error_status_skips_success_only_routine);
  tcase_add_test(tc, warning_status_invokes_on_error);
  tcase_add_test(tc, cancel_bit_invokes_on_cancel);
  tcase_add_test(tc, status_reread_each_level);
  tcase_add_test(tc, error_return_continues_walk);
  tcase_add_test(tc, pending_returned_reflects_lower_mark);
  tcase_add_test(tc, called_location_is_cleared);
  tcase_add_test(tc, pending_mark_propagates_without_routine);
  tcase_add_test(tc, forgotten_propagation_hangs_sync_read);
  tcase_add_test(tc, propagating_routine_completes_sync_read);
  tcase_add_test(tc, mpr_stops_walk_owner_recompletes);
  tcase_add_test(tc, upper_routine_waits_for_recompletion);
  suite_add_tcase(s, tc);
  return s;
}
