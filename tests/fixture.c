/*
 * fixture.c - the scenario-file helpers the Check suites share (fixture.h).
 */
#include "fixture.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iosim/tracedb.h"
#include "testlib.h"

void tfix_record(const char *db, const char *path, const char *include_dir) {
  scn_error_t err;
  scn_t *sc = scn_load(path, include_dir, &err);
  ck_assert_msg(sc != NULL, "%s:%d: %s", err.file, err.line, err.msg);
  char e[512];
  tracedb_hooks_t h = {.scenario_path = scn_path(sc), .text_hash = scn_hash(sc), .seed = scn_seed(sc)};
  h.db = tracedb_open(db, e, sizeof e);
  ck_assert_msg(h.db != NULL, "%s", e);
  scn_run_opts_t o = {.on_start = tracedb_on_start, .on_finish = tracedb_on_finish, .ud = &h};
  scn_result_t r;
  ck_assert_int_eq(scn_run(sc, &o, &r, &err), 0);
  ck_assert_msg(h.rc == 0, "%s", h.err);
  scn_result_free(&r);
  tracedb_close(h.db);
  scn_free(sc);
}

void tfix_run(const char *path, const scn_run_opts_t *o, scn_result_t *r, bool quiet) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  ck_assert_msg(sc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
  scn_run_opts_t none = {0};
  ck_assert_msg(scn_run(sc, o ? o : &none, r, &err) == SIM_OK, "%s: %s", path, err.msg);
  for (int i = 0; i < r->expect_total && !quiet; i++)
    if (!r->expects[i].passed)
      fprintf(stderr, "%s:%d: FAIL %s\n    %s\n", path, r->expects[i].line, r->expects[i].text, r->expects[i].facts);
  scn_free(sc);
}

static void holds(const char *path, int total, const scn_run_opts_t *o) {
  scn_result_t r;
  tfix_run(path, o, &r, false);
  ck_assert_int_eq(r.expect_total, total);
  ck_assert_int_eq(r.expect_failed, 0);
  ck_assert_msg(r.finding_unexpected == 0, "%s: %d finding(s) no expect line predicts", path, r.finding_unexpected);
  scn_result_free(&r);
}

void tfix_holds(const char *path, int total) { holds(path, total, NULL); }

static void count_live_irps(void *ud, sim_t *S, const scn_result_t *r) {
  (void)r;
  *(uint64_t *)ud = sim_stats(S).irps_live;
}

void tfix_holds_no_irp_left(const char *path, int total) {
  uint64_t live = UINT64_MAX;
  scn_run_opts_t o = {.on_finish = count_live_irps, .ud = &live};
  holds(path, total, &o);
  ck_assert_msg(live == 0, "%s: %llu IRP(s) still allocated at the end", path, (unsigned long long)live);
}

void tfix_refused(const char *path, const char *file, int line, int col, const char *msg_part) {
  scn_error_t err;
  scn_t *sc = scn_load(path, NULL, &err);
  if (sc) scn_free(sc);
  ck_assert_msg(sc == NULL, "%s loaded, but it should have been refused", path);
  if (file) ck_assert_str_eq(err.file, file);
  ck_assert_msg(err.line == line && err.col == col, "%s: error at %d:%d (%s), want %d:%d", path, err.line, err.col,
                err.msg, line, col);
  ck_assert_msg(strstr(err.msg, msg_part) != NULL, "%s: message \"%s\" lacks \"%s\"", path, err.msg, msg_part);
}

bool tfix_failing_exercise(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t dir = (size_t)(base - path);
  if (dir < 10 || strncmp(base - 10, "exercises/", 10) != 0) return false;
  char answer[1024];
  snprintf(answer, sizeof answer, "%.*sanswers/%s", (int)dir, path, base);
  return access(answer, R_OK) == 0;
}
