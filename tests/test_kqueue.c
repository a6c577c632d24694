/*
 * test_kqueue.c - the kernel queue under completion ports, and a thread's
 * APC queues at exit (kernel-facts 7.9-7.11, 8.8): a port waiter woken for
 * a kernel APC looks at the queue again; GetQueuedCompletionStatusEx takes
 * several packets, or returns WAIT_IO_COMPLETION after user APCs; closing a
 * port releases its waiters with STATUS_ABANDONED_WAIT_0 and frees its
 * packets; an exiting thread runs its user APCs' rundown routines.  The
 * scenario fixtures' expectations are the assertions; the C tests check
 * what a scenario cannot see (return values, rundown calls, live IRPs).
 */
#include <stdio.h>
#include <string.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "fixture.h"
#include "testlib.h"


/* ---- scenario fixtures ---- */


/* kernel-facts 7.9: the waiter takes the packet that came during its APC. */
START_TEST(waiter_woken_for_kernel_apc_takes_packet) {
  tfix_holds_no_irp_left(FIX "port-waiter-kernel-apc.iosim", 8);
}
END_TEST

/* kernel-facts 7.9: a thread awake for an APC is not handed a packet. */
START_TEST(waiter_woken_for_kernel_apc_not_handed_packet) {
  tfix_holds_no_irp_left(FIX "port-waiter-kernel-apc-c2.iosim", 8);
}
END_TEST

/* kernel-facts 7.10: several packets at once, counted once. */
START_TEST(gqcs_ex_several) {
  tfix_holds_no_irp_left(FIX "gqcs-ex-several.iosim", 7);
}
END_TEST

/* kernel-facts 7.10: the alertable form. */
START_TEST(gqcs_ex_alertable) {
  tfix_holds_no_irp_left(FIX "gqcs-ex-alertable.iosim", 12);
}
END_TEST

/* kernel-facts 7.11: two waiters abandoned, four packets freed with their IRPs. */
START_TEST(port_close_under_waiters) {
  tfix_holds_no_irp_left(FIX "port-close.iosim", 15);
}
END_TEST

/* kernel-facts 7.11: a waiter busy with a kernel APC finds the queue run down. */
START_TEST(port_close_during_apc) {
  tfix_holds_no_irp_left(FIX "port-close-during-apc.iosim", 5);
}
END_TEST

/* kernel-facts 8.8: the queued ReadFileEx completion is run down, its IRP freed. */
START_TEST(exit_with_queued_user_apc) {
  tfix_holds_no_irp_left(FIX "exit-with-user-apc.iosim", 6);
}
END_TEST

/* ---- the statements' load-time checks ---- */


START_TEST(gqcs_ex_bad_input) {
  tfix_refused(BAD "gqcs-ex-count.iosim", NULL, 4, 19, "gqcs-ex takes 1 to 64 packets at once");
  tfix_refused(BAD "gqcs-ex-option.iosim", NULL, 4, 23, "expected count, alertable or timeout here");
  tfix_refused(BAD "gqcs-count.iosim", NULL, 4, 10, "expected timeout here (gqcs-ex takes count and alertable)");
  tfix_refused(BAD "close-port-undeclared.iosim", NULL, 4, 3, "no port named 'Q'");
}
END_TEST

/* ---- the system services ---- */

typedef struct svc {
  sim_port_t *port;
  NTSTATUS zero_count, first_close, second_close, remove, remove_ex, post, bind;
  ULONG removed;
  tdisk_t disk;
} svc_t;

static void svc_thread(PVOID arg) {
  svc_t *t = arg;
  FILE_IO_COMPLETION_INFORMATION info[2];
  ULONG_PTR key;
  PVOID ctx;
  IO_STATUS_BLOCK iosb;
  LONGLONG to = -100; /* 10 us */
  t->removed = 99;
  t->zero_count = NtRemoveIoCompletionEx(t->port, info, 0, &t->removed, &to, FALSE);
  t->first_close = sim_port_close(t->port);
  t->second_close = sim_port_close(t->port);
  t->remove = NtRemoveIoCompletion(t->port, &key, &ctx, &iosb, &to);
  t->remove_ex = NtRemoveIoCompletionEx(t->port, info, 2, &t->removed, &to, TRUE);
  t->post = NtSetIoCompletion(t->port, 1, NULL, STATUS_SUCCESS, 0);
  PFILE_OBJECT fo;
  if (NT_SUCCESS(NtCreateFile(&fo, t->disk.dev, 0, "f"))) t->bind = NtSetCompletionPort(fo, t->port, 1);
}

/* A count of 0 is refused; a closed port's handle is invalid for every
   call on it, closing it again included. */
START_TEST(closed_port_handle_is_invalid) {
  svc_t t = {0};
  sim_t *S = tsim_new(1, NULL);
  t.disk = (tdisk_t){.mode = TDISK_COMPLETE};
  sim_load_driver(S, "disk", tdisk_entry, &t.disk);
  t.port = sim_port_create(S, 1, "P");
  sim_thread_create(S, "app", svc_thread, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.zero_count, STATUS_INVALID_PARAMETER);
  ck_assert_uint_eq(t.removed, 0);
  ck_assert_int_eq(t.first_close, STATUS_SUCCESS);
  ck_assert_int_eq(t.second_close, STATUS_INVALID_HANDLE);
  ck_assert_int_eq(t.remove, STATUS_INVALID_HANDLE);
  ck_assert_int_eq(t.remove_ex, STATUS_INVALID_HANDLE);
  ck_assert_int_eq(t.post, STATUS_INVALID_HANDLE);
  ck_assert_int_eq(t.bind, STATUS_INVALID_HANDLE);
  sim_destroy(S);
}
END_TEST

/* ---- APC rundown at thread exit (kernel-facts 8.8) ---- */

typedef struct rd {
  KAPC with, without;  /* user APCs with and without a rundown routine */
  PKTHREAD exiting;
  int kernel_calls, normal_calls, rundown_calls;
  BOOLEAN late_insert;
  bool with_inserted_after, without_inserted_after;
  KAPC late;
} rd_t;

static void rd_kernel(PKAPC a, PVOID *nr, PVOID *nctx, PVOID *a1, PVOID *a2) {
  (void)a, (void)nr, (void)nctx, (void)a1, (void)a2;
  rd_t *t = a->NormalContext;
  t->kernel_calls++;
}

static void rd_normal(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  ((rd_t *)ctx)->normal_calls++;
}

static void rd_rundown(PKAPC a) { ((rd_t *)a->NormalContext)->rundown_calls++; }

/* Queues both user APCs to itself and ends without an alertable wait. */
static void rd_exiting(PVOID arg) {
  rd_t *t = arg;
  PKTHREAD me = KeGetCurrentThread();
  KeInitializeApc(&t->with, me, rd_kernel, rd_rundown, rd_normal, UserMode, t);
  KeInitializeApc(&t->without, me, rd_kernel, NULL, rd_normal, UserMode, t);
  KeInsertQueueApc(&t->with, NULL, NULL, 0);
  KeInsertQueueApc(&t->without, NULL, NULL, 0);
  sim_delay(1000);
}

/* After the other thread has ended: an APC to it is refused. */
static void rd_late(PVOID arg) {
  rd_t *t = arg;
  PVOID o[1] = {t->exiting};
  KeWaitForMultipleObjects(1, o, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
  t->with_inserted_after = t->with.Inserted;
  t->without_inserted_after = t->without.Inserted;
  KeInitializeApc(&t->late, t->exiting, rd_kernel, rd_rundown, NULL, KernelMode, t);
  t->late_insert = KeInsertQueueApc(&t->late, NULL, NULL, 0);
}

START_TEST(exit_runs_user_apc_rundowns) {
  rd_t t = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  t.exiting = sim_thread_create(S, "exiting", rd_exiting, &t);
  sim_thread_create(S, "late", rd_late, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.rundown_calls, 1); /* the one that has a rundown routine */
  ck_assert_int_eq(t.kernel_calls, 0);  /* neither APC was delivered */
  ck_assert_int_eq(t.normal_calls, 0);
  ck_assert(!t.with_inserted_after && !t.without_inserted_after);
  ck_assert_int_eq(t.late_insert, FALSE);
  ck_assert_int_eq(tlog_count(&log, TRC_APC_RUNDOWN), 2);
  int first = tlog_find(&log, TRC_APC_RUNDOWN, 0);
  ck_assert_int_eq(log.v[first].count, 2); /* a user APC */
  ck_assert_int_lt(tlog_find(&log, TRC_APC_RUNDOWN, first + 1), tlog_find(&log, TRC_THREAD_EXIT, 0));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

TEST_SUITE(kqueue_suite)
static Suite *kqueue_suite(void) {
  Suite *s = suite_create("kqueue");
  TCase *c = tcase_create("kqueue");
  tcase_add_test(c, waiter_woken_for_kernel_apc_takes_packet);
  tcase_add_test(c, waiter_woken_for_kernel_apc_not_handed_packet);
  tcase_add_test(c, gqcs_ex_several);
  tcase_add_test(c, gqcs_ex_alertable);
  tcase_add_test(c, port_close_under_waiters);
  tcase_add_test(c, port_close_during_apc);
  tcase_add_test(c, exit_with_queued_user_apc);
  tcase_add_test(c, gqcs_ex_bad_input);
  tcase_add_test(c, closed_port_handle_is_invalid);
  tcase_add_test(c, exit_runs_user_apc_rundowns);
  suite_add_tcase(s, c);
  return s;
}
