/*
 * test_systhread.c - system threads, handles and references (kernel-facts
 * 13.4): PsCreateSystemThread runs a routine at PASSIVE_LEVEL in a
 * kernel-mode thread and hands back a kernel handle; the thread object is
 * referenced through the handle and waitable; PsTerminateSystemThread ends
 * the thread from deep in its calls; a bad handle is STATUS_INVALID_HANDLE;
 * closing a handle twice is INVALID_KERNEL_HANDLE; one dereference too many
 * is REFERENCE_BY_POINTER; priorities are recorded.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct st_test {
  HANDLE h;
  PKTHREAD obj;
  KEVENT go;
  CLIENT_ID cid;
  NTSTATUS create_st, ref_st, bad_ref_st, close_st, term_from_user;
  int routine_runs, after_terminate;
  KIRQL irql;
  BOOLEAN is_system, creator_is_system;
  bool finished_when_woken;
  LONG_PTR left;
  KPRIORITY old_prio, new_prio;
  enum { ST_PLAIN, ST_CLOSE_TWICE, ST_DEREF_TWICE } mode;
} st_test_t;

static void terminate_deep(st_test_t *t) {
  PsTerminateSystemThread(STATUS_SUCCESS);
  t->after_terminate++; /* never reached */
}

static void sys_routine(PVOID ctx) {
  st_test_t *t = ctx;
  t->routine_runs++;
  t->irql = KeGetCurrentIrql();
  t->is_system = PsIsSystemThread(PsGetCurrentThread());
  KeWaitForSingleObject(&t->go, Executive, KernelMode, FALSE, NULL);
  terminate_deep(t);
  t->after_terminate++;
}

static void creator(PVOID arg) {
  st_test_t *t = arg;
  t->creator_is_system = PsIsSystemThread(PsGetCurrentThread());
  t->create_st = PsCreateSystemThread(&t->h, THREAD_ALL_ACCESS, NULL, NULL, &t->cid, sys_routine, t);
  t->ref_st = ObReferenceObjectByHandle(t->h, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, (PVOID *)&t->obj, NULL);
  PVOID none;
  t->bad_ref_st = ObReferenceObjectByHandle((HANDLE)(LONG_PTR)0x1234, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                            &none, NULL);
  t->close_st = ZwClose(t->h);
  t->old_prio = KeSetPriorityThread(t->obj, LOW_REALTIME_PRIORITY);
  t->new_prio = KeQueryPriorityThread(t->obj);
  t->term_from_user = PsTerminateSystemThread(STATUS_SUCCESS); /* not a system thread */
  KeSetEvent(&t->go, 0, FALSE);
  KeWaitForSingleObject(t->obj, Executive, KernelMode, FALSE, NULL);
  t->finished_when_woken = sim_thread_finished(t->obj);
  t->left = ObDereferenceObject(t->obj);
  if (t->mode == ST_CLOSE_TWICE) ZwClose(t->h);
  if (t->mode == ST_DEREF_TWICE) ObDereferenceObject(t->obj);
}

static sim_t *st_machine(st_test_t *t, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  KeInitializeEvent(&t->go, NotificationEvent, FALSE);
  sim_thread_create(S, "creator", creator, t);
  return S;
}

START_TEST(system_thread_runs_and_terminates_from_deep_inside) {
  st_test_t t = {.mode = ST_PLAIN};
  tlog_t log = {0};
  sim_t *S = st_machine(&t, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.create_st, STATUS_SUCCESS);
  ck_assert_int_eq(t.ref_st, STATUS_SUCCESS);
  ck_assert_ptr_eq(t.obj, sim_thread_by_name(S, "system-1"));
  ck_assert_uint_eq((ULONG_PTR)t.h >> (sizeof(ULONG_PTR) * 8 - 1), 1); /* a kernel handle */
  ck_assert_uint_eq((ULONG_PTR)t.cid.UniqueProcess, 4);                /* the system process */
  ck_assert_int_eq(t.bad_ref_st, STATUS_INVALID_HANDLE);
  ck_assert_int_eq(t.close_st, STATUS_SUCCESS);
  ck_assert_int_eq(t.routine_runs, 1);
  ck_assert_int_eq(t.irql, PASSIVE_LEVEL);
  ck_assert(t.is_system);
  ck_assert(!t.creator_is_system);
  ck_assert_int_eq(t.after_terminate, 0);
  ck_assert_int_eq(t.term_from_user, STATUS_INVALID_PARAMETER);
  ck_assert(t.finished_when_woken);
  ck_assert_int_eq(t.left, 0); /* handle closed, thread ended, our reference dropped */
  ck_assert_int_eq(t.old_prio, 8);
  ck_assert_int_eq(t.new_prio, LOW_REALTIME_PRIORITY);
  int c = tlog_find(&log, TRC_THREAD_CREATE, 0);
  int start = tlog_find(&log, TRC_THREAD_START, c);
  ck_assert(c >= 0 && start > c);
  ck_assert_int_ge(tlog_find(&log, TRC_THREAD_EXIT, start), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

START_TEST(closing_twice_and_dereferencing_too_often_stop) {
  st_test_t t = {.mode = ST_CLOSE_TWICE};
  sim_t *S = st_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, INVALID_KERNEL_HANDLE);
  ck_assert_uint_eq(b->p[0], (ULONG_PTR)t.h);
  ck_assert_uint_eq(b->p[1], 1);
  sim_destroy(S);
  st_test_t u = {.mode = ST_DEREF_TWICE};
  S = st_machine(&u, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, REFERENCE_BY_POINTER);
  ck_assert_uint_eq(b->p[1], (ULONG_PTR)u.obj);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(systhread_suite)
static Suite *systhread_suite(void) {
  Suite *s = suite_create("systhread");
  TCase *tc = tcase_create("systhread");
  tcase_add_test(tc, system_thread_runs_and_terminates_from_deep_inside);
  tcase_add_test(tc, closing_twice_and_dereferencing_too_often_stop);
  suite_add_tcase(s, tc);
  return s;
}
