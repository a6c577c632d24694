/*
 * test_rerun.c - a parsed scenario is read-only while it runs: every
 * scenario of scenarios/ and tests/fixtures/ is loaded once and run twice
 * with the same seed through the public API (scenario.h), and the two runs
 * must agree byte for byte - the trace, the outcome, every expectation and
 * its facts, the verifier's findings - and agree with a run of a fresh load
 * of the same file.  A run that kept state in the parsed scenario (a
 * counter, a queue, a loaded driver's table) would show here as a second
 * run that differs from the first.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iosim/scenario.h"
#include "testlib.h"

/* What one run produced, as text, so two runs compare with strcmp. */
typedef struct rerun_capture {
  FILE *f;
  char *text;
  size_t len;
  trc_sink_t console;
} rerun_capture_t;

static void rerun_on_start(void *ud, sim_t *S) {
  rerun_capture_t *c = ud;
  c->console = sim_console_sink(S, c->f);
  sim_add_sink(S, &c->console);
}

/* The whole run as text: its trace, then everything the result says. */
static char *rerun_once(const scn_t *sc, uint64_t seed) {
  rerun_capture_t c = {0};
  c.f = open_memstream(&c.text, &c.len);
  ck_assert_ptr_nonnull(c.f);
  scn_run_opts_t o = {.has_seed = true, .seed = seed, .on_start = rerun_on_start, .ud = &c};
  scn_result_t r;
  scn_error_t err;
  int rc = scn_run(sc, &o, &r, &err);
  if (rc != SIM_OK) { /* a machine that cannot be built: the same error each time */
    fprintf(c.f, "error %d %s:%d:%d: %s\n", rc, err.file, err.line, err.col, err.msg);
    fclose(c.f);
    return c.text;
  }
  fprintf(c.f, "outcome %d seed %llu end %llu bugcheck 0x%lx\n", (int)r.outcome, (unsigned long long)r.seed,
          (unsigned long long)r.end_ns, r.outcome == SIM_RUN_BUGCHECK ? (unsigned long)r.bugcheck.code : 0ul);
  for (int i = 0; i < r.expect_total; i++)
    fprintf(c.f, "expect %d %s %d: %s\n", r.expects[i].line, r.expects[i].text, r.expects[i].passed,
            r.expects[i].facts);
  fprintf(c.f, "findings %d unexpected %d\n", r.finding_total, r.finding_unexpected);
  if (r.last_steps) fprintf(c.f, "%s", r.last_steps);
  scn_result_free(&r);
  fclose(c.f);
  return c.text;
}

/* Loads path once, runs it twice, and once more from a fresh load. */
static void rerun_file(const char *path) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  uint64_t seed = scn_seed(sc);
  char *first = rerun_once(sc, seed);
  char *second = rerun_once(sc, seed);
  ck_assert_msg(strlen(first) > 0, "%s: the run produced nothing", path);
  ck_assert_msg(strcmp(first, second) == 0, "%s: the second run of one parsed scenario differs from the first", path);
  scn_free(sc);
  scn_t *fresh = scn_load(path, NULL, &err);
  ck_assert_msg(fresh != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  char *third = rerun_once(fresh, seed);
  ck_assert_msg(strcmp(first, third) == 0, "%s: a run of a fresh load differs from the reused one", path);
  scn_free(fresh);
  free(first);
  free(second);
  free(third);
}

/* Every .iosim directly in dir that is a runnable scenario (libraries of
   drivers refuse to load on their own and are skipped). */
static int rerun_dir(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_msg(d != NULL, "cannot open %s", dir);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t l = strlen(e->d_name);
    if (l < 7 || strcmp(e->d_name + l - 6, ".iosim") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    scn_error_t err;
    scn_t *probe = scn_load(path, NULL, &err);
    if (!probe) continue;
    scn_free(probe);
    rerun_file(path);
    n++;
  }
  closedir(d);
  return n;
}

START_TEST(lessons_rerun_identically) { ck_assert_int_gt(rerun_dir("../scenarios/lessons"), 10); }
END_TEST

START_TEST(bugs_rerun_identically) { ck_assert_int_gt(rerun_dir("../scenarios/bugs"), 10); }
END_TEST

START_TEST(exercises_rerun_identically) {
  rerun_dir("../scenarios/exercises");
  rerun_dir("../scenarios/exercises/answers");
}
END_TEST

START_TEST(fixtures_rerun_identically) { ck_assert_int_gt(rerun_dir("fixtures/scenarios"), 5); }
END_TEST

/* The same parsed scenario over several seeds, then back to the first:
   the last run must match the first. */
START_TEST(other_seeds_between_leave_no_trace) {
  scn_error_t err;
  scn_t *sc = scn_load("../scenarios/lessons/16-cancel-race.iosim", NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  char *first = rerun_once(sc, 1);
  for (uint64_t s = 2; s < 6; s++) free(rerun_once(sc, s));
  char *again = rerun_once(sc, 1);
  ck_assert_msg(strcmp(first, again) == 0, "seed 1 after seeds 2..5 differs from seed 1 first");
  free(first);
  free(again);
  scn_free(sc);
}
END_TEST

TEST_SUITE(rerun_suite)
static Suite *rerun_suite(void) {
  Suite *s = suite_create("rerun");
  TCase *tc = tcase_create("same-parse");
  tcase_add_test(tc, lessons_rerun_identically);
  tcase_add_test(tc, bugs_rerun_identically);
  tcase_add_test(tc, exercises_rerun_identically);
  tcase_add_test(tc, fixtures_rerun_identically);
  tcase_add_test(tc, other_seeds_between_leave_no_trace);
  suite_add_tcase(s, tc);
  return s;
}
