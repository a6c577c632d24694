/*
 * test_remlock.c - remove locks (kernel-facts 13.7): IoReleaseRemoveLockAndWait
 * waits until every other acquisition is released, and acquisitions after
 * it fail with STATUS_DELETE_PENDING; releasing with a tag no acquisition
 * used is Driver Verifier's 0xC4/0xD5.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct rl_test {
  IO_REMOVE_LOCK lock;
  int io_tag, remove_tag, late_tag; /* their addresses are the tags */
  NTSTATUS io_acq, remove_acq, late_acq;
  uint64_t io_released_ns, remover_back_ns;
  LONG count_end;
  bool bad_tag;
} rl_test_t;

static uint64_t now_ns(void) { return KeQueryInterruptTime() * 100; }

/* I/O in progress: holds the lock 50 us. */
static void io_thread(PVOID arg) {
  rl_test_t *t = arg;
  t->io_acq = IoAcquireRemoveLock(&t->lock, &t->io_tag);
  LARGE_INTEGER wait = {.QuadPart = -500};
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
  t->io_released_ns = now_ns();
  IoReleaseRemoveLock(&t->lock, t->bad_tag ? (PVOID)&t->late_tag : (PVOID)&t->io_tag);
}

/* IRP_MN_REMOVE_DEVICE's pattern: acquire, then release-and-wait. */
static void remover(PVOID arg) {
  rl_test_t *t = arg;
  sim_delay(10000);
  t->remove_acq = IoAcquireRemoveLock(&t->lock, &t->remove_tag);
  IoReleaseRemoveLockAndWait(&t->lock, &t->remove_tag);
  t->remover_back_ns = now_ns();
  t->count_end = t->lock.Common.IoCount;
}

static void late_thread(PVOID arg) {
  rl_test_t *t = arg;
  sim_delay(20000); /* after the remove began */
  t->late_acq = IoAcquireRemoveLock(&t->lock, &t->late_tag);
}

static sim_t *rl_machine(rl_test_t *t, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  IoInitializeRemoveLock(&t->lock, 0x6b636c52, 0, 0); /* AddDevice's part: at setup time */
  sim_thread_create(S, "io", io_thread, t);
  sim_thread_create(S, "remover", remover, t);
  sim_thread_create(S, "late", late_thread, t);
  return S;
}

START_TEST(release_and_wait_waits_for_outstanding_io) {
  rl_test_t t = {0};
  tlog_t log = {0};
  sim_t *S = rl_machine(&t, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.io_acq, STATUS_SUCCESS);
  ck_assert_int_eq(t.remove_acq, STATUS_SUCCESS);
  ck_assert_int_eq(t.late_acq, STATUS_DELETE_PENDING);
  ck_assert_uint_ge(t.remover_back_ns, t.io_released_ns);
  ck_assert_uint_ge(t.remover_back_ns, 50000);
  ck_assert_int_eq(t.count_end, 0);
  ck_assert(t.lock.Common.Removed);
  ck_assert_int_ge(tlog_count(&log, TRC_REMOVE_LOCK), 5);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

START_TEST(release_with_a_foreign_tag_is_a_verifier_stop) {
  rl_test_t t = {.bad_tag = true};
  sim_t *S = rl_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, DRIVER_VERIFIER_DETECTED_VIOLATION);
  ck_assert_uint_eq(b->p[0], 0xD5);
  ck_assert_uint_eq(b->p[1], (ULONG_PTR)&t.lock);
  ck_assert_uint_eq(b->p[2], (ULONG_PTR)&t.late_tag);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(remlock_suite)
static Suite *remlock_suite(void) {
  Suite *s = suite_create("remlock");
  TCase *tc = tcase_create("remlock");
  tcase_add_test(tc, release_and_wait_waits_for_outstanding_io);
  tcase_add_test(tc, release_with_a_foreign_tag_is_a_verifier_stop);
  suite_add_tcase(s, tc);
  return s;
}
