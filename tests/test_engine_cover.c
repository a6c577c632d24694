/*
 * test_engine_cover.c - the engine's less travelled routines and stops,
 * each checked against what Windows does: fast-mutex misuse as Driver
 * Verifier stops it (kernel-facts 13.3), the spin-lock variants and their
 * stops (13.1), the pool variants and BAD_POOL_CALLER codes (13.8),
 * references by pointer and handles (13.4), DbgPrint's formats and the
 * UTF-16 string helpers (13.9).  Most cases are tables: a thread body that
 * misuses a routine, the stop code and the parameters Windows gives.
 */
#include "drivers.h"
#include "core/core.h" /* vec_grow */
#include "ke/ke.h"     /* ustr_from_utf8 */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a misuse table: a body run by a thread, the stop it must cause ---- */

/* The objects a misuse body works on; the expected parameters name them. */
typedef enum { H_NONE, H_FAST_MUTEX, H_SPIN_LOCK, H_QUEUED } cov_hold_t;

typedef struct cov_objs {
  FAST_MUTEX fm;
  KSPIN_LOCK lock;
  KLOCK_QUEUE_HANDLE qh; /* the holder's queue entry */
  KEVENT held;
  PKTHREAD holder, misuser;
  PVOID block;
  HANDLE handle;
  int reached; /* set after the body's call that must stop: must stay 0 */
  const struct cov_stop *c;
} cov_objs_t;

typedef void cov_body_fn(cov_objs_t *o);

/* What a parameter must be: a number, or one of the objects. */
enum { P_ANY = 0, P_VAL, P_FM, P_LOCK, P_HOLDER, P_MISUSER, P_BLOCK, P_HANDLE, P_EVENT_TYPE };
typedef struct cov_param {
  int kind;
  ULONG_PTR v;
} cov_param_t;

typedef struct cov_stop {
  const char *name;
  cov_body_fn *body;
  cov_hold_t hold; /* a second thread takes the fast mutex or the lock first */
  ULONG code;
  cov_param_t p[4];
} cov_stop_t;

static void cov_misuser(PVOID arg) {
  cov_objs_t *o = arg;
  o->misuser = KeGetCurrentThread();
  if (o->c->hold) KeWaitForSingleObject(&o->held, Executive, KernelMode, FALSE, NULL);
  o->c->body(o);
  o->reached = 1;
}

/* The holder takes the fast mutex or the spin lock (plainly or queued),
   says so, and keeps it 100 us. */
static void cov_holder(PVOID arg) {
  cov_objs_t *o = arg;
  KIRQL old = PASSIVE_LEVEL;
  o->holder = KeGetCurrentThread();
  switch (o->c->hold) {
  case H_FAST_MUTEX: ExAcquireFastMutex(&o->fm); break;
  case H_SPIN_LOCK: KeAcquireSpinLock(&o->lock, &old); break;
  default: KeAcquireInStackQueuedSpinLock(&o->lock, &o->qh); break;
  }
  KeSetEvent(&o->held, 0, FALSE);
  sim_delay(100000);
  switch (o->c->hold) {
  case H_FAST_MUTEX: ExReleaseFastMutex(&o->fm); break;
  case H_SPIN_LOCK: KeReleaseSpinLock(&o->lock, old); break;
  default: KeReleaseInStackQueuedSpinLock(&o->qh); break;
  }
}

static ULONG_PTR cov_param_value(const cov_objs_t *o, cov_param_t p) {
  switch (p.kind) {
  case P_FM: return (ULONG_PTR)&o->fm;
  case P_LOCK: return (ULONG_PTR)&o->lock;
  case P_HOLDER: return (ULONG_PTR)o->holder;
  case P_MISUSER: return (ULONG_PTR)o->misuser;
  case P_BLOCK: return (ULONG_PTR)o->block;
  case P_HANDLE: return (ULONG_PTR)o->handle;
  case P_EVENT_TYPE: return (ULONG_PTR)*ExEventObjectType;
  default: return p.v;
  }
}

static void cov_run_stops(const cov_stop_t *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const cov_stop_t *c = &cases[i];
    cov_objs_t *o = calloc(1, sizeof *o);
    ck_assert_ptr_nonnull(o);
    ExInitializeFastMutex(&o->fm);
    KeInitializeSpinLock(&o->lock);
    KeInitializeEvent(&o->held, NotificationEvent, FALSE);
    o->c = c;
    sim_t *S = tsim_new(2, NULL);
    if (c->hold) sim_thread_create(S, "holder", cov_holder, o);
    sim_thread_create(S, "misuser", cov_misuser, o);
    sim_outcome_t r = sim_run(S);
    ck_assert_msg(r == SIM_RUN_BUGCHECK, "%s: outcome %d, not a stop", c->name, (int)r);
    const sim_bugcheck_t *b = sim_bugcheck(S);
    ck_assert_msg(b->code == c->code, "%s: stop %#lx, want %#lx", c->name, (unsigned long)b->code,
                  (unsigned long)c->code);
    for (int k = 0; k < 4; k++) {
      if (c->p[k].kind == P_ANY) continue;
      ULONG_PTR want = cov_param_value(o, c->p[k]);
      ck_assert_msg(b->p[k] == want, "%s: parameter %d is %#lx, want %#lx", c->name, k + 1, (unsigned long)b->p[k],
                    (unsigned long)want);
    }
    ck_assert_msg(!o->reached, "%s: the body went on after the stop", c->name);
    sim_destroy(S);
    free(o);
  }
}

/* ---- fast mutexes (kernel-facts 13.3) ---- */

static void fm_twice(cov_objs_t *o) {
  ExAcquireFastMutex(&o->fm);
  ExAcquireFastMutex(&o->fm);
}
static void fm_release_free(cov_objs_t *o) {
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  ExReleaseFastMutex(&o->fm);
}
static void fm_release_others(cov_objs_t *o) {
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  ExReleaseFastMutex(&o->fm);
}
static void fm_acquire_at_dispatch(cov_objs_t *o) {
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  ExAcquireFastMutex(&o->fm);
}
static void fm_try_at_dispatch(cov_objs_t *o) {
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  ExTryToAcquireFastMutex(&o->fm);
}
static void fm_release_at_passive(cov_objs_t *o) {
  ExAcquireFastMutex(&o->fm);
  KeLowerIrql(PASSIVE_LEVEL);
  ExReleaseFastMutex(&o->fm);
}
static void fm_unsafe_with_apcs(cov_objs_t *o) { ExAcquireFastMutexUnsafe(&o->fm); }
static void fm_unsafe_release_with_apcs(cov_objs_t *o) {
  KeEnterCriticalRegion();
  ExAcquireFastMutexUnsafe(&o->fm);
  KeLeaveCriticalRegion();
  ExReleaseFastMutexUnsafe(&o->fm);
}
static void fm_unsafe_twice(cov_objs_t *o) {
  KeEnterGuardedRegion();
  ExAcquireFastMutexUnsafe(&o->fm);
  ExAcquireFastMutexUnsafe(&o->fm);
}

#define V(x) {P_VAL, (x)}
#define O(k) {(k), 0}
#define VERIFIER DRIVER_VERIFIER_DETECTED_VIOLATION

static const cov_stop_t fm_stops[] = {
    /* the owner again: deadlock detection's self-deadlock */
    {"acquire twice", fm_twice, H_NONE, VERIFIER, {V(0x1000), O(P_FM), V(0), V(0)}},
    {"unsafe twice", fm_unsafe_twice, H_NONE, VERIFIER, {V(0x1000), O(P_FM)}},
    /* released while free, or by a thread that does not own it */
    {"release free", fm_release_free, H_NONE, VERIFIER, {V(0x1007), O(P_FM)}},
    {"release another's", fm_release_others, H_FAST_MUTEX, VERIFIER, {V(0x1004), O(P_FM), O(P_HOLDER), O(P_MISUSER)}},
    /* the IRQL rules: parameter 2 the IRQL, 3 the mutex */
    {"acquire at DISPATCH_LEVEL", fm_acquire_at_dispatch, H_NONE, VERIFIER, {V(0x33), V(DISPATCH_LEVEL), O(P_FM)}},
    {"try at DISPATCH_LEVEL", fm_try_at_dispatch, H_NONE, VERIFIER, {V(0x33), V(DISPATCH_LEVEL), O(P_FM)}},
    {"release at PASSIVE_LEVEL", fm_release_at_passive, H_NONE, VERIFIER, {V(0x34), V(PASSIVE_LEVEL), O(P_FM)}},
    /* the unsafe forms with APCs enabled: IRQL, the APC-disable count, the mutex */
    {"unsafe acquire", fm_unsafe_with_apcs, H_NONE, VERIFIER, {V(0x39), V(PASSIVE_LEVEL), V(0), O(P_FM)}},
    {"unsafe release", fm_unsafe_release_with_apcs, H_NONE, VERIFIER, {V(0x3A), V(PASSIVE_LEVEL), V(0), O(P_FM)}},
};

START_TEST(fast_mutex_misuse_is_a_verifier_stop) { cov_run_stops(fm_stops, sizeof fm_stops / sizeof fm_stops[0]); }
END_TEST

/* The working paths: a second thread waits at the gate and gets the mutex
   when the owner releases it; the try form fails while it is owned and
   succeeds when free; the unsafe forms work inside a critical region. */
typedef struct fm_use {
  FAST_MUTEX fm;
  KEVENT owned;
  BOOLEAN try_owned, try_free;
  KIRQL irql_in, irql_after_try;
  int order[2], n;
} fm_use_t;

static void fm_owner(PVOID arg) {
  fm_use_t *u = arg;
  ExAcquireFastMutex(&u->fm);
  u->irql_in = KeGetCurrentIrql();
  KeSetEvent(&u->owned, 0, FALSE);
  sim_delay(20000);
  u->order[u->n++] = 1;
  ExReleaseFastMutex(&u->fm);
}

static void fm_other(PVOID arg) {
  fm_use_t *u = arg;
  KeWaitForSingleObject(&u->owned, Executive, KernelMode, FALSE, NULL);
  u->try_owned = ExTryToAcquireFastMutex(&u->fm);
  u->irql_after_try = KeGetCurrentIrql();
  ExAcquireFastMutex(&u->fm); /* waits for the owner */
  u->order[u->n++] = 2;
  ExReleaseFastMutex(&u->fm);
  u->try_free = ExTryToAcquireFastMutex(&u->fm);
  if (u->try_free) ExReleaseFastMutex(&u->fm);
  KeEnterCriticalRegion();
  ExAcquireFastMutexUnsafe(&u->fm);
  ExReleaseFastMutexUnsafe(&u->fm);
  KeLeaveCriticalRegion();
}

START_TEST(fast_mutex_waits_tries_and_unsafe_forms) {
  fm_use_t u = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(2, &log);
  ExInitializeFastMutex(&u.fm);
  KeInitializeEvent(&u.owned, NotificationEvent, FALSE);
  sim_thread_create(S, "owner", fm_owner, &u);
  sim_thread_create(S, "other", fm_other, &u);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(u.irql_in, APC_LEVEL);
  ck_assert(!u.try_owned);
  ck_assert_int_eq(u.irql_after_try, PASSIVE_LEVEL); /* the failed try lowers again */
  ck_assert(u.try_free);
  ck_assert_int_eq(u.n, 2);
  ck_assert_int_eq(u.order[0], 1);
  ck_assert_int_eq(u.order[1], 2);
  ck_assert_int_eq(u.fm.Count, 1);
  ck_assert_ptr_null(u.fm.Owner);
  ck_assert_uint_eq(u.fm.Contention, 1);
  /* the waiter's acquisition says it waited (count 1), the others not */
  int w = tlog_find_x(&log, TRC_FAST_MUTEX_ACQUIRE, 0, "acquired after waiting", 0);
  ck_assert_int_ge(w, 0);
  ck_assert_int_eq(log.v[w].count, 1);
  ck_assert_int_eq(tlog_count_x(&log, TRC_FAST_MUTEX_ACQUIRE, 0, "after waiting"), 1);
  ck_assert_int_eq(tlog_count(&log, TRC_FAST_MUTEX_ACQUIRE), 4);
  ck_assert_int_eq(tlog_count(&log, TRC_FAST_MUTEX_RELEASE), 4);
  ck_assert_int_ge(tlog_find_x(&log, TRC_FAST_MUTEX_ACQUIRE, 0, NULL, 0), 0);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- spin locks (kernel-facts 13.1) ---- */

static void sl_plain_on_queued(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
  KeAcquireSpinLockAtDpcLevel(&o->lock);
}
static void sl_queued_on_plain(cov_objs_t *o) { /* the holder has it plainly */
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
}
static void sl_queued_twice(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h1, h2;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h1);
  KeAcquireInStackQueuedSpinLockAtDpcLevel(&o->lock, &h2);
}
static void sl_queued_uninit(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h;
  o->lock = 0xCDCDCDCD;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
}
static void sl_release_uninit(cov_objs_t *o) {
  KIRQL old;
  o->lock = 0xCDCDCDCD;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KeReleaseSpinLockFromDpcLevel(&o->lock);
}
static void sl_acquire_above_dispatch(cov_objs_t *o) {
  KIRQL old, ignored;
  KeRaiseIrql(HIGH_LEVEL, &old);
  KeAcquireSpinLock(&o->lock, &ignored);
}
static void sl_queued_above_dispatch(cov_objs_t *o) {
  KIRQL old;
  KLOCK_QUEUE_HANDLE h;
  KeRaiseIrql(HIGH_LEVEL, &old);
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
}
static void sl_from_dpc_at_passive(cov_objs_t *o) { KeReleaseSpinLockFromDpcLevel(&o->lock); }
static void sl_queued_at_dpc_at_passive(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLockAtDpcLevel(&o->lock, &h);
}
static void sl_queued_from_dpc_at_passive(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
  KeLowerIrql(PASSIVE_LEVEL);
  KeReleaseInStackQueuedSpinLockFromDpcLevel(&h);
}
static void sl_queued_release_at_passive(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
  KeLowerIrql(PASSIVE_LEVEL);
  KeReleaseInStackQueuedSpinLock(&h);
}
static void sl_queued_release_twice(cov_objs_t *o) {
  KLOCK_QUEUE_HANDLE h;
  KIRQL old;
  KeAcquireInStackQueuedSpinLock(&o->lock, &h);
  KeReleaseInStackQueuedSpinLock(&h);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KeReleaseInStackQueuedSpinLockFromDpcLevel(&h);
}
static void sl_queued_release_others(cov_objs_t *o) { /* the holder's handle, from this CPU */
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  KeReleaseInStackQueuedSpinLockFromDpcLevel(&o->qh);
}
static void sl_try_self(cov_objs_t *o) {
  KIRQL old;
  KeAcquireSpinLock(&o->lock, &old);
  KeTryToAcquireSpinLockAtDpcLevel(&o->lock);
}
static void sl_try_at_passive(cov_objs_t *o) { KeTryToAcquireSpinLockAtDpcLevel(&o->lock); }

static const cov_stop_t sl_stops[] = {
    /* mixing the queued and ordinary routines on one lock: 0x1008 on acquire */
    {"plain on queued", sl_plain_on_queued, H_NONE, VERIFIER, {V(0x1008), O(P_LOCK), V(0), V(0)}},
    {"queued on plain", sl_queued_on_plain, H_SPIN_LOCK, VERIFIER, {V(0x1008), O(P_LOCK), V(0), V(0)}},
    {"queued twice", sl_queued_twice, H_NONE, VERIFIER, {V(0x1000), O(P_LOCK)}},
    /* a word that was never initialised */
    {"queued, uninitialised", sl_queued_uninit, H_NONE, VERIFIER, {V(0x1002), O(P_LOCK)}},
    {"release, uninitialised", sl_release_uninit, H_NONE, VERIFIER, {V(0x1002), O(P_LOCK)}},
    /* the IRQL of the call: parameter 2 the IRQL, 3 the lock */
    {"acquire above DISPATCH_LEVEL", sl_acquire_above_dispatch, H_NONE, VERIFIER,
     {V(0x42), V(HIGH_LEVEL), O(P_LOCK)}},
    {"queued above DISPATCH_LEVEL", sl_queued_above_dispatch, H_NONE, VERIFIER, {V(0x42), V(HIGH_LEVEL), O(P_LOCK)}},
    {"FromDpcLevel at PASSIVE_LEVEL", sl_from_dpc_at_passive, H_NONE, VERIFIER,
     {V(0x41), V(PASSIVE_LEVEL), O(P_LOCK)}},
    {"queued AtDpcLevel at PASSIVE_LEVEL", sl_queued_at_dpc_at_passive, H_NONE, VERIFIER,
     {V(0x40), V(PASSIVE_LEVEL), O(P_LOCK)}},
    {"queued FromDpcLevel at PASSIVE_LEVEL", sl_queued_from_dpc_at_passive, H_NONE, VERIFIER,
     {V(0x41), V(PASSIVE_LEVEL), O(P_LOCK)}},
    {"try at PASSIVE_LEVEL", sl_try_at_passive, H_NONE, VERIFIER, {V(0x40), V(PASSIVE_LEVEL), O(P_LOCK)}},
    /* KeReleaseInStackQueuedSpinLock not at DISPATCH_LEVEL: IRQL, lock, old IRQL */
    {"queued release at PASSIVE_LEVEL", sl_queued_release_at_passive, H_NONE, VERIFIER,
     {V(0x36), V(PASSIVE_LEVEL), O(P_LOCK), V(PASSIVE_LEVEL)}},
    /* a queued handle released twice, or by another CPU */
    {"queued release twice", sl_queued_release_twice, H_NONE, VERIFIER, {V(0x1007), O(P_LOCK)}},
    {"queued release by another CPU", sl_queued_release_others, H_QUEUED, VERIFIER, {V(0x1004), O(P_LOCK), V(0)}},
    {"try on a lock this CPU holds", sl_try_self, H_NONE, VERIFIER, {V(0x1000), O(P_LOCK)}},
};

START_TEST(spin_lock_misuse_is_a_verifier_stop) { cov_run_stops(sl_stops, sizeof sl_stops / sizeof sl_stops[0]); }
END_TEST

/* KeAcquireSpinLockRaiseToDpc returns the old IRQL; KeTestSpinLock says
   whether the lock is free; more nested locks than a CPU remembers still
   acquire and release. */
typedef struct sl_use {
  KSPIN_LOCK lock, many[20];
  KIRQL old, held_irql, after;
  BOOLEAN free_before, free_while_held, free_after, all_free;
} sl_use_t;

static void sl_user(PVOID arg) {
  sl_use_t *u = arg;
  u->free_before = KeTestSpinLock(&u->lock);
  u->old = KeAcquireSpinLockRaiseToDpc(&u->lock);
  u->held_irql = KeGetCurrentIrql();
  u->free_while_held = KeTestSpinLock(&u->lock);
  for (int i = 0; i < 20; i++) KeAcquireSpinLockAtDpcLevel(&u->many[i]);
  for (int i = 19; i >= 0; i--) KeReleaseSpinLockFromDpcLevel(&u->many[i]);
  KeReleaseSpinLock(&u->lock, u->old);
  u->after = KeGetCurrentIrql();
  u->free_after = KeTestSpinLock(&u->lock);
  u->all_free = TRUE;
  for (int i = 0; i < 20; i++) u->all_free &= KeTestSpinLock(&u->many[i]);
}

START_TEST(raise_to_dpc_test_and_deep_nesting) {
  sl_use_t u = {0};
  sim_t *S = tsim_new(1, NULL);
  KeInitializeSpinLock(&u.lock);
  for (int i = 0; i < 20; i++) KeInitializeSpinLock(&u.many[i]);
  sim_thread_create(S, "user", sl_user, &u);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert(u.free_before);
  ck_assert_int_eq(u.old, PASSIVE_LEVEL);
  ck_assert_int_eq(u.held_irql, DISPATCH_LEVEL);
  ck_assert(!u.free_while_held);
  ck_assert_int_eq(u.after, PASSIVE_LEVEL);
  ck_assert(u.free_after);
  ck_assert(u.all_free);
  sim_destroy(S);
}
END_TEST

/* ---- pool (kernel-facts 13.8) ---- */

#define TAG4(a, b, c, d) ((ULONG)(a) | (ULONG)(b) << 8 | (ULONG)(c) << 16 | (ULONG)(d) << 24)
#define TAG_CV TAG4('C', 'o', 'v', 'r')
#define HUGE_POOL ((SIZE_T)512 << 20) /* more than the machine's 256 MiB */

static void pool_must_succeed(cov_objs_t *o) {
  (void)o;
  ExAllocatePoolWithTag(NonPagedPoolMustSucceed, 16, TAG_CV);
}
static void pool_free_paged_at_dispatch(cov_objs_t *o) {
  KIRQL old;
  o->block = ExAllocatePoolWithTag(PagedPool, 16, TAG_CV);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  ExFreePoolWithTag(o->block, TAG_CV);
}
static void pool_free_nonpaged_above_dispatch(cov_objs_t *o) {
  KIRQL old;
  o->block = ExAllocatePoolWithTag(NonPagedPoolNx, 16, TAG_CV);
  KeRaiseIrql(HIGH_LEVEL, &old);
  ExFreePool(o->block);
}
static void pool_alloc_nonpaged_above_dispatch(cov_objs_t *o) {
  KIRQL old;
  (void)o;
  KeRaiseIrql(HIGH_LEVEL, &old);
  ExAllocatePoolWithTag(NonPagedPoolNx, 16, TAG_CV);
}
static void pool_free_null(cov_objs_t *o) {
  (void)o;
  ExFreePool(NULL);
}
static void pool_quota_raises(cov_objs_t *o) {
  (void)o;
  ExAllocatePoolWithQuotaTag(NonPagedPoolNx, HUGE_POOL, TAG_CV);
}
static void pool2_raises(cov_objs_t *o) {
  (void)o;
  ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, HUGE_POOL, TAG_CV);
}

static const cov_stop_t pool_stops[] = {
    /* must-succeed pool: parameter 2 the type, 3 the size, 4 the tag */
    {"must succeed", pool_must_succeed, H_NONE, BAD_POOL_CALLER,
     {V(0x9A), V(NonPagedPoolMustSucceed), V(16), V(TAG_CV)}},
    /* freeing at a bad IRQL: the IRQL, the pool type, the address */
    {"free paged at DISPATCH_LEVEL", pool_free_paged_at_dispatch, H_NONE, BAD_POOL_CALLER,
     {V(0x09), V(DISPATCH_LEVEL), V(PagedPool), O(P_BLOCK)}},
    {"free nonpaged at HIGH_LEVEL", pool_free_nonpaged_above_dispatch, H_NONE, BAD_POOL_CALLER,
     {V(0x09), V(HIGH_LEVEL), V(NonPagedPoolNx), O(P_BLOCK)}},
    {"allocate nonpaged at HIGH_LEVEL", pool_alloc_nonpaged_above_dispatch, H_NONE, BAD_POOL_CALLER,
     {V(0x08), V(HIGH_LEVEL), V(NonPagedPoolNx), V(16)}},
    {"free NULL", pool_free_null, H_NONE, BAD_POOL_CALLER, {V(0x46), V(0)}},
    /* a failed allocation that raises: nobody handles the exception */
    {"quota raises", pool_quota_raises, H_NONE, KMODE_EXCEPTION_NOT_HANDLED,
     {V((uint32_t)STATUS_INSUFFICIENT_RESOURCES)}},
    {"ExAllocatePool2 raises", pool2_raises, H_NONE, KMODE_EXCEPTION_NOT_HANDLED,
     {V((uint32_t)STATUS_INSUFFICIENT_RESOURCES)}},
};

START_TEST(pool_variants_stop_as_windows_does) {
  cov_run_stops(pool_stops, sizeof pool_stops / sizeof pool_stops[0]);
}
END_TEST

/* The variants that return: ExAllocatePool's 'None' tag, the quota form
   and ExAllocatePool2 returning NULL when asked to, ExAllocatePool2's
   three kinds (zeroed unless POOL_FLAG_UNINITIALIZED) and its refusal of
   flags naming no kind or two, a tag with unprintable characters. */
typedef struct pool_use {
  PVOID none, quota, quota_null, huge_null, bad_kinds[2], paged, exec, uninit;
  bool paged_zero, exec_zero, uninit_filled;
} pool_use_t;

static bool bytes_are(const void *p, size_t n, unsigned char v) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != v) return false;
  return true;
}

static void pool_user2(PVOID arg) {
  pool_use_t *u = arg;
  u->none = ExAllocatePool(NonPagedPoolNx, 24);
  u->quota = ExAllocatePoolWithQuotaTag(PagedPool, 8, TAG4('Q', 'u', 'o', 't'));
  u->quota_null = ExAllocatePoolWithQuotaTag(NonPagedPoolNx | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, HUGE_POOL, TAG_CV);
  u->huge_null = ExAllocatePool2(POOL_FLAG_PAGED, HUGE_POOL, TAG_CV);
  u->bad_kinds[0] = ExAllocatePool2(POOL_FLAG_UNINITIALIZED, 8, TAG_CV);
  u->bad_kinds[1] = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED, 8, TAG_CV);
  u->paged = ExAllocatePool2(POOL_FLAG_PAGED, 12, TAG4('P', 'g', 1, 0x7F));
  u->paged_zero = u->paged && bytes_are(u->paged, 12, 0);
  u->exec = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE, 12, TAG_CV);
  u->exec_zero = u->exec && bytes_are(u->exec, 12, 0);
  u->uninit = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 12, TAG_CV);
  u->uninit_filled = u->uninit && bytes_are(u->uninit, 12, 0xCD);
  ExFreePoolWithTag(u->quota, TAG4('Q', 'u', 'o', 't'));
  ExFreePoolWithTag(u->exec, TAG_CV);
  ExFreePoolWithTag(u->uninit, 0); /* 0: the tag is not checked */
}

START_TEST(pool_variants_that_return) {
  pool_use_t u = {0};
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  sim_thread_create(S, "driver", pool_user2, &u);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_ptr_nonnull(u.none);
  ck_assert_ptr_nonnull(u.quota);
  ck_assert_ptr_null(u.quota_null);
  ck_assert_ptr_null(u.huge_null);
  ck_assert_ptr_null(u.bad_kinds[0]);
  ck_assert_ptr_null(u.bad_kinds[1]);
  ck_assert(u.paged_zero);
  ck_assert(u.exec_zero);
  ck_assert(u.uninit_filled);
  /* left: 'None' (24 bytes) and the paged block, whose tag prints as "Pg.." */
  sim_pool_tag_t tags[4];
  ck_assert_uint_eq(sim_pool_outstanding(S, tags, 1), 2); /* counts past `max` */
  ck_assert_str_eq(tags[0].name, "None");
  ck_assert_uint_eq(tags[0].bytes_outstanding, 24);
  ck_assert_uint_eq(sim_pool_outstanding(S, tags, 4), 2);
  ck_assert_str_eq(tags[1].name, "Pg..");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_uint_eq(sim_pool_report(S, f), 2);
  fclose(f);
  ck_assert_ptr_nonnull(strstr(text, "  None        1           24      1/0\n"));
  ck_assert_ptr_nonnull(strstr(text, "  Pg..        1           12      1/0\n"));
  ck_assert_ptr_null(strstr(text, "Covr")); /* all freed */
  free(text);
  /* the trace names the tag as written, the size in count */
  int q = tlog_find_x(&log, TRC_POOL_ALLOC, 0, "tag Quot", 0);
  ck_assert_int_ge(q, 0);
  ck_assert_int_eq(log.v[q].count, 8);
  ck_assert_int_eq(tlog_count(&log, TRC_POOL_ALLOC), 5);
  ck_assert_int_eq(tlog_count(&log, TRC_POOL_FREE), 3);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* A machine that never used pool reports nothing. */
START_TEST(no_pool_no_report) {
  sim_t *S = tsim_new(1, NULL);
  ck_assert_uint_eq(sim_pool_outstanding(S, NULL, 0), 0);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_uint_eq(sim_pool_report(S, f), 0);
  fclose(f);
  ck_assert_uint_eq(len, 0);
  free(text);
  sim_destroy(S);
}
END_TEST

/* ---- handles and references (kernel-facts 13.4) ---- */

/* An event object whose only reference was its handle, now closed. */
static PVOID ob_dead_event(cov_objs_t *o) {
  ObReferenceObjectByHandle(o->handle, 0, NULL, KernelMode, &o->block, NULL);
  ObDereferenceObject(o->block);
  ZwClose(o->handle);
  return o->block;
}
static void ob_create(cov_objs_t *o) { ZwCreateEvent(&o->handle, EVENT_ALL_ACCESS, NULL, NotificationEvent, FALSE); }
static void ob_ref_by_pointer_dead(cov_objs_t *o) {
  ob_create(o);
  ObReferenceObjectByPointer(ob_dead_event(o), 0, NULL, KernelMode);
}
static void ob_ref_dead(cov_objs_t *o) {
  ob_create(o);
  ObReferenceObject(ob_dead_event(o));
}
static void ob_deref_below_zero(cov_objs_t *o) {
  ob_create(o);
  ObDereferenceObject(ob_dead_event(o));
}
static void ob_deref_with_handle_open(cov_objs_t *o) {
  ob_create(o);
  ObReferenceObjectByHandle(o->handle, 0, *ExEventObjectType, KernelMode, &o->block, NULL);
  ObDereferenceObject(o->block); /* back to the handle's reference */
  ObDereferenceObject(o->block); /* the handle's own: it is still open */
}
static void ob_close_twice(cov_objs_t *o) {
  ob_create(o);
  ObCloseHandle(o->handle, KernelMode);
  ZwClose(o->handle);
}
static void ob_close_garbage(cov_objs_t *o) {
  o->handle = (HANDLE)(ULONG_PTR)0x1234;
  ZwClose(o->handle);
}
static void ob_by_handle_at_dispatch(cov_objs_t *o) {
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  ObReferenceObjectByHandle(NtCurrentThread(), 0, NULL, KernelMode, &o->block, NULL);
}

static const cov_stop_t ob_stops[] = {
    /* a reference to an object with none left: Driver Verifier's 0x3F */
    {"by pointer, no reference left", ob_ref_by_pointer_dead, H_NONE, VERIFIER, {V(0x3F), O(P_BLOCK), V(1), V(0)}},
    {"ObReferenceObject, no reference left", ob_ref_dead, H_NONE, VERIFIER, {V(0x3F), O(P_BLOCK), V(1)}},
    /* REFERENCE_BY_POINTER: parameter 1 the type, 2 the object */
    {"below zero", ob_deref_below_zero, H_NONE, REFERENCE_BY_POINTER, {O(P_EVENT_TYPE), O(P_BLOCK), V(0), V(0)}},
    {"to zero with a handle", ob_deref_with_handle_open, H_NONE, REFERENCE_BY_POINTER, {O(P_EVENT_TYPE), O(P_BLOCK)}},
    /* INVALID_KERNEL_HANDLE: the handle, then 1 */
    {"closed twice", ob_close_twice, H_NONE, INVALID_KERNEL_HANDLE, {O(P_HANDLE), V(1)}},
    {"not a kernel handle", ob_close_garbage, H_NONE, INVALID_KERNEL_HANDLE, {O(P_HANDLE), V(1)}},
    {"by handle at DISPATCH_LEVEL", ob_by_handle_at_dispatch, H_NONE, VERIFIER, {V(0xE5), V(DISPATCH_LEVEL)}},
};

START_TEST(reference_misuse_stops) { cov_run_stops(ob_stops, sizeof ob_stops / sizeof ob_stops[0]); }
END_TEST

#define KHANDLE_BIT ((ULONG_PTR)1 << (sizeof(ULONG_PTR) * 8 - 1))

typedef struct ob_use {
  HANDLE h1, h2, h3;
  PVOID ev, obj_thread, obj_mismatch, self, obj_info;
  NTSTATUS st_info, st_mismatch, st_self, st_ptr_thread, st_bad[5], st_ptr, st_ptr_mismatch, st_ptr_untyped;
  OBJECT_HANDLE_INFORMATION info;
  LONG_PTR ref_after, deref_after;
  PKTHREAD me;
  int dummy; /* a driver's own object, met by pointer */
} ob_use_t;

static void ob_user(PVOID arg) {
  ob_use_t *u = arg;
  u->me = KeGetCurrentThread();
  ZwCreateEvent(&u->h1, EVENT_MODIFY_STATE, NULL, SynchronizationEvent, TRUE);
  ZwCreateEvent(&u->h2, SYNCHRONIZE, NULL, NotificationEvent, FALSE);
  /* by handle: the granted access, the kernel-handle attribute */
  u->st_info = ObReferenceObjectByHandle(u->h1, 0, *ExEventObjectType, KernelMode, &u->obj_info, &u->info);
  u->ev = u->obj_info;
  u->st_mismatch = ObReferenceObjectByHandle(u->h2, 0, *PsThreadType, KernelMode, &u->obj_mismatch, NULL);
  u->st_self = ObReferenceObjectByHandle(NtCurrentThread(), 0, *PsThreadType, KernelMode, &u->self, NULL);
  ObDereferenceObject(u->self);
  u->st_ptr_thread = ObReferenceObjectByPointer(KeGetCurrentThread(), 0, *PsThreadType, KernelMode);
  ObDereferenceObject(u->me);
  /* handles that are not open */
  PVOID o;
  HANDLE bad[5] = {(HANDLE)(ULONG_PTR)8,                 /* no kernel-handle bit */
                   (HANDLE)(KHANDLE_BIT | 6),            /* not a multiple of 4 */
                   (HANDLE)KHANDLE_BIT,                  /* slot 0 is never a handle */
                   (HANDLE)(KHANDLE_BIT | 4 * 100),      /* past the table */
                   u->h2};                               /* closed below */
  ZwClose(u->h2);
  for (int i = 0; i < 5; i++) u->st_bad[i] = ObReferenceObjectByHandle(bad[i], 0, NULL, KernelMode, &o, NULL);
  /* the lowest free slot is reused */
  ZwCreateEvent(&u->h3, SYNCHRONIZE, NULL, NotificationEvent, FALSE);
  /* by pointer */
  u->st_ptr = ObReferenceObjectByPointer(u->ev, 0, *ExEventObjectType, KernelMode);
  u->st_ptr_mismatch = ObReferenceObjectByPointer(u->ev, 0, *PsThreadType, KernelMode);
  u->st_ptr_untyped = ObReferenceObjectByPointer(&u->dummy, 0, NULL, KernelMode); /* creator's + this one */
  u->ref_after = ObReferenceObject(&u->dummy);
  u->deref_after = ObDereferenceObject(&u->dummy);
  ObDereferenceObject(&u->dummy);
  ObDereferenceObject(u->ev);
  ObDereferenceObject(u->ev);
  ZwClose(u->h1);
  ZwClose(u->h3);
}

START_TEST(handles_and_references_as_windows_counts_them) {
  ob_use_t u = {0};
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "driver", ob_user, &u);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert((ULONG_PTR)u.h1 & KHANDLE_BIT);
  ck_assert_uint_eq((ULONG_PTR)u.h1 & 3, 0);
  ck_assert_uint_eq((ULONG_PTR)u.h2, (ULONG_PTR)u.h1 + 4);
  ck_assert_uint_eq((ULONG_PTR)u.h3, (ULONG_PTR)u.h2); /* the freed slot again */
  ck_assert_int_eq(u.st_info, STATUS_SUCCESS);
  ck_assert_ptr_nonnull(u.ev);
  ck_assert_uint_eq(u.info.GrantedAccess, EVENT_MODIFY_STATE);
  ck_assert_uint_eq(u.info.HandleAttributes, OBJ_KERNEL_HANDLE);
  ck_assert_int_eq(u.st_mismatch, STATUS_OBJECT_TYPE_MISMATCH);
  ck_assert_ptr_null(u.obj_mismatch);
  /* a program's thread is a thread object too (iosim gave it no type, so
     both calls failed with STATUS_OBJECT_TYPE_MISMATCH) */
  ck_assert_int_eq(u.st_self, STATUS_SUCCESS);
  ck_assert_ptr_eq(u.self, u.me);
  ck_assert_int_eq(u.st_ptr_thread, STATUS_SUCCESS);
  for (int i = 0; i < 5; i++) ck_assert_int_eq(u.st_bad[i], STATUS_INVALID_HANDLE);
  ck_assert_int_eq(u.st_ptr, STATUS_SUCCESS);
  ck_assert_int_eq(u.st_ptr_mismatch, STATUS_OBJECT_TYPE_MISMATCH);
  ck_assert_int_eq(u.st_ptr_untyped, STATUS_SUCCESS);
  ck_assert_int_eq(u.ref_after, 3);
  ck_assert_int_eq(u.deref_after, 2);
  sim_destroy(S);
}
END_TEST

/* ---- DbgPrint's formats and lines (kernel-facts 13.9) ---- */

/* The dbgprint rows, their text whole (the in-memory log keeps 255 bytes). */
typedef struct dbg_rows {
  char *text[64];
  const char *service[64];
  int level[64];
  uint32_t thread[64];
  int n;
} dbg_rows_t;

static void dbg_rows_event(void *ud, const trc_event_t *ev) {
  dbg_rows_t *r = ud;
  if (ev->kind != TRC_DBGPRINT || r->n == 64) return;
  r->text[r->n] = strdup(ev->text ? ev->text : "");
  r->service[r->n] = ev->service;
  r->level[r->n] = ev->count;
  r->thread[r->n] = ev->thread;
  r->n++;
}

static void dbg_rows_free(dbg_rows_t *r) {
  for (int i = 0; i < r->n; i++) free(r->text[i]);
}

static sim_t *dbg_machine(dbg_rows_t *rows, bool debugger) {
  sim_config_t cfg = {.cpus = 1, .seed = 1, .kernel_debugger = debugger};
  sim_t *S = sim_create(&cfg);
  if (rows) {
    trc_sink_t sink = {.event = dbg_rows_event, .ud = rows};
    sim_set_sink(S, &sink);
  }
  return S;
}

static const WCHAR w_wide[] = u"wide", w_long[] = u"long", w_cap[] = u"cap";
/* "é€😀" as UTF-16: one and two BMP characters, then a surrogate pair */
static const WCHAR w_mixed[] = {0x00E9, 0x20AC, 0xD83D, 0xDE00, 0};

typedef struct dbg_fmt_test {
  int a, b; /* two addresses to print */
} dbg_fmt_test_t;

/* Windows' own conversions (%ws, %wZ, %I64d...) are not C's: the host
   compiler's format check does not know them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-overflow"
static void dbg_formats(PVOID arg) {
  dbg_fmt_test_t *t = arg;
  UNICODE_STRING us;
  RtlInitUnicodeString(&us, w_mixed);
  DbgPrint("%-5d|%+d|% d|%#x|%05d\n", 42, 7, 3, 255, 9);
  DbgPrint("%*d|%-*.*s|%.*s\n", 4, 1, 6, 2, "abcdef", 3, "xyzw");
  DbgPrint("%.3f %e %g %*.*f %*g\n", 1.5, 1e3, 0.25, 7, 2, 2.5, 6, 0.5);
  DbgPrint("%I64d %I64u %I32d %Id %Iu %zu %zd %td %jd\n", -5LL, 6ULL, 7, (ptrdiff_t)-8, (size_t)9, (size_t)10,
           (ptrdiff_t)-11, (ptrdiff_t)12, (ptrdiff_t)13);
  DbgPrint("%ld %lu %lld %llu %hd %hhu %Lx %qd %lllu\n", -1L, 2UL, -3LL, 4ULL, 70000, 300, 255UL, 5L, 6ULL);
  DbgPrint("%*Id|%*.*Id|%*Iu|%*.*Iu|%*lld|%*.*lld|%*llu|%*.*llu\n", 3, (ptrdiff_t)1, 3, 2, (ptrdiff_t)2, 3, (size_t)3,
           3, 2, (size_t)4, 3, 5LL, 3, 2, 6LL, 3, 7ULL, 3, 2, 8ULL);
  DbgPrint("%*ld|%*.*ld|%*lu|%*.*lu|%*.*d|%*u|%*.*u|%*c\n", 3, 1L, 3, 2, 2L, 3, 3UL, 3, 2, 4UL, 3, 2, 5, 3, 6U, 3, 2,
           7U, 2, 'z');
  DbgPrint("%c%c %% [%s] [%s] [%*s] [%*.*s] [%-3s]\n", 'o', 'k', "str", NULL, 4, NULL, 5, 1, "ab", "");
  DbgPrint("%ws %ls %S|%ws|%wZ\n", w_wide, w_long, w_cap, NULL, &us);
  DbgPrint("%p %p %p %p|%-18p|\n", (void *)&t->a, NULL, (void *)&t->b, (void *)&t->a, (void *)&t->b);
  DbgPrint("%k unknown\n");
  DbgPrint("100%");
  DbgPrint("\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "level %u\n", 3u);
}
#pragma GCC diagnostic pop

START_TEST(dbgprint_formats_as_the_kernel_does) {
  static const char *const want[] = {
      "42   |+7| 3|0xff|00009",
      "   1|ab    |xyz",
      "1.500 1.000000e+03 0.25    2.50    0.5",
      "-5 6 7 -8 9 10 -11 12 13",
      "-1 2 -3 4 4464 44 ff 5 6",
      "  1| 02|  3| 04|  5| 06|  7| 08",
      "  1| 02|  3| 04| 05|  6| 07| z",
      "ok % [str] [(null)] [(null)] [    a] [   ]",
      "wide long cap|(null)|\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",
      /* the n-th address a driver prints is FFFFC000'0000n000, NULL is 0 */
      "FFFFC00000001000 0000000000000000 FFFFC00000002000 FFFFC00000001000|FFFFC00000002000  |",
      "%k unknown",
      "100%",
      "level 3",
  };
  dbg_rows_t rows = {0};
  dbg_fmt_test_t t;
  sim_t *S = dbg_machine(&rows, false);
  sim_thread_create(S, "drv", dbg_formats, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(rows.n, (int)(sizeof want / sizeof want[0]));
  for (int i = 0; i < rows.n; i++) ck_assert_str_eq(rows.text[i], want[i]);
  ck_assert_str_eq(rows.service[rows.n - 1], "DbgPrintEx");
  ck_assert_int_eq(rows.level[rows.n - 1], DPFLTR_INFO_LEVEL);
  ck_assert_int_eq(rows.level[0], -1);
  sim_destroy(S);
  dbg_rows_free(&rows);
}
END_TEST

/* A line printed in pieces is one row when its newline comes; a piece
   left by another thread is flushed as a line of its own first; a piece
   longer than the line buffer is flushed; empty lines make no row;
   output past 511 bytes is cut. */
typedef struct dbg_lines {
  KEVENT ev, back;
  char big[700];
} dbg_lines_t;

static void dbg_pieces(PVOID arg) {
  dbg_lines_t *t = arg;
  DbgPrint("SIOCTL.SYS: ");
  DbgPrint("hello ");
  DbgPrint("world\nand ");
  DbgPrint("more\n\n\n");
  DbgPrint("left behind");
  KeSetEvent(&t->ev, 0, FALSE);
  KeWaitForSingleObject(&t->back, Executive, KernelMode, FALSE, NULL);
  DbgPrint("%s", t->big + 300); /* 399 bytes, then 399 more: past the buffer */
  DbgPrint("%s", t->big + 300);
  DbgPrint("\n");
  DbgPrint("%600s%d|\n", "x", 5);
}

static void dbg_other(PVOID arg) {
  dbg_lines_t *t = arg;
  KeWaitForSingleObject(&t->ev, Executive, KernelMode, FALSE, NULL);
  DbgPrint("other\n");
  KeSetEvent(&t->back, 0, FALSE);
}

START_TEST(dbgprint_pieces_make_lines) {
  dbg_rows_t rows = {0};
  dbg_lines_t t;
  memset(t.big, 'b', sizeof t.big - 1);
  t.big[sizeof t.big - 1] = 0;
  KeInitializeEvent(&t.ev, SynchronizationEvent, FALSE);
  KeInitializeEvent(&t.back, SynchronizationEvent, FALSE);
  sim_t *S = dbg_machine(&rows, false);
  sim_thread_create(S, "drv", dbg_pieces, &t);
  sim_thread_create(S, "other", dbg_other, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(rows.n, 7);
  ck_assert_str_eq(rows.text[0], "SIOCTL.SYS: hello world");
  ck_assert_str_eq(rows.text[1], "and more");
  ck_assert_str_eq(rows.text[2], "left behind"); /* flushed when "other" printed */
  ck_assert_str_eq(rows.service[2], "DbgPrint");
  ck_assert_uint_eq(rows.thread[2], rows.thread[3]); /* flushed by the other thread's print */
  ck_assert_str_eq(rows.text[3], "other");
  /* 399 + 399 bytes do not fit the 511 of the line: the first piece is a row */
  ck_assert_uint_eq(strlen(rows.text[4]), 399);
  ck_assert_uint_eq(strlen(rows.text[5]), 399);
  /* a message is cut at 511 bytes: the width fills it, the rest is lost */
  ck_assert_uint_eq(strlen(rows.text[6]), 511);
  ck_assert_int_eq(rows.text[6][510], ' '); /* 599 spaces and an x were asked for */
  ck_assert_ptr_null(strchr(rows.text[6], '|'));
  sim_destroy(S);
  dbg_rows_free(&rows);
}
END_TEST

/* Untraced, pieces and lines cost their step and print nothing; a DPC's
   print is the CPU's, not a thread's. */
static void dbg_dpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2) {
  (void)Dpc, (void)A1, (void)A2;
  int *ran = Context;
  DbgPrint("from a DPC\n");
  (*ran)++;
}

typedef struct dbg_quiet {
  KDPC dpc;
  int ran;
} dbg_quiet_t;

static void dbg_quiet(PVOID arg) {
  dbg_quiet_t *q = arg;
  DbgPrint("piece");
  KeInitializeDpc(&q->dpc, dbg_dpc, &q->ran);
  KeSetTargetProcessorDpc(&q->dpc, 1 - (int)KeGetCurrentProcessorNumber()); /* the idle CPU: no thread there */
  KeInsertQueueDpc(&q->dpc, NULL, NULL);
  LARGE_INTEGER later = {.QuadPart = -1000};
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  DbgPrint("line\n");
}

START_TEST(dbgprint_from_a_dpc_and_untraced) {
  for (int traced = 0; traced < 2; traced++) {
    dbg_rows_t rows = {0};
    dbg_quiet_t q = {0};
    sim_config_t cfg = {.cpus = 2, .seed = 1};
    sim_t *S = sim_create(&cfg);
    if (traced) {
      trc_sink_t sink = {.event = dbg_rows_event, .ud = &rows};
      sim_set_sink(S, &sink);
    }
    sim_thread_create(S, "drv", dbg_quiet, &q);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(q.ran, 1);
    if (traced) {
      ck_assert_int_eq(rows.n, 3);
      ck_assert_str_eq(rows.text[0], "piece"); /* the DPC's print flushes it */
      ck_assert_str_eq(rows.text[1], "from a DPC");
      ck_assert_uint_eq(rows.thread[1], 0);
      ck_assert_str_eq(rows.text[2], "line");
    }
    sim_destroy(S);
    dbg_rows_free(&rows);
  }
}
END_TEST

/* DbgBreakPoint: with a kernel debugger the run goes on (a row says the
   debugger continued); without one it is KMODE_EXCEPTION_NOT_HANDLED with
   STATUS_BREAKPOINT. */
static void dbg_break(PVOID arg) {
  int *after = arg;
  DbgBreakPoint();
  (*after)++;
}

START_TEST(dbgbreakpoint_with_and_without_a_debugger) {
  for (int debugger = 0; debugger < 2; debugger++) {
    dbg_rows_t rows = {0};
    int after = 0;
    sim_t *S = dbg_machine(&rows, debugger);
    sim_thread_create(S, "drv", dbg_break, &after);
    if (debugger) {
      ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
      ck_assert_int_eq(after, 1);
      ck_assert_int_eq(rows.n, 1);
      ck_assert_str_eq(rows.service[0], "DbgBreakPoint");
      ck_assert_ptr_nonnull(strstr(rows.text[0], "code 80000003 (first chance)"));
    } else {
      ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
      ck_assert_int_eq(after, 0);
      const sim_bugcheck_t *b = sim_bugcheck(S);
      ck_assert_uint_eq(b->code, KMODE_EXCEPTION_NOT_HANDLED);
      ck_assert_uint_eq(b->p[0], (uint32_t)STATUS_BREAKPOINT);
    }
    sim_destroy(S);
    dbg_rows_free(&rows);
  }
}
END_TEST

/* ---- UTF-16 strings (UNICODE_STRING) ---- */

START_TEST(unicode_strings_convert_both_ways) {
  UNICODE_STRING us;
  /* NULL: an empty string with no buffer */
  RtlInitUnicodeString(&us, NULL);
  ck_assert_uint_eq(us.Length, 0);
  ck_assert_uint_eq(us.MaximumLength, 0);
  ck_assert_ptr_null(us.Buffer);
  /* Windows caps the length at 0xFFFC bytes */
  WCHAR *longs = malloc(40001 * sizeof(WCHAR));
  for (int i = 0; i < 40000; i++) longs[i] = 'a';
  longs[40000] = 0;
  RtlInitUnicodeString(&us, longs);
  ck_assert_uint_eq(us.Length, 0xFFFC);
  ck_assert_uint_eq(us.MaximumLength, 0xFFFE);
  free(longs);

  /* UTF-16 to UTF-8: one to four bytes, pairs joined, lone surrogates
     replaced by U+FFFD, truncated at a whole character */
  static const struct {
    WCHAR in[6];
    size_t cap;
    const char *out;
  } to8[] = {
      {{'a', 0x00E9, 0}, 16, "a\xC3\xA9"},
      {{0x20AC, 0}, 16, "\xE2\x82\xAC"},
      {{0xD83D, 0xDE00, 0}, 16, "\xF0\x9F\x98\x80"},
      {{0xD83D, 'x', 0}, 16, "\xEF\xBF\xBD" "x"},     /* high surrogate, no low */
      {{0xDE00, 0}, 16, "\xEF\xBF\xBD"},              /* low surrogate alone */
      {{'z', 0xD83D, 0}, 16, "z\xEF\xBF\xBD"},        /* high surrogate at the end */
      {{0xD83D, 0xD83D, 0}, 16, "\xEF\xBF\xBD\xEF\xBF\xBD"},
      {{0xD83D, 0xE000, 0}, 16, "\xEF\xBF\xBD\xEE\x80\x80"},
      {{'a', 0x20AC, 'b', 0}, 4, "a"},                /* the euro does not fit: cut there */
      {{'a', 'b', 0}, 2, "a"},
  };
  for (size_t i = 0; i < sizeof to8 / sizeof to8[0]; i++) {
    char buf[16];
    RtlInitUnicodeString(&us, to8[i].in);
    ck_assert_str_eq(iosim_unicode_to_utf8(&us, buf, to8[i].cap), to8[i].out);
  }
  char buf[4] = "xyz";
  ck_assert_ptr_eq(iosim_unicode_to_utf8(&us, buf, 0), buf);
  ck_assert_str_eq(buf, "xyz"); /* no room: untouched */
  ck_assert_str_eq(iosim_unicode_to_utf8(NULL, buf, sizeof buf), "");
  UNICODE_STRING nobuf = {.Length = 4, .MaximumLength = 4, .Buffer = NULL};
  ck_assert_str_eq(iosim_unicode_to_utf8(&nobuf, buf, sizeof buf), "");

  /* UTF-8 to UTF-16: pairs for what is past U+FFFF, U+FFFD for a
     truncated sequence or a stray continuation byte, cut at `cap` - 1
     units (a pair is not split) */
  static const struct {
    const char *in;
    size_t cap, n;
    WCHAR out[6];
  } to16[] = {
      {"a\xC3\xA9\xE2\x82\xAC", 8, 3, {'a', 0x00E9, 0x20AC}},
      {"\xF0\x9F\x98\x80", 8, 2, {0xD83D, 0xDE00}},
      {"\xE2\x82", 8, 1, {0xFFFD}},          /* truncated */
      {"\xC3(", 8, 2, {0xFFFD, '('}},         /* no continuation */
      {"\x80z", 8, 2, {0xFFFD, 'z'}},         /* a stray continuation byte */
      {"abc", 3, 2, {'a', 'b'}},
      {"a\xF0\x9F\x98\x80", 3, 1, {'a'}},   /* the pair does not fit */
  };
  for (size_t i = 0; i < sizeof to16 / sizeof to16[0]; i++) {
    WCHAR w[8];
    ck_assert_uint_eq(ustr_from_utf8(to16[i].in, w, to16[i].cap), to16[i].n);
    ck_assert_mem_eq(w, to16[i].out, to16[i].n * sizeof(WCHAR));
    ck_assert_uint_eq(w[to16[i].n], 0);
  }
}
END_TEST

/* ---- the engine's names, errors and sinks ---- */

START_TEST(names_both_ways) {
  /* error codes and outcomes */
  static const struct { int err; const char *text; } errs[] = {
      {SIM_OK, "ok"}, {SIM_EINVAL, "invalid argument"}, {SIM_ENOENT, "no such name"},
      {SIM_EEXIST, "name already used"}, {SIM_ESTATE, "not allowed in this state"}, {SIM_EIO, "input/output error"},
      {-99, "unknown error"},
  };
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) ck_assert_str_eq(sim_strerror(errs[i].err), errs[i].text);
  ck_assert_str_eq(sim_outcome_name(SIM_RUN_STOPPED), "stopped");
  ck_assert_str_eq(sim_outcome_name((sim_outcome_t)42), "?");
  /* trace kinds, frames, IRP states */
  ck_assert_str_eq(trc_kind_name(TRC_DBGPRINT), "dbgprint");
  ck_assert_str_eq(trc_kind_name((trc_kind_t)TRC_KIND_COUNT), "?");
  ck_assert_int_eq(trc_kind_parse("dbgprint"), TRC_DBGPRINT);
  ck_assert_int_eq(trc_kind_parse("no-such-kind"), -1);
  ck_assert_str_eq(trc_frame_name(TRC_FRAME_DPC), "dpc");
  ck_assert_str_eq(trc_frame_name((trc_frame_t)99), "?");
  ck_assert_ptr_null(trc_irp_state_name((trc_irp_state_t)99));
  ck_assert_int_eq(trc_irp_state_parse("kept"), trc_irp_state_parse(trc_irp_state_name(trc_irp_state_parse("kept"))));
  ck_assert_int_eq(trc_irp_state_parse("nowhere"), -1);
  char b[16];
  ck_assert_str_eq(trc_irql_name(5, b), "DIRQL5");
  /* statuses: names, numbers, refusals */
  ck_assert_str_eq(iosim_status_name((NTSTATUS)0xC0DE0001, b), "0xC0DE0001");
  NTSTATUS st = 0;
  ck_assert(iosim_status_parse("STATUS_PENDING", &st));
  ck_assert_int_eq(st, STATUS_PENDING);
  ck_assert(iosim_status_parse("0xC0000120", &st));
  ck_assert_int_eq(st, STATUS_CANCELLED);
  ck_assert(iosim_status_parse("259", &st));
  ck_assert_int_eq(st, STATUS_PENDING);
  ck_assert(!iosim_status_parse("", &st));
  ck_assert(!iosim_status_parse("12abc", &st));
  ck_assert(!iosim_status_parse("0x100000000", &st));
  /* majors and stop codes */
  static const struct { UCHAR m; const char *name; } majors[] = {
      {IRP_MJ_FLUSH_BUFFERS, "IRP_MJ_FLUSH_BUFFERS"}, {IRP_MJ_INTERNAL_DEVICE_CONTROL, "IRP_MJ_INTERNAL_DEVICE_CONTROL"},
      {IRP_MJ_SHUTDOWN, "IRP_MJ_SHUTDOWN"}, {IRP_MJ_POWER, "IRP_MJ_POWER"}, {IRP_MJ_PNP, "IRP_MJ_PNP"},
      {IRP_MJ_CLEANUP, "IRP_MJ_CLEANUP"}, {0x1F, "IRP_MJ_?"},
  };
  for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++)
    ck_assert_str_eq(iosim_major_name(majors[i].m), majors[i].name);
  ck_assert_str_eq(iosim_bugcheck_name(BAD_POOL_CALLER), "BAD_POOL_CALLER");
  ck_assert_str_eq(iosim_bugcheck_name(0xDEAD), "BUGCHECK");
  ULONG code = 0;
  ck_assert(iosim_bugcheck_parse("WORKER_INVALID", &code));
  ck_assert_uint_eq(code, WORKER_INVALID);
  ck_assert(!iosim_bugcheck_parse("NOT_A_STOP", &code));
}
END_TEST

/* Costs by name; sinks refused without a callback; a run asked twice
   gives the first outcome; sim_on_destroy needs a routine. */
static void trace_op_thread(PVOID arg) {
  (void)arg;
  sim_trace_op_id(7, NULL, "a scripted step on IRP %d", 7);
  sim_trace_op(NULL, NULL, "a step on no IRP");
  sim_note("a note %d", 1);
  trc_event_t ev = trc_event_make(TRC_NOTE);
  sim_trace(&ev, "a raw row %s", "here");
  PIRP irp = IoAllocateIrp(3, FALSE);
  sim_trace_script(irp->SimId, NULL, "touch it", true, "a script step on IRP %u", irp->SimId);
  sim_trace_script(0, NULL, "no IRP", false, "a script step on no IRP");
  IoFreeIrp(irp);
}

START_TEST(costs_sinks_and_runs) {
  tlog_t log = {0};
  sim_t *S = tsim_new(1, &log);
  ck_assert_int_eq(sim_cost_set(S, "step", 30), SIM_OK);
  ck_assert_uint_eq(sim_cost_get(S, COST_STEP), 30);
  ck_assert_int_eq(sim_cost_set(S, "no-such-cost", 1), SIM_ENOENT);
  ck_assert_str_eq(sim_cost_name(COST_STEP), "step");
  ck_assert_str_eq(sim_cost_name((sim_cost_t)COST_COUNT), "?");
  trc_sink_t bad = {.event = NULL};
  ck_assert_int_eq(sim_add_sink(S, &bad), SIM_EINVAL);
  ck_assert_int_eq(sim_add_sink(S, NULL), SIM_EINVAL);
  ck_assert_int_eq(sim_on_destroy(S, &log, NULL), SIM_EINVAL);
  sim_thread_create(S, "t", trace_op_thread, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK); /* started already: the same outcome */
  int i = tlog_find_x(&log, TRC_OP, 0, "a scripted step on IRP 7", 0);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(log.v[i].irp, 7);
  ck_assert_int_ge(tlog_find_x(&log, TRC_OP, 0, "a step on no IRP", 0), 0);
  ck_assert_int_ge(tlog_find_x(&log, TRC_NOTE, 0, "a note 1", 0), 0);
  ck_assert_int_ge(tlog_find_x(&log, TRC_NOTE, 0, "a raw row here", 0), 0);
  i = tlog_find_x(&log, TRC_OP, 0, "a script step on IRP", 0);
  ck_assert_int_ge(i, 0);
  ck_assert_int_eq(log.v[i].stack_location, 4); /* a new IRP: no current location yet */
  ck_assert_int_ge(tlog_find_x(&log, TRC_OP, 0, "a script step on no IRP", 0), 0);
  sim_destroy(S);
  tlog_free(&log);
  /* untraced: the same steps, no rows */
  S = tsim_new(1, NULL);
  ck_assert_int_eq(sim_set_sink(S, NULL), SIM_OK);
  sim_thread_create(S, "t", trace_op_thread, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  sim_destroy(S);
}
END_TEST

/* Out of memory ends the process with its documented status and says so:
   an array that would need more than size_t counts, a calloc whose size
   overflows. */
typedef enum { OOM_VEC, OOM_CALLOC } oom_case_t;

START_TEST(size_overflow_is_out_of_memory) {
  static const oom_case_t cases[] = {OOM_VEC, OOM_CALLOC};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      close(fd[0]);
      dup2(fd[1], STDERR_FILENO);
      sim_t *S = tsim_new(1, NULL);
      if (cases[i] == OOM_VEC) {
        size_t cap = 0;
        vec_grow(S, NULL, &cap, SIZE_MAX / 8, 16);
      } else {
        iosim_calloc(SIZE_MAX / 2, 4);
      }
      _exit(100); /* came back */
    }
    close(fd[1]);
    char out[512];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof out - 1 && (k = read(fd[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)k;
    out[n] = 0;
    close(fd[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), SIM_EXIT_OUT_OF_MEMORY);
    ck_assert_msg(strstr(out, "iosim: out of memory (18446744073709551615 bytes)"), "%s", out);
  }
}
END_TEST

/* ---- devices: names, attaching, deleting, unloading ---- */

static void cov_unload(PDRIVER_OBJECT d) {
  int *unloads = sim_driver_context(d);
  (*unloads)++;
}

static NTSTATUS cov_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  d->DriverUnload = cov_unload;
  d->MajorFunction[IRP_MJ_CREATE] = tnow_dispatch;
  d->MajorFunction[IRP_MJ_CLOSE] = tnow_dispatch;
  PDEVICE_OBJECT dev;
  UNICODE_STRING name;
  RtlInitUnicodeString(&name, u"\\Device\\cov#2");
  return IoCreateDevice(d, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev);
}

static NTSTATUS unload_only_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  d->DriverUnload = cov_unload;
  return STATUS_SUCCESS;
}

static NTSTATUS failing_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)d, (void)reg;
  return STATUS_INSUFFICIENT_RESOURCES;
}

typedef struct dev_test {
  sim_t *S;
  int unloads;
  PDRIVER_OBJECT cov, bare;
  PDEVICE_OBJECT unnamed, a, b, deep, filt, found_b;
  NTSTATUS collision, empty, attach_null, attach_missing, attach_full, unload_missing, unload_bare,
      unload_open, unload_again, failed_load;
  int unloads_while_open, unloads_after_close, quick_unloads;
  NTSTATUS unload_quick;
  const char *unnamed_name;
} dev_test_t;

static NTSTATUS unload_by_key(const WCHAR *key) {
  UNICODE_STRING u;
  RtlInitUnicodeString(&u, key);
  return NtUnloadDriver(&u);
}

static void dev_thread(PVOID arg) {
  dev_test_t *t = arg;
  sim_t *S = t->S;
  t->cov = sim_load_driver(S, "cov", cov_entry, &t->unloads);
  t->failed_load = sim_load_driver(S, "broken", failing_entry, NULL) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
  t->bare = sim_load_driver(S, "bare", NULL, NULL); /* no DriverEntry, no unload routine */
  /* unnamed: DRIVER#N, N past the names taken ("cov#2" is) */
  IoCreateDevice(t->cov, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &t->unnamed);
  t->unnamed_name = t->unnamed->SimName;
  UNICODE_STRING n;
  RtlInitUnicodeString(&n, u"\\Device\\cov#2");
  PDEVICE_OBJECT dup;
  t->collision = IoCreateDevice(t->cov, 0, &n, FILE_DEVICE_UNKNOWN, 0, FALSE, &dup);
  t->empty = sim_create_device(t->bare, 0, "", &dup);
  /* two devices given one name: found by a search after the first is renamed */
  sim_create_device(t->bare, 0, "covA", &t->a);
  sim_create_device(t->bare, 0, "covB", &t->b);
  sim_name_device(t->b, "covA");
  sim_name_device(t->a, "covZ");
  t->found_b = sim_find_device(S, "covA");
  /* attaching by name */
  PDEVICE_OBJECT below;
  UNICODE_STRING empty = {0};
  sim_create_device(t->bare, 0, "filt", &t->filt);
  t->attach_null = IoAttachDevice(t->filt, &empty, &below);
  RtlInitUnicodeString(&n, u"\\Device\\nowhere");
  t->attach_missing = IoAttachDevice(t->filt, &n, &below);
  sim_create_device(t->bare, 0, "deep", &t->deep);
  t->deep->StackSize = 127; /* an IRP can have no more */
  RtlInitUnicodeString(&n, u"\\Device\\deep");
  t->attach_full = IoAttachDevice(t->filt, &n, &below);
  IoDetachDevice(t->deep); /* nothing attached: nothing to do */
  /* unloading: a key naming no driver, a driver with no unload routine,
     one with a file open (pending until the close), asked twice */
  /* nothing open on it: unloaded at once */
  sim_load_driver(S, "quick", unload_only_entry, &t->quick_unloads);
  t->unload_quick = unload_by_key(u"quick");
  t->unload_missing = unload_by_key(u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\nowhere");
  t->unload_bare = unload_by_key(u"bare");
  PFILE_OBJECT f;
  NtCreateFile(&f, sim_find_device(S, "cov#2"), 0, "f");
  t->unload_open = unload_by_key(u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\cov");
  t->unload_again = unload_by_key(u"cov");
  t->unloads_while_open = t->unloads;
  NtClose(f);
  t->unloads_after_close = t->unloads;
}

START_TEST(devices_names_attach_and_unload) {
  dev_test_t t = {0};
  tlog_t log = {0};
  t.S = tsim_new(1, &log);
  sim_thread_create(t.S, "app", dev_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_ptr_nonnull(t.cov);
  ck_assert_int_eq(t.failed_load, STATUS_UNSUCCESSFUL); /* DriverEntry failed: not loaded */
  ck_assert_str_eq(t.unnamed_name, "cov#3");
  ck_assert_int_eq(t.collision, STATUS_OBJECT_NAME_COLLISION);
  ck_assert_int_eq(t.empty, STATUS_OBJECT_NAME_INVALID);
  ck_assert_ptr_eq(t.found_b, t.b);
  ck_assert_ptr_eq(sim_find_device(t.S, "covZ"), t.a);
  ck_assert_ptr_null(sim_find_device(t.S, "covQ"));
  ck_assert_ptr_null(sim_driver_by_name(t.S, "nowhere"));
  ck_assert_int_eq(t.attach_null, STATUS_OBJECT_NAME_INVALID);
  ck_assert_int_eq(t.attach_missing, STATUS_OBJECT_NAME_NOT_FOUND);
  ck_assert_int_eq(t.attach_full, STATUS_INSUFFICIENT_RESOURCES);
  ck_assert_ptr_null(t.deep->AttachedDevice);
  ck_assert_int_eq(t.unload_quick, STATUS_SUCCESS);
  ck_assert_int_eq(t.quick_unloads, 1);
  ck_assert_int_eq(t.unload_missing, STATUS_OBJECT_NAME_NOT_FOUND);
  ck_assert_int_eq(t.unload_bare, STATUS_INVALID_DEVICE_REQUEST);
  ck_assert_int_eq(t.unload_open, STATUS_SUCCESS);
  ck_assert_int_eq(t.unload_again, STATUS_SUCCESS);
  ck_assert_int_eq(t.unloads_while_open, 0);
  ck_assert_int_eq(t.unloads_after_close, 1);
  ck_assert_int_eq(t.unloads, 1);
  ck_assert_int_ge(tlog_find_x(&log, TRC_NOTE, 0, "unload of cov pending: a file is still open", 0), 0);
  ck_assert_int_eq(tlog_count(&log, TRC_DRIVER_UNLOAD), 2); /* cov and quick */
  sim_destroy(t.S);
  tlog_free(&log);
}
END_TEST

static void dev_delete_twice(cov_objs_t *o) {
  PDRIVER_OBJECT d = sim_load_driver(ctx_sim(), "twice", NULL, NULL);
  PDEVICE_OBJECT dev;
  sim_create_device(d, 0, "twice0", &dev);
  o->block = dev;
  IoDeleteDevice(dev);
  IoDeleteDevice(dev);
}

static const cov_stop_t io_stops[] = {
    {"delete twice", dev_delete_twice, H_NONE, DRIVER_VERIFIER_IOMANAGER_VIOLATION, {V(0x0F), O(P_BLOCK), V(0), V(0)}},
};

START_TEST(io_misuse_stops) { cov_run_stops(io_stops, sizeof io_stops / sizeof io_stops[0]); }
END_TEST

/* ---- IRPs and MDLs a driver builds ---- */

typedef struct irp_test {
  sim_t *S;
  PIRP none, assoc_none;
  bool forward_refused, chain_ok;
  PMDL mdl_zero, mdl_huge;
  UCHAR internal_major;
  LONGLONG async_offset;
  NTSTATUS flush_st, ioctl_st;
  char buf[64];
} irp_test_t;

static void irp_thread(PVOID arg) {
  irp_test_t *t = arg;
  sim_load_driver(t->S, "now", tnow_entry, (PVOID) "now0");
  PDEVICE_OBJECT dev = sim_find_device(t->S, "now0");
  /* no stack location: no IRP */
  t->none = IoAllocateIrp(0, FALSE);
  PIRP irp = IoAllocateIrp(2, FALSE);
  t->assoc_none = IoMakeAssociatedIrp(irp, 0);
  /* a fresh IRP has no current location to forward */
  t->forward_refused = !IoForwardIrpSynchronously(dev, irp);
  /* MDLs: none of 0 bytes or past 4 GB - 4 KB; secondary ones chain */
  t->mdl_zero = IoAllocateMdl(t->buf, 0, FALSE, FALSE, NULL);
  t->mdl_huge = IoAllocateMdl(t->buf, 0xFFFFF001u, FALSE, FALSE, NULL);
  PMDL m1 = IoAllocateMdl(t->buf, 16, FALSE, FALSE, irp);
  PMDL m2 = IoAllocateMdl(t->buf + 16, 16, TRUE, FALSE, irp);
  PMDL m3 = IoAllocateMdl(t->buf + 32, 16, TRUE, FALSE, irp);
  t->chain_ok = irp->MdlAddress == m1 && m1->Next == m2 && m2->Next == m3 && !m3->Next;
  irp->MdlAddress = NULL;
  IoFreeMdl(m1), IoFreeMdl(m2), IoFreeMdl(m3);
  IoFreeIrp(irp);
  /* a flush carries no buffer; an internal IOCTL has its own major */
  KEVENT ev;
  IO_STATUS_BLOCK iosb;
  KeInitializeEvent(&ev, NotificationEvent, FALSE);
  irp = IoBuildSynchronousFsdRequest(IRP_MJ_FLUSH_BUFFERS, dev, NULL, 0, NULL, &ev, &iosb);
  if (IoCallDriver(dev, irp) == STATUS_PENDING) KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
  t->flush_st = iosb.Status;
  KeClearEvent(&ev);
  irp = IoBuildDeviceIoControlRequest(0x222003, dev, NULL, 0, NULL, 0, TRUE, &ev, &iosb);
  t->internal_major = IoGetNextIrpStackLocation(irp)->MajorFunction;
  if (IoCallDriver(dev, irp) == STATUS_PENDING) KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
  t->ioctl_st = iosb.Status;
  /* no offset given: 0 */
  irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, dev, t->buf, 8, NULL, &iosb);
  t->async_offset = IoGetNextIrpStackLocation(irp)->Parameters.Read.ByteOffset.QuadPart;
  IoFreeIrp(irp);
}

START_TEST(irps_and_mdls_a_driver_builds) {
  irp_test_t t = {0};
  tlog_t log = {0};
  t.S = tsim_new(1, &log);
  sim_thread_create(t.S, "drv", irp_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_ptr_null(t.none);
  ck_assert_int_ge(tlog_find_x(&log, TRC_IRP_ALLOC, 0, "IoAllocateIrp(0): no such IRP, returns NULL", 0), 0);
  ck_assert_ptr_null(t.assoc_none);
  ck_assert(t.forward_refused);
  ck_assert_ptr_null(t.mdl_zero);
  ck_assert_ptr_null(t.mdl_huge);
  ck_assert(t.chain_ok);
  ck_assert_int_eq(t.flush_st, STATUS_SUCCESS);
  ck_assert_int_eq(t.internal_major, IRP_MJ_INTERNAL_DEVICE_CONTROL);
  ck_assert_int_eq(t.ioctl_st, STATUS_SUCCESS);
  ck_assert_int_eq(t.async_offset, 0);
  ck_assert_uint_eq(sim_stats(t.S).irps_live, 0);
  sim_destroy(t.S);
  tlog_free(&log);
}
END_TEST

static void cov_cancel(PDEVICE_OBJECT d, PIRP irp) { (void)d, (void)irp; }
static void irp_reuse_with_cancel_routine(cov_objs_t *o) {
  PIRP irp = IoAllocateIrp(1, FALSE);
  o->block = irp;
  IoSetCancelRoutine(irp, cov_cancel);
  IoReuseIrp(irp, STATUS_SUCCESS);
}
static void probe_bad_alignment(cov_objs_t *o) {
  static char buf[8];
  o->block = buf;
  ProbeForRead(buf, 4, 3);
}
static void probe_misaligned(cov_objs_t *o) {
  static long long buf[2];
  o->block = buf;
  ProbeForWrite((char *)buf + 1, 4, 4);
}

static void irp_mark_pending_no_location(cov_objs_t *o) {
  PIRP irp = IoAllocateIrp(1, FALSE); /* no current location until IoCallDriver */
  o->block = (PVOID)(ULONG_PTR)irp->SimId;
  IoMarkIrpPending(irp);
}

static const cov_stop_t irp_stops[] = {
    /* parameter 1 the IRP, 2 its CurrentLocation (one past its one location) */
    {"IoMarkIrpPending with no current location", irp_mark_pending_no_location, H_NONE, NO_MORE_IRP_STACK_LOCATIONS,
     {O(P_BLOCK), V(2)}},
    /* WRK asserts; with no debugger the breakpoint is not handled */
    {"reuse with a cancel routine", irp_reuse_with_cancel_routine, H_NONE, KMODE_EXCEPTION_NOT_HANDLED,
     {V((uint32_t)STATUS_BREAKPOINT)}},
    {"probe, alignment 3", probe_bad_alignment, H_NONE, KMODE_EXCEPTION_NOT_HANDLED, {V((uint32_t)STATUS_BREAKPOINT)}},
    /* the raise no __except catches */
    {"probe, misaligned", probe_misaligned, H_NONE, KMODE_EXCEPTION_NOT_HANDLED,
     {V((uint32_t)STATUS_DATATYPE_MISALIGNMENT)}},
};

START_TEST(irp_misuse_stops) { cov_run_stops(irp_stops, sizeof irp_stops / sizeof irp_stops[0]); }
END_TEST

/* ---- byte-range locks, fast reads, system threads, machine facts ---- */

typedef struct misc_test {
  sim_t *S;
  NTSTATUS lock1, lock_overlap, lock_adjacent, sys_null, sys_no_routine, term_not_system;
  bool locked_for_other, locked_for_owner, read0, read_uncached;
  IO_STATUS_BLOCK read0_iosb;
  HANDLE tid;
  uint32_t me;
} misc_test_t;

static void sys_nothing(PVOID arg) { (void)arg; }

static void misc_thread(PVOID arg) {
  misc_test_t *t = arg;
  sim_load_driver(t->S, "now", tnow_entry, (PVOID) "now0");
  PDEVICE_OBJECT dev = sim_find_device(t->S, "now0");
  PFILE_OBJECT f1, f2;
  NtCreateFile(&f1, dev, FILE_SYNCHRONOUS_IO_NONALERT, "f1");
  NtCreateFile(&f2, dev, FILE_SYNCHRONOUS_IO_NONALERT, "f2");
  /* exclusive locks: an overlap is refused, a neighbour is not */
  t->lock1 = NtLockFile(f1, 0, 10);
  t->lock_overlap = NtLockFile(f2, 5, 10);
  t->lock_adjacent = NtLockFile(f2, 10, 5);
  t->locked_for_other = sim_range_locked(f2, 8, 1);
  t->locked_for_owner = sim_range_locked(f1, 8, 1);
  /* FsRtlCopyRead: nothing to read is success at once; an uncached file
     is refused (the I/O manager builds an IRP) */
  LONGLONG off = 0;
  char b[4];
  t->read0 = FsRtlCopyRead(f1, &off, 0, TRUE, 0, b, &t->read0_iosb, dev);
  t->read_uncached = FsRtlCopyRead(f1, &off, 4, TRUE, 0, b, &t->read0_iosb, dev);
  NtClose(f1);
  NtClose(f2);
  /* system threads: no handle is an invalid parameter, and only a
     system thread may terminate itself */
  t->sys_null = PsCreateSystemThread(NULL, 0, NULL, NULL, NULL, sys_nothing, NULL);
  HANDLE h;
  t->sys_no_routine = PsCreateSystemThread(&h, 0, NULL, NULL, NULL, NULL, NULL);
  t->term_not_system = PsTerminateSystemThread(STATUS_SUCCESS);
  t->tid = PsGetCurrentThreadId();
  t->me = sim_thread_id(KeGetCurrentThread());
}

START_TEST(locks_fast_reads_and_system_threads) {
  misc_test_t t = {0};
  t.S = tsim_new(1, NULL);
  sim_thread_create(t.S, "app", misc_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_int_eq(t.lock1, STATUS_SUCCESS);
  ck_assert_int_eq(t.lock_overlap, STATUS_LOCK_NOT_GRANTED);
  ck_assert_int_eq(t.lock_adjacent, STATUS_SUCCESS);
  ck_assert(t.locked_for_other);
  ck_assert(!t.locked_for_owner);
  ck_assert(t.read0);
  ck_assert_int_eq(t.read0_iosb.Status, STATUS_SUCCESS);
  ck_assert(!t.read_uncached);
  ck_assert_int_eq(t.sys_null, STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(t.sys_no_routine, STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(t.term_not_system, STATUS_INVALID_PARAMETER);
  ck_assert_ptr_nonnull(t.tid);
  /* the machine's facts by id: unknown ids give nothing */
  ck_assert_ptr_null(sim_device_object(t.S, 999));
  ck_assert_str_eq(sim_device_driver(t.S, sim_find_device(t.S, "now0")->SimId), "now");
  ck_assert_str_eq(sim_device_driver(t.S, 999), "");
  ck_assert_uint_eq(sim_device_lower(t.S, 999), 0);
  ck_assert_int_eq(sim_device_stack_size(t.S, 999), 0);
  ck_assert_str_eq(sim_thread_name(t.S, t.me), "app");
  ck_assert_str_eq(sim_thread_name(t.S, 999), "");
  ck_assert_str_eq(sim_port_name(t.S, 999), "");
  sim_destroy(t.S);
}
END_TEST

/* A machine that cannot be: no configuration, no CPU, too many. */
START_TEST(bad_machines_are_refused) {
  sim_config_t none = {.cpus = 0}, many = {.cpus = SIM_MAX_CPUS + 1}, ok = {.cpus = 1};
  ck_assert_ptr_null(sim_create(NULL));
  ck_assert_ptr_null(sim_create(&none));
  ck_assert_ptr_null(sim_create(&many));
  sim_destroy(NULL); /* nothing to do */
  sim_t *S = sim_create(&ok);
  /* a user-mode file system needs a device name that is free and valid */
  sim_ufs_config_t no_name = {.device = NULL}, empty = {.device = ""}, good = {.device = "ufs0"};
  ck_assert_ptr_null(sim_ufs_create(S, &no_name));
  ck_assert_ptr_null(sim_ufs_create(S, &empty));
  ck_assert_ptr_nonnull(sim_ufs_create(S, &good));
  ck_assert_ptr_null(sim_ufs_create(S, &good)); /* the name is taken now */
  sim_destroy(S);
}
END_TEST

/* ---- work items, symbolic links, remove locks ---- */

typedef struct wi_test {
  sim_t *S;
  PDRIVER_OBJECT drv;
  PVOID seen_obj, seen_ctx;
  PIO_WORKITEM seen_item, item;
  KEVENT done;
  KIRQL irql;
  NTSTATUS link_ok, link_empty, link_del_missing, link_del;
  ULONG size;
} wi_test_t;

static void wi_routine_ex(PVOID IoObject, PVOID Context, PIO_WORKITEM IoWorkItem) {
  wi_test_t *t = Context;
  t->seen_obj = IoObject, t->seen_ctx = Context, t->seen_item = IoWorkItem;
  t->irql = KeGetCurrentIrql();
  KeSetEvent(&t->done, 0, FALSE);
}

static void wi_thread(PVOID arg) {
  wi_test_t *t = arg;
  t->drv = sim_load_driver(t->S, "wi", NULL, NULL);
  /* a work item in the driver's own memory, for its driver object */
  t->size = IoSizeofWorkItem();
  t->item = ExAllocatePoolWithTag(NonPagedPoolNx, t->size, TAG_CV);
  IoInitializeWorkItem(t->drv, t->item);
  KeInitializeEvent(&t->done, NotificationEvent, FALSE);
  IoQueueWorkItemEx(t->item, wi_routine_ex, NormalWorkQueue, t);
  KeWaitForSingleObject(&t->done, Executive, KernelMode, FALSE, NULL);
  LARGE_INTEGER later = {.QuadPart = -100}; /* the worker returns from the routine */
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  IoUninitializeWorkItem(t->item);
  ExFreePoolWithTag(t->item, TAG_CV);
  /* symbolic links */
  UNICODE_STRING link, dev, empty = {0};
  RtlInitUnicodeString(&link, u"\\DosDevices\\CovLink");
  RtlInitUnicodeString(&dev, u"\\Device\\wi0");
  t->link_ok = IoCreateUnprotectedSymbolicLink(&link, &dev);
  t->link_empty = IoCreateSymbolicLink(&empty, &dev);
  t->link_del = IoDeleteSymbolicLink(&link);
  t->link_del_missing = IoDeleteSymbolicLink(&link);
}

START_TEST(work_items_and_symbolic_links) {
  wi_test_t t = {0};
  tlog_t log = {0};
  t.S = tsim_new(1, &log);
  sim_thread_create(t.S, "drv", wi_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_uint_gt(t.size, 0);
  ck_assert_ptr_eq(t.seen_obj, t.drv);
  ck_assert_ptr_eq(t.seen_ctx, &t);
  ck_assert_ptr_eq(t.seen_item, t.item);
  ck_assert_int_eq(t.irql, PASSIVE_LEVEL);
  /* a driver object's item: queued to the delayed queue, named as the driver's */
  ck_assert_int_ge(tlog_find_x(&log, TRC_WORK_QUEUED, 0, "work item of a driver queued to the delayed work queue", 0),
                   0);
  ck_assert_int_ge(tlog_find_x(&log, TRC_WORK_RUN, 0, "work item of a driver runs", 0), 0);
  ck_assert_int_eq(t.link_ok, STATUS_SUCCESS);
  ck_assert_int_eq(t.link_empty, STATUS_OBJECT_NAME_INVALID);
  ck_assert_int_eq(t.link_del, STATUS_SUCCESS);
  ck_assert_int_eq(t.link_del_missing, STATUS_OBJECT_NAME_NOT_FOUND);
  sim_destroy(t.S);
  tlog_free(&log);
}
END_TEST

static void wi_nothing(PDEVICE_OBJECT d, PVOID c) { (void)d, (void)c; }
static PIO_WORKITEM wi_new(cov_objs_t *o) {
  PDRIVER_OBJECT d = sim_load_driver(ctx_sim(), "wi", NULL, NULL);
  PDEVICE_OBJECT dev;
  sim_create_device(d, 0, "wi0", &dev);
  PIO_WORKITEM w = IoAllocateWorkItem(dev);
  o->block = w;
  return w;
}
static void wi_bad_queue(cov_objs_t *o) { IoQueueWorkItem(wi_new(o), wi_nothing, MaximumWorkQueue, NULL); }
static void wi_no_routine(cov_objs_t *o) { IoQueueWorkItem(wi_new(o), NULL, DelayedWorkQueue, NULL); }
static void wi_uninit_queued(cov_objs_t *o) {
  KIRQL old;
  PIO_WORKITEM w = wi_new(o);
  KeRaiseIrql(DISPATCH_LEVEL, &old); /* no worker runs meanwhile */
  IoQueueWorkItem(w, wi_nothing, DelayedWorkQueue, NULL);
  IoUninitializeWorkItem(w);
}
static void wi_pool_freed_queued(cov_objs_t *o) {
  KIRQL old;
  PIO_WORKITEM w = wi_new(o);
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  IoQueueWorkItem(w, wi_nothing, CriticalWorkQueue, NULL);
  ExFreePool(w); /* the pool under it, not IoFreeWorkItem */
}
static void rl_wait_wrong_tag(cov_objs_t *o) {
  static IO_REMOVE_LOCK rl;
  o->block = &rl;
  IoInitializeRemoveLock(&rl, TAG_CV, 0, 0);
  IoAcquireRemoveLock(&rl, (PVOID)1);
  IoAcquireRemoveLock(&rl, (PVOID)1); /* the same tag twice */
  IoReleaseRemoveLock(&rl, (PVOID)1);
  IoReleaseRemoveLockAndWait(&rl, (PVOID)2);
}

static const cov_stop_t wi_stops[] = {
    /* WORKER_INVALID: parameter 1 the kind, 2 the item */
    {"no such queue", wi_bad_queue, H_NONE, WORKER_INVALID, {V(0x6), O(P_BLOCK), V(MaximumWorkQueue)}},
    {"no routine", wi_no_routine, H_NONE, WORKER_INVALID, {V(0x7), O(P_BLOCK), V(DelayedWorkQueue)}},
    {"uninitialised while queued", wi_uninit_queued, H_NONE, WORKER_INVALID, {V(0x2), O(P_BLOCK)}},
    {"pool freed under a queued item", wi_pool_freed_queued, H_NONE, WORKER_INVALID, {V(0x0), O(P_BLOCK), O(P_BLOCK)}},
    /* the remove lock's shadow: a tag no acquisition used */
    {"release-and-wait, wrong tag", rl_wait_wrong_tag, H_NONE, VERIFIER, {V(0xD6), O(P_BLOCK), V(2)}},
};

START_TEST(work_item_and_remove_lock_stops) { cov_run_stops(wi_stops, sizeof wi_stops / sizeof wi_stops[0]); }
END_TEST

/* ---- cancelling many requests at once ---- */

#define MANY_IRPS 70 /* more than the cancel code keeps on its stack */

static void park_cancel(PDEVICE_OBJECT d, PIRP irp) {
  (void)d;
  IoReleaseCancelSpinLock(irp->CancelIrql);
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* Reads wait until cancelled; everything else completes at once. */
static NTSTATUS park_dispatch(PDEVICE_OBJECT d, PIRP irp) {
  if (IoGetCurrentIrpStackLocation(irp)->MajorFunction != IRP_MJ_READ) return tnow_dispatch(d, irp);
  KIRQL old;
  IoAcquireCancelSpinLock(&old);
  IoSetCancelRoutine(irp, park_cancel);
  IoMarkIrpPending(irp);
  IoReleaseCancelSpinLock(old);
  return STATUS_PENDING;
}

static NTSTATUS park_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) d->MajorFunction[m] = park_dispatch;
  PDEVICE_OBJECT dev;
  return sim_create_device(d, 0, "park0", &dev);
}

typedef struct many_test {
  sim_t *S;
  IO_STATUS_BLOCK iosb[2][MANY_IRPS];
  char buf[4];
  NTSTATUS ex_st, io_st;
  int cancelled[2];
} many_test_t;

static void many_thread(PVOID arg) {
  many_test_t *t = arg;
  sim_load_driver(t->S, "park", park_entry, NULL);
  PFILE_OBJECT f;
  NtCreateFile(&f, sim_find_device(t->S, "park0"), 0, "f");
  static const LONGLONG zero = 0;
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < MANY_IRPS; i++) NtReadFile(f, NULL, NULL, NULL, &t->iosb[round][i], t->buf, 4, &zero);
    if (round == 0) t->ex_st = NtCancelIoFileEx(f, NULL); /* CancelIoEx: every request on the file */
    else t->io_st = NtCancelIoFile(f, NULL);              /* CancelIo: this thread's, and waits */
    LARGE_INTEGER later = {.QuadPart = -1000};
    KeDelayExecutionThread(KernelMode, FALSE, &later);
    for (int i = 0; i < MANY_IRPS; i++) t->cancelled[round] += t->iosb[round][i].Status == STATUS_CANCELLED;
  }
  NtClose(f);
}

START_TEST(cancel_many_requests_at_once) {
  many_test_t t = {0};
  t.S = tsim_new(1, NULL);
  sim_thread_create(t.S, "app", many_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_int_eq(t.ex_st, STATUS_SUCCESS);
  ck_assert_int_eq(t.io_st, STATUS_SUCCESS);
  ck_assert_int_eq(t.cancelled[0], MANY_IRPS);
  ck_assert_int_eq(t.cancelled[1], MANY_IRPS);
  ck_assert_uint_eq(sim_stats(t.S).irps_live, 0);
  sim_destroy(t.S);
}
END_TEST

/* ---- StartIo's less used paths ---- */

typedef struct sio_test {
  sim_t *S;
  PDEVICE_OBJECT dev;
  PIRP irp[4], started[4];
  int nstarted, cancelled;
  bool next_inside; /* StartIo asks for the next packet itself (deferred) */
  PDRIVER_CANCEL cancel_seen[4];
} sio_test_t;

static void sio_start(PDEVICE_OBJECT dev, PIRP irp) {
  sio_test_t *t = sim_driver_context(dev->DriverObject);
  t->cancel_seen[t->nstarted] = irp->CancelRoutine;
  t->started[t->nstarted++] = irp;
  if (t->next_inside) IoStartNextPacketByKey(dev, TRUE, 5);
}

static void sio_cancel(PDEVICE_OBJECT dev, PIRP irp) {
  sio_test_t *t = sim_driver_context(dev->DriverObject);
  IoReleaseCancelSpinLock(irp->CancelIrql);
  if (KeRemoveEntryDeviceQueue(&dev->DeviceQueue, &irp->Tail.Overlay.DeviceQueueEntry)) t->cancelled++;
}

static NTSTATUS sio_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  sio_test_t *t = sim_driver_context(d);
  d->DriverStartIo = sio_start;
  return sim_create_device(d, 0, "sio0", &t->dev);
}

static void sio_thread(PVOID arg) {
  sio_test_t *t = arg;
  sim_load_driver(t->S, "sio", sio_entry, t);
  IoSetStartIoAttributes(t->dev, TRUE, TRUE); /* deferred, not cancelable once started */
  for (int i = 0; i < 4; i++) t->irp[i] = IoAllocateIrp(1, FALSE);
  ULONG key = 5;
  /* idle device: StartIo at once; it asks for the next by key from inside,
     which is deferred until it returns (and finds the queue empty) */
  t->next_inside = true;
  IoStartPacket(t->dev, t->irp[0], &key, sio_cancel);
  t->next_inside = false;
  IoStartPacket(t->dev, t->irp[1], NULL, sio_cancel); /* the device is busy after this one */
  /* cancelled before it was queued: its cancel routine runs at once */
  t->irp[2]->Cancel = TRUE;
  IoStartPacket(t->dev, t->irp[2], NULL, sio_cancel);
  /* queued, then started by IoStartNextPacket: not cancelable any more */
  IoStartPacket(t->dev, t->irp[3], NULL, sio_cancel);
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  IoStartNextPacket(t->dev, TRUE);
  KeLowerIrql(old);
  for (int i = 0; i < 4; i++) IoFreeIrp(t->irp[i]);
}

START_TEST(startio_deferred_by_key_and_cancelled_before_queueing) {
  sio_test_t t = {0};
  tlog_t log = {0};
  t.S = tsim_new(1, &log);
  sim_thread_create(t.S, "drv", sio_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_int_eq(t.nstarted, 3);
  ck_assert_ptr_eq(t.started[0], t.irp[0]);
  ck_assert_ptr_eq(t.started[1], t.irp[1]);
  ck_assert_ptr_eq(t.started[2], t.irp[3]);
  ck_assert_ptr_null(t.cancel_seen[0]); /* non-cancelable StartIo: the routine is taken away */
  ck_assert_ptr_null(t.cancel_seen[2]);
  ck_assert_int_eq(t.cancelled, 1);
  ck_assert_int_ge(tlog_find_x(&log, TRC_DEVICE_QUEUE, 0, "deferred StartIo: the next packet starts when", 0), 0);
  ck_assert_int_ge(tlog_find_x(&log, TRC_CANCEL_ROUTINE, 0, "was cancelled before it was queued", 0), 0);
  sim_destroy(t.S);
  tlog_free(&log);
}
END_TEST

static void sio_no_routine(cov_objs_t *o) {
  PDRIVER_OBJECT d = sim_load_driver(ctx_sim(), "nosio", NULL, NULL);
  PDEVICE_OBJECT dev;
  sim_create_device(d, 0, "nosio0", &dev);
  PIRP irp = IoAllocateIrp(1, FALSE);
  o->block = (PVOID)(ULONG_PTR)irp->SimId;
  IoStartPacket(dev, irp, NULL, NULL);
}

static const cov_stop_t sio_stops[] = {
    /* a call through a NULL DriverStartIo: an access violation no one handles */
    {"no StartIo routine", sio_no_routine, H_NONE, KMODE_EXCEPTION_NOT_HANDLED,
     {V((uint32_t)STATUS_ACCESS_VIOLATION), V(0), V(0), O(P_BLOCK)}},
};

START_TEST(startio_stops) { cov_run_stops(sio_stops, sizeof sio_stops / sizeof sio_stops[0]); }
END_TEST

/* ---- a cancel-safe queue with the Ex insert ---- */

typedef struct csq_test {
  IO_CSQ csq; /* first: the callbacks find the test from it */
  sim_t *S;
  KSPIN_LOCK lock;
  LIST_ENTRY q;
  int inserts, refused, completed_cancelled;
  NTSTATUS st[3];
  PIRP irp[3], next;
  PVOID insert_ctx_seen;
  IO_CSQ_IRP_CONTEXT ctx;
} csq_test_t;

static NTSTATUS csqx_insert(PIO_CSQ csq, PIRP irp, PVOID insert_ctx) {
  csq_test_t *t = (csq_test_t *)csq;
  t->insert_ctx_seen = insert_ctx;
  if (insert_ctx == (PVOID)1) {
    t->refused++;
    return STATUS_DEVICE_BUSY; /* the queue says no */
  }
  InsertTailList(&t->q, &irp->Tail.Overlay.ListEntry);
  t->inserts++;
  return STATUS_SUCCESS;
}
static void csqx_remove(PIO_CSQ csq, PIRP irp) {
  (void)csq;
  RemoveEntryList(&irp->Tail.Overlay.ListEntry);
}
static PIRP csqx_peek(PIO_CSQ csq, PIRP irp, PVOID peek) {
  csq_test_t *t = (csq_test_t *)csq;
  (void)peek;
  PLIST_ENTRY e = irp ? irp->Tail.Overlay.ListEntry.Flink : t->q.Flink;
  return e == &t->q ? NULL : CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
}
static void csqx_acquire(PIO_CSQ csq, PKIRQL irql) { KeAcquireSpinLock(&((csq_test_t *)csq)->lock, irql); }
static void csqx_release(PIO_CSQ csq, KIRQL irql) { KeReleaseSpinLock(&((csq_test_t *)csq)->lock, irql); }
static void csqx_complete_cancelled(PIO_CSQ csq, PIRP irp) {
  (void)irp;
  ((csq_test_t *)csq)->completed_cancelled++;
}

static void csqx_thread(PVOID arg) {
  csq_test_t *t = arg;
  KeInitializeSpinLock(&t->lock);
  InitializeListHead(&t->q);
  IoCsqInitializeEx(&t->csq, csqx_insert, csqx_remove, csqx_peek, csqx_acquire, csqx_release,
                    csqx_complete_cancelled);
  for (int i = 0; i < 3; i++) {
    t->irp[i] = IoAllocateIrp(1, FALSE);
    IoSetNextIrpStackLocation(t->irp[i]); /* as the driver receiving it sees it */
  }
  t->st[0] = IoCsqInsertIrpEx(&t->csq, t->irp[0], NULL, (PVOID)1); /* refused */
  t->irp[1]->Cancel = TRUE;                                         /* cancelled before it is queued */
  t->st[1] = IoCsqInsertIrpEx(&t->csq, t->irp[1], NULL, (PVOID)2);
  t->st[2] = IoCsqInsertIrpEx(&t->csq, t->irp[2], &t->ctx, (PVOID)3);
  t->next = IoCsqRemoveNextIrp(&t->csq, NULL);
  for (int i = 0; i < 3; i++) IoFreeIrp(t->irp[i]);
}

START_TEST(csq_ex_refuses_and_takes_back_a_cancelled_irp) {
  csq_test_t t = {0};
  tlog_t log = {0};
  t.S = tsim_new(1, &log);
  sim_thread_create(t.S, "drv", csqx_thread, &t);
  ck_assert_msg(sim_run(t.S) == SIM_RUN_OK, "%s", sim_bugcheck(t.S) ? sim_bugcheck(t.S)->reason : "");
  ck_assert_int_eq(t.st[0], STATUS_DEVICE_BUSY); /* the insert routine's status comes back */
  ck_assert_int_eq(t.refused, 1);
  ck_assert_int_eq(t.st[1], STATUS_SUCCESS);
  ck_assert_int_eq(t.completed_cancelled, 1); /* taken out again and completed as cancelled */
  ck_assert_int_eq(t.st[2], STATUS_SUCCESS);
  ck_assert_int_eq(t.inserts, 2);
  ck_assert_ptr_eq(t.next, t.irp[2]);
  ck_assert_ptr_eq(t.insert_ctx_seen, (PVOID)3);
  ck_assert_int_ge(tlog_find_x(&log, TRC_CSQ_INSERT, 0, "refused by the driver's insert routine", 0), 0);
  ck_assert_int_ge(tlog_find_x(&log, TRC_CSQ_INSERT, 0, "already cancelled: completed as cancelled", 0), 0);
  sim_destroy(t.S);
  tlog_free(&log);
}
END_TEST

/* ---- a chooser of every interleaving ---- */

typedef struct pick_test {
  int asked, kernel_timers, thread_timers, placements;
  bool stop_at_placement;
} pick_test_t;

static uint32_t pick_first(void *ud, const sim_choice_t *c) {
  pick_test_t *p = ud;
  if (c->kind != SIM_CHOICE_NEXT) {
    p->placements++;
    return p->stop_at_placement ? SIM_CHOICE_STOP : 0;
  }
  p->asked++;
  for (uint32_t i = 0; i < c->n; i++)
    if (c->cand[i].kind == SIM_CAND_TIMER) {
      if (c->cand[i].id) p->thread_timers++;
      else p->kernel_timers++; /* a KTIMER: no thread of its own */
    }
  return 0;
}

typedef struct pick_work {
  KTIMER timer;
  KDPC dpc;
  int fired, dpcs;
} pick_work_t;

static void pick_dpc(PKDPC d, PVOID ctx, PVOID a1, PVOID a2) {
  (void)d, (void)a1, (void)a2;
  ((pick_work_t *)ctx)->dpcs++;
}

static void pick_timer_thread(PVOID arg) {
  pick_work_t *w = arg;
  /* a low-importance DPC requests no drain (the rate rule is off): it
     waits for the clock tick, which is then an event of the machine */
  KeInitializeDpc(&w->dpc, pick_dpc, w);
  KeSetImportanceDpc(&w->dpc, LowImportance);
  KeInsertQueueDpc(&w->dpc, NULL, NULL);
  LARGE_INTEGER due = {.QuadPart = -300000}; /* 30 ms */
  KeSetTimer(&w->timer, due, NULL);
  sim_delay(20000000); /* one 20 ms step: the tick at 15.625 ms comes first */
  KeWaitForSingleObject(&w->timer, Executive, KernelMode, FALSE, NULL);
  w->fired++;
}

static void pick_sleeper(PVOID arg) {
  (void)arg;
  LARGE_INTEGER later = {.QuadPart = -50000}; /* 5 ms */
  KeDelayExecutionThread(KernelMode, FALSE, &later);
}

static sim_outcome_t pick_run(pick_test_t *p, pick_work_t *w, int cpus, uint64_t max_time_ns, tlog_t *log) {
  sim_config_t cfg = {.cpus = cpus, .seed = 1, .max_time_ns = max_time_ns, .has_minimum_dpc_rate = true};
  sim_t *S = sim_create(&cfg);
  if (log) {
    trc_sink_t sink = tlog_sink(log);
    sim_set_sink(S, &sink);
  }
  sim_set_chooser(S, pick_first, p);
  KeInitializeTimer(&w->timer);
  sim_thread_create(S, "timer", pick_timer_thread, w);
  sim_thread_create(S, "sleeper", pick_sleeper, NULL);
  sim_outcome_t r = sim_run(S);
  sim_destroy(S);
  return r;
}

START_TEST(chooser_sees_kernel_timers_and_the_clock_ticks_first) {
  pick_test_t p = {0};
  pick_work_t w = {0};
  tlog_t log = {0};
  ck_assert_int_eq(pick_run(&p, &w, 1, 0, &log), SIM_RUN_OK);
  ck_assert_int_eq(w.fired, 1);
  ck_assert_int_eq(w.dpcs, 1);
  ck_assert_int_gt(p.asked, 0);
  ck_assert_int_gt(p.kernel_timers, 0);
  ck_assert_int_gt(p.thread_timers, 0);
  /* the tick at 15.625 ms is no choice: it fires before the step due at 20 ms */
  int tick = tlog_find(&log, TRC_CLOCK_TICK, 0);
  ck_assert_int_ge(tick, 0);
  ck_assert_uint_eq(log.v[tick].t_ns, 15625000);
  tlog_free(&log);
  /* a limit reached at a tick ends the run there */
  pick_test_t p2 = {0};
  pick_work_t w2 = {0};
  ck_assert_int_eq(pick_run(&p2, &w2, 1, 12000000, NULL), SIM_RUN_LIMIT);
  ck_assert_int_eq(w2.fired, 0);
  /* a placement answered with SIM_CHOICE_STOP stops the run */
  pick_test_t p3 = {.stop_at_placement = true};
  pick_work_t w3 = {0};
  ck_assert_int_eq(pick_run(&p3, &w3, 2, 0, NULL), SIM_RUN_STOPPED);
  ck_assert_int_gt(p3.placements, 0);
}
END_TEST

/* ---- the event queue and the address map, directly ---- */

/* Items come out by (time, kind, queue order); one taken out of the middle
   leaves the heap ordered, the last item moving up into its place when it
   comes before the hole's parent. */
START_TEST(event_queue_keeps_its_order) {
  sim_t *S = tsim_new(1, NULL);
  static const uint64_t times[] = {1, 50, 2, 60, 70, 3, 4};
  uint64_t seq60 = 0;
  for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
    if (times[i] == 60) seq60 = S->evseq;
    evq_push(S, (evq_item_t){.t = times[i], .kind = EV_TIMER});
  }
  /* the heap is [1, 50, 2, 60, 70, 3, 4]: taking 60 out moves 4 up past 50 */
  evq_item_t it;
  ck_assert(evq_remove(&S->evq, seq60, &it));
  ck_assert_uint_eq(it.t, 60);
  ck_assert_uint_eq(S->evq.a[1].t, 4);
  evq_push(S, (evq_item_t){.t = 2, .kind = EV_INTERRUPT}); /* same time: the interrupt first */
  ck_assert(!evq_remove(&S->evq, 9999, &it));
  ck_assert(!evq_remove_obj(&S->evq, EV_KTIMER, S));
  static const struct { uint64_t t; uint32_t kind; } want[] = {
      {1, EV_TIMER}, {2, EV_INTERRUPT}, {2, EV_TIMER}, {3, EV_TIMER}, {4, EV_TIMER}, {50, EV_TIMER}, {70, EV_TIMER},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    ck_assert(evq_pop(&S->evq, &it));
    ck_assert_uint_eq(it.t, want[i].t);
    ck_assert_uint_eq(it.kind, want[i].kind);
  }
  ck_assert(!evq_pop(&S->evq, &it));
  ck_assert_ptr_null(evq_peek(&S->evq));
  sim_destroy(S);
}
END_TEST

/* Deleting leaves tombstones that later insertions reuse; a missing key
   is not found, in an empty map or a full one. */
START_TEST(address_map_reuses_deleted_slots) {
  sim_t *S = tsim_new(1, NULL);
  ptrmap_t m = {0};
  char keys[64];
  uintptr_t v;
  ck_assert(!ptrmap_get(&m, keys, &v));
  ck_assert(!ptrmap_del(&m, keys));
  for (int i = 0; i < 64; i++) ptrmap_put(S, &m, &keys[i], (uintptr_t)i + 1);
  for (int i = 0; i < 64; i += 2) ck_assert(ptrmap_del(&m, &keys[i]));
  ck_assert(!ptrmap_del(&m, &keys[0]));
  for (int i = 0; i < 64; i += 2) ck_assert(!ptrmap_get(&m, &keys[i], &v));
  for (int i = 0; i < 64; i += 2) ptrmap_put(S, &m, &keys[i], 100 + (uintptr_t)i);
  for (int i = 0; i < 64; i++) {
    ck_assert(ptrmap_get(&m, &keys[i], &v));
    ck_assert_uint_eq(v, i % 2 ? (uintptr_t)i + 1 : 100 + (uintptr_t)i);
  }
  ck_assert(!ptrmap_get(&m, S, &v));
  ptrmap_free(S, &m);
  sim_destroy(S);
}
END_TEST

/* ---- what a stalled machine's threads wait for ---- */

typedef struct stall_test {
  KEVENT named, unnamed, never;
  PKTHREAD worker;
  uint32_t all_id, any_id, worker_id;
} stall_test_t;

static void stall_worker(PVOID arg) {
  stall_test_t *t = arg;
  KeWaitForSingleObject(&t->never, Executive, KernelMode, FALSE, NULL);
}

static void stall_all(PVOID arg) {
  stall_test_t *t = arg;
  PVOID objs[3] = {&t->named, t->worker, &t->unnamed};
  KeWaitForMultipleObjects(3, objs, WaitAll, Executive, KernelMode, FALSE, NULL, NULL);
}

static void stall_any(PVOID arg) {
  stall_test_t *t = arg;
  PVOID objs[2] = {&t->named, &t->never};
  KeWaitForMultipleObjects(2, objs, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
}

START_TEST(a_stalled_machine_says_what_its_threads_wait_for) {
  stall_test_t t = {0};
  sim_t *S = tsim_new(1, NULL);
  KeInitializeEvent(&t.named, NotificationEvent, FALSE);
  t.named.Header.Name = "h";
  KeInitializeEvent(&t.unnamed, NotificationEvent, FALSE);
  KeInitializeEvent(&t.never, NotificationEvent, FALSE);
  t.never.Header.Name = "never";
  t.worker = sim_thread_create(S, "worker", stall_worker, &t);
  PKTHREAD all = sim_thread_create(S, "all", stall_all, &t);
  PKTHREAD any = sim_thread_create(S, "any", stall_any, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_STALLED);
  char buf[128];
  ck_assert_int_eq(sim_thread_wait_names(S, sim_thread_id(all), buf, sizeof buf), 3);
  ck_assert_msg(!strncmp(buf, "h, thread worker and object#", 28), "%s", buf);
  ck_assert_int_eq(sim_thread_wait_names(S, sim_thread_id(any), buf, sizeof buf), 2);
  ck_assert_str_eq(buf, "h or never");
  ck_assert_int_eq(sim_thread_wait_names(S, sim_thread_id(any), buf, 4), 2);
  ck_assert_str_eq(buf, "h o"); /* cut to the room given */
  ck_assert_int_eq(sim_thread_wait_names(S, 999, buf, sizeof buf), 0);
  ck_assert_str_eq(buf, "");
  ck_assert_str_eq(sim_thread_state(S, sim_thread_id(any)), "waiting");
  ck_assert_str_eq(sim_thread_state(S, 999), "");
  sim_destroy(S);
}
END_TEST

/* ---- the end-of-run unload, untraced ---- */

typedef struct left_test {
  KTIMER timer;
  KDPC dpc;
  int dpcs, unloads;
} left_test_t;

static void left_dpc(PKDPC d, PVOID ctx, PVOID a1, PVOID a2) {
  (void)d, (void)a1, (void)a2;
  ((left_test_t *)ctx)->dpcs++;
}

static void left_unload(PDRIVER_OBJECT d) { ((left_test_t *)sim_driver_context(d))->unloads++; }

/* Leaves a timer set (an hour away) and a symbolic link to no device. */
static NTSTATUS left_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  left_test_t *t = sim_driver_context(d);
  d->DriverUnload = left_unload;
  KeInitializeTimer(&t->timer);
  KeInitializeDpc(&t->dpc, left_dpc, t);
  LARGE_INTEGER due = {.QuadPart = -36000000000ll};
  KeSetTimer(&t->timer, due, &t->dpc);
  UNICODE_STRING link, target;
  RtlInitUnicodeString(&link, u"\\DosDevices\\Left");
  RtlInitUnicodeString(&target, u"\\Device\\gone");
  return IoCreateSymbolicLink(&link, &target);
}

static void left_loader(PVOID arg) { sim_load_driver(ctx_sim(), "left", left_entry, arg); }

START_TEST(leftovers_at_unload_traced_and_untraced) {
  for (int traced = 0; traced < 2; traced++) {
    left_test_t t = {0};
    tlog_t log = {0};
    sim_t *S = tsim_new(1, traced ? &log : NULL);
    sim_thread_create(S, "loader", left_loader, &t);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_int_eq(t.unloads, 1);
    ck_assert_int_eq(t.dpcs, 0); /* cancelled at the unload, traced or not */
    ck_assert_uint_lt(sim_now(S), 1000000000ull);
    if (traced) {
      ck_assert_int_ge(tlog_find_x(&log, TRC_UNLOAD_LEFTOVER, 0, "a timer is still set, with a DPC", 0), 0);
      int l = tlog_find_x(&log, TRC_UNLOAD_LEFTOVER, 0, "symbolic link \\DosDevices\\Left -> \\Device\\gone left", 0);
      ck_assert_int_ge(l, 0);
      ck_assert_uint_eq(log.v[l].device, 0); /* no such device */
    }
    sim_destroy(S);
    tlog_free(&log);
  }
}
END_TEST

/* ---- coroutine stacks and the engine's memory, directly ---- */

typedef struct stk_test {
  size_t left_in_thread;
  sim_t *seen;
} stk_test_t;

static void stk_thread(PVOID arg) {
  stk_test_t *t = arg;
  if (t) {
    t->left_in_thread = ctx_stack_left(ctx_sim()->cur_ctx);
    t->seen = ctx_sim_if_any();
  }
}

/* A stack cache keeps up to 64 stacks: a machine with more threads gives
   back 64 and unmaps the rest; the next machine takes from the cache.
   Outside a simulated CPU there is no machine and no stack to measure. */
START_TEST(stack_cache_and_stack_room) {
  sim_stack_cache_free(NULL); /* safe */
  sim_stack_cache_t *k = sim_stack_cache_new();
  for (int round = 0; round < 2; round++) {
    sim_config_t cfg = {.cpus = 1, .seed = 1, .stacks = k};
    sim_t *S = sim_create(&cfg);
    stk_test_t t = {0};
    sim_thread_create(S, "measured", stk_thread, &t);
    for (int i = 0; i < 70; i++) sim_thread_create(S, "t", stk_thread, NULL);
    ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
    ck_assert_ptr_eq(t.seen, S);
    ck_assert_uint_gt(t.left_in_thread, 16 * 1024);
    ck_assert_uint_lt(t.left_in_thread, CTX_STACK_SIZE);
    ck_assert_ptr_null(ctx_sim_if_any()); /* the host's stack */
    ck_assert_uint_eq(ctx_stack_left(NULL), SIZE_MAX);
    ck_assert_uint_eq(ctx_stack_left(&S->cpu[0].idle_ctx), SIZE_MAX); /* not the stack we are on */
    ck_assert_ptr_null(mem_alloc(S, 0)); /* nothing asked, nothing given */
    sim_destroy(S);
  }
  sim_stack_cache_free(k);
}
END_TEST

/* ---- completion ports: refusals ---- */

typedef struct port_test {
  sim_t *S;
  NTSTATUS bind_sync, bind_ok, modes_bad, modes_ok;
  ULONG running;
  const char *fname;
} port_test_t;

static void port_thread(PVOID arg) {
  port_test_t *t = arg;
  sim_load_driver(t->S, "now", tnow_entry, (PVOID) "now0");
  PDEVICE_OBJECT dev = sim_find_device(t->S, "now0");
  sim_port_t *port = NtCreateIoCompletion(0, NULL); /* unnamed: "port" */
  PFILE_OBJECT sync, ovl;
  NtCreateFile(&sync, dev, FILE_SYNCHRONOUS_IO_NONALERT, "sync");
  NtCreateFile(&ovl, dev, 0, NULL); /* no name: the device's */
  t->fname = ovl->SimName;
  /* only an overlapped handle can be bound to a port */
  t->bind_sync = NtSetCompletionPort(sync, port, 1);
  t->bind_ok = NtSetCompletionPort(ovl, port, 2);
  t->modes_bad = NtSetCompletionNotificationModes(ovl, 0x80);
  t->modes_ok = NtSetCompletionNotificationModes(ovl, FILE_SKIP_SET_EVENT_ON_HANDLE);
  t->running = sim_port_running(port);
  NtClose(sync);
  NtClose(ovl);
  sim_port_close(port);
}

START_TEST(ports_refuse_synchronous_files_and_unknown_modes) {
  port_test_t t = {0};
  t.S = tsim_new(1, NULL);
  sim_thread_create(t.S, "app", port_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_int_eq(t.bind_sync, STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(t.bind_ok, STATUS_SUCCESS);
  ck_assert_int_eq(t.modes_bad, STATUS_INVALID_PARAMETER);
  ck_assert_int_eq(t.modes_ok, STATUS_SUCCESS);
  ck_assert_uint_eq(t.running, 0);
  ck_assert_str_eq(t.fname, "now0");
  ck_assert_str_eq(sim_port_name(t.S, 1), "port"); /* the machine's first port */
  sim_destroy(t.S);
}
END_TEST

/* ---- a system thread ended from inside an APC ---- */

typedef struct apc_end {
  KAPC apc;
  KEVENT go;
  PKTHREAD sys;
  int after;
} apc_end_t;

static void end_kernel(PKAPC a, PVOID *n, PVOID *c, PVOID *a1, PVOID *a2) { (void)a, (void)n, (void)c, (void)a1, (void)a2; }
static void end_normal(PVOID ctx, PVOID a1, PVOID a2) {
  (void)a1, (void)a2;
  PsTerminateSystemThread(STATUS_SUCCESS); /* not the thread's own code: a stop */
  ((apc_end_t *)ctx)->after++;
}

static void end_sys_main(PVOID arg) {
  apc_end_t *t = arg;
  KeWaitForSingleObject(&t->go, Executive, KernelMode, FALSE, NULL);
}

static void end_starter(PVOID arg) {
  apc_end_t *t = arg;
  HANDLE h;
  PsCreateSystemThread(&h, 0, NULL, NULL, NULL, end_sys_main, t);
  ObReferenceObjectByHandle(h, 0, *PsThreadType, KernelMode, (PVOID *)&t->sys, NULL);
  LARGE_INTEGER later = {.QuadPart = -100}; /* it is waiting now */
  KeDelayExecutionThread(KernelMode, FALSE, &later);
  KeInitializeApc(&t->apc, t->sys, end_kernel, NULL, end_normal, KernelMode, t);
  KeInsertQueueApc(&t->apc, NULL, NULL, 0);
}

START_TEST(system_thread_ended_from_an_apc_stops) {
  apc_end_t t = {0};
  KeInitializeEvent(&t.go, NotificationEvent, FALSE);
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "starter", end_starter, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, DRIVER_VERIFIER_DETECTED_VIOLATION);
  ck_assert_uint_eq(b->p[0], 0xE5);
  ck_assert_uint_eq(b->p[1], PASSIVE_LEVEL); /* a normal APC runs at PASSIVE_LEVEL */
  ck_assert_int_eq(t.after, 0);
  sim_destroy(S);
}
END_TEST

/* ---- buffers the I/O manager sets up ---- */

typedef struct rec_seen {
  bool sysbuf, mdl, input_op;
  PVOID user;
  char first; /* the SystemBuffer's first byte */
} rec_seen_t;

typedef struct rec_test {
  sim_t *S;
  rec_seen_t seen[16];
  int n;
} rec_test_t;

static NTSTATUS rec_dispatch(PDEVICE_OBJECT d, PIRP irp) {
  rec_test_t *t = sim_driver_context(d->DriverObject);
  UCHAR major = IoGetCurrentIrpStackLocation(irp)->MajorFunction;
  if ((major == IRP_MJ_READ || major == IRP_MJ_DEVICE_CONTROL) && t->n < 16) {
    rec_seen_t *r = &t->seen[t->n++];
    r->sysbuf = irp->AssociatedIrp.SystemBuffer != NULL;
    r->mdl = irp->MdlAddress != NULL;
    r->input_op = (irp->Flags & IRP_INPUT_OPERATION) != 0;
    r->user = irp->UserBuffer;
    r->first = r->sysbuf ? *(char *)irp->AssociatedIrp.SystemBuffer : 0;
  }
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS rec_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) d->MajorFunction[m] = rec_dispatch;
  static const char *const names[] = {"recb", "recd", "recn"};
  static const ULONG flags[] = {DO_BUFFERED_IO, DO_DIRECT_IO, 0};
  for (int i = 0; i < 3; i++) {
    PDEVICE_OBJECT dev;
    sim_create_device(d, 0, names[i], &dev);
    dev->Flags |= flags[i];
  }
  return STATUS_SUCCESS;
}

#ifndef FILE_ANY_ACCESS
#define FILE_ANY_ACCESS 0
#endif
#define REC_CTL(method) CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, method, FILE_ANY_ACCESS)

static char rec_in[4] = "in!", rec_out[8];

static const struct rec_case {
  const char *dev;
  bool ioctl;
  ULONG code;
  PVOID in;
  ULONG in_len;
  PVOID out;
  ULONG out_len;
  rec_seen_t want;
} rec_cases[] = {
    /* METHOD_BUFFERED: one system buffer for both, the input copied in */
    {"recn", true, REC_CTL(METHOD_BUFFERED), rec_in, 4, NULL, 8, {true, false, false, NULL, 'i'}},
    {"recn", true, REC_CTL(METHOD_BUFFERED), NULL, 4, NULL, 8, {false, false, false, NULL, 0}},
    {"recn", true, REC_CTL(METHOD_BUFFERED), rec_in, 0, rec_out, 8, {true, false, true, rec_out, 0}},
    /* the direct methods: the input buffered, the output locked */
    {"recn", true, REC_CTL(METHOD_IN_DIRECT), NULL, 4, rec_out, 0, {false, false, false, NULL, 0}},
    {"recn", true, REC_CTL(METHOD_OUT_DIRECT), rec_in, 4, rec_out, 8, {true, true, false, NULL, 'i'}},
    /* reads: a length with no buffer is iosim's length-only request */
    {"recb", false, 0, NULL, 0, NULL, 8, {false, false, true, NULL, 0}},
    {"recb", false, 0, NULL, 0, rec_out, 0, {false, false, true, NULL, 0}},
    {"recd", false, 0, NULL, 0, NULL, 8, {false, false, false, NULL, 0}},
    {"recd", false, 0, NULL, 0, rec_out, 8, {false, true, false, NULL, 0}},
};

static void rec_thread(PVOID arg) {
  rec_test_t *t = arg;
  sim_load_driver(t->S, "rec", rec_entry, t);
  static const LONGLONG zero = 0;
  for (size_t i = 0; i < sizeof rec_cases / sizeof rec_cases[0]; i++) {
    const struct rec_case *c = &rec_cases[i];
    PFILE_OBJECT f;
    NtCreateFile(&f, sim_find_device(t->S, c->dev), FILE_SYNCHRONOUS_IO_NONALERT, "f");
    IO_STATUS_BLOCK iosb;
    if (c->ioctl) NtDeviceIoControlFile(f, NULL, NULL, NULL, &iosb, c->code, c->in, c->in_len, c->out, c->out_len);
    else NtReadFile(f, NULL, NULL, NULL, &iosb, c->out, c->out_len, &zero);
    NtClose(f);
  }
}

START_TEST(the_io_manager_sets_up_buffers_by_method_and_flags) {
  rec_test_t t = {0};
  t.S = tsim_new(1, NULL);
  sim_thread_create(t.S, "app", rec_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  ck_assert_int_eq(t.n, (int)(sizeof rec_cases / sizeof rec_cases[0]));
  for (size_t i = 0; i < sizeof rec_cases / sizeof rec_cases[0]; i++) {
    const rec_seen_t *w = &rec_cases[i].want, *g = &t.seen[i];
    ck_assert_msg(g->sysbuf == w->sysbuf && g->mdl == w->mdl && g->input_op == w->input_op && g->user == w->user &&
                      g->first == w->first,
                  "case %zu: sysbuf %d mdl %d input %d user %p first %d", i, g->sysbuf, g->mdl, g->input_op, g->user,
                  g->first);
  }
  sim_destroy(t.S);
}
END_TEST

/* ---- a completion routine that frees its IRP and lets the walk go on ---- */

static NTSTATUS free_and_continue(PDEVICE_OBJECT d, PIRP irp, PVOID ctx) {
  (void)d, (void)ctx;
  IoFreeIrp(irp);
  return STATUS_SUCCESS; /* should be STATUS_MORE_PROCESSING_REQUIRED */
}

static void irp_freed_in_walk(cov_objs_t *o) {
  sim_load_driver(ctx_sim(), "now", tnow_entry, (PVOID) "now0");
  PDEVICE_OBJECT dev = sim_find_device(ctx_sim(), "now0");
  PIRP irp = IoAllocateIrp(dev->StackSize, FALSE);
  o->block = (PVOID)(ULONG_PTR)irp->SimId;
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_FLUSH_BUFFERS;
  IoSetCompletionRoutine(irp, free_and_continue, NULL, TRUE, TRUE, TRUE);
  IoCallDriver(dev, irp);
}

static const cov_stop_t walk_stops[] = {
    /* parameter 2 the IRP, 3 what the routine returned */
    {"freed, then STATUS_SUCCESS", irp_freed_in_walk, H_NONE, DRIVER_VERIFIER_IOMANAGER_VIOLATION,
     {V(0x20A), O(P_BLOCK), V(STATUS_SUCCESS)}},
};

START_TEST(completion_walk_stops) { cov_run_stops(walk_stops, sizeof walk_stops / sizeof walk_stops[0]); }
END_TEST

/* ---- the fast I/O path's answers ---- */

typedef struct fio_test {
  sim_t *S;
  int mode; /* what the fast read answers next */
  NTSTATUS st[6];
  IO_STATUS_BLOCK iosb[6];
  int irps;
} fio_test_t;

static BOOLEAN fio_read(PFILE_OBJECT f, const LONGLONG *off, ULONG len, BOOLEAN wait, ULONG key, PVOID buf,
                        PIO_STATUS_BLOCK iosb, PDEVICE_OBJECT dev) {
  (void)f, (void)off, (void)wait, (void)key, (void)buf;
  fio_test_t *t = sim_driver_context(dev->DriverObject);
  static const NTSTATUS answers[] = {STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW, STATUS_END_OF_FILE,
                                     STATUS_INVALID_PARAMETER};
  if (t->mode == 4) return FALSE; /* not handled */
  iosb->Status = answers[t->mode];
  iosb->Information = t->mode == 2 ? 0 : len;
  return TRUE;
}

static FAST_IO_DISPATCH fio_dispatch = {.FastIoRead = fio_read}; /* no FastIoWrite */

static NTSTATUS fio_irp(PDEVICE_OBJECT d, PIRP irp) {
  fio_test_t *t = sim_driver_context(d->DriverObject);
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  if (sp->MajorFunction == IRP_MJ_CREATE) CcInitializeCacheMap(sp->FileObject);
  if (sp->MajorFunction == IRP_MJ_READ || sp->MajorFunction == IRP_MJ_WRITE) t->irps++;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static NTSTATUS fio_entry(PDRIVER_OBJECT d, PUNICODE_STRING reg) {
  (void)reg;
  for (int m = 0; m <= IRP_MJ_MAXIMUM_FUNCTION; m++) d->MajorFunction[m] = fio_irp;
  d->FastIoDispatch = &fio_dispatch;
  PDEVICE_OBJECT dev;
  return sim_create_device(d, 0, "fio0", &dev);
}

static void fio_thread(PVOID arg) {
  fio_test_t *t = arg;
  sim_load_driver(t->S, "fio", fio_entry, t);
  PFILE_OBJECT f;
  NtCreateFile(&f, sim_find_device(t->S, "fio0"), FILE_SYNCHRONOUS_IO_NONALERT, "f");
  char buf[8];
  static const LONGLONG zero = 0;
  for (t->mode = 0; t->mode < 5; t->mode++)
    t->st[t->mode] = NtReadFile(f, NULL, NULL, NULL, &t->iosb[t->mode], buf, sizeof buf, &zero);
  t->st[5] = NtWriteFile(f, NULL, NULL, NULL, &t->iosb[5], buf, sizeof buf, &zero); /* no fast write */
  NtClose(f);
}

START_TEST(fast_io_serves_what_it_handles_and_declines_the_rest) {
  fio_test_t t = {0};
  tlog_t log = {0};
  t.S = tsim_new(1, &log);
  sim_thread_create(t.S, "app", fio_thread, &t);
  ck_assert_int_eq(sim_run(t.S), SIM_RUN_OK);
  /* success, a buffer overflow and end of file are served with no IRP */
  ck_assert_int_eq(t.st[0], STATUS_SUCCESS);
  ck_assert_int_eq(t.st[1], STATUS_BUFFER_OVERFLOW);
  ck_assert_uint_eq(t.iosb[1].Information, 8);
  ck_assert_int_eq(t.st[2], STATUS_END_OF_FILE);
  /* an error, or not handled: declined, the IRP way */
  ck_assert_int_eq(t.st[3], STATUS_SUCCESS);
  ck_assert_int_eq(t.st[4], STATUS_SUCCESS);
  ck_assert_int_eq(t.st[5], STATUS_SUCCESS);
  ck_assert_int_eq(t.irps, 3);
  ck_assert_int_eq(tlog_count(&log, TRC_FASTIO_SERVED), 3);
  ck_assert_int_eq(tlog_count(&log, TRC_FASTIO_DECLINED), 2);
  sim_destroy(t.S);
  tlog_free(&log);
}
END_TEST

/* ---- the source line a step is charged to ---- */

typedef struct line_test {
  KDPC dpc;
  int first, second, in_dpc, dpc_prev, after_dpc;
} line_test_t;

static void line_dpc(PKDPC d, PVOID ctx, PVOID a1, PVOID a2) {
  (void)d, (void)a1, (void)a2;
  line_test_t *t = ctx;
  t->in_dpc = sim_set_source_line(70); /* the DPC's frame has a line of its own */
  t->dpc_prev = sim_set_source_line(71);
}

static void line_thread(PVOID arg) {
  line_test_t *t = arg;
  t->first = sim_set_source_line(10);
  t->second = sim_set_source_line(11);
  KeInitializeDpc(&t->dpc, line_dpc, t);
  KeInsertQueueDpc(&t->dpc, NULL, NULL);
  t->after_dpc = sim_set_source_line(12); /* the thread's line survived the DPC */
}

START_TEST(source_lines_per_frame) {
  line_test_t t = {0};
  sim_t *S = tsim_new(1, NULL);
  sim_thread_create(S, "t", line_thread, &t);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(t.first, 0);
  ck_assert_int_eq(t.second, 10);
  ck_assert_int_eq(t.in_dpc, 0);
  ck_assert_int_eq(t.dpc_prev, 70);
  ck_assert_int_eq(t.after_dpc, 11);
  sim_destroy(S);
}
END_TEST

/* ---- a SIGSEGV that is no stack overflow is not iosim's ---- */

/* The child process's record of the fault it was handed (a process-wide
   signal handler can only reach a static; the child exits right after). */
static volatile sig_atomic_t segv_forwarded;

static void segv_mine(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si, (void)uc;
  segv_forwarded = 1;
}

static void segv_nothing(PVOID arg) { (void)arg; }

/* In a fresh process: a handler of the program's own, then a machine runs
   (iosim installs its backstop, keeping that handler as the previous
   disposition), then a SIGSEGV that is not on a coroutine stack: iosim
   hands it to the program's handler and returns.  Exit 0 when it did, 1
   when it did not, 3 when iosim's handler was installed already (the
   suite runs without fork: this process is not fresh). */
START_TEST(a_fault_that_is_not_a_stack_overflow_is_handed_on) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct sigaction cur, mine;
    sigaction(SIGSEGV, NULL, &cur);
    if (cur.sa_flags & SA_ONSTACK) _exit(3);
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = segv_mine;
    mine.sa_flags = SA_SIGINFO;
    sigemptyset(&mine.sa_mask);
    sigaction(SIGSEGV, &mine, NULL);
    sim_t *S = tsim_new(1, NULL);
    sim_thread_create(S, "t", segv_nothing, NULL);
    sim_run(S);
    sim_destroy(S);
    raise(SIGSEGV);
    exit(segv_forwarded ? 0 : 1); /* exit, not _exit: the coverage counters are written */
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status), "the child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WEXITSTATUS(status) == 3) return; /* not a fresh process: nothing to check */
  ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* @@NEXT@@ */

TEST_SUITE(engine_cover_suite)
static Suite *engine_cover_suite(void) {
  Suite *s = suite_create("engine_cover");
  TCase *tc = tcase_create("engine_cover");
  tcase_add_test(tc, fast_mutex_misuse_is_a_verifier_stop);
  tcase_add_test(tc, fast_mutex_waits_tries_and_unsafe_forms);
  tcase_add_test(tc, spin_lock_misuse_is_a_verifier_stop);
  tcase_add_test(tc, raise_to_dpc_test_and_deep_nesting);
  tcase_add_test(tc, pool_variants_stop_as_windows_does);
  tcase_add_test(tc, pool_variants_that_return);
  tcase_add_test(tc, no_pool_no_report);
  tcase_add_test(tc, reference_misuse_stops);
  tcase_add_test(tc, handles_and_references_as_windows_counts_them);
  tcase_add_test(tc, dbgprint_formats_as_the_kernel_does);
  tcase_add_test(tc, dbgprint_pieces_make_lines);
  tcase_add_test(tc, dbgprint_from_a_dpc_and_untraced);
  tcase_add_test(tc, dbgbreakpoint_with_and_without_a_debugger);
  tcase_add_test(tc, unicode_strings_convert_both_ways);
  tcase_add_test(tc, names_both_ways);
  tcase_add_test(tc, costs_sinks_and_runs);
  tcase_add_test(tc, size_overflow_is_out_of_memory);
  tcase_add_test(tc, devices_names_attach_and_unload);
  tcase_add_test(tc, io_misuse_stops);
  tcase_add_test(tc, irps_and_mdls_a_driver_builds);
  tcase_add_test(tc, irp_misuse_stops);
  tcase_add_test(tc, locks_fast_reads_and_system_threads);
  tcase_add_test(tc, bad_machines_are_refused);
  tcase_add_test(tc, work_items_and_symbolic_links);
  tcase_add_test(tc, work_item_and_remove_lock_stops);
  tcase_add_test(tc, cancel_many_requests_at_once);
  tcase_add_test(tc, startio_deferred_by_key_and_cancelled_before_queueing);
  tcase_add_test(tc, startio_stops);
  tcase_add_test(tc, csq_ex_refuses_and_takes_back_a_cancelled_irp);
  tcase_add_test(tc, chooser_sees_kernel_timers_and_the_clock_ticks_first);
  tcase_add_test(tc, event_queue_keeps_its_order);
  tcase_add_test(tc, address_map_reuses_deleted_slots);
  tcase_add_test(tc, a_stalled_machine_says_what_its_threads_wait_for);
  tcase_add_test(tc, leftovers_at_unload_traced_and_untraced);
  tcase_add_test(tc, stack_cache_and_stack_room);
  tcase_add_test(tc, ports_refuse_synchronous_files_and_unknown_modes);
  tcase_add_test(tc, system_thread_ended_from_an_apc_stops);
  tcase_add_test(tc, the_io_manager_sets_up_buffers_by_method_and_flags);
  tcase_add_test(tc, completion_walk_stops);
  tcase_add_test(tc, fast_io_serves_what_it_handles_and_declines_the_rest);
  tcase_add_test(tc, source_lines_per_frame);
  tcase_add_test(tc, a_fault_that_is_not_a_stack_overflow_is_handed_on);
  /* @@TESTS@@ */
  suite_add_tcase(s, tc);
  return s;
}
