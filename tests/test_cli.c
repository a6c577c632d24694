/*
 * test_cli.c - the command line as a user meets it: a scenario that does
 * not load leaves a "bad input" run in the trace database (and exit 2);
 * a good run is recorded with its outcome; `iosim irp` reads it back;
 * the end-of-run account is printed after the outcome.
 * Skipped (with a note) when ../iosim is not built, as under `make asan`.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string.h>

#include "testlib.h"

static int run(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct text {
  char s[1024];
} text_t;

/* The first column of the first row, as text ("" if none). */
static text_t one_text(const char *db, const char *sql) {
  text_t t = {""};
  char *buf = t.s;
  sqlite3 *h;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return t;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_text(st, 0))
    snprintf(buf, sizeof t.s, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return t;
}

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_cli: ../iosim is not built, skipping\n");
  return false;
}

START_TEST(bad_input_is_recorded) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-cliXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char db[256], cmd[512];
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(cmd, sizeof cmd, "../iosim run bad/scenarios/unknown-statement.iosim --db %s >/dev/null 2>&1", db);
  ck_assert_int_eq(run(cmd), 2);
  ck_assert_str_eq(one_text(db, "SELECT outcome FROM run WHERE id = 1").s, "bad input");
  ck_assert_ptr_nonnull(strstr(one_text(db, "SELECT message FROM run WHERE id = 1").s, "unknown statement 'devise'"));
  ck_assert_str_eq(one_text(db, "SELECT count(*) FROM event").s, "0");
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(run(cmd), 0);
}
END_TEST

START_TEST(good_run_then_irp) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-cliXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char db[256], cmd[512];
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(cmd, sizeof cmd, "../iosim run ../scenarios/lessons/02-async-read.iosim --quiet --db %s >/dev/null", db);
  ck_assert_int_eq(run(cmd), 0);
  ck_assert_int_eq(run(cmd), 0); /* a second run in the same file */
  ck_assert_str_eq(one_text(db, "SELECT count(*) FROM run WHERE outcome = 'ok'").s, "2");
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --run 2 --irp 2 --at 204us | grep -q '^>'", db);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim irp --db %s --run 9 --irp 2 >/dev/null 2>&1", db);
  ck_assert_int_eq(run(cmd), 2);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(run(cmd), 0);
}
END_TEST

/* What was left at the end: `run` prints it after the outcome; `check`
   prints it for a seed that fails (here: findings nobody predicted, with
   --no-verify off), and not for a file whose expectations all hold. */
START_TEST(account_is_printed) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-cliXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char out[64], cmd[2048];
  snprintf(out, sizeof out, "%s/out.txt", dir);
  snprintf(cmd, sizeof cmd, "../iosim run ../scenarios/bugs/irp-leaked.iosim --quiet > %s", out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd,
           "grep -A1 '^outcome: limit reached' %s | grep -q '^at the end: 2 IRPs still allocated, 1 thread still waiting$'"
           " && grep -q '^  IRP 2 (r1) of app: completed (step #[0-9]*) with PendingReturned=0 and no stage 2 queued:"
           " lost \\[irp-leaked\\]$' %s && grep -q '^  thread app sleeps' %s", out, out, out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim check ../scenarios/bugs/irp-leaked.iosim > %s", out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "grep -q 'at the end' %s", out);
  ck_assert_int_eq(run(cmd), 1);
  /* Without its expect lines the same scenario fails, and shows the account. */
  snprintf(cmd, sizeof cmd, "grep -v '^expect' ../scenarios/bugs/irp-leaked.iosim > %s/scenarios/bugs/x.iosim", dir);
  char mk[512];
  snprintf(mk, sizeof mk, "mkdir -p %s/scenarios/lib %s/scenarios/bugs && cp ../scenarios/lib/disk.iosim %s/scenarios/lib/",
           dir, dir, dir);
  ck_assert_int_eq(run(mk), 0);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim check %s/scenarios/bugs/x.iosim > %s", dir, out);
  ck_assert_int_eq(run(cmd), 1);
  snprintf(cmd, sizeof cmd, "grep -q '^at the end: 2 IRPs still allocated' %s && grep -q '^FAIL .*4 failed$' %s", out, out);
  ck_assert_int_eq(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(run(cmd), 0);
}
END_TEST

TEST_SUITE(suite_cli)
static Suite *suite_cli(void) {
  Suite *s = suite_create("cli");
  TCase *tc = tcase_create("command line");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, bad_input_is_recorded);
  tcase_add_test(tc, good_run_then_irp);
  tcase_add_test(tc, account_is_printed);
  suite_add_tcase(s, tc);
  return s;
}
