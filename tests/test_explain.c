/*
 * test_explain.c - `--explain` (sim/scn/explain.c) on every lesson and bug
 * scenario: a sentence for every step whose kind has one, naming what the
 * step names (the device IoCallDriver calls and the stack location it
 * moves to, the CPU an ISR or DPC borrows, the thread a completion routine
 * runs in), never truncated, never "(null)"; the pending return and the
 * final one told apart; and most kinds of the trace met and explained
 * across the lessons.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "iosim/scenario.h"
#include "testlib.h"

typedef struct seen {
  sim_t *S;
  int explained[TRC_KIND_COUNT], met[TRC_KIND_COUNT];
  int pending_returns, final_returns;
} seen_t;

static void check_step(void *ud, const trc_event_t *ev) {
  seen_t *x = ud;
  char b[400], want[160];
  scn_explain(x->S, ev, b, sizeof b);
  x->met[ev->kind]++;
  if (!b[0]) return;
  x->explained[ev->kind]++;
  ck_assert_uint_lt(strlen(b), sizeof b - 1); /* room to spare: nothing cut */
  ck_assert_msg(!strstr(b, "(null)"), "%s: %s", trc_kind_name(ev->kind), b);
  ck_assert_msg(b[strlen(b) - 1] == '.', "%s: not a sentence: %s", trc_kind_name(ev->kind), b);
  switch (ev->kind) {
  case TRC_CALL:
    snprintf(want, sizeof want, "(CurrentLocation %d) and calls %s's dispatch routine", ev->stack_location,
             sim_device_name(x->S, ev->device));
    ck_assert_msg(strstr(b, want), "call: %s", b);
    break;
  case TRC_ISR:
  case TRC_DPC_RUN:
    snprintf(want, sizeof want, "CPU %d", ev->cpu);
    ck_assert_msg(strstr(b, want), "%s: %s", trc_kind_name(ev->kind), b);
    break;
  case TRC_COMPLETION_CALL:
    snprintf(want, sizeof want, "%s frame, IRQL %d", trc_frame_name(ev->frame), ev->irql);
    ck_assert_msg(strstr(b, want), "completion: %s", b);
    if (ev->thread) ck_assert_msg(strstr(b, sim_thread_name(x->S, ev->thread)), "completion: %s", b);
    break;
  case TRC_RETURN:
    if (ev->status == STATUS_PENDING) {
      x->pending_returns++;
      ck_assert_msg(strstr(b, "STATUS_PENDING goes back up"), "return: %s", b);
    } else {
      x->final_returns++;
      ck_assert_msg(strstr(b, "final status"), "return: %s", b);
    }
    break;
  default: break;
  }
}

static void on_start(void *ud, sim_t *S) {
  seen_t *x = ud;
  x->S = S;
  trc_sink_t t = {.event = check_step, .ud = x};
  sim_add_sink(S, &t);
}

static int run_all(const char *pattern, seen_t *x) {
  glob_t g;
  ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    scn_run_opts_t o = {.on_start = on_start, .ud = x};
    scn_result_t r;
    tfix_run(g.gl_pathv[i], &o, &r, true);
    scn_result_free(&r);
  }
  int n = (int)g.gl_pathc;
  globfree(&g);
  return n;
}

START_TEST(explain_lessons) {
  static seen_t x; /* large: off the stack */
  memset(&x, 0, sizeof x);
  ck_assert_int_ge(run_all("../scenarios/lessons/*.iosim", &x), 20);
  run_all("../scenarios/bugs/*.iosim", &x);
  int kinds_met = 0, kinds_explained = 0;
  for (int k = 0; k < TRC_KIND_COUNT; k++) {
    kinds_met += x.met[k] > 0;
    kinds_explained += x.explained[k] > 0;
  }
  /* The core of every lesson is explained at every step. */
  static const trc_kind_t core[] = {TRC_SYSCALL, TRC_CALL, TRC_DISPATCH, TRC_RETURN, TRC_COMPLETE,
                                    TRC_COMPLETION_CALL, TRC_ISR, TRC_DPC_RUN, TRC_APC_RUN, TRC_STAGE2};
  for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
    ck_assert_msg(x.met[core[i]] > 0, "no lesson has a %s step", trc_kind_name(core[i]));
    ck_assert_int_eq(x.explained[core[i]], x.met[core[i]]);
  }
  ck_assert_int_gt(x.pending_returns, 0);
  ck_assert_int_gt(x.final_returns, 0);
  /* Most kinds the lessons meet have a sentence (42 of 75 when this test
     was written: the object, buffer, lock and unload steps have none yet;
     the list prints with CK_VERBOSITY=verbose). */
  if (getenv("CK_VERBOSITY") && !strcmp(getenv("CK_VERBOSITY"), "verbose"))
    for (int k = 0; k < TRC_KIND_COUNT; k++)
      if (x.met[k] && !x.explained[k]) fprintf(stderr, "explain: no sentence for %s\n", trc_kind_name(k));
  ck_assert_msg(kinds_explained * 2 > kinds_met, "%d of %d kinds met are explained", kinds_explained, kinds_met);
}
END_TEST

TEST_SUITE(explain_suite)
static Suite *explain_suite(void) {
  Suite *s = suite_create("explain");
  TCase *tc = tcase_create("lessons");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, explain_lessons);
  suite_add_tcase(s, tc);
  return s;
}
