/*
 * test_pool.c - pool with per-tag accounting (kernel-facts 13.8): what is
 * still allocated at the end of a run is reported per tag; uninitialised
 * pool reads the same in every run and ExAllocatePool2 zeroes; freeing
 * twice, with the wrong tag, an address that is no block, zero-byte and
 * zero-tag requests and paged pool at DISPATCH_LEVEL stop the machine with
 * BAD_POOL_CALLER and its documented parameters; freeing pool that holds a
 * set timer is Driver Verifier's 0xC4/0x15.
 */
#include "drivers.h"
#include "testlib.h"

#include <stdlib.h>

/* A tag from its four characters, in memory order (what 'gaTm' gives). */
#define TAG4(a, b, c, d) ((ULONG)(a) | (ULONG)(b) << 8 | (ULONG)(c) << 16 | (ULONG)(d) << 24)
#define TAG_A TAG4('L', 'k', 'A', 'a')
#define TAG_B TAG4('L', 'k', 'B', 'b')
#define TAG_C TAG4('L', 'k', 'C', 'c')

typedef enum { P_LEAKS, P_DOUBLE, P_WRONG_TAG, P_WILD, P_ZERO, P_NO_TAG, P_PAGED_DISPATCH, P_TIMER } pool_case_t;

typedef struct pool_test {
  pool_case_t what;
  PVOID freed;
  KTIMER *timer;
  bool fill_ok, zero_ok;
} pool_test_t;

static bool all(const unsigned char *p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return false;
  return true;
}

static void pool_user(PVOID arg) {
  pool_test_t *t = arg;
  KIRQL old;
  switch (t->what) {
  case P_LEAKS: {
    PVOID a1 = ExAllocatePoolWithTag(NonPagedPoolNx, 10, TAG_A);
    PVOID a2 = ExAllocatePoolWithTag(NonPagedPoolNx, 20, TAG_A);
    PVOID a3 = ExAllocatePoolWithTag(PagedPool, 30, TAG_A);
    ExFreePoolWithTag(a2, TAG_A);
    PVOID b = ExAllocatePoolZero(NonPagedPoolNx, 100, TAG_B);
    ExFreePool(b); /* no tag: not checked */
    unsigned char *c = ExAllocatePool2(POOL_FLAG_NON_PAGED, 7, TAG_C);
    t->zero_ok = all(c, 7, 0);
    t->fill_ok = all(a1, 10, 0xCD) && all(a3, 30, 0xCD);
    break;
  }
  case P_DOUBLE:
    t->freed = ExAllocatePoolWithTag(NonPagedPoolNx, 16, TAG_A);
    ExFreePoolWithTag(t->freed, TAG_A);
    ExFreePoolWithTag(t->freed, TAG_A);
    break;
  case P_WRONG_TAG:
    t->freed = ExAllocatePoolWithTag(NonPagedPoolNx, 16, TAG_A);
    ExFreePoolWithTag(t->freed, TAG_B);
    break;
  case P_WILD: {
    char *p = ExAllocatePoolWithTag(NonPagedPoolNx, 16, TAG_A);
    t->freed = p + 8;
    ExFreePool(t->freed);
    break;
  }
  case P_ZERO: ExAllocatePoolWithTag(NonPagedPoolNx, 0, TAG_A); break;
  case P_NO_TAG: ExAllocatePoolWithTag(NonPagedPoolNx, 8, 0); break;
  case P_PAGED_DISPATCH:
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAllocatePoolWithTag(PagedPool, 8, TAG_A);
    break;
  case P_TIMER: {
    t->timer = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(KTIMER), TAG_A);
    KeInitializeTimer(t->timer);
    LARGE_INTEGER due = {.QuadPart = -10000};
    KeSetTimer(t->timer, due, NULL);
    ExFreePoolWithTag(t->timer, TAG_A);
    break;
  }
  }
}

static sim_t *pool_run(pool_test_t *t, tlog_t *log, sim_outcome_t want) {
  sim_t *S = tsim_new(1, log);
  sim_thread_create(S, "driver", pool_user, t);
  ck_assert_int_eq(sim_run(S), want);
  return S;
}

/* Two tags still hold memory at the end: Lk A (2 of 3 blocks, 40 bytes)
   and Lk C (7 bytes); Lk B was given back. */
START_TEST(leaks_are_reported_per_tag) {
  pool_test_t t = {.what = P_LEAKS};
  tlog_t log = {0};
  sim_t *S = pool_run(&t, &log, SIM_RUN_OK);
  ck_assert(t.fill_ok);
  ck_assert(t.zero_ok);
  sim_pool_tag_t tags[4];
  ck_assert_uint_eq(sim_pool_outstanding(S, tags, 4), 2);
  ck_assert_uint_eq(tags[0].tag, TAG_A);
  ck_assert_str_eq(tags[0].name, "LkAa");
  ck_assert_uint_eq(tags[0].blocks_outstanding, 2);
  ck_assert_uint_eq(tags[0].bytes_outstanding, 40);
  ck_assert_uint_eq(tags[0].allocations, 3);
  ck_assert_uint_eq(tags[0].frees, 1);
  ck_assert_str_eq(tags[1].name, "LkCc");
  ck_assert_uint_eq(tags[1].bytes_outstanding, 7);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_uint_eq(sim_pool_report(S, f), 2);
  fclose(f);
  ck_assert_ptr_nonnull(strstr(text, "LkAa"));
  ck_assert_ptr_nonnull(strstr(text, "LkCc"));
  ck_assert_ptr_null(strstr(text, "LkBb"));
  free(text);
  ck_assert_int_eq(tlog_count(&log, TRC_POOL_ALLOC), 5);
  ck_assert_int_eq(tlog_count(&log, TRC_POOL_FREE), 2);
  int a = tlog_find(&log, TRC_POOL_ALLOC, 0);
  ck_assert_int_eq(log.v[a].count, 10);
  sim_destroy(S); /* frees what leaked */
  tlog_free(&log);
}
END_TEST

START_TEST(pool_misuse_is_bad_pool_caller) {
  static const struct { pool_case_t what; ULONG_PTR p1; } cases[] = {
      {P_DOUBLE, 0x07}, {P_WRONG_TAG, 0x0A}, {P_WILD, 0x46}, {P_ZERO, 0x00}, {P_NO_TAG, 0x9B}, {P_PAGED_DISPATCH, 0x08},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pool_test_t t = {.what = cases[i].what};
    sim_t *S = pool_run(&t, NULL, SIM_RUN_BUGCHECK);
    const sim_bugcheck_t *b = sim_bugcheck(S);
    ck_assert_uint_eq(b->code, BAD_POOL_CALLER);
    ck_assert_uint_eq(b->p[0], cases[i].p1);
    switch (cases[i].what) {
    case P_DOUBLE: /* parameter 3 the block's header (its tag here), 4 its address */
      ck_assert_uint_eq(b->p[2], TAG_A);
      ck_assert_uint_eq(b->p[3], (ULONG_PTR)t.freed);
      break;
    case P_WRONG_TAG: /* the address, the allocator's tag, the tag used */
      ck_assert_uint_eq(b->p[1], (ULONG_PTR)t.freed);
      ck_assert_uint_eq(b->p[2], TAG_A);
      ck_assert_uint_eq(b->p[3], TAG_B);
      break;
    case P_WILD: ck_assert_uint_eq(b->p[1], (ULONG_PTR)t.freed); break;
    case P_PAGED_DISPATCH: ck_assert_uint_eq(b->p[1], DISPATCH_LEVEL); break;
    default: break;
    }
    sim_destroy(S);
  }
}
END_TEST

/* Driver Verifier: pool freed with a timer in it that is still set. */
START_TEST(freeing_a_set_timer_is_a_verifier_stop) {
  pool_test_t t = {.what = P_TIMER};
  sim_t *S = pool_run(&t, NULL, SIM_RUN_BUGCHECK);
  const sim_bugcheck_t *b = sim_bugcheck(S);
  ck_assert_uint_eq(b->code, DRIVER_VERIFIER_DETECTED_VIOLATION);
  ck_assert_uint_eq(b->p[0], 0x15);
  ck_assert_uint_eq(b->p[1], (ULONG_PTR)t.timer);
  sim_destroy(S);
}
END_TEST

TEST_SUITE(pool_suite)
static Suite *pool_suite(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("pool");
  tcase_add_test(tc, leaks_are_reported_per_tag);
  tcase_add_test(tc, pool_misuse_is_bad_pool_caller);
  tcase_add_test(tc, freeing_a_set_timer_is_a_verifier_stop);
  suite_add_tcase(s, tc);
  return s;
}
