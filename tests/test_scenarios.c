/*
 * test_scenarios.c - every scenario under scenarios/ is a test: each one is
 * loaded and run (every seed it asks for, or every schedule within the
 * bound of `machine explore bound K`) and all its expectations must hold.  The standard driver library (scenarios/lib/) is checked by being
 * included.  Runs with the current directory at tests/.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iosim/explore.h"
#include "fixture.h"
#include "iosim/scenario.h"
#include "testlib.h"

#define SCN_ROOT "../scenarios"
#define MAX_FILES 512

typedef struct file_list {
  char *v[MAX_FILES];
  int n;
} file_list_t;

static void collect(const char *dir, file_list_t *out) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (strcmp(e->d_name, "lib") != 0) collect(path, out);
    } else if (strlen(e->d_name) > 6 && !strcmp(e->d_name + strlen(e->d_name) - 6, ".iosim") &&
               out->n < MAX_FILES && !tfix_failing_exercise(path)) { /* test_exercises.c: they fail on purpose */
      out->v[out->n++] = strdup(path);
    }
  }
  closedir(d);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Built once per process when the suite is created; each loop index is
   one scenario. */
static file_list_t files;

/* A scenario checked over its schedules (docs/exploration.md): every plain
   expect line in every schedule within the bound, every `sometimes` line in
   one at least, no finding it does not predict, and the whole space covered. */
static void explore_holds(const char *path, const scn_t *sc) {
  xp_opts_t o;
  xp_opts_default(&o);
  int b = scn_explore_bound(sc);
  o.bound = b == SCN_EXPLORE_UNBOUNDED ? XP_BOUND_NONE : b;
  o.time_limit = 60;
  xp_report_t r;
  scn_error_t err;
  ck_assert_int_eq(xp_explore(sc, &o, &r, &err), SIM_OK);
  ck_assert_msg(r.complete, "%s: the exploration did not cover the space (%s)", path, r.stopped_by ? r.stopped_by : "?");
  ck_assert_msg(r.explored > 1, "%s: explored %llu schedules", path, (unsigned long long)r.explored);
  ck_assert_msg(r.nexpects > 0, "%s has no expect lines: a lesson must assert what it teaches", path);
  for (int i = 0; i < r.nexpects; i++) {
    const xp_expect_t *e = &r.expects[i];
    ck_assert_msg(e->sometimes ? e->held > 0 : e->failed == 0, "%s:%d: %s\n    %s in %llu of %llu schedules", path,
                  e->line, e->text, e->sometimes ? "held" : "failed", (unsigned long long)(e->sometimes ? e->held : e->failed),
                  (unsigned long long)(e->held + e->failed));
  }
  ck_assert_msg(r.finding_rules == 0, "%s: %d finding rule(s) no expect line predicts, e.g. %s", path, r.finding_rules,
                r.finding_rules ? r.finding_names[0] : "");
  xp_report_free(&r);
}

START_TEST(every_scenario_holds) {
  const char *path = files.v[_i];
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  if (scn_explore_bound(sc) != SCN_EXPLORE_NONE) {
    explore_holds(path, sc);
    scn_free(sc);
    return;
  }
  unsigned seeds = scn_seed_count(sc);
  bool seen[256] = {0};
  int never = 0;
  for (unsigned s = 0; s < seeds; s++) {
    scn_run_opts_t o = {.has_seed = true, .seed = scn_seed(sc) + s};
    scn_result_t r;
    ck_assert_int_eq(scn_run(sc, &o, &r, &err), 0);
    ck_assert_msg(r.expect_total > 0, "%s has no expect lines: a lesson must assert what it teaches", path);
    ck_assert_int_lt(r.expect_total, 256);
    for (int i = 0; i < r.expect_total; i++)
      ck_assert_msg(r.expects[i].passed || r.expects[i].sometimes, "%s:%d (seed %llu): %s\n    %s", path,
                    r.expects[i].line, (unsigned long long)r.seed, r.expects[i].text, r.expects[i].facts);
    never = scn_sometimes_merge(&r, seen);
    scn_result_free(&r);
  }
  ck_assert_msg(never == 0, "%s: %d `expect sometimes` line(s) held in none of the %u seeds", path, never, seeds);
  scn_free(sc);
}
END_TEST

/* The same scenario and seed give the same trace, byte for byte. */
static void run_to_text(const char *path, uint64_t seed, char **text, size_t *len);

static void add_console(void *ud, sim_t *S) {
  trc_sink_t t = sim_console_sink(S, ud);
  sim_add_sink(S, &t);
}

static void run_to_text(const char *path, uint64_t seed, char **text, size_t *len) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_ptr_nonnull(sc);
  FILE *f = open_memstream(text, len);
  scn_run_opts_t o = {.has_seed = true, .seed = seed, .on_start = add_console, .ud = f};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), 0);
  fclose(f);
  scn_result_free(&r);
  scn_free(sc);
}

START_TEST(same_seed_same_trace) {
  char *a, *b;
  size_t la, lb;
  run_to_text(SCN_ROOT "/lessons/06-two-cpus.iosim", 42, &a, &la);
  run_to_text(SCN_ROOT "/lessons/06-two-cpus.iosim", 42, &b, &lb);
  ck_assert_uint_gt(la, 1000);
  ck_assert_uint_eq(la, lb);
  ck_assert_int_eq(memcmp(a, b, la), 0);
  free(a);
  free(b);
}
END_TEST

START_TEST(lib_drivers_load) {
  /* Each standard driver parses when included from a scenario. */
  static const char *const libs[] = {"disk", "volume", "fsd", "filter", "null"};
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    char dir[] = "/tmp/iosim-libXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], inc[256];
    snprintf(path, sizeof path, "%s/t.iosim", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(realpath(SCN_ROOT "/lib", inc));
    fprintf(f, "include \"%s/%s.iosim\"\nthread t\n  sleep 1us\nend\nexpect thread t finished\n", inc, libs[i]);
    fclose(f);
    scn_error_t err;
    scn_t *sc = scn_load(path, inc, &err);
    ck_assert_msg(sc != NULL, "%s: %s:%d:%d: %s", libs[i], err.file, err.line, err.col, err.msg);
    scn_free(sc);
    remove(path);
    rmdir(dir);
  }
}
END_TEST

TEST_SUITE(suite_scenarios)
static Suite *suite_scenarios(void) {
  if (files.n == 0) {
    collect(SCN_ROOT, &files);
    qsort(files.v, (size_t)files.n, sizeof files.v[0], cmp_str);
  }
  Suite *s = suite_create("scenarios");
  TCase *tc = tcase_create("every scenario");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, every_scenario_holds, 0, files.n);
  tcase_add_test(tc, same_seed_same_trace);
  tcase_add_test(tc, lib_drivers_load);
  suite_add_tcase(s, tc);
  return s;
}
