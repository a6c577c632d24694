/*
 * test_stage2.c - stage 2 of completion (docs/kernel-facts.md §5): inline in the
 * system service or as a special kernel APC in the issuing thread, which
 * notifications a request gets (IOSB, event, file object event) on
 * synchronous and overlapped files, and what NtReadFile returns.
 */
#include "drivers.h"
#include "testlib.h"

/* kernel-facts 5.6.6 and scenario 12A: a synchronous read completed in dispatch
   is finished inline by NtReadFile at APC_LEVEL in the thread – no APC. */
START_TEST(sync_completion_runs_stage2_inline) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.info = 512};
  tfilter_t f = {.routine = true};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, &f, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(r.iosb.Information, 512);
  ck_assert_int_eq(tlog_count_x(&log, TRC_APC_QUEUED, r.irp, NULL), 0);
  int s2 = tlog_find_x(&log, TRC_STAGE2, r.irp, NULL, 0);
  ck_assert_int_ge(s2, 0);
  ck_assert_int_eq(log.v[s2].frame, TRC_FRAME_THREAD);
  ck_assert_int_eq(log.v[s2].irql, APC_LEVEL);
  ck_assert_uint_eq(log.v[s2].thread, r.thread);
  ck_assert_int_eq(r.fo_event_final, 1); /* no explicit event: the FO event */
  ck_assert_int_eq(r.fo_final_status, STATUS_SUCCESS);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 5.1, 5.5, 5.6.8 and scenario 12B: an overlapped read that pends
   returns STATUS_PENDING; stage 2 then runs as a special kernel APC in the
   issuing thread at APC_LEVEL, writes the IOSB and sets the caller's event
   but not the file object's. */
START_TEST(overlapped_pending_stage2_by_apc) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .info = 4096};
  tread_t r = {.use_event = true, .wait_event = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_PENDING);
  ck_assert_int_eq(r.event_after_call, 0); /* reset at I/O start (5.6.1) */
  ck_assert_int_eq(r.wait_ret, STATUS_WAIT_0);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(r.iosb.Information, 4096);
  int apc = tlog_find_x(&log, TRC_APC_QUEUED, r.irp, "special kernel APC", 0);
  ck_assert_int_ge(apc, 0);
  ck_assert_int_eq(log.v[apc].frame, TRC_FRAME_DPC);
  int s2 = tlog_find_x(&log, TRC_STAGE2, r.irp, NULL, apc);
  ck_assert_int_ge(s2, 0);
  ck_assert_int_eq(log.v[s2].frame, TRC_FRAME_APC);
  ck_assert_int_eq(log.v[s2].irql, APC_LEVEL);
  ck_assert_uint_eq(log.v[s2].thread, r.thread);
  ck_assert_int_eq(r.fo_event_after_create, 1);
  ck_assert_int_eq(r.fo_event_final, 0); /* explicit event: FO event left reset */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

static void hog_thread(PVOID arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) sim_delay(10000); /* 1 ms of CPU work */
}

/* kernel-facts 5.1 and 12B step 4: the DPC completes the IRP in whatever thread
   the CPU was running (here another thread), yet stage 2 runs in the issuing
   thread. */
START_TEST(stage2_runs_in_issuer_not_in_dpc_thread) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND, .latency_ns = 50000};
  tread_t r = {.use_event = true, .wait_event = true};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
  r.top = d.dev;
  sim_thread_create(S, "app", tread_thread, &r);
  PKTHREAD hog = sim_thread_create(S, "hog", hog_thread, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  int dpc = tlog_find_x(&log, TRC_DPC_RUN, r.irp, NULL, 0);
  ck_assert_int_ge(dpc, 0);
  ck_assert_uint_eq(log.v[dpc].thread, sim_thread_id(hog));
  int s2 = tlog_find_x(&log, TRC_STAGE2, r.irp, NULL, dpc);
  ck_assert_int_ge(s2, 0);
  ck_assert_uint_eq(log.v[s2].thread, r.thread);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* kernel-facts 5.6.7-8: on a synchronous file a pended read is waited for
   inside NtReadFile, which returns the final status, never STATUS_PENDING. */
START_TEST(sync_file_pending_returns_final_status) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND, .status = STATUS_BUFFER_OVERFLOW, .info = 100};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_BUFFER_OVERFLOW);
  ck_assert_int_eq(r.fo_final_status, STATUS_BUFFER_OVERFLOW);
  ck_assert_int_eq(r.iosb.Status, STATUS_BUFFER_OVERFLOW);
  ck_assert_uint_eq(r.iosb.Information, 100);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.4 and 5.6.8: an overlapped request that succeeds synchronously
   returns STATUS_SUCCESS (not PENDING) and still gets the full notification. */
START_TEST(overlapped_sync_success_full_path) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.info = 8};
  tread_t r = {.use_event = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_SUCCESS);
  ck_assert_int_eq(r.event_after_call, 1);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  ck_assert_uint_eq(r.iosb.Information, 8);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.3: an overlapped request failing synchronously with an error
   gets no event, no IOSB write; only the return value reports it. */
START_TEST(overlapped_sync_error_no_notification) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_IO_DEVICE_ERROR};
  tread_t r = {.use_event = true, .apc = tread_apc};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_IO_DEVICE_ERROR);
  ck_assert_int_eq(r.event_final, 0);
  ck_assert_int_eq(r.fo_event_final, 0);
  ck_assert_int_eq(r.iosb.Status, TREAD_IOSB_SENTINEL);
  ck_assert_uint_eq(r.iosb.Information, 0x5A5A);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0); /* no user APC holds the IRP */
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.3: a synchronous WARNING takes the full path (IOSB, event),
   unlike an error. */
START_TEST(overlapped_sync_warning_full_path) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.status = STATUS_BUFFER_OVERFLOW, .info = 16};
  tread_t r = {.use_event = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_BUFFER_OVERFLOW);
  ck_assert_int_eq(r.event_final, 1);
  ck_assert_int_eq(r.iosb.Status, STATUS_BUFFER_OVERFLOW);
  ck_assert_uint_eq(r.iosb.Information, 16);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.2.3: an error on an overlapped request that was pended takes
   the full path: the IOSB gets the error and the event is set. */
START_TEST(overlapped_pended_error_full_path) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND, .status = STATUS_IO_DEVICE_ERROR};
  tread_t r = {.use_event = true, .wait_event = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_PENDING);
  ck_assert_int_eq(r.wait_ret, STATUS_WAIT_0);
  ck_assert_int_eq(r.iosb.Status, STATUS_IO_DEVICE_ERROR);
  ck_assert_int_eq(r.event_final, 1);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.2.5: an error on a synchronous file (no IRP_SYNCHRONOUS_API)
   takes the non-full path: FinalStatus and the file object event only, the
   caller's IOSB is not written; NtReadFile returns FinalStatus. */
START_TEST(sync_pended_error_sets_final_status_only) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND, .status = STATUS_IO_DEVICE_ERROR};
  tread_t r = {.options = FILE_SYNCHRONOUS_IO_NONALERT};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_IO_DEVICE_ERROR);
  ck_assert_int_eq(r.fo_final_status, STATUS_IO_DEVICE_ERROR);
  ck_assert_int_eq(r.fo_event_final, 1);
  ck_assert_int_eq(r.iosb.Status, TREAD_IOSB_SENTINEL);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.5 and 7.1: without an explicit event the file object event is
   what stage 2 sets, so waiting on the handle works. */
START_TEST(no_event_sets_file_object_event) {
  sim_t *S = tsim_new(1, NULL);
  tdisk_t d = {.mode = TDISK_PEND, .info = 1};
  tread_t r = {.wait_file = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  ck_assert_int_eq(r.ret, STATUS_PENDING);
  ck_assert_int_eq(r.wait_ret, STATUS_WAIT_0);
  ck_assert_int_eq(r.fo_event_final, 1);
  ck_assert_int_eq(r.fo_final_status, STATUS_SUCCESS);
  ck_assert_int_eq(r.iosb.Status, STATUS_SUCCESS);
  sim_destroy(S);
}
END_TEST

/* kernel-facts 5.6.5 and 5.2.4: the IRP is queued on the issuing thread before the
   driver is called, and stage 2 unqueues and frees it. */
START_TEST(irp_queued_to_thread_then_unqueued_and_freed) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  tdisk_t d = {.mode = TDISK_PEND};
  tread_t r = {.use_event = true, .wait_event = true};
  ck_assert_int_eq(trun_read(S, &d, NULL, NULL, &r), SIM_RUN_OK);
  int q = tlog_find_x(&log, TRC_IRP_QUEUE_THREAD, r.irp, NULL, 0);
  int call = tlog_find_x(&log, TRC_CALL, r.irp, NULL, 0);
  int s2 = tlog_find_x(&log, TRC_STAGE2, r.irp, NULL, 0);
  int unq = tlog_find_x(&log, TRC_IRP_UNQUEUE_THREAD, r.irp, NULL, 0);
  int fr = tlog_find_x(&log, TRC_IRP_FREE, r.irp, NULL, 0);
  ck_assert_int_ge(q, 0);
  ck_assert_int_lt(q, call);
  ck_assert_int_lt(s2, unq);
  ck_assert_int_lt(unq, fr);
  ck_assert_int_eq(log.v[fr].frame, TRC_FRAME_APC);
  ck_assert(sim_irp_info(S, r.irp)->freed);
  ck_assert_uint_eq(sim_stats(S).irps_live, 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(stage2_suite)
static Suite *stage2_suite(void) {
  Suite *s = suite_create("stage2");
  TCase *tc = tcase_create("IopCompleteRequest");
  tcase_add_test(tc, sync_completion_runs_stage2_inline);
  tcase_add_test(tc, overlapped_pending_stage2_by_apc);
  tcase_add_test(tc, stage2_runs_in_issuer_not_in_dpc_thread);
  tcase_add_test(tc, sync_file_pending_returns_final_status);
  tcase_add_test(tc, overlapped_sync_success_full_path);
  tcase_add_test(tc, overlapped_sync_error_no_notification);
  tcase_add_test(tc, overlapped_sync_warning_full_path);
  tcase_add_test(tc, overlapped_pended_error_full_path);
  tcase_add_test(tc, sync_pended_error_sets_final_status_only);
  tcase_add_test(tc, no_event_sets_file_object_event);
  tcase_add_test(tc, irp_queued_to_thread_then_unqueued_and_freed);
  suite_add_tcase(s, tc);
  return s;
}
