/*
 * test_explore_cli.c - schedule exploration as a user meets it: the
 * summary line's format, `iosim check` exploring a lesson that asks for it,
 * the printed token replaying with `iosim run --replay` (and
 * --replay-file), an edited scenario refusing it, the exit statuses of a
 * failure and of a search stopped by a limit, `iosim diff`, `iosim merge`.
 * Skipped (with a note) when ../iosim is not built.  Runs from tests/.
 */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define L16 "../scenarios/lessons/16-cancel-race.iosim"
#define FIXF "fixtures/scenarios/explore-forgotten-cancel.iosim"

static bool have_cli(void) {
  if (access("../iosim", X_OK) == 0) return true;
  fprintf(stderr, "test_explore_cli: ../iosim is not built, skipping\n");
  return false;
}

/* Runs cmd (stdout and stderr together) into *out; returns its exit status. */
static int capture(const char *cmd, char **out) {
  char full[2048];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t r; (r = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
    n += r;
    if (n + 1 == cap) buf = realloc(buf, cap *= 2);
  }
  buf[n] = 0;
  int st = pclose(p);
  *out = buf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool matches(const char *text, const char *re) {
  regex_t rx;
  ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
  bool m = regexec(&rx, text, 0, NULL, 0) == 0;
  regfree(&rx);
  return m;
}

/* The token of the first "iosim run FILE --replay TOKEN" line whose outcome
   line (just above) starts with `what`; "" if none. */
static void token_of(const char *out, const char *what, char *tok, size_t n) {
  tok[0] = 0;
  const char *p = strstr(out, what);
  if (!p) return;
  p = strstr(p, "--replay ");
  if (!p) return;
  p += strlen("--replay ");
  size_t k = strcspn(p, " \n");
  snprintf(tok, n, "%.*s", (int)k, p);
}

START_TEST(summary_line_has_its_format) {
  if (!have_cli()) return;
  char *out;
  ck_assert_int_eq(capture("../iosim explore " L16 " --quiet", &out), 0);
  ck_assert_msg(matches(out, "^schedules: [0-9][0-9,]* explored \\([0-9][0-9,]* beyond the bound, [0-9][0-9,]* pruned "
                             "as equivalent\\), outcomes: 2 distinct, expectations: 0 failed in 0 schedules, findings: "
                             "0 rules in 0 schedules, stalls: 0, time [0-9]+\\.[0-9]{2} s \\([0-9][0-9,]* schedules/s\\)$"),
                "summary line not found in:\n%s", out);
  ck_assert_msg(matches(out, "^covered: every schedule with at most 2 preemptions \\(not the ones with more\\)"), "%s", out);
  ck_assert(!strstr(out, "exhaustive"));
  free(out);
  /* A failure: its line counts, the exit status says so, its trace is there. */
  ck_assert_int_eq(capture("../iosim explore " FIXF, &out), 1);
  ck_assert_msg(matches(out, "expectations: 2 failed in [0-9,]+ schedules, findings: [0-9]+ rules? in [0-9,]+ schedules?"),
                "%s", out);
  ck_assert_msg(matches(out, "^failure 1: bugcheck 0x[0-9A-F]+ "), "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "run-start"));
  free(out);
  /* Bound none never calls itself bounded; random never claims it all. */
  ck_assert_int_eq(capture("../iosim explore " L16 " --strategy random --runs 50 --quiet", &out), 0);
  ck_assert_msg(matches(out, "^schedules: 50 explored \\(random\\), "), "%s", out);
  ck_assert_msg(matches(out, "^covered: 50 random schedules - a sample, not every schedule$"), "%s", out);
  free(out);
  ck_assert_int_eq(capture("../iosim explore " L16 " --strategy pct --runs 20 --quiet", &out), 0);
  ck_assert_msg(matches(out, "1/\\(n\\*k\\^\\(d-1\\)\\) = 1/\\([0-9]+\\*[0-9]+\\^2\\)"), "%s", out);
  free(out);
}
END_TEST

START_TEST(check_explores_a_lesson_that_asks_for_it) {
  if (!have_cli()) return;
  char *out;
  ck_assert_int_eq(capture("../iosim check " L16, &out), 0);
  ck_assert_msg(matches(out, "^ok   " L16 ": 7 expectations over [0-9]+ schedules \\(bound 2\\), 0 failed$"), "%s", out);
  ck_assert_msg(matches(out, "^      held in [0-9]+ of [0-9]+ schedules$"), "%s", out);
  free(out);
  /* --seed still runs one seed, as before (where a `sometimes` line may
     well not hold). */
  capture("../iosim check " L16 " --seed 3", &out);
  ck_assert_msg(matches(out, ": 7 expectations, [0-9]+ failed$"), "%s", out);
  free(out);
  /* A failing exploration fails the check. */
  ck_assert_int_eq(capture("../iosim check " FIXF, &out), 1);
  ck_assert_msg(matches(out, "^FAIL " FIXF ": 2 expectations over [0-9]+ schedules \\(bound 2\\)"), "%s", out);
  free(out);
}
END_TEST

START_TEST(printed_tokens_replay_and_refuse_an_edited_copy) {
  if (!have_cli()) return;
  char *out, tok[256], cmd[1024];
  ck_assert_int_eq(capture("../iosim explore " FIXF " --quiet", &out), 1);
  token_of(out, "bugcheck 0xC9", tok, sizeof tok);
  ck_assert_msg(tok[0], "no token for the 0xC9 failure in:\n%s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim run " FIXF " --replay %s --quiet", tok);
  ck_assert_int_eq(capture(cmd, &out), 1); /* the scenario's expect lines fail */
  ck_assert_ptr_nonnull(strstr(out, "*** STOP: 0x000000C9 (0x7,"));
  ck_assert_ptr_nonnull(strstr(out, "schedule: replayed"));
  free(out);
  char dir[] = "/tmp/iosim-xcliXXXXXX", path[256], file[300];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(file, sizeof file, "%s/token", dir);
  FILE *f = fopen(file, "w");
  fprintf(f, "\n%s\n", tok);
  fclose(f);
  snprintf(cmd, sizeof cmd, "../iosim run " FIXF " --replay-file %s --quiet", file);
  ck_assert_int_eq(capture(cmd, &out), 1);
  ck_assert_ptr_nonnull(strstr(out, "*** STOP: 0x000000C9"));
  free(out);
  /* Edited: refused, with why, exit 2. */
  snprintf(path, sizeof path, "%s/race.iosim", dir);
  snprintf(cmd, sizeof cmd, "cp " FIXF " %s && echo '# edited' >> %s", path, path);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "../iosim run %s --replay %s", path, tok);
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_ptr_nonnull(strstr(out, "another version of the scenario"));
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim run " FIXF " --replay not-a-token");
  ck_assert_int_eq(capture(cmd, &out), 2);
  ck_assert_ptr_nonnull(strstr(out, "not an iosim replay token"));
  free(out);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(limits_diff_and_merge_from_the_command_line) {
  if (!have_cli()) return;
  char *out, cmd[2048], a[256], b[256];
  ck_assert_int_eq(capture("../iosim explore " L16 " --max-schedules 5 --quiet", &out), 4);
  ck_assert_ptr_nonnull(strstr(out, "incomplete: stopped by max-schedules after 5 schedules"));
  ck_assert_ptr_nonnull(strstr(out, "estimate: about "));
  free(out);
  ck_assert_int_eq(capture("../iosim explore " L16 " --quiet", &out), 0);
  token_of(out, "STATUS_CANCELLED", a, sizeof a);
  token_of(out, "STATUS_SUCCESS", b, sizeof b);
  free(out);
  ck_assert(a[0] && b[0]);
  snprintf(cmd, sizeof cmd, "../iosim diff " L16 " %s %s", a, b);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "first divergence after"));
  free(out);
  char dir[] = "/tmp/iosim-xmergeXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(cmd, sizeof cmd,
           "../iosim explore " L16 " --shard 1/2 --quiet --db %s/1.db --db-outcomes >/dev/null && "
           "../iosim explore " L16 " --shard 2/2 --quiet --db %s/2.db --db-outcomes >/dev/null && "
           "../iosim merge %s/all.db %s/1.db %s/2.db",
           dir, dir, dir, dir, dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "merged 2 databases"));
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim diff --db %s/all.db 1 2", dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "first divergence after"));
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim viz --db %s/all.db --run 2 --list", dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_ptr_nonnull(strstr(out, "r1"));
  free(out);
  /* Bad input: exit 2 with a message. */
  ck_assert_int_eq(capture("../iosim explore " L16 " --shard 3/2", &out), 2);
  free(out);
  ck_assert_int_eq(capture("../iosim explore " L16 " --bound many", &out), 2);
  free(out);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* --db-failures records every failing schedule the search met, one run
   each, besides the failures' smallest schedules. */
START_TEST(db_failures_records_every_failing_schedule) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-xfailXXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char cmd[1024], *out;
  snprintf(cmd, sizeof cmd, "../iosim explore " FIXF " --quiet --db %s/f.db --db-failures", dir);
  ck_assert_int_eq(capture(cmd, &out), 1);
  const char *p = strstr(out, "failed in ");
  ck_assert_ptr_nonnull(p);
  long failing = strtol(p + strlen("failed in "), NULL, 10);
  ck_assert_int_gt(failing, 1);
  free(out);
  snprintf(cmd, sizeof cmd,
           "sqlite3 %s/f.db \"SELECT count(*) FROM schedule WHERE role = 'failing-schedule'\"", dir);
  ck_assert_int_eq(capture(cmd, &out), 0);
  ck_assert_int_eq(strtol(out, NULL, 10), failing);
  free(out);
  /* Each is a run that replays: its token fits the scenario. */
  snprintf(cmd, sizeof cmd,
           "../iosim run " FIXF " --quiet --replay $(sqlite3 %s/f.db \"SELECT token FROM schedule WHERE role ="
           " 'failing-schedule' ORDER BY run_id DESC LIMIT 1\")", dir);
  ck_assert_int_eq(capture(cmd, &out), 1); /* it fails, as recorded */
  ck_assert_ptr_nonnull(strstr(out, "schedule: replayed"));
  free(out);
  ck_assert_int_eq(capture("../iosim explore " FIXF " --db-failures", &out), 2); /* without --db */
  free(out);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* `iosim diff --db` trusts a trace no more than the other readers: a file
   that is no trace, a run that is not there, a run whose writer was
   killed are refused with their words and exit status 2. */
START_TEST(diff_db_refuses_what_every_reader_refuses) {
  if (!have_cli()) return;
  char dir[] = "/tmp/iosim-dd-XXXXXX", db[64], cmd[1024], want[256], *out;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(cmd, sizeof cmd, "echo hi > %s && ../iosim diff --db %s 1 2", db, db);
  ck_assert_int_eq(capture(cmd, &out), 2);
  snprintf(want, sizeof want, "iosim diff: %s is not a SQLite database, so not an iosim trace", db);
  ck_assert_ptr_nonnull(strstr(out, want));
  free(out);
  snprintf(cmd, sizeof cmd, "rm -f %s && ../iosim run --quiet --db %s " L16 " > /dev/null && ../iosim run --quiet"
           " --db %s " L16 " --seed 3 > /dev/null && ../iosim diff --db %s 1 5", db, db, db, db);
  ck_assert_int_eq(capture(cmd, &out), 2);
  snprintf(want, sizeof want, "iosim diff: %s: there is no run 5 in this trace (the last that ran is 2)", db);
  ck_assert_ptr_nonnull(strstr(out, want));
  free(out);
  snprintf(cmd, sizeof cmd, "sqlite3 %s \"UPDATE run SET outcome = 'running' WHERE id = 2\" && ../iosim diff --db %s 1 2",
           db, db);
  ck_assert_int_eq(capture(cmd, &out), 2);
  snprintf(want, sizeof want, "iosim diff: %s: run 2 never finished: the writer was killed", db);
  ck_assert_ptr_nonnull(strstr(out, want));
  free(out);
  snprintf(cmd, sizeof cmd, "../iosim diff --db %s 1 1", db);
  ck_assert_int_eq(capture(cmd, &out), 0);
  snprintf(want, sizeof want, "A: run 1 of %s (", db);
  ck_assert_ptr_nonnull(strstr(out, want));
  free(out);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST


TEST_SUITE(suite_explore_cli)
static Suite *suite_explore_cli(void) {
  Suite *s = suite_create("explore_cli");
  TCase *tc = tcase_create("iosim explore");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, summary_line_has_its_format);
  tcase_add_test(tc, check_explores_a_lesson_that_asks_for_it);
  tcase_add_test(tc, printed_tokens_replay_and_refuse_an_edited_copy);
  tcase_add_test(tc, limits_diff_and_merge_from_the_command_line);
  tcase_add_test(tc, db_failures_records_every_failing_schedule);
  tcase_add_test(tc, diff_db_refuses_what_every_reader_refuses);
  suite_add_tcase(s, tc);
  return s;
}
