/*
 * test_crash.c - a traced run killed with SIGKILL at any moment leaves a
 * consistent database (issue 19 item 3, docs/reliability.md): integrity
 * check ok, the earlier complete run intact, and the killed run reported
 * by the readers as "never finished: the writer was killed" with a
 * non-zero exit status - not as an empty run.  The moments are spread over
 * the run (before, inside and after the periodic commits).
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "iosim/tracedb.h"
#include "testlib.h"

static const char *const long_run =
    "scenario \"long\"\nmachine max-time 100s max-steps 50000000\nthread app\n"
    "  repeat 10000000\n    delay 1us\n  end\nend\n";

static int64_t query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  const unsigned char *t = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
  snprintf(out, n, "%s", t ? (const char *)t : "");
  sqlite3_finalize(st);
}

START_TEST(sigkill_at_random_moments_keeps_the_database) {
  if (access("../iosim", X_OK) != 0) {
    fprintf(stderr, "test_crash: ../iosim is not built, skipping\n");
    return;
  }
  char dir[] = "/tmp/iosim-crash-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char scn[600], db[600], cmd[2000];
  snprintf(scn, sizeof scn, "%s/long.iosim", dir);
  snprintf(db, sizeof db, "%s/t.db", dir);
  FILE *f = fopen(scn, "w");
  ck_assert_ptr_nonnull(f);
  fputs(long_run, f);
  fclose(f);
  /* Moments in ms: at once, early, after the first periodic commits. */
  static const int moments[] = {5, 60, 300, 900, 1700};
  srand(19); /* spread, but the same each time */
  for (size_t m = 0; m < sizeof moments / sizeof moments[0]; m++) {
    unlink(db);
    snprintf(cmd, sizeof cmd, "../iosim run --quiet --db %s ../scenarios/lessons/02-async-read.iosim >/dev/null", db);
    ck_assert_int_eq(system(cmd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl("../iosim", "iosim", "run", "--quiet", "--db", db, scn, (char *)NULL);
      _exit(127);
    }
    int ms = moments[m] + rand() % 50;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFSIGNALED(st), "the writer ended before it was killed at %d ms", ms);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    char ok[64];
    query_text(h, "PRAGMA integrity_check", ok, sizeof ok);
    ck_assert_str_eq(ok, "ok");
    char outcome[64];
    query_text(h, "SELECT outcome FROM run WHERE id = 1", outcome, sizeof outcome);
    ck_assert_str_eq(outcome, "ok");
    ck_assert_int_eq(query_int(h, "SELECT count(*) FROM event WHERE run_id = 1"),
                     query_int(h, "SELECT events FROM run WHERE id = 1"));
    int64_t runs = query_int(h, "SELECT count(*) FROM run");
    sqlite3_close(h);
    if (runs < 2) continue; /* killed before its run row: nothing to report */
    snprintf(cmd, sizeof cmd, "../iosim viz --db %s --run 2 --list > %s/out 2>&1", db, dir);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) != 0, "the reader accepted the killed run (killed at %d ms)", ms);
    char out[600], line[400] = "";
    snprintf(out, sizeof out, "%s/out", dir);
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    unlink(out);
    ck_assert_msg(strstr(line, "never finished: the writer was killed"), "killed at %d ms: %s", ms, line);
  }
  unlink(db);
  char wal[700];
  snprintf(wal, sizeof wal, "%s-wal", db);
  unlink(wal);
  snprintf(wal, sizeof wal, "%s-shm", db);
  unlink(wal);
  unlink(scn);
  rmdir(dir);
}
END_TEST

/* The other side: while the writer is alive, readers never call its run
   killed, whenever they look (before, between and after its periodic
   commits): they say it is still being written. */
START_TEST(a_live_writer_is_never_called_killed) {
  if (access("../iosim", X_OK) != 0) return;
  char dir[] = "/tmp/iosim-live-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char scn[600], db[600], cmd[2000];
  snprintf(scn, sizeof scn, "%s/long.iosim", dir);
  snprintf(db, sizeof db, "%s/t.db", dir);
  FILE *f = fopen(scn, "w");
  ck_assert_ptr_nonnull(f);
  fputs(long_run, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "../iosim run --quiet --db %s ../scenarios/lessons/02-async-read.iosim >/dev/null", db);
  ck_assert_int_eq(system(cmd), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl("../iosim", "iosim", "run", "--quiet", "--db", db, scn, (char *)NULL);
    _exit(127);
  }
  int looked = 0;
  for (int i = 0; i < 60; i++) {
    nanosleep(&(struct timespec){.tv_nsec = 25 * 1000 * 1000}, NULL);
    char err[600];
    tracedb_t *t = tracedb_open_readonly(db, err, sizeof err);
    if (!t) continue; /* the writer is creating its run row */
    int64_t picked = 0;
    int rc = tracedb_pick_run(t, 2, &picked, err, sizeof err);
    tracedb_close(t);
    ck_assert_int_ne(rc, SIM_OK);
    ck_assert_msg(!strstr(err, "never finished"), "a live writer's run was called killed: %s", err);
    ck_assert_msg(strstr(err, "run 2 is still being written ("), "%s", err);
    looked++;
  }
  int st;
  ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0); /* still running: the looks were at a live writer */
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  ck_assert_int_gt(looked, 10);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

TEST_SUITE(crash_suite)
static Suite *crash_suite(void) {
  Suite *s = suite_create("crash");
  TCase *tc = tcase_create("crash");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, sigkill_at_random_moments_keeps_the_database);
  tcase_add_test(tc, a_live_writer_is_never_called_killed);
  suite_add_tcase(s, tc);
  return s;
}
