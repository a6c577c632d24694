/*
 * test_exercises.c - the exercises of scenarios/exercises/ that fail until
 * the student fixes them (those with a fixed twin in answers/): each one
 * loads, fails as given (an expect line fails, or the verifier finds what no
 * line predicts), and its answer holds completely - every expect line, no
 * unpredicted finding, over every seed or every explored schedule - with
 * the very same expect lines, so an answer cannot pass by changing the
 * question.  At least one exercise per lesson topic that had none.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "iosim/explore.h"
#include "iosim/scenario.h"
#include "testlib.h"

#define EX_DIR "../scenarios/exercises"
#define MAX_EX 64

static char *exercises[MAX_EX];
static int nexercises;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void collect(void) {
  DIR *d = opendir(EX_DIR);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && nexercises < MAX_EX) {
    size_t n = strlen(e->d_name);
    if (n < 7 || strcmp(e->d_name + n - 6, ".iosim")) continue;
    char path[512];
    snprintf(path, sizeof path, EX_DIR "/%s", e->d_name);
    if (tfix_failing_exercise(path)) exercises[nexercises++] = strdup(path);
  }
  closedir(d);
  qsort(exercises, (size_t)nexercises, sizeof *exercises, cmp_str);
}

/* The verdict of `iosim check`: true when everything holds.  `lines` gets
   the expect lines' text, one per line, for comparing question and answer. */
static bool holds(const char *path, char **lines) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  size_t len = 0;
  FILE *m = open_memstream(lines, &len);
  ck_assert_ptr_nonnull(m);
  bool ok = true;
  if (scn_explore_bound(sc) != SCN_EXPLORE_NONE) {
    xp_opts_t o;
    xp_opts_default(&o);
    int b = scn_explore_bound(sc);
    o.bound = b == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : b;
    o.time_limit = 60;
    xp_report_t r;
    ck_assert_int_eq(xp_explore(sc, &o, &r, &err), SIM_OK);
    ck_assert_msg(r.complete, "%s: the exploration did not cover the space", path);
    for (int i = 0; i < r.nexpects; i++) {
      fprintf(m, "%s\n", r.expects[i].text);
      ok &= r.expects[i].sometimes ? r.expects[i].held > 0 : r.expects[i].failed == 0;
    }
    ok &= r.finding_rules == 0;
    xp_report_free(&r);
  } else {
    unsigned seeds = scn_seed_count(sc);
    bool seen[256] = {0};
    for (unsigned s = 0; s < seeds; s++) {
      scn_run_opts_t o = {.has_seed = true, .seed = scn_seed(sc) + s};
      scn_result_t r;
      ck_assert_int_eq(scn_run(sc, &o, &r, &err), 0);
      ck_assert_int_lt(r.expect_total, 256);
      for (int i = 0; i < r.expect_total; i++) {
        if (s == 0) fprintf(m, "%s\n", r.expects[i].text);
        ok &= r.expects[i].passed || r.expects[i].sometimes;
      }
      ok &= r.finding_unexpected == 0;
      if (scn_sometimes_merge(&r, seen) && s + 1 == seeds) ok = false;
      scn_result_free(&r);
    }
  }
  fclose(m);
  scn_free(sc);
  return ok;
}

START_TEST(exercise_fails_and_its_answer_holds) {
  const char *ex = exercises[_i];
  char answer[600];
  const char *base = strrchr(ex, '/') + 1;
  snprintf(answer, sizeof answer, EX_DIR "/answers/%s", base);
  char *q = NULL, *a = NULL;
  ck_assert_msg(!holds(ex, &q), "%s holds as given: an exercise must fail until it is fixed", ex);
  ck_assert_msg(holds(answer, &a), "%s: the answer does not hold (iosim check %s)", answer, answer);
  ck_assert_msg(q[0] != '\0', "%s has no expect lines", ex);
  ck_assert_msg(!strcmp(q, a), "%s and its answer differ in their expect lines:\n%s---\n%s", ex, q, a);
  free(q);
  free(a);
}
END_TEST

/* One at least per topic of the lessons that had no exercise; a file per
   topic, found by its name. */
START_TEST(every_topic_has_an_exercise) {
  static const char *const topics[] = {"pending",      "more-processing", "notification",    "iocp",
                                       "cancel-race",  "associated",      "fast-io",         "usermode-fs"};
  for (size_t t = 0; t < sizeof topics / sizeof *topics; t++) {
    bool found = false;
    for (int i = 0; i < nexercises; i++) found |= strstr(exercises[i], topics[t]) != NULL;
    ck_assert_msg(found, "no failing exercise about %s in " EX_DIR, topics[t]);
  }
}
END_TEST

TEST_SUITE(suite_exercises)
static Suite *suite_exercises(void) {
  if (!nexercises) collect();
  Suite *s = suite_create("exercises");
  TCase *tc = tcase_create("exercises");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, exercise_fails_and_its_answer_holds, 0, nexercises);
  tcase_add_test(tc, every_topic_has_an_exercise);
  suite_add_tcase(s, tc);
  return s;
}
