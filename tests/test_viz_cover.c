/*
 * test_viz_cover.c - the pictures' corners (viz/), each check stating what
 * a user sees: a trace database edited with SQLite so that a cell is out of
 * range must be refused with "the database is damaged: ..."; names holding
 * & < > " (and, for JSON, quotes, backslashes and control characters) must
 * come out escaped, the SVG still drawing in rsvg-convert and the JSON still
 * valid; bad styles, formats and output paths get their messages and leave
 * no file; unusual flows (cancelled IRPs, associated IRPs, a driver's own
 * IRP drawn alone, more arrows than a picture holds) say what happened.
 *
 * Graphviz 2.42 has its pango plugin use a freed font name when one process
 * lays out a second picture: each test draws at most one picture in-process
 * (Check forks per test) and more through the CLI (../iosim).
 * Runs with the current directory at tests/.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iosim/scenario.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"
#include "testlib.h"

#define FIXTURES "fixtures/viz-cover/"

/* LeakSanitizer's suppressions for Graphviz and its font libraries are
   test_viz.c's (one binary). */

/* ---- a temporary folder, traces recorded into it ---- */

typedef struct fx {
  char dir[64];
  char db[128];
} fx_t;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void fx_end(fx_t *fx) { nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS); }

static void fx_path(const fx_t *fx, const char *name, char *out, size_t n) { snprintf(out, n, "%s/%s", fx->dir, name); }

static int sh(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs scenario `path` (its own seed) into `db`. */
static void record_into(const char *db, const char *path) {
  char lib[PATH_MAX];
  ck_assert(realpath("../scenarios/lib", lib) != NULL);
  scn_error_t err;
  scn_t *sc = scn_load(path, lib, &err);
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

/* A fresh folder with `scenario` (a path under tests/, or NULL) recorded in it. */
static void fx_begin(fx_t *fx, const char *scenario) {
  snprintf(fx->dir, sizeof fx->dir, "/tmp/iosim-vizcov-XXXXXX");
  ck_assert(mkdtemp(fx->dir) != NULL);
  fx_path(fx, "trace.db", fx->db, sizeof fx->db);
  if (scenario) record_into(fx->db, scenario);
}

/* Runs SQL on a database as the sqlite3 shell would (the edits below). */
static void db_exec(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
  char *why = NULL;
  ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &why) == SQLITE_OK, "%s: %s", sql, why ? why : "?");
  ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
}

static bool json_valid(const char *text) {
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open(":memory:", &h), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT json_valid(?1)", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  bool ok = sqlite3_column_int(st, 0) == 1;
  sqlite3_finalize(st);
  sqlite3_close(h);
  return ok;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ck_assert(s != NULL);
  ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static void copy_file(const char *from, const char *to) {
  char *s = slurp(from);
  FILE *f = fopen(from, "rb");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  f = fopen(to, "wb");
  ck_assert(f != NULL);
  ck_assert_int_eq(fwrite(s, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  free(s);
}

static void assert_has(const char *text, const char *want, const char *what) {
  ck_assert_msg(strstr(text, want) != NULL, "%s lacks \"%s\"", what, want);
}

__attribute__((unused)) static void assert_lacks(const char *text, const char *bad, const char *what) {
  ck_assert_msg(strstr(text, bad) == NULL, "%s has \"%s\"", what, bad);
}

/* The SVG draws in librsvg (what a browser or an image viewer shows). */
__attribute__((unused)) static void assert_draws(const char *svg_path) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rsvg-convert '%s' -o '%s.png' 2>&1", svg_path, svg_path);
  ck_assert_msg(sh(cmd) == 0, "rsvg-convert cannot draw %s", svg_path);
}

/* ---- a damaged database is refused ---- */

/* Lesson 2 (fs0 -> vol0 -> disk0, IRPs 1 and 2, thread 1, 69 steps), one
   cell set out of range, and the message the reader must give.  Ids are
   bounded by the rows that can name things (devices, threads and IRPs,
   plus the steps for the ids a step names). */
static const struct damage {
  const char *sql, *what;
} damages[] = {
    {"UPDATE run SET cpus = 65", "CPU count 65"},
    {"UPDATE run SET cpus = -1", "CPU count -1"},
    {"UPDATE device SET id = 0 WHERE id = 3", "device id 0"},
    {"UPDATE device SET id = 90 WHERE id = 3", "device id 90"},
    {"UPDATE device SET lower_id = 90 WHERE id = 3", "lower device id 90"},
    {"UPDATE device SET stack_size = 130 WHERE id = 3", "stack size 130"},
    {"UPDATE device SET stack_size = -2 WHERE id = 3", "stack size -2"},
    {"UPDATE thread SET id = 0", "thread id 0"},
    {"UPDATE thread SET id = 90", "thread id 90"},
    {"UPDATE irp SET id = 0 WHERE id = 2", "IRP id 0"},
    {"UPDATE irp SET id = 90 WHERE id = 2", "IRP id 90"},
    {"UPDATE irp SET master = 90 WHERE id = 2", "master IRP id 90"},
    {"UPDATE irp SET thread = 90 WHERE id = 2", "IRP thread id 90"},
    {"UPDATE irp SET stack_count = 131 WHERE id = 2", "stack count 131"},
    {"UPDATE event SET cpu = 64 WHERE seq = 5", "CPU 64"},
    {"UPDATE event SET cpu = -2 WHERE seq = 5", "CPU -2"},
    {"UPDATE event SET target_cpu = 64 WHERE seq = 5", "target CPU 64"},
    {"UPDATE event SET target_cpu = -3 WHERE seq = 5", "target CPU -3"},
    {"UPDATE event SET device = 500 WHERE seq = 5", "device id 500"},
    {"UPDATE event SET routine_device = 501 WHERE seq = 5", "device id 501"},
    {"UPDATE event SET thread = 502 WHERE seq = 5", "thread id 502"},
    {"UPDATE event SET target_thread = 503 WHERE seq = 5", "thread id 503"},
    {"UPDATE event SET irp = 504 WHERE seq = 5", "IRP id 504"},
    {"UPDATE event SET port = 505 WHERE seq = 5", "object id 505"},
    {"UPDATE event SET file = 506 WHERE seq = 5", "object id 506"},
    {"UPDATE event SET object = 507 WHERE seq = 5", "object id 507"},
    {"UPDATE event SET stack_location = 200 WHERE seq = 5", "stack location 200"},
    {"UPDATE event SET loc_from = -2 WHERE seq = 5", "stack location -2"},
    {"UPDATE event SET loc_to = 131 WHERE seq = 5", "stack location 131"},
    {"UPDATE event SET stack_size = 132 WHERE seq = 5", "stack location 132"},
    {"UPDATE event SET t_ns = -5 WHERE seq = 5", "time -5"},
};

START_TEST(damaged_database_is_refused) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/02-async-read.iosim");
  char bad[160], out[160], want[512], err[512];
  fx_path(&fx, "bad.db", bad, sizeof bad);
  fx_path(&fx, "out.json", out, sizeof out);
  for (size_t i = 0; i < sizeof damages / sizeof *damages; i++) {
    copy_file(fx.db, bad);
    db_exec(bad, damages[i].sql);
    snprintf(want, sizeof want, "%s: the database is damaged: %s is out of range", bad, damages[i].what);
    err[0] = 0;
    int rc = viz_export_perfetto(bad, 0, out, err, sizeof err);
    ck_assert_msg(rc == VIZ_EINVAL && !strcmp(err, want), "%s: rc %d, \"%s\", expected \"%s\"", damages[i].sql, rc,
                  err, want);
    ck_assert_msg(access(out, F_OK) != 0, "%s: the export was written", damages[i].sql);
    unlink(bad);
  }
  /* The same file intact exports. */
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  fx_end(&fx);
}
END_TEST

/* ---- names are escaped ---- */

/* Names with the characters each format must escape, set in a recorded
   run of lesson 2 (thread app, fs0 -> vol0 -> disk0, read r1). */
static const char odd_names[] =
    "UPDATE run SET scenario = 'sc\"en\\' || char(9) || 'ario <&>';"
    "UPDATE thread SET name = 'ap\"p\\' || char(10) || '<&>';"
    "UPDATE device SET name = 'fs\"0\\<&>' WHERE id = 3;"
    "UPDATE driver SET name = 'f<&>\"s' WHERE id = 4;"
    "UPDATE irp SET tag = 'r\"1\\<&>' WHERE id = 2;"
    "UPDATE event SET status = 'STATUS_\"ODD\\<&>' WHERE kind IN ('dispatch-return', 'syscall-return', 'complete',"
    " 'completion-return', 'iosb-written');"
    "UPDATE event SET service = 'Nt\"Read\\<&>' WHERE service IS NOT NULL;";

START_TEST(perfetto_escapes_names) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/02-async-read.iosim");
  db_exec(fx.db, odd_names);
  char out[160], err[512];
  fx_path(&fx, "trace.json", out, sizeof out);
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  char *json = slurp(out);
  ck_assert_msg(json_valid(json), "the export is not JSON");
  assert_has(json, "\"scenario\":\"sc\\\"en\\\\\\u0009ario <&>\"", "the export");
  assert_has(json, "\"name\":\"thread ap\\\"p\\\\\\u000a<&>\"", "the export");
  assert_has(json, "\"status\":\"STATUS_\\\"ODD\\\\<&>\"", "the export");
  assert_has(json, "\"name\":\"Nt\\\"Read\\\\<&>\"", "the export");
  assert_has(json, "\"returned\":\"STATUS_\\\"ODD\\\\<&>\"", "the export");
  assert_has(json, "(IRP 2 r\\\"1\\\\<&>)", "the export");
  free(json);
  fx_end(&fx);
}
END_TEST

TEST_SUITE(viz_cover_suite)
static Suite *viz_cover_suite(void) {
  Suite *s = suite_create("viz_cover");
  TCase *t = tcase_create("corners");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, damaged_database_is_refused);
  tcase_add_test(t, perfetto_escapes_names);
  suite_add_tcase(s, t);
  return s;
}
