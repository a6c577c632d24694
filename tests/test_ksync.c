/*
 * test_ksync.c - semaphores, kernel mutexes and fast mutexes as the
 * kernel-facts 13.3 describe them: a semaphore releases as many waiters as
 * its count allows and stops the machine past its limit; a mutex has an
 * owner, is recursive, holds normal kernel APCs back while owned, and
 * cannot be released by another thread; a fast mutex raises to APC_LEVEL,
 * makes a second thread wait on its gate, and is not recursive.
 */
#include "drivers.h"
#include "testlib.h"

/* ---- semaphores ---- */

typedef struct sem_test {
  KSEMAPHORE sem;
  int woken;
  int woken_after_first_release;
  LONG prev1, prev2, state_end;
  bool overflow;
} sem_test_t;

static void sem_waiter(PVOID arg) {
  sem_test_t *t = arg;
  KeWaitForSingleObject(&t->sem, Executive, KernelMode, FALSE, NULL);
  t->woken++;
}

static void sem_releaser(PVOID arg) {
  sem_test_t *t = arg;
  sim_delay(10000); /* every waiter is blocked by now */
  t->prev1 = KeReleaseSemaphore(&t->sem, IO_NO_INCREMENT, 2, FALSE);
  sim_delay(10000);
  t->woken_after_first_release = t->woken;
  t->prev2 = KeReleaseSemaphore(&t->sem, IO_NO_INCREMENT, 3, FALSE);
  sim_delay(10000);
  t->state_end = KeReadStateSemaphore(&t->sem);
  if (t->overflow) KeReleaseSemaphore(&t->sem, IO_NO_INCREMENT, 3, FALSE); /* 1 + 3 > 3 */
}

static sim_t *sem_machine(sem_test_t *t, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  KeInitializeSemaphore(&t->sem, 0, 3);
  sim_name_object(&t->sem, "sem");
  for (int i = 0; i < 4; i++) {
    char name[16];
    snprintf(name, sizeof name, "w%d", i);
    sim_thread_create(S, name, sem_waiter, t);
  }
  sim_thread_create(S, "releaser", sem_releaser, t);
  return S;
}

/* Four waiters on a semaphore at 0: releasing 2 wakes exactly two;
   releasing 3 more wakes the other two and leaves a count of 1. */
START_TEST(semaphore_releases_up_to_its_count) {
  sem_test_t t = {0};
  tlog_t log = {0};
  sim_t *S = sem_machine(&t, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.woken_after_first_release, 2);
  ck_assert_int_eq(t.woken, 4);
  ck_assert_int_eq(t.prev1, 0);
  ck_assert_int_eq(t.prev2, 0); /* the two woken took what the first release gave */
  ck_assert_int_eq(t.state_end, 1);
  int r = tlog_find(&log, TRC_SEMAPHORE_RELEASE, 0);
  ck_assert_int_ge(r, 0);
  ck_assert_int_eq(log.v[r].count, 2);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* Past the limit: STATUS_SEMAPHORE_LIMIT_EXCEEDED is raised and nothing
   handles it - KMODE_EXCEPTION_NOT_HANDLED with the status. */
START_TEST(semaphore_past_its_limit_stops) {
  sem_test_t t = {.overflow = true};
  sim_t *S = sem_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, KMODE_EXCEPTION_NOT_HANDLED);
  ck_assert_uint_eq(b->p[0], (uint32_t)STATUS_SEMAPHORE_LIMIT_EXCEEDED);
  sim_destroy(S);
}
END_TEST

/* ---- kernel mutexes ---- */

typedef struct mutex_test {
  KMUTEX m;
  PKTHREAD owner_seen, holder;
  LONG state_twice, rel1, rel2, state_end;
  PKTHREAD owner_end;
  bool b_got_it_while_held;
  bool a_holding;
  KAPC apc;
  int apc_runs, apc_runs_while_owned;
  enum { MX_PLAIN, MX_FOREIGN_RELEASE, MX_EXIT_OWNING, MX_EXIT_BALANCED } mode;
} mutex_test_t;

static void normal_kernel(PKAPC apc, PVOID *nr, PVOID *nctx, PVOID *a1, PVOID *a2) {
  (void)apc, (void)nr, (void)nctx, (void)a1, (void)a2;
}

static void count_apc(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  ((mutex_test_t *)ctx)->apc_runs++;
}

/* Takes the mutex twice (recursively), holds it 50 us while the other
   thread tries and a normal kernel APC arrives, then releases twice. */
static void mutex_a(PVOID arg) {
  mutex_test_t *t = arg;
  KeWaitForMutexObject(&t->m, Executive, KernelMode, FALSE, NULL);
  KeWaitForSingleObject(&t->m, Executive, KernelMode, FALSE, NULL);
  t->a_holding = true;
  t->owner_seen = t->m.OwnerThread;
  t->state_twice = KeReadStateMutex(&t->m);
  if (t->mode == MX_EXIT_OWNING) return;
  if (t->mode == MX_EXIT_BALANCED) {
    KeReleaseMutex(&t->m, FALSE); /* once: still owned */
    KeLeaveCriticalRegion();      /* the APC count balanced by hand: only the mutex is left */
    return;
  }
  LARGE_INTEGER wait = {.QuadPart = -500}; /* 50 us, blocked: the APC comes meanwhile */
  KeDelayExecutionThread(KernelMode, FALSE, &wait);
  t->apc_runs_while_owned = t->apc_runs;
  t->a_holding = false;
  t->rel1 = KeReleaseMutex(&t->m, FALSE);
  t->rel2 = KeReleaseMutex(&t->m, FALSE);
  t->state_end = KeReadStateMutex(&t->m);
  t->owner_end = t->m.OwnerThread;
}

static void mutex_b(PVOID arg) {
  mutex_test_t *t = arg;
  sim_delay(5000);
  if (t->mode == MX_FOREIGN_RELEASE) {
    KeReleaseMutex(&t->m, FALSE);
    return;
  }
  KeInitializeApc(&t->apc, t->holder, normal_kernel, NULL, count_apc, KernelMode, t);
  KeInsertQueueApc(&t->apc, NULL, NULL, 0);
  KeWaitForSingleObject(&t->m, Executive, KernelMode, FALSE, NULL);
  t->b_got_it_while_held = t->a_holding;
  KeReleaseMutex(&t->m, FALSE);
}

static sim_t *mutex_machine(mutex_test_t *t, tlog_t *log) {
  sim_t *S = tsim_new(2, log);
  KeInitializeMutex(&t->m, 0);
  sim_name_object(&t->m, "m");
  t->holder = sim_thread_create(S, "a", mutex_a, t);
  if (t->mode == MX_PLAIN || t->mode == MX_FOREIGN_RELEASE) sim_thread_create(S, "b", mutex_b, t);
  return S;
}

/* Recursive and owned: the state counts the acquisitions, the owner is
   the thread; the other thread waits for the last release; the normal
   kernel APC waits until the mutex is released. */
START_TEST(mutex_is_recursive_owned_and_exclusive) {
  mutex_test_t t = {.mode = MX_PLAIN};
  tlog_t log = {0};
  sim_t *S = mutex_machine(&t, &log);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_ptr_eq(t.owner_seen, t.holder);
  ck_assert_int_eq(t.state_twice, -1);
  ck_assert_int_eq(t.rel1, -1);
  ck_assert_int_eq(t.rel2, 0);
  ck_assert(!t.b_got_it_while_held);
  ck_assert_int_eq(t.apc_runs_while_owned, 0);
  ck_assert_int_eq(t.apc_runs, 1);
  ck_assert_int_eq(tlog_count(&log, TRC_MUTEX_RELEASE), 3);
  ck_assert_int_eq(KeReadStateMutex(&t.m), 1);
  ck_assert_ptr_null(t.m.OwnerThread);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* Another thread's KeReleaseMutex raises STATUS_MUTANT_NOT_OWNED. */
START_TEST(mutex_released_by_another_thread_stops) {
  mutex_test_t t = {.mode = MX_FOREIGN_RELEASE};
  sim_t *S = mutex_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, KMODE_EXCEPTION_NOT_HANDLED);
  ck_assert_uint_eq(b->p[0], (uint32_t)STATUS_MUTANT_NOT_OWNED);
  sim_destroy(S);
}
END_TEST

/* A thread that ends owning a mutex: its APCs are still disabled, which
   PspExitThread checks first (0x20); with the count balanced by hand, the
   mutex itself is found (0x4000008A, parameters: the thread, the mutex). */
START_TEST(thread_exiting_with_a_mutex_stops) {
  mutex_test_t t = {.mode = MX_EXIT_OWNING};
  sim_t *S = mutex_machine(&t, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  ck_assert_uint_eq(sim_bugcheck(S)->code, KERNEL_APC_PENDING_DURING_EXIT);
  sim_destroy(S);
  mutex_test_t u = {.mode = MX_EXIT_BALANCED};
  S = mutex_machine(&u, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, THREAD_TERMINATE_HELD_MUTEX);
  ck_assert_uint_eq(b->p[0], (ULONG_PTR)u.holder);
  ck_assert_uint_eq(b->p[1], (ULONG_PTR)&u.m);
  sim_destroy(S);
}
END_TEST

/* ---- fast mutexes ---- */

typedef struct fm_test {
  FAST_MUTEX fm;
  KIRQL irql_held, irql_after;
  PKTHREAD owner_seen;
  bool b_inside_while_a;
  bool a_inside;
  BOOLEAN try_while_held, try_when_free;
  enum { FM_PLAIN, FM_TWICE, FM_RELEASE_PASSIVE, FM_AT_DISPATCH } mode;
} fm_test_t;

static void fm_a(PVOID arg) {
  fm_test_t *t = arg;
  KIRQL old;
  switch (t->mode) {
  case FM_TWICE:
    ExAcquireFastMutex(&t->fm);
    ExAcquireFastMutex(&t->fm);
    return;
  case FM_RELEASE_PASSIVE: ExReleaseFastMutex(&t->fm); return;
  case FM_AT_DISPATCH:
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAcquireFastMutex(&t->fm);
    return;
  case FM_PLAIN: break;
  }
  ExAcquireFastMutex(&t->fm);
  t->irql_held = KeGetCurrentIrql();
  t->owner_seen = t->fm.Owner;
  t->a_inside = true;
  sim_delay(20000);
  t->a_inside = false;
  ExReleaseFastMutex(&t->fm);
  t->irql_after = KeGetCurrentIrql();
}

static void fm_b(PVOID arg) {
  fm_test_t *t = arg;
  sim_delay(5000);
  t->try_while_held = ExTryToAcquireFastMutex(&t->fm);
  ExAcquireFastMutex(&t->fm);
  t->b_inside_while_a = t->a_inside;
  ExReleaseFastMutex(&t->fm);
  t->try_when_free = ExTryToAcquireFastMutex(&t->fm);
  if (t->try_when_free) ExReleaseFastMutex(&t->fm);
}

static sim_t *fm_machine(fm_test_t *t, tlog_t *log, PKTHREAD *a) {
  sim_t *S = tsim_new(2, log);
  ExInitializeFastMutex(&t->fm);
  sim_name_object(&t->fm.Event, "fm");
  *a = sim_thread_create(S, "a", fm_a, t);
  if (t->mode == FM_PLAIN) sim_thread_create(S, "b", fm_b, t);
  return S;
}

/* APC_LEVEL while held, the owner recorded, the second thread waits on
   the gate (one contention) and gets in only after the release. */
START_TEST(fast_mutex_raises_to_apc_and_excludes) {
  fm_test_t t = {.mode = FM_PLAIN};
  tlog_t log = {0};
  PKTHREAD a;
  sim_t *S = fm_machine(&t, &log, &a);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.irql_held, APC_LEVEL);
  ck_assert_int_eq(t.irql_after, PASSIVE_LEVEL);
  ck_assert_ptr_eq(t.owner_seen, a);
  ck_assert(!t.b_inside_while_a);
  ck_assert(!t.try_while_held);
  ck_assert(t.try_when_free);
  ck_assert_uint_eq(t.fm.Contention, 1);
  ck_assert_int_eq(t.fm.Count, 1);
  int waited = -1;
  for (int i = tlog_find(&log, TRC_FAST_MUTEX_ACQUIRE, 0); i >= 0; i = tlog_find(&log, TRC_FAST_MUTEX_ACQUIRE, i + 1))
    if (log.v[i].count == 1) waited = i;
  ck_assert_int_ge(waited, 0);
  ck_assert_int_gt(waited, tlog_find(&log, TRC_FAST_MUTEX_RELEASE, 0));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

START_TEST(fast_mutex_misuse_is_a_verifier_stop) {
  static const struct { int mode; ULONG_PTR sub; } cases[] = {
      {FM_TWICE, 0x1000},           /* not recursive: the owner would wait for itself */
      {FM_RELEASE_PASSIVE, 0x34},   /* released at an IRQL other than APC_LEVEL */
      {FM_AT_DISPATCH, 0x33},       /* acquired above APC_LEVEL */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fm_test_t t = {.mode = cases[i].mode};
    PKTHREAD a;
    sim_t *S = fm_machine(&t, NULL, &a);
    ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
    const sim_bugcheck_t *b = sim_bugcheck(S);
    ck_assert_uint_eq(b->code, DRIVER_VERIFIER_DETECTED_VIOLATION);
    ck_assert_uint_eq(b->p[0], cases[i].sub);
    sim_destroy(S);
  }
}
END_TEST

TEST_SUITE(ksync_suite)
static Suite *ksync_suite(void) {
  Suite *s = suite_create("ksync");
  TCase *tc = tcase_create("ksync");
  tcase_add_test(tc, semaphore_releases_up_to_its_count);
  tcase_add_test(tc, semaphore_past_its_limit_stops);
  tcase_add_test(tc, mutex_is_recursive_owned_and_exclusive);
  tcase_add_test(tc, mutex_released_by_another_thread_stops);
  tcase_add_test(tc, thread_exiting_with_a_mutex_stops);
  tcase_add_test(tc, fast_mutex_raises_to_apc_and_excludes);
  tcase_add_test(tc, fast_mutex_misuse_is_a_verifier_stop);
  suite_add_tcase(s, tc);
  return s;
}
