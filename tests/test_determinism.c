/*
 * test_determinism.c - every nondeterministic choice goes through the seeded
 * chooser (design.md: same scenario + same seed = byte-identical trace), run
 * on kernel-facts 12B (overlapped reads, ISR -> DPC -> completion -> APC) on two
 * CPUs with cost jitter and interrupts whose CPU the chooser picks.
 */
#include <stdlib.h>
#include <string.h>

#include "drivers.h"
#include "testlib.h"

typedef struct det_run {
  char *console;  /* the console table */
  char *events;   /* the in-memory log, every field */
  sim_outcome_t outcome;
} det_run_t;

static void det_app(PVOID arg) {
  tread_t *r = arg;
  for (int i = 0; i < 3; i++) {
    r->use_event = true;
    r->wait_event = true;
    tread_thread(r);
  }
}

/* Two threads reading through filter -> disk; the disk's interrupt goes to
   a CPU chosen by the chooser. */
static det_run_t det_once(uint64_t seed, unsigned jitter) {
  det_run_t out = {0};
  size_t len = 0;
  FILE *f = open_memstream(&out.console, &len);
  ck_assert_ptr_nonnull(f);
  sim_config_t cfg = {.cpus = 2, .seed = seed, .jitter_pct = jitter};
  sim_t *S = sim_create(&cfg);
  tlog_t log = {0};
  trc_sink_t console = sim_console_sink(S, f), mem = tlog_sink(&log);
  sim_set_sink(S, &console);
  sim_add_sink(S, &mem);
  tdisk_t d = {.mode = TDISK_PEND, .hw_cpu = -1, .latency_ns = 30000, .info = 512};
  tfilter_t flt = {.name = "filt1", .lower = "disk0", .routine = true};
  ck_assert_ptr_nonnull(sim_load_driver(S, "disk", tdisk_entry, &d));
  ck_assert_ptr_nonnull(sim_load_driver(S, "filter", tfilter_entry, &flt));
  tread_t r1 = {.top = flt.dev}, r2 = {.top = flt.dev};
  sim_thread_create(S, "app1", det_app, &r1);
  sim_thread_create(S, "app2", det_app, &r2);
  out.outcome = sim_run(S);
  sim_destroy(S); /* closes the console sink */
  fclose(f);
  out.events = tlog_text(&log);
  tlog_free(&log);
  return out;
}

static void det_free(det_run_t *r) {
  free(r->console);
  free(r->events);
}

/* design.md determinism, on kernel-facts 12B: the same seed gives a byte-identical
   trace, both as console text and as the full event records. */
START_TEST(same_seed_same_trace) {
  det_run_t a = det_once(42, 25), b = det_once(42, 25);
  ck_assert_int_eq(a.outcome, SIM_RUN_OK);
  ck_assert_int_eq(b.outcome, SIM_RUN_OK);
  ck_assert_uint_gt(strlen(a.console), 1000);
  ck_assert_str_eq(a.console, b.console);
  ck_assert_str_eq(a.events, b.events);
  ck_assert_ptr_nonnull(strstr(a.console, "isr"));
  det_free(&a);
  det_free(&b);
}
END_TEST

/* design.md determinism: the seed really drives the run – among a few seeds
   on a 2-CPU machine with jitter, some give a different trace. */
START_TEST(different_seeds_can_differ) {
  det_run_t base = det_once(1, 25);
  ck_assert_int_eq(base.outcome, SIM_RUN_OK);
  bool differs = false;
  for (uint64_t seed = 2; seed <= 8 && !differs; seed++) {
    det_run_t o = det_once(seed, 25);
    ck_assert_int_eq(o.outcome, SIM_RUN_OK);
    differs = strcmp(o.console, base.console) != 0;
    det_free(&o);
  }
  ck_assert(differs);
  det_free(&base);
}
END_TEST

TEST_SUITE(determinism_suite)
static Suite *determinism_suite(void) {
  Suite *s = suite_create("determinism");
  TCase *tc = tcase_create("seed");
  tcase_add_test(tc, same_seed_same_trace);
  tcase_add_test(tc, different_seeds_can_differ);
  suite_add_tcase(s, tc);
  return s;
}
