/*
 * test_spinlock.c - spin locks (kernel-facts 13.1): a CPU that wants a
 * held lock spins until the holder releases it, and the trace shows the
 * spin; the lock excludes under every interleaving; queued spin locks
 * serve their waiters in arrival order; misuse is a Driver Verifier stop
 * (0xC4) with the documented subcode and the lock's address.
 */
#include "drivers.h"
#include "testlib.h"

typedef struct spin_test {
  KSPIN_LOCK lock;
  int iterations;        /* acquire/release cycles per thread */
  uint64_t hold_ns;      /* how long each holds it */
  int inside, overlaps, entries;
  KIRQL irql_held, irql_after, old_irql;
  uint32_t first_tid;    /* the thread that took the lock first */
} spin_test_t;

/* Takes the lock `iterations` times; "inside" must never be seen set by
   another holder. */
static void spinner(PVOID arg) {
  spin_test_t *t = arg;
  for (int i = 0; i < t->iterations; i++) {
    KIRQL old;
    KeAcquireSpinLock(&t->lock, &old);
    if (!t->first_tid) t->first_tid = sim_thread_id(KeGetCurrentThread());
    t->irql_held = KeGetCurrentIrql();
    t->old_irql = old;
    if (t->inside) t->overlaps++;
    t->inside = 1;
    t->entries++;
    sim_delay(t->hold_ns);
    t->inside = 0;
    KeReleaseSpinLock(&t->lock, old);
    t->irql_after = KeGetCurrentIrql();
  }
}

static sim_t *spin_machine(spin_test_t *t, tlog_t *log, uint64_t seed, unsigned jitter) {
  sim_config_t cfg = {.cpus = 2, .seed = seed, .jitter_pct = jitter};
  sim_t *S = sim_create(&cfg);
  if (log) {
    trc_sink_t sink = tlog_sink(log);
    sim_set_sink(S, &sink);
  }
  KeInitializeSpinLock(&t->lock);
  sim_name_spin_lock(S, &t->lock, "L");
  sim_thread_create(S, "a", spinner, t);
  sim_thread_create(S, "b", spinner, t);
  return S;
}

/* Two CPUs, one lock held 2 us: the second thread spins while the first
   holds it, and takes it only after the release, with the steps it spun
   as the acquire row's count. */
START_TEST(second_cpu_spins_until_release) {
  spin_test_t t = {.iterations = 1, .hold_ns = 2000};
  tlog_t log = {0};
  sim_t *S = spin_machine(&t, &log, 1, 0);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.entries, 2);
  ck_assert_int_eq(t.overlaps, 0);
  ck_assert_int_eq(t.irql_held, DISPATCH_LEVEL);
  ck_assert_int_eq(t.old_irql, PASSIVE_LEVEL);
  ck_assert_int_eq(t.irql_after, PASSIVE_LEVEL);
  int a1 = tlog_find(&log, TRC_SPINLOCK_ACQUIRE, 0);
  int spin = tlog_find(&log, TRC_SPINLOCK_SPIN, 0);
  int r1 = tlog_find(&log, TRC_SPINLOCK_RELEASE, 0);
  int a2 = tlog_find(&log, TRC_SPINLOCK_ACQUIRE, a1 + 1);
  ck_assert(a1 >= 0 && spin > a1 && r1 > spin && a2 > r1);
  ck_assert_int_eq(log.v[a1].count, 0);                    /* uncontended */
  ck_assert_uint_ne(log.v[spin].thread, log.v[a1].thread); /* the other thread spins */
  ck_assert_uint_eq(log.v[a2].thread, log.v[spin].thread);
  ck_assert_int_ne(log.v[a2].cpu, log.v[a1].cpu);
  ck_assert_int_gt(log.v[a2].count, 10);                   /* ~2 us of 20 ns steps */
  ck_assert_uint_ge(log.v[a2].t_ns, log.v[r1].t_ns);
  ck_assert_uint_ge(log.v[a2].t_ns - log.v[spin].t_ns, 1500);
  ck_assert(strstr(log.v[spin].detail, "L ") == log.v[spin].detail);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* Many cycles under jitter and several seeds: never two holders. */
START_TEST(lock_excludes_under_every_interleaving) {
  for (uint64_t seed = 1; seed <= 12; seed++) {
    spin_test_t t = {.iterations = 40, .hold_ns = 60};
    sim_t *S = spin_machine(&t, NULL, seed, 50);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(t.entries, 80);
    ck_assert_int_eq(t.overlaps, 0);
    sim_destroy(S);
  }
}
END_TEST

/* ---- misuse ---- */

typedef enum { MIS_TWICE, MIS_RELEASE_FREE, MIS_RELEASE_OTHERS, MIS_DPC_AT_PASSIVE, MIS_RELEASE_PASSIVE,
               MIS_QUEUED_THEN_PLAIN, MIS_CANCEL_TWICE, MIS_UNINIT } misuse_t;

typedef struct misuse_test {
  misuse_t what;
  KSPIN_LOCK lock;
  KEVENT held;
} misuse_test_t;

static void misuser(PVOID arg) {
  misuse_test_t *m = arg;
  KIRQL old;
  KLOCK_QUEUE_HANDLE h;
  switch (m->what) {
  case MIS_TWICE:
    KeAcquireSpinLock(&m->lock, &old);
    KeAcquireSpinLockAtDpcLevel(&m->lock);
    break;
  case MIS_RELEASE_FREE:
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeReleaseSpinLock(&m->lock, old);
    break;
  case MIS_RELEASE_OTHERS: /* "holder" has it; this thread releases it */
    KeWaitForSingleObject(&m->held, Executive, KernelMode, FALSE, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeReleaseSpinLockFromDpcLevel(&m->lock);
    break;
  case MIS_DPC_AT_PASSIVE: KeAcquireSpinLockAtDpcLevel(&m->lock); break;
  case MIS_RELEASE_PASSIVE: KeReleaseSpinLock(&m->lock, PASSIVE_LEVEL); break;
  case MIS_QUEUED_THEN_PLAIN:
    KeAcquireInStackQueuedSpinLock(&m->lock, &h);
    KeReleaseSpinLock(&m->lock, h.OldIrql);
    break;
  case MIS_CANCEL_TWICE:
    IoAcquireCancelSpinLock(&old);
    IoAcquireCancelSpinLock(&old);
    break;
  case MIS_UNINIT:
    m->lock = 0xCDCDCDCD;
    KeAcquireSpinLock(&m->lock, &old);
    break;
  }
}

static void holder(PVOID arg) {
  misuse_test_t *m = arg;
  KIRQL old;
  KeAcquireSpinLock(&m->lock, &old);
  KeSetEvent(&m->held, 0, FALSE);
  sim_delay(100000);
  KeReleaseSpinLock(&m->lock, old);
}

static const sim_bugcheck_t *run_misuse(misuse_test_t *m, sim_t **out) {
  sim_t *S = tsim_new(2, NULL);
  KeInitializeSpinLock(&m->lock);
  KeInitializeEvent(&m->held, NotificationEvent, FALSE);
  sim_thread_create(S, "misuser", misuser, m);
  if (m->what == MIS_RELEASE_OTHERS) sim_thread_create(S, "holder", holder, m);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  *out = S;
  return sim_bugcheck(S);
}

START_TEST(misuse_is_a_verifier_stop) {
  static const struct { misuse_t what; ULONG_PTR sub; bool lock_in_p2; } cases[] = {
      {MIS_TWICE, 0x1000, true},          /* self-deadlock */
      {MIS_RELEASE_FREE, 0x1007, true},   /* released before acquired */
      {MIS_RELEASE_OTHERS, 0x1004, true}, /* the wrong CPU releases */
      {MIS_DPC_AT_PASSIVE, 0x40, false},  /* AtDpcLevel below DISPATCH_LEVEL */
      {MIS_RELEASE_PASSIVE, 0x32, false}, /* KeReleaseSpinLock not at DISPATCH_LEVEL */
      {MIS_QUEUED_THEN_PLAIN, 0x1009, true},
      {MIS_UNINIT, 0x1002, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    misuse_test_t m = {.what = cases[i].what};
    sim_t *S;
    const sim_bugcheck_t *b = run_misuse(&m, &S);
    ck_assert_uint_eq(b->code, DRIVER_VERIFIER_DETECTED_VIOLATION);
    ck_assert_uint_eq(b->p[0], cases[i].sub);
    if (cases[i].lock_in_p2) ck_assert_uint_eq(b->p[1], (ULONG_PTR)&m.lock);
    else ck_assert_uint_eq(b->p[2], (ULONG_PTR)&m.lock); /* p2 is the IRQL */
    sim_destroy(S);
  }
}
END_TEST

/* The cancel spin lock is one of these locks: taking it twice on one CPU
   is the same self-deadlock stop. */
START_TEST(cancel_spin_lock_twice_is_a_self_deadlock) {
  misuse_test_t m = {.what = MIS_CANCEL_TWICE};
  sim_t *S;
  const sim_bugcheck_t *b = run_misuse(&m, &S);
  ck_assert_uint_eq(b->code, DRIVER_VERIFIER_DETECTED_VIOLATION);
  ck_assert_uint_eq(b->p[0], 0x1000);
  sim_destroy(S);
}
END_TEST

/* ---- queued spin locks ---- */

typedef struct queued_test {
  KSPIN_LOCK lock;
  int order[3], n;
  uint64_t took_at[3];
} queued_test_t;

typedef struct queued_arg {
  queued_test_t *q;
  int who;
  uint64_t start_ns;
} queued_arg_t;

/* Thread `who` waits start_ns, then holds the lock 3 us. */
static void queuer(PVOID arg) {
  queued_arg_t *a = arg;
  sim_delay(a->start_ns);
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLock(&a->q->lock, &h);
  a->q->took_at[a->who] = KeQueryInterruptTime() * 100;
  a->q->order[a->q->n++] = a->who;
  sim_delay(3000);
  KeReleaseInStackQueuedSpinLock(&h);
}

/* Three CPUs: the holder first, then two waiters 1 us apart - they get
   the lock in that order, each when the previous one hands it over. */
START_TEST(queued_spin_lock_serves_in_arrival_order) {
  tlog_t log = {0};
  sim_t *S = tsim_new(3, &log);
  queued_test_t q = {0};
  KeInitializeSpinLock(&q.lock);
  queued_arg_t args[3] = {{&q, 0, 0}, {&q, 1, 1000}, {&q, 2, 2000}};
  sim_thread_create(S, "first", queuer, &args[0]);
  sim_thread_create(S, "second", queuer, &args[1]);
  sim_thread_create(S, "third", queuer, &args[2]);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(q.n, 3);
  ck_assert_int_eq(q.order[0], 0);
  ck_assert_int_eq(q.order[1], 1);
  ck_assert_int_eq(q.order[2], 2);
  ck_assert_int_eq(tlog_count(&log, TRC_SPINLOCK_SPIN), 2);
  ck_assert_uint_ge(q.took_at[1], q.took_at[0] + 3000);
  ck_assert_uint_ge(q.took_at[2], q.took_at[1] + 3000);
  ck_assert_uint_eq(q.lock, 0); /* free at the end */
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- trying, and lists under a lock ---- */

typedef struct try_test {
  KSPIN_LOCK lock;
  KEVENT held;
  BOOLEAN got_while_held, got_after;
  LIST_ENTRY list;
  LIST_ENTRY e[3];
  PLIST_ENTRY prev_on_insert, removed;
} try_test_t;

static void try_holder(PVOID arg) {
  try_test_t *t = arg;
  KIRQL old;
  KeAcquireSpinLock(&t->lock, &old);
  KeSetEvent(&t->held, 0, FALSE);
  sim_delay(5000);
  KeReleaseSpinLock(&t->lock, old);
}

static void try_taker(PVOID arg) {
  try_test_t *t = arg;
  KeWaitForSingleObject(&t->held, Executive, KernelMode, FALSE, NULL);
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  t->got_while_held = KeTryToAcquireSpinLockAtDpcLevel(&t->lock);
  KeLowerIrql(old);
  LARGE_INTEGER later = {.QuadPart = -1000}; /* 100 us: the holder is done */
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  t->got_after = KeTryToAcquireSpinLockAtDpcLevel(&t->lock);
  if (t->got_after) KeReleaseSpinLockFromDpcLevel(&t->lock);
  KeLowerIrql(old);
  InitializeListHead(&t->list);
  ExInterlockedInsertTailList(&t->list, &t->e[0], &t->lock);
  t->prev_on_insert = ExInterlockedInsertTailList(&t->list, &t->e[1], &t->lock);
  ExInterlockedInsertHeadList(&t->list, &t->e[2], &t->lock);
  t->removed = ExInterlockedRemoveHeadList(&t->list, &t->lock);
}

START_TEST(try_to_acquire_and_interlocked_lists) {
  try_test_t t = {0};
  sim_t *S = tsim_new(2, NULL);
  KeInitializeSpinLock(&t.lock);
  KeInitializeEvent(&t.held, NotificationEvent, FALSE);
  sim_thread_create(S, "holder", try_holder, &t);
  sim_thread_create(S, "taker", try_taker, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(!t.got_while_held);
  ck_assert(t.got_after);
  ck_assert_ptr_eq(t.prev_on_insert, &t.e[0]); /* the old tail */
  ck_assert_ptr_eq(t.removed, &t.e[2]);        /* inserted at the head */
  ck_assert_ptr_eq(t.list.Flink, &t.e[0]);
  ck_assert_ptr_eq(t.list.Blink, &t.e[1]);
  ck_assert_uint_eq(t.lock, 0);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(spinlock_suite)
static Suite *spinlock_suite(void) {
  Suite *s = suite_create("spinlock");
  TCase *tc = tcase_create("spinlock");
  tcase_add_test(tc, second_cpu_spins_until_release);
  tcase_add_test(tc, lock_excludes_under_every_interleaving);
  tcase_add_test(tc, misuse_is_a_verifier_stop);
  tcase_add_test(tc, cancel_spin_lock_twice_is_a_self_deadlock);
  tcase_add_test(tc, queued_spin_lock_serves_in_arrival_order);
  tcase_add_test(tc, try_to_acquire_and_interlocked_lists);
  suite_add_tcase(s, tc);
  return s;
}
