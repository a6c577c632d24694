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
#include <dirent.h>
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
#include "iosim/trace.h"
#include "iosim/tracedb.h"
#include "iosim/viz.h"
#include "fixture.h"
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
  tfix_record(db, path, lib);
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

static void assert_lacks(const char *text, const char *bad, const char *what) {
  ck_assert_msg(strstr(text, bad) == NULL, "%s has \"%s\"", what, bad);
}

/* The SVG draws in librsvg (what a browser or an image viewer shows). */
static void assert_draws(const char *svg_path) {
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
    {"UPDATE event SET t_ns = 1 WHERE seq = 30", "time 1"}, /* before the step ahead of it */
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
  /* Every reader refuses it the same way, before drawing anything. */
  copy_file(fx.db, bad);
  db_exec(bad, "UPDATE event SET irp = 504 WHERE seq = 5");
  snprintf(want, sizeof want, "%s: the database is damaged: IRP id 504 is out of range", bad);
  for (int reader = 0; reader < 3; reader++) {
    fx_path(&fx, reader == 2 ? "out.html" : "out.svg", out, sizeof out);
    int rc = reader == 0   ? viz_irp(bad, 0, 2, out, NULL, err, sizeof err)
             : reader == 1 ? viz_timeline(bad, 0, out, NULL, err, sizeof err)
                           : viz_html(bad, 0, NULL, out, err, sizeof err);
    ck_assert_msg(rc == VIZ_EINVAL && !strcmp(err, want), "reader %d: rc %d, \"%s\"", reader, rc, err);
    ck_assert_int_ne(access(out, F_OK), 0);
  }
  /* The same file intact exports. */
  fx_path(&fx, "out.json", out, sizeof out);
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  fx_end(&fx);
}
END_TEST

/* A database missing a column the reader needs: SQLite's words. */
static const struct missing {
  const char *sql, *msg;
} missings[] = {
    {"ALTER TABLE run DROP COLUMN cpus", "cannot read the trace: no such column: cpus"},
    {"ALTER TABLE device DROP COLUMN stack_size", "cannot read the trace: no such column: d.stack_size"},
    {"ALTER TABLE thread DROP COLUMN state", "cannot read the trace: no such column: state"},
    {"ALTER TABLE irp DROP COLUMN freed", "cannot read the trace: no such column: freed"},
    {"DROP VIEW event_named; DROP VIEW irp_path; DROP VIEW completion_routine; DROP VIEW irp_pending;"
     " DROP VIEW deferred_call; DROP VIEW cpu_deferred; ALTER TABLE event DROP COLUMN line",
     "cannot read the trace: no such column: line"},
};

START_TEST(missing_column_is_reported) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/02-async-read.iosim");
  char bad[160], out[160], want[512], err[512];
  fx_path(&fx, "bad.db", bad, sizeof bad);
  fx_path(&fx, "out.json", out, sizeof out);
  for (size_t i = 0; i < sizeof missings / sizeof *missings; i++) {
    copy_file(fx.db, bad);
    db_exec(bad, missings[i].sql);
    snprintf(want, sizeof want, "%s: %s", bad, missings[i].msg);
    int rc = viz_export_perfetto(bad, 0, out, err, sizeof err);
    ck_assert_msg(rc == VIZ_EIO && !strcmp(err, want), "%s: rc %d, \"%s\", expected \"%s\"", missings[i].sql, rc, err,
                  want);
    ck_assert_int_ne(access(out, F_OK), 0);
    unlink(bad);
  }
  fx_end(&fx);
}
END_TEST

/* What the export says where the database lacks something it can do
   without: a port's name, a device's row, a system call's name, a status. */
START_TEST(export_without_optional_facts) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/10-iocp.iosim");
  char out[160], err[512];
  fx_path(&fx, "out.json", out, sizeof out);
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  char *json = slurp(out);
  assert_has(json, "\"name\":\"port P\"", "the export");
  assert_has(json, "\"name\":\"ISR disk0 (IRP 2 r1)\"", "the export");
  assert_has(json, "\"name\":\"NtReadFile\"", "the export");
  assert_has(json, "\"result\":\"STATUS_SUCCESS\"", "the export");
  assert_lacks(json, "HIGH_LEVEL", "the export");
  /* A run cut short has no end time: it ends at its last step, which here
     is where the run ended anyway. */
  db_exec(fx.db, "UPDATE run SET end_ns = NULL");
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  char *again = slurp(out);
  ck_assert_str_eq(again, json);
  free(again);
  free(json);
  /* No port table: ports by number.  The disk's row gone: steps without its
     name.  Names and statuses gone: placeholders. */
  db_exec(fx.db, "DROP TABLE port; DELETE FROM device WHERE name = 'disk0'; UPDATE run SET scenario = NULL;"
                 "UPDATE event SET service = NULL; UPDATE event SET status = NULL WHERE kind IN ('wait-done',"
                 " 'sleep-done', 'syscall-return');"
                 "UPDATE event SET irql = 15 WHERE kind = 'isr'");
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  json = slurp(out);
  ck_assert(json_valid(json));
  assert_has(json, "\"name\":\"port 1\"", "the export");
  assert_has(json, "\"otherData\":{\"scenario\":\"\",", "the export");
  assert_lacks(json, "port P", "the export");
  assert_has(json, "\"name\":\"ISR (IRP 2 r1)\"", "the export");
  assert_lacks(json, "NtReadFile", "the export");
  assert_has(json, "\"name\":\"system call\"", "the export");
  assert_has(json, "\"returned\":\"-\"", "the export");
  assert_has(json, "\"result\":\"-\"", "the export");
  assert_has(json, "\"irql\":\"HIGH_LEVEL\"", "the export");
  assert_has(json, "\"args\":{\"IRQL\":15}", "the export");
  free(json);
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

/* The IRP's picture: every name in its labels escaped (Graphviz writes
   the HTML label's entities back into the SVG), and the SVG draws. */
START_TEST(irp_picture_escapes_names) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/02-async-read.iosim");
  db_exec(fx.db, odd_names);
  db_exec(fx.db, "UPDATE irp SET major = 'IRP_<MJ>' WHERE id = 2");
  char out[160], err[512];
  fx_path(&fx, "irp.svg", out, sizeof out);
  ck_assert_msg(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  assert_draws(out);
  char *svg = slurp(out);
  static const char *const want[] = {
      "IRP 2 (r&quot;1\\&lt;&amp;&gt;) IRP_&lt;MJ&gt;",            /* the title: tag and major */
      "run 1 of sc&quot;en\\ario &lt;&amp;&gt;, seed 7, outcome ok", /* the scenario's path */
      "thread ap&quot;p\\&lt;&amp;&gt;",                            /* the issuing thread */
      "Nt&quot;Read\\&lt;&amp;&gt;",                                /* its system call */
      "the call returned STATUS_&quot;ODD\\&lt;&amp;&gt; at 3.750 us",
      "fs&quot;0\\&lt;&amp;&gt;&#39;s completion routine",           /* a device */
      "\\Driver\\f&lt;&amp;&gt;&quot;s",                              /* its driver */
      " returns STATUS_&quot;ODD\\&lt;&amp;&gt;",                    /* a dispatch routine's status */
      ": IoCompleteRequest (STATUS_&quot;ODD\\&lt;&amp;&gt;)",
      "IoStatus = STATUS_&quot;ODD\\&lt;&amp;&gt;, Information 4096",
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) assert_has(svg, want[i], "the IRP's SVG");
  assert_lacks(svg, "<&>", "the IRP's SVG");
  free(svg);
  fx_end(&fx);
}
END_TEST

/* The timeline: its HTML title and its plain labels and tooltips. */
START_TEST(timeline_escapes_names) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/02-async-read.iosim");
  db_exec(fx.db, odd_names);
  char out[160], err[512];
  fx_path(&fx, "timeline.svg", out, sizeof out);
  ck_assert_msg(viz_timeline(fx.db, 0, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  assert_draws(out);
  char *svg = slurp(out);
  assert_has(svg, " of run 1: sc&quot;en\\ario &lt;&amp;&gt; (seed 7, ok), 8 frames, 206.810 us", "the timeline");
  assert_has(svg, ">thread ap&quot;p&#10;&lt;&amp;&gt;</text>", "the timeline's lane");
  assert_has(svg, "xlink:title=\"APC on CPU 0 in ap&quot;p&#10;&lt;&amp;&gt;, 206.010 us to 206.810 us", "a tooltip");
  assert_lacks(svg, "<&>", "the timeline");
  free(svg);
  fx_end(&fx);
}
END_TEST

/* ---- the IRP's picture from unusual facts ----
   Lesson 2's read r1 (IRP 2: fs0 -> vol0 -> disk0, completed in disk0's
   DPC; steps 3 and 20 the thread's system calls, 23 fs0's IoCallDriver, 26
   its IoSetCompletionRoutine, 27 and 28 the call into vol0 and its dispatch,
   35 vol0's return, 37 the read returning, 48 IoCompleteRequest, 49 fs0's
   completion routine, 51 its IoMarkIrpPending, 53 the walk's end, 59 the
   APC, 61 the I/O status block written) edited, one picture each. */
static const struct flow_case {
  const char *scenario; /* NULL: lesson 2 */
  const char *sql;
  const char *want[6];
  const char *lacks;
} flow_cases[] = {
    /* Completed by a device the IRP never went to: drawn straight up to
       the issuer, the walk ending there; a step in an idle frame, one in a
       frame the reader does not know; steps without their thread. */
    {NULL, "INSERT INTO device(run_id, id, name, driver_id, stack_size) VALUES (1, 4, 'other0', 1, 1);"
     "UPDATE event SET device = 4 WHERE seq = 48; UPDATE event SET frame = 'idle' WHERE seq = 23;"
     "UPDATE event SET thread = NULL WHERE seq IN (27, 59); UPDATE event SET frame = 'elsewhere' WHERE seq = 30",
     {"<b>other0</b>: IoCompleteRequest (STATUS_SUCCESS)", "walk done", "3.350 us, CPU 0, PASSIVE_LEVEL, idle",
      "PASSIVE_LEVEL, thread ?", "APC_LEVEL, APC in ?", "IoCallDriver(<b>disk0</b>) -&gt; location 2<br/>3.570 us, CPU 0, PASSIVE_LEVEL, -"},
     "<b>disk0</b>: IoCompleteRequest"},
    /* No system call before the IRP, none returning it; vol0's dispatch
       step lost, its return then going to fs0 above it; no status, no
       Control, no PendingReturned, no Information; the thread still
       waiting at the end. */
    {NULL, "DELETE FROM event WHERE seq IN (3, 20, 28, 37); UPDATE irp SET information = NULL;"
     "UPDATE thread SET state = 'waiting'; UPDATE event SET status = '' WHERE seq = 35;"
     "UPDATE event SET control = NULL WHERE seq = 26; UPDATE event SET pending_returned = NULL WHERE seq IN (49, 53);"
     "UPDATE event SET information = NULL WHERE seq = 61",
     {"the system call never returned", "at the end of the run the thread still waits: a hang",
      "IRP's final status STATUS_SUCCESS<", "<b>vol0</b> returns ?<br/>", "IoStatus = STATUS_SUCCESS>"},
     "PendingReturned="},
    /* An IRP no thread issued, a device the table lacks, Control 0. */
    {NULL, "UPDATE irp SET thread = NULL WHERE id = 2; DELETE FROM device WHERE id = 2;"
     "UPDATE event SET device = NULL WHERE seq = 51; UPDATE event SET control = 0 WHERE seq = 26",
     {"<b>IRP 2</b><br/>allocated by a driver", "\\Driver\\?", "<b>?</b>", "(invoke on nothing)"},
     "NtReadFile"},
    /* An IRP without a step: its thread and the legend, no arrow. */
    {NULL, "DELETE FROM event WHERE irp = 2", {"<b>thread app</b>", "How to read it"}, "class=\"step"},
    /* Lesson 3's r2 (IRP 3, sent by fs0) made an associated IRP of r1, its tag gone. */
    {"../scenarios/lessons/03-more-processing.iosim", "UPDATE irp SET master = 2, tag = NULL WHERE id = 3",
     {"<b>allocates IRP 3</b>, associated</font>", "<b>IRP 3</b>, associated</font>", "[sub]</font>"},
     "sent by a driver"},
    /* Lesson 4's ra (IRP 2): the I/O manager's copy of the pending mark
       names a location no device drawn holds: no mark is drawn for it. */
    {"../scenarios/lessons/04-pending-propagation.iosim",
     "UPDATE event SET loc_to = 9 WHERE kind = 'pending-propagated' AND irp = 2",
     {"<b>PENDING</b> IoMarkIrpPending in dispatch"},
     "copied up by the I/O manager"},
};

START_TEST(irp_picture_of_unusual_facts) {
  const struct flow_case *k = &flow_cases[_i];
  fx_t fx;
  fx_begin(&fx, k->scenario ? k->scenario : "../scenarios/lessons/02-async-read.iosim");
  db_exec(fx.db, k->sql);
  char out[160], err[512];
  fx_path(&fx, "irp.dot", out, sizeof out);
  ck_assert_msg(viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *dot = slurp(out);
  for (int i = 0; i < 6 && k->want[i]; i++) assert_has(dot, k->want[i], "the picture");
  assert_lacks(dot, k->lacks, "the picture");
  free(dot);
  fx_end(&fx);
}
END_TEST

/* Past what a picture holds (fixtures/viz-cover/fan-out.iosim: a driver
   sends ten reads of its own down 31 filters to disk0 while its read r1
   completes): 32 layers a flow, 8 flows, 160 arrows, and the title says
   the first ones are shown.  Each sub-flow's walk stops (its sender frees
   it and returns STATUS_MORE_PROCESSING_REQUIRED): the stops sit in their
   sub-flow's box, which dot 2.42 needs not to crash. */
START_TEST(irp_picture_past_its_limits) {
  fx_t fx;
  fx_begin(&fx, FIXTURES "fan-out.iosim");
  char out[160], err[512];
  fx_path(&fx, "irp.dot", out, sizeof out);
  uint32_t irp = 0;
  ck_assert_int_eq(viz_find_irp(fx.db, 0, "r1", &irp, err, sizeof err), VIZ_OK);
  ck_assert_msg(viz_irp(fx.db, 0, irp, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *dot = slurp(out);
  assert_has(dot, "(too many steps: the first ones are shown)", "the picture");
  int clusters = 0, arrows = 0, stops = 0;
  for (const char *p = dot; (p = strstr(p, "subgraph cluster_irp")); p++) clusters++;
  for (const char *p = dot; (p = strstr(p, "class=\"step s")); p++) arrows++;
  for (const char *p = dot; (p = strstr(p, "<b>STOP</b></font><br/>walk stopped")); p++) stops++;
  ck_assert_int_eq(clusters, 7);
  ck_assert_int_eq(arrows, 160);
  ck_assert_int_eq(stops, 7);
  /* r1's flow holds fan0 and the 31 filters, a sub-flow the filters and
     the disk: disk0 is in the seven sub-flows, not in r1's. */
  int f1 = 0, disk = 0;
  for (const char *p = dot; (p = strstr(p, "<b>f1</b></font>")); p++) f1++;
  for (const char *p = dot; (p = strstr(p, "<b>disk0</b></font>")); p++) disk++;
  ck_assert_int_eq(f1, 8);
  ck_assert_int_eq(disk, 7);
  free(dot);
  fx_end(&fx);
}
END_TEST

/* ---- the timeline past its thread lanes, with a clock tick ---- */

/* 26 threads (hog, app, t1..t24): 24 lanes and one shared by the other
   two; the clock tick that drained app's DPC on CPU 0 (as in lesson 20)
   marked, whether the timeline is detailed or summarised. */
static const struct tl_case {
  const char *scenario;
  const char *want;
} tl_cases[] = {
    {FIXTURES "many-threads.iosim", "time axis not to scale"},
    {FIXTURES "many-steps.iosim", " frames merged into "},
};

START_TEST(timeline_shares_a_lane_and_marks_ticks) {
  fx_t fx;
  fx_begin(&fx, tl_cases[_i].scenario);
  char out[160], err[512];
  fx_path(&fx, "timeline.svg", out, sizeof out);
  ck_assert_msg(viz_timeline(fx.db, 0, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *svg = slurp(out);
  assert_has(svg, tl_cases[_i].want, "the timeline");
  assert_has(svg, ">thread t22</text>", "the timeline's lanes");
  assert_lacks(svg, ">thread t23</text>", "the timeline's lanes");
  assert_has(svg, ">2 other threads</text>", "the timeline's lanes");
  assert_has(svg, "clock tick on CPU 0 at 15625.000 us: 1 DPC waiting, none requested: DISPATCH interrupt requested",
             "the timeline");
  free(svg);
  fx_end(&fx);
}
END_TEST

/* A tick drawn between two frame boundaries (its step moved back a
   nanosecond), and a thread the thread table lacks: 25 threads known, so
   one shares the last lane. */
START_TEST(timeline_tick_between_boundaries) {
  fx_t fx;
  fx_begin(&fx, FIXTURES "many-threads.iosim");
  db_exec(fx.db, "UPDATE event SET t_ns = t_ns - 1 WHERE kind = 'clock-tick'; DELETE FROM thread WHERE name = 't1'");
  char out[160], err[512];
  fx_path(&fx, "timeline.svg", out, sizeof out);
  ck_assert_msg(viz_timeline(fx.db, 0, out, NULL, err, sizeof err) == VIZ_OK, "%s", err);
  char *svg = slurp(out);
  assert_has(svg, "clock tick on CPU 0 at 15624.999 us", "the timeline");
  assert_has(svg, ">thread t23</text>", "the timeline's lanes");
  assert_has(svg, ">1 other threads</text>", "the timeline's lanes");
  assert_lacks(svg, ">thread t1</text>", "the timeline's lanes");
  free(svg);
  fx_end(&fx);
}
END_TEST

/* ---- the explorer page ---- */

/* The page with every option: its title escaped in <title>, the source
   and explanations in the data (a "</" or "<!" never closing the script
   element), the extra members, and diagrams only while the budget lasts
   (a budget of one byte: the first IRP's, so one picture is drawn). */
START_TEST(html_page_with_every_option) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/01-sync-read.iosim");
  char out[160], err[512];
  fx_path(&fx, "page.html", out, sizeof out);
  const char *explain[] = {NULL, "", "the thread enters NtReadFile </script> <!-- or so -->"};
  viz_html_opts_t o = {.title = "sync <read> & \"more\"",
                       .source = "scenario \"x\" </script><!-- a comment -->\n",
                       .explain = explain,
                       .nexplain = 3,
                       .extra_json = "\"extra\":[1,2]",
                       .svg_budget = 1};
  ck_assert_msg(viz_html(fx.db, 0, &o, out, err, sizeof err) == VIZ_OK, "%s", err);
  char *page = slurp(out);
  assert_has(page, "<title>iosim explorer: sync &lt;read&gt; &amp; &quot;more&quot;</title>", "the page");
  assert_has(page, "\"title\":\"sync <read> & \\\"more\\\"\"", "the page's data");
  assert_has(page, "\"source\":\"scenario \\\"x\\\" <\\/script>\\u003c!-- a comment -->\\u000a\"", "the page's data");
  assert_has(page, "\"expl\":[\"the thread enters NtReadFile <\\/script> \\u003c!-- or so -->\"]", "the page's data");
  assert_has(page, "\"extra\":[1,2],", "the page's data");
  assert_has(page, "\"svgs\":{\"1\":\"<svg", "the page's data");
  assert_lacks(page, "\"2\":\"<svg", "the page's data");
  /* One script element of data, closed once. */
  const char *data = strstr(page, "<script type=\"application/json\" id=\"run-data\">");
  ck_assert_ptr_nonnull(data);
  const char *end = strstr(data, "</script>");
  ck_assert_ptr_nonnull(end);
  ck_assert_msg(strstr(data, "\"v\":1}") != NULL && strstr(data, "\"v\":1}") < end, "the data ends early");
  free(page);
  fx_end(&fx);
}
END_TEST

/* viz_run_info and viz_check_kinds, which `iosim html FILE` uses to check
   that a database holds the run it just made. */
START_TEST(run_info_and_kinds) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/01-sync-read.iosim");
  char path[256], err[512];
  uint64_t seed = 0;
  int64_t picked = 0;
  ck_assert_int_eq(viz_run_info(fx.db, 0, path, sizeof path, &seed, &picked, err, sizeof err), VIZ_OK);
  ck_assert_str_eq(path, "../scenarios/lessons/01-sync-read.iosim");
  ck_assert_int_eq(seed, 1);
  ck_assert_int_eq(picked, 1);
  ck_assert_int_eq(viz_run_info(fx.db, 2, path, sizeof path, &seed, &picked, err, sizeof err), VIZ_EINVAL);
  /* The run's kinds, read back with SQLite, in order. */
  sqlite3 *h = NULL;
  ck_assert_int_eq(sqlite3_open(fx.db, &h), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT kind FROM event ORDER BY rowid", -1, &st, NULL), SQLITE_OK);
  int kinds[512];
  size_t n = 0;
  while (sqlite3_step(st) == SQLITE_ROW && n < 512) {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    int i = 0;
    while (i < TRC_KIND_COUNT && strcmp(trc_kind_name((trc_kind_t)i), k)) i++;
    ck_assert_msg(i < TRC_KIND_COUNT, "unknown kind %s", k);
    kinds[n++] = i;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  ck_assert_int_gt(n, 10);
  ck_assert_int_eq(viz_check_kinds(fx.db, 0, kinds, n), VIZ_OK);
  ck_assert_int_eq(viz_check_kinds(fx.db, 0, kinds, n - 1), VIZ_EINVAL);
  kinds[3] = kinds[3] == 0 ? 1 : 0;
  ck_assert_int_eq(viz_check_kinds(fx.db, 0, kinds, n), VIZ_EINVAL);
  ck_assert_int_eq(viz_check_kinds(fx.db, 5, kinds, n), VIZ_EINVAL);
  fx_end(&fx);
}
END_TEST

/* ---- styles, formats and output paths ---- */

/* Refused before the database is read: no picture, no file. */
static const struct refusal {
  double scale, font;
  const char *out; /* under the test's folder */
  const char *msg; /* after "FILE: " (the output's path) or "iosim: " (a style) */
} refusals[] = {
    {5, 0, "t.svg", "the scale must be between 0.25 and 4, not 5"},
    {0.2, 0, "t.svg", "the scale must be between 0.25 and 4, not 0.2"},
    {0, 60, "t.svg", "the font size must be between 8 and 48 points, not 60"},
    {0, 7, "t.svg", "the font size must be between 8 and 48 points, not 7"},
    {0.5, 12, "t.svg", "font size 12 at scale 0.5 makes the smallest labels 6.0 points high: under 8, a projector's"
                       " audience cannot read them"},
    {0, 0, "t", "unknown picture format 'no extension' (name the file .svg, .png, .pdf or .dot)"},
    {0, 0, "d.x/t", "unknown picture format 'no extension' (name the file .svg, .png, .pdf or .dot)"},
    {0, 0, "t.gif", "unknown picture format '.gif' (name the file .svg, .png, .pdf or .dot)"},
    {0, 0, "t.json", "unknown picture format '.json' (name the file .svg, .png, .pdf or .dot)"},
};

START_TEST(bad_styles_and_formats_are_refused) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/01-sync-read.iosim");
  char out[160], want[512], err[512];
  for (size_t i = 0; i < sizeof refusals / sizeof *refusals; i++) {
    const struct refusal *r = &refusals[i];
    fx_path(&fx, r->out, out, sizeof out);
    viz_style_t st = {.scale = r->scale, .font_size = r->font};
    bool style = r->scale || r->font;
    snprintf(want, sizeof want, "%s: %s", style ? "iosim" : out, r->msg);
    /* Both pictures check the same way. */
    for (int pic = 0; pic < 2; pic++) {
      err[0] = 0;
      int rc = pic ? viz_timeline(fx.db, 0, out, &st, err, sizeof err) : viz_irp(fx.db, 0, 2, out, &st, err, sizeof err);
      ck_assert_msg(rc == VIZ_EINVAL && !strcmp(err, want), "%s %s: rc %d, \"%s\", expected \"%s\"",
                    pic ? "timeline" : "irp", r->out, rc, err, want);
      ck_assert_int_ne(access(out, F_OK), 0);
    }
  }
  /* The export is JSON only; the extension's case does not matter. */
  fx_path(&fx, "t.svg", out, sizeof out);
  ck_assert_int_eq(viz_export_perfetto(fx.db, 0, out, err, sizeof err), VIZ_EINVAL);
  snprintf(want, sizeof want, "%s: the trace-event export is JSON: name the file *.json", out);
  ck_assert_str_eq(err, want);
  fx_path(&fx, "t.JSON", out, sizeof out);
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  ck_assert_int_eq(access(out, F_OK), 0);
  /* No room for a message: the code alone; a short one is cut. */
  fx_path(&fx, "t.gif", out, sizeof out);
  ck_assert_int_eq(viz_irp(fx.db, 0, 2, out, NULL, NULL, 0), VIZ_EINVAL);
  char small[8];
  ck_assert_int_eq(viz_irp(fx.db, 0, 2, out, NULL, small, sizeof small), VIZ_EINVAL);
  ck_assert_int_eq(strncmp(small, out, sizeof small - 1), 0);
  ck_assert_int_eq(strlen(small), sizeof small - 1);
  fx_end(&fx);
}
END_TEST

/* Entries of a folder other than . and .. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

/* A file is written whole under its name, or not at all. */
START_TEST(output_is_whole_or_absent) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/01-sync-read.iosim");
  char out[160], dir[160], want[512], err[512];
  fx_path(&fx, "pics", dir, sizeof dir);
  ck_assert_int_eq(mkdir(dir, 0777), 0);

  /* The name is a folder: the temporary file is removed. */
  fx_path(&fx, "pics/t.json", out, sizeof out);
  ck_assert_int_eq(mkdir(out, 0777), 0);
  ck_assert_int_eq(viz_export_perfetto(fx.db, 0, out, err, sizeof err), VIZ_EIO);
  snprintf(want, sizeof want, "%s: cannot replace it: Is a directory", out);
  ck_assert_str_eq(err, want);
  ck_assert_int_eq(entries(dir), 1);
  ck_assert_int_eq(rmdir(out), 0);

  /* The temporary name (".t.json.PID.N.tmp" beside it) is taken: the next
     one is tried, a hundred of them. */
  char tmp[200];
  snprintf(tmp, sizeof tmp, "%s/.t.json.%ld.0.tmp", dir, (long)getpid());
  FILE *f = fopen(tmp, "w");
  ck_assert(f != NULL);
  fclose(f);
  ck_assert_msg(viz_export_perfetto(fx.db, 0, out, err, sizeof err) == VIZ_OK, "%s", err);
  ck_assert_int_eq(entries(dir), 2);
  unlink(out);
  for (int i = 1; i < 100; i++) {
    snprintf(tmp, sizeof tmp, "%s/.t.json.%ld.%d.tmp", dir, (long)getpid(), i);
    f = fopen(tmp, "w");
    ck_assert(f != NULL);
    fclose(f);
  }
  ck_assert_int_eq(viz_export_perfetto(fx.db, 0, out, err, sizeof err), VIZ_EIO);
  snprintf(want, sizeof want, "%s: cannot write here: File exists", out);
  ck_assert_str_eq(err, want);
  ck_assert_int_ne(access(out, F_OK), 0);

  /* A folder that is not there: known before anything is drawn. */
  for (int writer = 0; writer < 4; writer++) {
    static const char *const name[] = {"none/t.json", "none/t.svg", "none/t.png", "none/t.html"};
    fx_path(&fx, name[writer], out, sizeof out);
    int rc = writer == 0   ? viz_export_perfetto(fx.db, 0, out, err, sizeof err)
             : writer == 1 ? viz_irp(fx.db, 0, 2, out, NULL, err, sizeof err)
             : writer == 2 ? viz_timeline(fx.db, 0, out, NULL, err, sizeof err)
                           : viz_html(fx.db, 0, NULL, out, err, sizeof err);
    snprintf(want, sizeof want, "%s: cannot write here: No such file or directory", out);
    ck_assert_msg(rc == VIZ_EIO && !strcmp(err, want), "%s: rc %d, \"%s\"", name[writer], rc, err);
  }
  fx_end(&fx);
}
END_TEST

/* `iosim viz --list`: one line per IRP, who issued it. */
START_TEST(list_names_every_issuer) {
  fx_t fx;
  fx_begin(&fx, "../scenarios/lessons/02-async-read.iosim");
  char out[160], err[512];
  fx_path(&fx, "list.txt", out, sizeof out);
  /* IRP 1 associated with IRP 2, IRP 2 issued by a thread the table lacks. */
  db_exec(fx.db, "UPDATE irp SET thread = NULL, master = 2 WHERE id = 1; UPDATE irp SET thread = 5 WHERE id = 2");
  FILE *f = fopen(out, "w");
  ck_assert_int_eq(viz_list_irps(fx.db, 0, f, err, sizeof err), VIZ_OK);
  fclose(f);
  char *text = slurp(out);
  ck_assert_str_eq(text, "run 1 (../scenarios/lessons/02-async-read.iosim, seed 7): 2 IRPs\n"
                         "1 - IRP_MJ_CREATE associated with IRP 2\n"
                         "2 r1 IRP_MJ_READ thread thread 5\n");
  free(text);
  /* One IRP, issued by a driver; a stream that cannot be written. */
  db_exec(fx.db, "DELETE FROM irp WHERE id = 2; UPDATE irp SET master = NULL WHERE id = 1");
  f = fopen(out, "w");
  ck_assert_int_eq(viz_list_irps(fx.db, 0, f, err, sizeof err), VIZ_OK);
  fclose(f);
  text = slurp(out);
  ck_assert_str_eq(text, "run 1 (../scenarios/lessons/02-async-read.iosim, seed 7): 1 IRP\n"
                         "1 - IRP_MJ_CREATE driver\n");
  free(text);
  f = fopen(out, "r");
  ck_assert_int_eq(viz_list_irps(fx.db, 0, f, err, sizeof err), VIZ_EIO);
  fclose(f);
  /* No IRP of that number, in a run without IRPs. */
  db_exec(fx.db, "DELETE FROM irp");
  fx_path(&fx, "t.svg", out, sizeof out);
  ck_assert_int_eq(viz_irp(fx.db, 0, 1, out, NULL, err, sizeof err), VIZ_EINVAL);
  char want[300];
  snprintf(want, sizeof want, "%s: run 1 has no IRPs", fx.db);
  ck_assert_str_eq(err, want);
  fx_end(&fx);
}
END_TEST

TEST_SUITE(viz_cover_suite)
static Suite *viz_cover_suite(void) {
  Suite *s = suite_create("viz_cover");
  TCase *t = tcase_create("corners");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, damaged_database_is_refused);
  tcase_add_test(t, missing_column_is_reported);
  tcase_add_test(t, export_without_optional_facts);
  tcase_add_test(t, perfetto_escapes_names);
  tcase_add_test(t, irp_picture_escapes_names);
  tcase_add_test(t, timeline_escapes_names);
  tcase_add_test(t, irp_picture_past_its_limits);
  tcase_add_test(t, timeline_tick_between_boundaries);
  tcase_add_test(t, html_page_with_every_option);
  tcase_add_test(t, run_info_and_kinds);
  tcase_add_loop_test(t, timeline_shares_a_lane_and_marks_ticks, 0, (int)(sizeof tl_cases / sizeof *tl_cases));
  tcase_add_loop_test(t, irp_picture_of_unusual_facts, 0, (int)(sizeof flow_cases / sizeof *flow_cases));
  tcase_add_test(t, bad_styles_and_formats_are_refused);
  tcase_add_test(t, output_is_whole_or_absent);
  tcase_add_test(t, list_names_every_issuer);
  suite_add_tcase(s, t);
  return s;
}
