/*
 * test_clock.c - the clock tick and DPC moderation (docs/kernel-facts.md
 * §6.3, §6.12): DPCs that request no drain run at the next clock tick of
 * their CPU (not when it idles or the queue is 4 deep), the period decides
 * when, the tick waits for IRQL below CLOCK_LEVEL, the DPC rate and the
 * maximum depth move with the ticks, and ticks that do nothing leave no
 * trace and do not keep a finished machine running.  Also the scenario
 * language's clock and DPC options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "iosim/scenario.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"
#include "fixture.h"
#include "testlib.h"

#define MS 1000000ull
#define TICK (SIM_CLOCK_TICK_DEFAULT) /* 15.625 ms */

typedef struct ck_dpc {
  KDPC dpc;
  int runs;
  int cpu;              /* where it last ran */
  int order;            /* its last run was the Nth DPC run of the test */
  int *seq;             /* the test's count of DPC runs */
} ck_dpc_t;

static void ck_routine(PKDPC dpc, PVOID ctx, PVOID a1, PVOID a2) {
  (void)dpc, (void)a1, (void)a2;
  ck_dpc_t *d = ctx;
  d->runs++;
  d->cpu = (int)KeGetCurrentProcessorNumber();
  d->order = ++*d->seq;
}

static void ck_init(ck_dpc_t *d, int *seq, KDPC_IMPORTANCE imp, int target) {
  KeInitializeDpc(&d->dpc, ck_routine, d);
  d->seq = seq;
  KeSetImportanceDpc(&d->dpc, imp);
  if (target >= 0) KeSetTargetProcessorDpc(&d->dpc, target);
}

/* What the threads of one test do and see. */
typedef struct clk {
  int which;
  int seq;
  ck_dpc_t d[8];
  int runs_at[4];        /* d[0].runs at checkpoints */
  int busy_cpu, inserter_cpu;
  KDPC_IMPORTANCE imp;
} clk_t;

static sim_t *clk_machine(int cpus, uint64_t tick, bool no_rate_rule, tlog_t *log) {
  sim_config_t cfg = {.cpus = cpus, .seed = 1, .clock_tick_ns = tick};
  if (no_rate_rule) cfg.has_minimum_dpc_rate = true, cfg.minimum_dpc_rate = 0;
  sim_t *S = sim_create(&cfg);
  ck_assert_ptr_nonnull(S);
  if (log) {
    trc_sink_t sink = tlog_sink(log);
    sim_set_sink(S, &sink);
  }
  return S;
}

/* The times of the DPC runs, in order. */
static int dpc_runs(const tlog_t *log, uint64_t *t, int max) {
  int n = 0;
  for (size_t i = 0; i < log->n; i++)
    if (log->v[i].kind == TRC_DPC_RUN && n < max) t[n++] = log->v[i].t_ns;
  return n;
}

/* ---- one CPU: a Low DPC on the current CPU, the rate rule off ---- */

static void low_then_compute(PVOID arg) {
  clk_t *c = arg;
  ck_init(&c->d[0], &c->seq, LowImportance, -1);
  KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL);
  c->runs_at[0] = c->d[0].runs;
  sim_delay(40 * MS); /* one step that never gives the CPU up */
}

/* Runs low_then_compute with clock period `tick` (0: the default); the time
   of the DPC run and of the one clock-tick row. */
static void low_local(uint64_t tick, uint64_t *dpc_t, uint64_t *tick_t) {
  tlog_t log = {0};
  clk_t c = {0};
  sim_t *S = clk_machine(1, tick, true, &log);
  sim_thread_create(S, "app", low_then_compute, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.runs_at[0], 0);
  ck_assert_int_eq(c.d[0].runs, 1);
  ck_assert_int_eq(tlog_count(&log, TRC_CLOCK_TICK), 1);
  int k = tlog_find(&log, TRC_CLOCK_TICK, 0), r = tlog_find(&log, TRC_DPC_RUN, 0);
  ck_assert_int_lt(k, r);
  ck_assert_int_eq(log.v[k].cpu, 0);
  ck_assert_int_eq(log.v[k].count, 1);            /* one DPC waiting */
  ck_assert_uint_ne(log.v[r].thread, 0);          /* over the computing thread */
  ck_assert_int_eq(log.v[r].frame, TRC_FRAME_DPC);
  *dpc_t = log.v[r].t_ns;
  *tick_t = log.v[k].t_ns;
  ck_assert_uint_lt(sim_now(S), 41 * MS); /* the thread's 40 ms, with the DPC inside */
  sim_destroy(S);
  tlog_free(&log);
}

/* kernel-facts 6.12: a Low DPC that requested no drain on its busy CPU runs
   at that CPU's next clock tick, 15.625 ms by default - not when the CPU
   idles (40 ms) nor when the queue gets 4 deep (never here). */
START_TEST(low_dpc_runs_at_next_clock_tick) {
  uint64_t d, k;
  low_local(0, &d, &k);
  ck_assert_uint_eq(k, TICK);
  ck_assert_uint_eq(d, TICK);
}
END_TEST

/* kernel-facts 6.12: the clock period (machine clock-tick) decides when. */
START_TEST(clock_period_decides_when) {
  uint64_t d, k;
  low_local(1 * MS, &d, &k);
  ck_assert_uint_eq(k, 1 * MS);
  ck_assert_uint_eq(d, 1 * MS);
  low_local(SIM_CLOCK_TICK_MIN, &d, &k);
  ck_assert_uint_eq(d, SIM_CLOCK_TICK_MIN);
}
END_TEST

/* ---- two CPUs: a DPC aimed at a busy remote CPU ---- */

static void busy(PVOID arg) {
  clk_t *c = arg;
  c->busy_cpu = (int)KeGetCurrentProcessorNumber();
  sim_delay(40 * MS);
}

static void aim_at_busy(PVOID arg) {
  clk_t *c = arg;
  sim_delay(5000);
  c->inserter_cpu = (int)KeGetCurrentProcessorNumber();
  int target = 1 - c->inserter_cpu;
  switch (c->which) {
  case 0: /* one DPC of importance c->imp */
    ck_init(&c->d[0], &c->seq, c->imp, target);
    KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL);
    break;
  case 1: /* a Medium one waits; a High one 10 us later drains both */
    ck_init(&c->d[0], &c->seq, MediumImportance, target);
    ck_init(&c->d[1], &c->seq, HighImportance, target);
    KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL);
    sim_delay(10000);
    KeInsertQueueDpc(&c->d[1].dpc, NULL, NULL);
    break;
  }
}

static sim_t *remote(clk_t *c, tlog_t *log) {
  sim_t *S = clk_machine(2, 0, false, log);
  sim_thread_create(S, "busy", busy, c);
  sim_thread_create(S, "inserter", aim_at_busy, c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_ne(c->busy_cpu, c->inserter_cpu);
  ck_assert_int_eq(c->d[0].runs, 1);
  ck_assert_int_eq(c->d[0].cpu, c->busy_cpu);
  return S;
}

/* kernel-facts 6.3, 6.12: Medium and Low DPCs aimed at another CPU request
   no drain there (the rate rule does not apply across CPUs); the busy CPU
   runs them at its next tick, over its thread. */
START_TEST(medium_and_low_to_busy_remote_cpu_run_at_tick) {
  static const KDPC_IMPORTANCE imp[] = {MediumImportance, LowImportance};
  for (int i = 0; i < 2; i++) {
    tlog_t log = {0};
    clk_t c = {.which = 0, .imp = imp[i]};
    sim_t *S = remote(&c, &log);
    int k = tlog_find(&log, TRC_CLOCK_TICK, 0), r = tlog_find(&log, TRC_DPC_RUN, 0);
    ck_assert_int_ge(k, 0);
    ck_assert_int_eq(log.v[k].cpu, c.busy_cpu);
    ck_assert_uint_eq(log.v[k].t_ns, TICK);
    ck_assert_uint_eq(log.v[r].t_ns, TICK);
    ck_assert_int_eq(log.v[r].cpu, c.busy_cpu);
    ck_assert_uint_ne(log.v[r].thread, 0);
    ck_assert_int_eq(tlog_count(&log, TRC_CLOCK_TICK), 1);
    sim_destroy(S);
    tlog_free(&log);
  }
}
END_TEST

/* kernel-facts 6.3: MediumHigh and High aimed at another, busy CPU
   interrupt it at once: no tick needed. */
START_TEST(medium_high_and_high_to_busy_remote_cpu_run_at_once) {
  static const KDPC_IMPORTANCE imp[] = {MediumHighImportance, HighImportance};
  for (int i = 0; i < 2; i++) {
    tlog_t log = {0};
    clk_t c = {.which = 0, .imp = imp[i]};
    sim_t *S = remote(&c, &log);
    int r = tlog_find(&log, TRC_DPC_RUN, 0);
    ck_assert_uint_lt(log.v[r].t_ns, 10000);
    ck_assert_uint_ne(log.v[r].thread, 0);
    ck_assert_int_eq(tlog_count(&log, TRC_CLOCK_TICK), 0);
    sim_destroy(S);
    tlog_free(&log);
  }
}
END_TEST

/* kernel-facts 6.3, 6.4: High goes to the head of the remote queue and
   interrupts: the Medium DPC that was waiting for the tick runs right
   after it, in the same drain, long before the tick. */
START_TEST(high_jumps_the_queue_and_drains_the_waiting) {
  tlog_t log = {0};
  clk_t c = {.which = 1};
  sim_t *S = remote(&c, &log);
  ck_assert_int_eq(c.d[1].runs, 1);
  int r0 = tlog_find(&log, TRC_DPC_RUN, 0);
  int r1 = tlog_find(&log, TRC_DPC_RUN, r0 + 1);
  int e0 = tlog_find(&log, TRC_DPC_END, r0);
  ck_assert_int_gt(r1, e0);       /* one after the other: High, then Medium */
  ck_assert_int_eq(tlog_count(&log, TRC_DPC_RUN), 2);
  ck_assert_uint_lt(log.v[r1].t_ns, 50000);
  ck_assert_int_eq(tlog_count(&log, TRC_CLOCK_TICK), 0);
  ck_assert_int_eq(c.d[1].order, 1); /* the High one, queued last, ran first */
  ck_assert_int_eq(c.d[0].order, 2);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- moderation ---- */

static void moderated(PVOID arg) {
  clk_t *c = arg;
  int target = 1 - (int)KeGetCurrentProcessorNumber();
  for (int i = 0; i < 7; i++) ck_init(&c->d[i], &c->seq, LowImportance, target);
  KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL); /* waits for tick 1 */
  sim_delay(20 * MS);
  for (int i = 1; i <= 3; i++) KeInsertQueueDpc(&c->d[i].dpc, NULL, NULL);
  sim_delay(340 * MS); /* 20 quiet ticks and more */
  for (int i = 4; i <= 6; i++) KeInsertQueueDpc(&c->d[i].dpc, NULL, NULL);
}

static void busy_long(PVOID arg) {
  (void)arg;
  sim_delay(400 * MS);
}

/* kernel-facts 6.12: a tick that has to request the drain, with a DPC rate
   below the ideal 20, lowers the CPU's maximum depth 4 -> 3, so three Low
   DPCs then drain at once; 20 ticks without a request raise it back to 4,
   and three wait for the tick again. */
START_TEST(tick_lowers_maximum_depth_quiet_ticks_raise_it) {
  tlog_t log = {0};
  clk_t c = {0};
  sim_t *S = clk_machine(2, 0, false, &log);
  sim_thread_create(S, "busy", busy_long, &c);
  sim_thread_create(S, "inserter", moderated, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  uint64_t t[8];
  ck_assert_int_eq(dpc_runs(&log, t, 8), 7);
  ck_assert_uint_eq(t[0], TICK);                  /* tick 1 */
  for (int i = 1; i <= 3; i++) {                  /* the third one's depth 3 drains them */
    ck_assert_uint_gt(t[i], 20 * MS);
    ck_assert_uint_lt(t[i], 21 * MS);
  }
  ck_assert_uint_eq(t[4], 24 * TICK);             /* 375 ms, tick 24 */
  for (int i = 5; i <= 6; i++) ck_assert_uint_lt(t[i], 24 * TICK + 5000); /* the same drain */
  ck_assert_int_eq(tlog_count(&log, TRC_CLOCK_TICK), 2);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

static void rate_then_low(PVOID arg) {
  clk_t *c = arg;
  ck_init(&c->d[0], &c->seq, LowImportance, -1);
  ck_init(&c->d[1], &c->seq, MediumImportance, -1);
  for (int i = 0; i < 8; i++) KeInsertQueueDpc(&c->d[1].dpc, NULL, NULL); /* each runs at once */
  sim_delay(16 * MS);               /* past tick 1: DpcRequestRate (0 + 8) / 2 = 4 */
  KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL);
  c->runs_at[0] = c->d[0].runs;
  sim_delay(24 * MS);
}

/* kernel-facts 6.3, 6.12: the low-rate rule is a rate: once the CPU has
   queued DPCs at 3 a tick or more, a Low DPC on it no longer drains at
   once; it waits for the next tick. */
START_TEST(busy_dpc_rate_makes_low_wait_for_tick) {
  tlog_t log = {0};
  clk_t c = {0};
  sim_t *S = clk_machine(1, 0, false, &log);
  sim_thread_create(S, "app", rate_then_low, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.d[1].runs, 8);
  ck_assert_int_eq(c.runs_at[0], 0);
  ck_assert_int_eq(c.d[0].runs, 1);
  uint64_t t[9];
  ck_assert_int_eq(dpc_runs(&log, t, 9), 9);
  ck_assert_uint_eq(t[8], 2 * TICK);
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

/* ---- IRQL, quiet machines ---- */

static void low_at_high_level(PVOID arg) {
  clk_t *c = arg;
  KIRQL old;
  ck_init(&c->d[0], &c->seq, LowImportance, -1);
  KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL);
  KeRaiseIrql(HIGH_LEVEL, &old);
  sim_delay(20 * MS);
  c->runs_at[0] = c->d[0].runs;
  KeLowerIrql(old);
  c->runs_at[1] = c->d[0].runs;
}

/* kernel-facts 6.12: the clock interrupt is at CLOCK_LEVEL: a CPU at
   HIGH_LEVEL takes the tick only when IRQL falls, and the DPC runs then. */
START_TEST(tick_waits_for_irql_below_clock_level) {
  tlog_t log = {0};
  clk_t c = {0};
  sim_t *S = clk_machine(1, 0, true, &log);
  sim_thread_create(S, "app", low_at_high_level, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.runs_at[0], 0);
  ck_assert_int_eq(c.runs_at[1], 1);
  int k = tlog_find(&log, TRC_CLOCK_TICK, 0);
  ck_assert_int_ge(k, 0);
  ck_assert_uint_gt(log.v[k].t_ns, 20 * MS);
  ck_assert_int_eq(log.v[k].irql, PASSIVE_LEVEL);
  ck_assert_int_gt(k, tlog_find(&log, TRC_IRQL_LOWER, 0));
  sim_destroy(S);
  tlog_free(&log);
}
END_TEST

static void low_then_medium(PVOID arg) {
  clk_t *c = arg;
  ck_init(&c->d[0], &c->seq, LowImportance, -1);
  ck_init(&c->d[1], &c->seq, MediumImportance, -1);
  KeInsertQueueDpc(&c->d[0].dpc, NULL, NULL); /* arms CPU 0's tick */
  sim_delay(10000);
  KeInsertQueueDpc(&c->d[1].dpc, NULL, NULL); /* drains both: the tick has nothing to do */
  sim_delay(1 * MS);
}

static void sleeper(PVOID arg) {
  (void)arg;
  LONGLONG ms100 = -100 * 10000;
  NtDelayExecution(FALSE, &ms100);
}

/* kernel-facts 6.12: a tick armed for DPCs that were drained by other
   means neither fires nor keeps the machine running (it ends at ~1 ms,
   before the tick); and a machine with no DPC waiting has no tick in its
   trace, however long it runs. */
START_TEST(quiet_ticks_leave_no_trace) {
  tlog_t log = {0};
  clk_t c = {0};
  sim_t *S = clk_machine(1, 0, true, &log);
  sim_thread_create(S, "app", low_then_medium, &c);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(c.d[0].runs + c.d[1].runs, 2);
  ck_assert_int_eq(c.d[0].order, 1);
  ck_assert_int_eq(tlog_count(&log, TRC_CLOCK_TICK), 0);
  ck_assert_uint_lt(sim_now(S), 2 * MS);
  sim_destroy(S);
  tlog_free(&log);
  tlog_t log2 = {0};
  S = clk_machine(1, 0, false, &log2);
  sim_thread_create(S, "sleeper", sleeper, NULL);
  ck_assert_int_eq(sim_run(S), SIM_RUN_OK);
  ck_assert_int_eq(tlog_count(&log2, TRC_CLOCK_TICK), 0);
  ck_assert_uint_ge(sim_now(S), 100 * MS);
  ck_assert_uint_lt(sim_now(S), 101 * MS);
  sim_destroy(S);
  tlog_free(&log2);
}
END_TEST

/* The machine refuses a clock outside Windows' timer resolutions and DPC
   settings out of range. */
START_TEST(machine_validates_clock_and_dpc_settings) {
  sim_config_t ok = {.cpus = 1, .clock_tick_ns = SIM_CLOCK_TICK_MIN, .dpc_queue_depth = SIM_DPC_QUEUE_DEPTH_MAX};
  sim_t *S = sim_create(&ok);
  ck_assert_ptr_nonnull(S);
  sim_destroy(S);
  sim_config_t bad[] = {
      {.cpus = 1, .clock_tick_ns = SIM_CLOCK_TICK_MIN - 1},
      {.cpus = 1, .clock_tick_ns = SIM_CLOCK_TICK_MAX + 1},
      {.cpus = 1, .dpc_queue_depth = SIM_DPC_QUEUE_DEPTH_MAX + 1},
      {.cpus = 1, .has_minimum_dpc_rate = true, .minimum_dpc_rate = SIM_DPC_RATE_MAX + 1},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) ck_assert_ptr_null(sim_create(&bad[i]));
}
END_TEST

/* ---- the scenario language ---- */



static void refused(const char *name, int line, int col, const char *msg) {
  char path[256];
  snprintf(path, sizeof path, BAD "%s", name);
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (sc) scn_free(sc);
  ck_assert_msg(sc == NULL, "%s loaded, but it should have been refused", path);
  ck_assert_str_eq(err.file, path);
  ck_assert_msg(err.line == line && err.col == col, "%s: error at %d:%d (%s), want %d:%d", path, err.line, err.col,
                err.msg, line, col);
  ck_assert_msg(strstr(err.msg, msg) != NULL, "%s: message \"%s\" lacks \"%s\"", path, err.msg, msg);
}

/* `machine clock-tick 1ms minimum-dpc-rate 0` and a device's
   `dpc-importance low`: the Low DPC its ISR queues on the busy CPU runs at
   the 1 ms tick. */
START_TEST(scenario_clock_tick_option) {
  tfix_holds(FIX "clock-tick-period.iosim", 6);
}
END_TEST

/* `request-dpc importance I cpu N` in a scripted ISR, and `dpc-cpu` on the
   device line: where the DPC goes and whether it interrupts. */
START_TEST(scenario_request_dpc_options) {
  tfix_holds(FIX "request-dpc-options.iosim", 9);
}
END_TEST

START_TEST(scenario_bad_clock_and_dpc_options) {
  refused("clock-tick-range.iosim", 2, 27, "clock-tick must be 0.5ms..15.625ms");
  refused("dpc-importance-word.iosim", 11, 37, "expected a DPC importance here (low, medium, medium-high or high)");
  refused("request-dpc-cpu.iosim", 8, 21, "request-dpc targets CPU 2, but the machine has 2 CPU(s)");
  refused("dpc-cpu-range.iosim", 11, 43, "device d0 queues its DPC on CPU 1, but the machine has 1 CPU(s)");
}
END_TEST

/* The timeline marks the tick that released lesson 20's waiting DPC, on
   CPU 0's lane, and its legend says what the mark is. */
START_TEST(timeline_marks_the_clock_tick) {
  char dir[] = "/tmp/iosim-clock-XXXXXX", db[96], svg[96], err[512];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(svg, sizeof svg, "%s/t.svg", dir);
  scn_error_t e;
  scn_t *sc = scn_load("../scenarios/lessons/20-dpc-importance.iosim", NULL, &e);
  ck_assert_msg(sc != NULL, "%s:%d: %s", e.file, e.line, e.msg);
  tracedb_hooks_t h = {.scenario_path = scn_path(sc), .text_hash = scn_hash(sc), .seed = scn_seed(sc)};
  h.db = tracedb_open(db, err, sizeof err);
  ck_assert_msg(h.db != NULL, "%s", err);
  scn_run_opts_t o = {.on_start = tracedb_on_start, .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &e), 0);
  ck_assert_int_eq(r.expect_failed, 0);
  scn_result_free(&r);
  tracedb_close(h.db);
  scn_free(sc);
  ck_assert_msg(viz_timeline(db, 0, svg, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  FILE *f = fopen(svg, "rb");
  ck_assert_ptr_nonnull(f);
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  ck_assert_ptr_nonnull(strstr(text, "clock tick on CPU 0 at 15625.000 us: 1 DPC waiting"));
  ck_assert_ptr_nonnull(strstr(text, "clock tick: drain requested"));
  unlink(svg);
  unlink(db);
  rmdir(dir);
}
END_TEST

TEST_SUITE(clock_suite)
static Suite *clock_suite(void) {
  Suite *s = suite_create("clock");
  TCase *tc = tcase_create("tick");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, low_dpc_runs_at_next_clock_tick);
  tcase_add_test(tc, clock_period_decides_when);
  tcase_add_test(tc, medium_and_low_to_busy_remote_cpu_run_at_tick);
  tcase_add_test(tc, medium_high_and_high_to_busy_remote_cpu_run_at_once);
  tcase_add_test(tc, high_jumps_the_queue_and_drains_the_waiting);
  tcase_add_test(tc, tick_lowers_maximum_depth_quiet_ticks_raise_it);
  tcase_add_test(tc, busy_dpc_rate_makes_low_wait_for_tick);
  tcase_add_test(tc, tick_waits_for_irql_below_clock_level);
  tcase_add_test(tc, quiet_ticks_leave_no_trace);
  tcase_add_test(tc, machine_validates_clock_and_dpc_settings);
  tcase_add_test(tc, scenario_clock_tick_option);
  tcase_add_test(tc, scenario_request_dpc_options);
  tcase_add_test(tc, scenario_bad_clock_and_dpc_options);
  tcase_add_test(tc, timeline_marks_the_clock_tick);
  suite_add_tcase(s, tc);
  return s;
}
